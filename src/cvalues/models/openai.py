"""``openai:MODEL``: any server that speaks the OpenAI chat-completions API.

Why one backend for many servers: vLLM, SGLang, Ollama, DashScope, DeepSeek and OpenAI itself all
accept ``POST {base_url}/chat/completions``; only the base URL, the key and a few extensions differ.

Transport. One ``aiohttp.ClientSession`` per event loop, reused by every request, with a connection
pool sized for ``concurrency`` (waiting for a free connection never times out; the run engine bounds
the number in flight). aiohttp rather than httpx because the client's CPU is the limit of a large
run: httpx costs 1.3-1.8 ms of CPU per request and its pool rescans every connection per queued
request, so at 64 connections a run saturated a core at 15% of the server's throughput; aiohttp
(C-accelerated HTTP parsing, an O(1) pool) costs 0.3-0.6 ms and reaches about 90% (``docs/runs.md``).
A request lost on a pooled keep-alive connection that the server had closed is sent again at once on
another one (:meth:`OpenAIBackend._send`), not counted as a retry. A body is read as UTF-8 whatever its
label, else in its declared charset, else GB18030 (:func:`cvalues.models.answers.answer_text`).
A proxy named by the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, with ``NO_PROXY``) is
used as the OpenAI SDK uses it, except for a server on a loopback address (:func:`uses_env_proxy`).
The API key is read once from the environment variable named by ``api_key_env`` and sent as
``Authorization: Bearer ...``; it is never logged, a key holding a newline or another control
character is refused before any request, and the key (and a password in ``base_url``) is masked in
every error message, description and excerpt (masked before the excerpt is cut).

Hostile or broken servers. ``timeout`` is a total deadline per request (connecting, sending, and the
whole answer), with a separate ``connect_timeout``, so a server trickling one byte a second cannot
hold a request for longer. Redirects are followed only for 307/308 (same method and body) and only
to the same origin; any other redirect is an error naming it (a 302 would turn the POST into a GET).
An answer larger than ``max_answer_bytes`` is an error with its size, read no further; JSON nested
too deeply to parse is an error too, never a crash.

Retries (tenacity, inside the backend): HTTP 408, 409, 429 and 5xx, timeouts, dropped or refused
connections, and **malformed 200 answers** (a body that is not JSON, or JSON without a usable
``choices`` list: a flaky proxy, not the model) are retried up to ``max_retries`` times with
exponential backoff and jitter (``retry_base_wait`` doubling up to ``retry_max_wait`` seconds). A
``Retry-After`` header (seconds or an HTTP date; also ``retry-after-ms``) replaces the backoff for
that wait, capped at ``max_retry_after``. Other statuses (400, 401, 403, 404, 422, ...) raise
``ModelError(retryable=False)`` at once, with the status and an excerpt of the body. When retries run
out, the last error is raised with ``retryable=True`` so the run engine may try the item again later.

Failing fast. What no request can get past is ``fatal`` (the run engine stops at the first one): 401
and 403 (the key), 404 and 405 (the model name or address), 407 (a proxy's credentials), a server
that returns or accepts no log-probabilities, and whatever an error's body says no request can get
past (an empty balance, a model that does not exist, a refused request field, plain HTTP sent to a
TLS port; :mod:`cvalues.models.answers` reads the spellings servers use, also for finish reasons,
error objects inside a 200, rate-limit waits and logprob shapes). A connection that cannot be
opened raises :class:`ModelUnreachable`; before a run, :meth:`OpenAIBackend.preflight` opens one
connection to the server so that a wrong address or a server that is down is one line at once, not a
retry loop per item.

Candidate log-probabilities: see :meth:`OpenAIBackend.candidate_logprobs` and ``docs/models.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import functools
import importlib.util
import ipaddress
import json
import logging
import math
import os
import random
import sys
import time
import urllib.parse
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from cvalues.models.answers import (
    SERVER_CUT_FINISH,
    answer_choice,
    answer_start,
    answer_text,
    body_wait,
    embedded_status,
    error_meaning,
    first_token_alternatives,
    logprob_value,
    normalize_finish_reason,
    ratelimit_reset,
    unwrap_envelope,
    without_lone_surrogates,
)
from cvalues.models.base import (
    BLOCKED_FINISH_REASON,
    CandidateLogprob,
    ChatMessage,
    Generation,
    GenerationSettings,
    LogprobsUnsupported,
    ModelBackend,
    ModelError,
    ModelUnreachable,
    ProviderBlocked,
    check_candidates,
    truncate_at_stop,
)
from cvalues.models.moderation import ProviderBlock, block_in_error, block_in_reply
from cvalues.models.streamed import IncompleteStream, assemble_stream, looks_streamed
from cvalues.redact import check_secret, mask_text, redact_url
from cvalues.textcut import shorten


def _lazy_module(name: str) -> Any:
    """``name``, executed on its first attribute access (:class:`importlib.util.LazyLoader`): aiohttp
    costs 0.3 s to import, which a run that asks nothing (every answer stored) should not pay."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = _lazy_module("aiohttp")

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: HTTP statuses worth asking again: request timeout, conflict, rate limit, server errors.
RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
#: HTTP statuses that no other request can get past either: the key, the permission, the model or
#: route, a route that takes no POST, a proxy's credentials.
FATAL_STATUSES = frozenset({401, 403, 404, 405, 407})
#: Times a request lost on a stale pooled keep-alive connection is sent again at once (``_send``).
STALE_RESENDS = 2
#: The path under the base URL that cvalues asks.
CHAT_PATH = "/chat/completions"
#: Seconds the preflight probe waits for a connection (and then for an answer, which is not required).
PREFLIGHT_CONNECT_TIMEOUT = 10.0
_EXCERPT = 300
#: The default cap on an answer's body: far above any chat answer, far below a memory problem.
DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); else None."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def endpoint(base_url: str, path: str) -> str:
    """``base_url`` + ``path`` (``/chat/completions``, ``/models``), a query of the base URL (Azure's
    ``?api-version=...``) kept after the path."""
    parts = urllib.parse.urlsplit(base_url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


def uses_env_proxy(base_url: str) -> bool:
    """Whether requests to ``base_url`` may go through the proxy the environment names
    (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, minus ``NO_PROXY``), as the OpenAI SDK's do. A
    loopback address (a server on this machine) never does, whatever the environment says."""
    host = (urllib.parse.urlsplit(base_url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        return True


def _without_chat_path(base_url: str) -> str:
    """``base_url`` without a trailing ``/chat/completions`` (the endpoint given for its base)."""
    parts = urllib.parse.urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.lower().endswith(CHAT_PATH):
        return base_url
    return urllib.parse.urlunsplit(parts._replace(path=path[: -len(CHAT_PATH)]))


#: Set by :meth:`OpenAIBackend._send` around one POST: the list its connector appends ``True`` to when
#: that POST goes out on a pooled connection that already carried a request.
_POOLED: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar("cvalues_pooled", default=None)


@functools.cache
def _connector_class() -> type[aiohttp.TCPConnector]:
    """aiohttp's connector, telling each POST (through :data:`_POOLED`) whether its connection is a
    pooled one. A trace config (``on_connection_reuseconn``) says the same, but sends every other
    trace event of every request too: about a tenth more client CPU per request, measured; this costs
    one attribute lookup. Built on first use, as aiohttp is imported lazily."""

    class PoolConnector(aiohttp.TCPConnector):
        async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
            conn = await super().connect(req, traces, timeout)
            protocol = conn.protocol
            if protocol is not None:
                if getattr(protocol, "_cvalues_used", False):
                    pooled = _POOLED.get()
                    if pooled is not None:
                        pooled.append(True)
                else:
                    with contextlib.suppress(AttributeError):  # a protocol with slots: no resends
                        protocol._cvalues_used = True
            return conn

    return PoolConnector


def _has_message(data: Mapping[str, Any]) -> bool:
    """Whether a 200 answer has a first choice with a message to read."""
    choices = data.get("choices")
    return (
        bool(choices)
        and isinstance(choices, list)
        and isinstance(choices[0], dict)
        and (isinstance(choices[0].get("message"), dict))
    )


def common_prefix(texts: Sequence[str]) -> str:
    """The longest string every text starts with (character by character)."""
    first, last = min(texts), max(texts)
    for i, (a, b) in enumerate(zip(first, last, strict=False)):
        if a != b:
            return first[:i]
    return first


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:  # every value is log 0
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _token_text(entry: Mapping[str, Any]) -> str:
    """A logprob entry's text: its UTF-8 ``bytes`` when given and decodable, else its ``token``."""
    raw = entry.get("bytes")
    if isinstance(raw, list) and raw:
        try:
            return bytes(raw).decode("utf-8")
        except (UnicodeDecodeError, ValueError, TypeError):
            pass
    return str(entry.get("token", ""))


_NEEDS_LOGPROBS = (
    "--mode logprob needs a server that returns log-probabilities of the first answer token "
    "(`logprobs: true, top_logprobs: N` in chat completions, as vLLM, SGLang and OpenAI do); "
    "use --mode generate with this one"
)


class OpenAIBackend(ModelBackend):
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    :param model: the model name sent in each request.
    :param base_url: e.g. ``http://127.0.0.1:8000/v1``; default ``$OPENAI_BASE_URL`` or OpenAI's.
    :param api_key_env: environment variable holding the key (default ``OPENAI_API_KEY``); when it is
        unset no ``Authorization`` header is sent (local servers need none).
    :param timeout: seconds a request may take in all (connecting, sending and the whole answer).
    :param connect_timeout: seconds connecting may take (default 30; at most ``timeout``).
    :param max_answer_bytes: the largest answer body read (default 4 MiB); a larger one is an error.
    :param concurrency: connection pool size and :attr:`default_concurrency` (default 16).
    :param max_retries: retries after the first attempt (default 6).
    :param retry_base_wait: first backoff in seconds (default 1), doubling each retry...
    :param retry_max_wait: ...up to this many seconds (default 60); jitter up to ``retry_base_wait``.
    :param max_retry_after: cap on a server's ``Retry-After`` (default 300 s).
    :param extra_body: extra JSON fields merged into every request (e.g. ``{"enable_thinking": False}``).
    :param max_tokens_field: ``max_tokens`` (default) or ``max_completion_tokens`` (newer OpenAI models).
    :param top_logprobs: alternatives asked for when scoring candidates (default 20, OpenAI's maximum).
    :param continue_final_message: allow the vLLM/SGLang extension ``continue_final_message: true,
        add_generation_prompt: false`` for unfinished assistant turns and shared candidate prefixes.
    :param missing_candidate: ``bound`` (default): a candidate absent from the alternatives gets the
        smallest returned logprob, flagged ``upper_bound``; ``raise``: raise LogprobsUnsupported.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        connect_timeout: float = 30.0,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        concurrency: int = 16,
        max_retries: int = 6,
        retry_base_wait: float = 1.0,
        retry_max_wait: float = 60.0,
        max_retry_after: float = 300.0,
        extra_body: Mapping[str, Any] | None = None,
        max_tokens_field: str = "max_tokens",
        top_logprobs: int = 20,
        continue_final_message: bool = False,
        missing_candidate: Literal["bound", "raise"] = "bound",
        spec: str | None = None,
    ) -> None:
        if not model:
            raise ValueError("openai: a model name is required, e.g. openai:qwen2.5-7b-instruct")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if missing_candidate not in ("bound", "raise"):
            raise ValueError(f"missing_candidate must be 'bound' or 'raise', got {missing_candidate!r}")
        if max_tokens_field not in ("max_tokens", "max_completion_tokens"):
            raise ValueError(
                f"max_tokens_field must be max_tokens or max_completion_tokens, got {max_tokens_field!r}"
            )
        self.model = model
        self.spec = spec or f"openai:{model}"
        env_url = os.environ.get("OPENAI_BASE_URL")
        # the endpoint itself given as the base (``.../v1/chat/completions``) is its base
        self.base_url = _without_chat_path((base_url or env_url or DEFAULT_BASE_URL).rstrip("/")).rstrip("/")
        #: Where the address came from, for error messages.
        self.base_url_origin = (
            "--base-url"
            if base_url
            else "$OPENAI_BASE_URL"
            if env_url
            else "the default: no --base-url given"
        )
        if not self.base_url.lower().startswith(("http://", "https://")):
            raise ValueError(
                f"--base-url must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1), "
                f"got {self.base_url!r}"
            )
        self.api_key_env = api_key_env
        self._api_key = os.environ.get(api_key_env) or None
        if self._api_key is not None:
            check_secret(self._api_key, f"the API key in ${api_key_env}")
        password = urllib.parse.urlsplit(self.base_url).password
        self._secrets = tuple(x for x in (self._api_key, password and urllib.parse.unquote(password)) if x)
        if max_answer_bytes < 1:
            raise ValueError(f"max_answer_bytes must be >= 1, got {max_answer_bytes}")
        self.max_answer_bytes = int(max_answer_bytes)
        self.connect_timeout = float(connect_timeout)
        self.timeout = float(timeout)
        self.concurrency = concurrency
        self.default_concurrency = concurrency
        self.max_retries = max_retries
        self.retry_base_wait = float(retry_base_wait)
        self.retry_max_wait = float(retry_max_wait)
        self.max_retry_after = float(max_retry_after)
        self.extra_body = dict(extra_body or {})
        self.max_tokens_field = max_tokens_field
        self.top_logprobs = top_logprobs
        self.continue_final_message = continue_final_message
        self.missing_candidate = missing_candidate
        self._url = endpoint(self.base_url, CHAT_PATH)
        self._session: aiohttp.ClientSession | None = None
        self._lifetime: AsyncGenerator[aiohttp.ClientSession, None] | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={redact_url(self.base_url)!r})"

    # -- transport -------------------------------------------------------------------------------

    async def _get_session(self) -> aiohttp.ClientSession:
        """The shared session of the running event loop (a session cannot outlive its loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop or self._session.closed:
            self._lifetime = self._session_lifetime()
            self._session = await anext(self._lifetime)  # runs without suspending: no race
            self._session_loop = loop
        return self._session

    async def _session_lifetime(self) -> AsyncGenerator[aiohttp.ClientSession, None]:
        """Open a session and close it when this generator is closed: by :meth:`aclose`, or by the
        loop itself when it ends (``asyncio.run`` closes every open async generator first), so a
        session left open by a caller that never calls ``aclose`` does not leak its sockets."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        session = aiohttp.ClientSession(
            headers=headers,
            # tells a stale pooled connection from a server failing (_send)
            connector=_connector_class()(limit=self.concurrency, limit_per_host=0),
            cookie_jar=aiohttp.DummyCookieJar(),  # an API needs none; saves filtering them per request
            trust_env=uses_env_proxy(self.base_url),  # HTTP(S)_PROXY and NO_PROXY, as other clients
            # the session's total and connect (which includes the wait for a pooled connection) are
            # unbounded: the run engine bounds the requests in flight, and each request has its own
            # total deadline (_post_once); connecting gets ``connect_timeout``
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=min(self.timeout, self.connect_timeout), sock_read=None
            ),
        )
        try:
            yield session
        finally:
            await session.close()

    def _mask(self, text: str) -> str:
        return mask_text(text, self._secrets)

    def _excerpt(self, body: bytes | str) -> str:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        # Masked before the cut (no key is cut in half), then cut at a word boundary.
        return shorten(self._mask(" ".join(text.split())), _EXCERPT)

    async def _post_once(self, body: bytes, parse: Callable[[dict[str, Any]], Any], logprobs: bool) -> Any:
        url = redact_url(self._url)
        try:
            async with asyncio.timeout(self.timeout):  # the whole request, not each read
                status, headers, content = await self._post_following(body)
        except TimeoutError as exc:  # aiohttp's connect timeout is a TimeoutError too
            raise ModelError(
                f"{url}: no complete answer within {self.timeout:g}s ({type(exc).__name__})", retryable=True
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise ModelError(f"{url}: not a valid http(s) URL; check --base-url", fatal=True) from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientConnectorSSLError):
                raise ModelError(f"{url}: TLS failed ({self._mask(str(exc))})", fatal=True) from exc
            raise ModelUnreachable(
                f"{url}: cannot connect ({self._connect_cause(exc)})", retryable=True
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ModelError(
                f"{url}: connection failed ({type(exc).__name__}: {self._mask(str(exc))})", retryable=True
            ) from exc
        text = answer_text(content, headers.get("Content-Type"))
        said: bytes | str = content if text is None else text
        if not 200 <= status < 300:
            raise self._error(url, status, headers, said, logprobs)
        # any 2xx is read as an answer: a 204 or an empty 200 is not JSON, retried as a flaky proxy
        data = self._read_answer(url, content, text, headers)
        block = block_in_reply(data)
        if block is not None and (logprobs or not _has_message(data)):
            # A generation whose reply was cut keeps its text (see _parse_generation); no choice to
            # read, or no log-probabilities to trust, is the block itself.
            raise self._blocked(f"{url}: HTTP 200", block)
        data = unwrap_envelope(data)
        inner = embedded_status(data) if block is None else None
        if inner is not None:  # an error object in a 200 (vLLM/FastChat style): its own code counts
            raise self._error(url, inner, headers, said, logprobs, sent=status)
        if block is None and data.get("error"):  # e.g. a stream that ended with the server's error
            error = self._excerpt(json.dumps(data["error"], ensure_ascii=False))
            raise ModelError(f"{url}: HTTP 200 whose answer ends with an error: {error}", retryable=True)
        try:
            return parse(data)
        except ModelError:
            raise
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"{url}: HTTP 200 with an unexpected answer shape ({type(exc).__name__}: {exc}): "
                f"{self._excerpt(content)}",
                retryable=True,
            ) from exc

    def _error(
        self,
        url: str,
        status: int,
        headers: Mapping[str, str],
        content: bytes | str,
        logprobs: bool,
        *,
        sent: int | None = None,
    ) -> ModelError:
        """The error an error answer is: a provider's block, an unsupported logprob request, or an
        error classed by what its body says (:func:`cvalues.models.answers.error_meaning`) and else
        by its status. ``sent`` is the status on the wire when ``status`` came from inside the body."""
        excerpt = self._excerpt(content)
        shown = f"HTTP {status}" if sent is None else f"HTTP {sent} carrying an error with code {status}"
        # Before the status's own meaning: a moderation 403 is about this prompt, not the key, and
        # a block some provider sends as a 500 would be the same block when asked again.
        block = block_in_error(status, content)
        if block is not None:
            return self._blocked(f"{url}: {shown}", block)
        if logprobs and status in (400, 422) and "logprob" in excerpt.lower():
            return LogprobsUnsupported(
                f"{url}: the server rejects log-probability requests for {self.model!r} "
                f"({shown}: {excerpt}). {_NEEDS_LOGPROBS}",
                fatal=True,
            )
        meaning = error_meaning(status, content)
        if meaning is not None and meaning[0] == "fatal":
            return ModelError(f"{url}: {shown} ({meaning[1]}): {excerpt}", retryable=False, fatal=True)
        if meaning is not None and meaning[0] == "non-retryable":
            return ModelError(f"{url}: {shown} ({meaning[1]}): {excerpt}", retryable=False)
        if status in RETRYABLE_STATUSES or meaning is not None:
            wait = parse_retry_after(headers)
            if wait is None:
                wait = ratelimit_reset(headers) if status == 429 else None
            if wait is None:
                wait = body_wait(content)
            if wait is not None:
                wait = min(wait, self.max_retry_after)
            return ModelError(f"{url}: {shown}: {excerpt}", retryable=True, retry_after=wait)
        hint = ""
        if status in (401, 403):
            where = "is set" if self._api_key else "is not set"
            hint = (
                f" (check the API key: ${self.api_key_env} {where}; --api-key-env names the variable "
                "that holds it)"
            )
        elif status == 405:
            hint = (
                f" (this address takes no POST: check --base-url {self.base_url}, which should end where "
                "/chat/completions follows, often /v1)"
            )
        elif status == 407:
            hint = " (a proxy between here and the server wants its own credentials)"
        elif status == 404:
            hint = (
                f" (check the model name {self.model!r} in --model openai:NAME, and --base-url "
                f"{self.base_url}, which should end where /chat/completions follows, often /v1)"
            )
        return ModelError(f"{url}: {shown}{hint}: {excerpt}", retryable=False, fatal=status in FATAL_STATUSES)

    def _read_answer(
        self, url: str, content: bytes, text: str | None, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """The JSON object of a 200 answer (``text``: its body decoded by :func:`answer_text`); a
        streamed one (server-sent events that a gateway sent although no stream was asked for) put
        back together first (:mod:`cvalues.models.streamed`)."""
        if text is None:
            raise ModelError(
                f"{url}: HTTP 200 with a body that is not text (UTF-8, its declared charset or GB18030): "
                f"{self._excerpt(content)}",
                retryable=True,
            )
        try:
            if looks_streamed(content, headers.get("Content-Type")):
                data = assemble_stream(text)
            else:
                data = json.loads(text)
        except RecursionError as exc:
            raise ModelError(
                f"{url}: HTTP 200 with JSON nested too deeply to read ({len(content):,} bytes)",
                retryable=False,
            ) from exc
        except IncompleteStream as exc:
            raise ModelError(
                f"{url}: HTTP 200 with a streamed answer cut short: {exc}", retryable=True
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(
                f"{url}: HTTP 200 with a body that is not JSON: {self._excerpt(content)}", retryable=True
            ) from exc
        if not isinstance(data, dict):
            raise ModelError(f"{url}: HTTP 200 with JSON that is not an object", retryable=True)
        return without_lone_surrogates(data, text)

    def _blocked(self, where: str, block: ProviderBlock) -> ProviderBlocked:
        """The error for a provider's block (its message masked: a proxy may echo the request)."""
        shown = ProviderBlock(block.stage, self._mask(block.code), self._mask(block.message))
        log.info("%s: %s", where, shown.describe())
        return ProviderBlocked(f"{where}: {shown.describe()}", block=shown.to_dict())

    async def _post_following(self, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        """POST ``body``; follow 307/308 to the same origin (at most 5); read at most
        ``max_answer_bytes``. Returns (status, headers, body)."""
        url = self._url
        session = await self._get_session()
        for _ in range(6):
            async with await self._send(session, url, body) as resp:
                if resp.status in (301, 302, 303, 307, 308):
                    url = self._redirect_target(url, resp.status, resp.headers.get("Location"))
                    continue
                return resp.status, resp.headers, await self._read_capped(resp)
        raise ModelError(f"{redact_url(self._url)}: more than 5 redirects", retryable=False)

    async def _send(self, session: aiohttp.ClientSession, url: str, body: bytes) -> aiohttp.ClientResponse:
        """POST ``body`` to ``url``; the response once its head has arrived.

        A request that fails before any answer on a pooled keep-alive connection (the server closed
        it while idle, or as the request reached it, with a FIN or a reset) is sent again on another
        connection, at once and not counted as a retry: it never reached a server that was answering,
        and a chat completion changes nothing on the server, so sending it again is safe (RFC 9112
        §9.3.1). At most :data:`STALE_RESENDS` times; a fresh connection's failure is raised."""
        for _ in range(STALE_RESENDS):
            reused: list[bool] = []
            token = _POOLED.set(reused)
            try:
                return await session.post(url, data=body, allow_redirects=False)
            except (aiohttp.ClientConnectionError, OSError) as exc:
                if not reused or isinstance(exc, TimeoutError | aiohttp.ClientConnectorError):
                    raise
                log.debug("%s: a pooled connection was closed (%s); sending again", redact_url(url), exc)
            finally:
                _POOLED.reset(token)
        return await session.post(url, data=body, allow_redirects=False)

    def _redirect_target(self, url: str, status: int, location: str | None) -> str:
        """The URL a 307/308 leads to, when it is on the same origin; anything else is a ModelError."""
        shown = redact_url(url)
        if not location:
            raise ModelError(f"{shown}: HTTP {status} redirect without a Location", retryable=False)
        target = urllib.parse.urljoin(url, location)
        where = redact_url(target)
        if status not in (307, 308):
            raise ModelError(
                f"{shown}: HTTP {status} redirect to {where}; only 307/308 keep the POST and its body "
                "(a 301/302/303 would turn it into a GET). Set --base-url to where the server lives.",
                retryable=False,
            )
        old, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(target)
        if (old.scheme, old.hostname, old.port) != (new.scheme, new.hostname, new.port):
            raise ModelError(
                f"{shown}: HTTP {status} redirect to another origin ({where}); it is not followed, so "
                "that the request (and the API key) stay where --base-url says. Set --base-url to it "
                "if that server is meant.",
                retryable=False,
            )
        return target

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body of ``resp``, refused once it passes ``max_answer_bytes`` (read no further)."""
        cap = self.max_answer_bytes
        declared = resp.content_length
        if declared is not None and declared > cap:
            raise ModelError(
                f"{redact_url(self._url)}: answer of {declared:,} bytes is over the cap of {cap:,} bytes "
                "(--max-answer-bytes)",
                retryable=False,
            )
        chunks, size = [], 0
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > cap:
                raise ModelError(
                    f"{redact_url(self._url)}: answer of more than {cap:,} bytes (read {size:,} before "
                    "stopping) is over the cap (--max-answer-bytes)",
                    retryable=False,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ModelError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        return self.backoff(state.attempt_number)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) when the server says nothing:
        ``retry_base_wait * 2**(attempt-1)`` capped at ``retry_max_wait``, plus jitter in
        ``[0, retry_base_wait)`` so that many clients do not retry in step."""
        exp = self.retry_base_wait * 2.0 ** min(attempt - 1, 60)
        return min(exp, self.retry_max_wait) + random.uniform(0.0, self.retry_base_wait)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("attempt %d failed, retrying in %.2fs: %s", state.attempt_number, wait, exc)

    async def _request(self, payload: dict[str, Any], parse: Callable[[dict[str, Any]], Any],
                       *, logprobs: bool = False) -> Any:  # fmt: skip
        body = json.dumps({**payload, **self.extra_body}, ensure_ascii=False).encode("utf-8")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, ModelError) and e.retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    return await self._post_once(body, parse, logprobs)
        except ModelError as exc:
            if exc.retryable and attempts > 1:
                raise type(exc)(
                    f"{exc} (gave up after {attempts} attempts)",
                    retryable=True,
                    retry_after=exc.retry_after,
                    fatal=exc.fatal,
                ) from exc
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- generation ------------------------------------------------------------------------------

    @staticmethod
    def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in messages]

    async def generate(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Generation:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(messages),
            self.max_tokens_field: settings.max_tokens,
            "temperature": settings.temperature,
        }
        if settings.top_p != 1.0:
            payload["top_p"] = settings.top_p
        if settings.seed is not None:
            payload["seed"] = settings.seed
        stops = [s for s in settings.stop if s]
        if stops:
            payload["stop"] = stops
        try:
            generation = await self._request(payload, lambda data: self._parse_generation(data, stops))
        except ProviderBlocked as exc:  # what the deployed system answered: nothing
            return Generation(text="", finish_reason=BLOCKED_FINISH_REASON, raw={"blocked": exc.block})
        if generation.blocked:  # a proxy may echo the request, key included, in its message
            generation.raw["blocked"] = {k: self._mask(str(v)) for k, v in generation.raw["blocked"].items()}
        return generation

    @staticmethod
    def _parse_generation(data: dict[str, Any], stops: Sequence[str]) -> Generation:
        choices = data["choices"]
        if not isinstance(choices, list) or not choices:
            raise KeyError("choices is empty")
        choice = answer_choice(choices)
        message = choice["message"]
        content = message.get("content")
        raw: dict[str, Any] = {k: data[k] for k in ("id", "model", "system_fingerprint") if data.get(k)}
        if content is None and message.get("refusal"):
            content = message["refusal"]
            raw["refusal"] = True
        if content is None:
            content = ""
        if isinstance(content, list):  # content parts (Mistral: text and thinking chunks): the text ones
            content = "".join(
                p.get("text") or ""
                for p in content
                if isinstance(p, dict) and p.get("type", "text") == "text"
            )
        if not isinstance(content, str):
            raise TypeError(f"message content is {type(content).__name__}, not text")
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            raw["reasoning_content"] = reasoning
        provider_finish = choice.get("finish_reason")
        block = block_in_reply(data)
        if block is not None:
            # the filter cut the reply (a filter's finish reason, or a stream ended by its error):
            # what came before the cut is what the user saw
            raw["blocked"] = block.to_dict()
            return Generation(
                text=content,
                finish_reason=BLOCKED_FINISH_REASON,
                prompt_tokens=(data.get("usage") or {}).get("prompt_tokens"),
                completion_tokens=(data.get("usage") or {}).get("completion_tokens"),
                raw=raw,
            )
        if isinstance(provider_finish, str) and provider_finish.lower() in SERVER_CUT_FINISH:
            # the server stopped the reply for its own reasons: not the model's answer; ask again
            raise ModelError(
                f"the reply ended with finish_reason {provider_finish!r}: "
                f"{SERVER_CUT_FINISH[provider_finish.lower()]}",
                retryable=True,
            )
        finish = normalize_finish_reason(provider_finish)
        if finish != provider_finish:
            raw["finish_reason"] = provider_finish  # the server's own spelling, for the record
        text, stopped = truncate_at_stop(content, stops)  # servers that ignore some stops
        finish = "stop" if stopped else finish
        usage = data.get("usage") or {}
        return Generation(
            text=text,
            finish_reason=finish,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            raw=raw,
        )

    # -- log-probabilities -----------------------------------------------------------------------

    async def candidate_logprobs(
        self, context: Sequence[ChatMessage], candidates: Sequence[str]
    ) -> list[float]:
        """Score candidates from the alternatives of the first generated token.

        Asks for one token with ``logprobs: true, top_logprobs: N``. A candidate's value is the
        log-probability of the returned alternative whose text equals it (alternatives with the same
        text are summed), so this is exact for candidates that are one token of the server's
        tokenizer. Candidates sharing a prefix (``回复1``/``回复2``), and contexts ending in an
        unfinished assistant turn, need ``continue_final_message=True`` (a vLLM/SGLang extension):
        the prefix is appended to the assistant turn, the rest of each candidate is scored, and each
        value is flagged ``given_prefix``. A candidate absent from the alternatives gets the smallest
        returned logprob, flagged ``upper_bound`` (or LogprobsUnsupported with
        ``missing_candidate="raise"``). A server that returns no logprobs raises LogprobsUnsupported.
        """
        check_candidates(candidates)
        prefix = common_prefix(candidates)
        for c in candidates:
            others = [o for o in candidates if o != c and o.startswith(c)]
            if others:
                raise LogprobsUnsupported(
                    f"candidate {c!r} is a prefix of {others[0]!r}; a first-token score cannot tell "
                    "them apart. Use candidates that differ after their common prefix."
                )
        messages = list(context)
        unfinished = bool(messages) and messages[-1].role == "assistant"
        payload: dict[str, Any] = {}
        if prefix or unfinished:
            if not self.continue_final_message:
                why = (
                    f"the candidates share the prefix {prefix!r}, which their first token cannot tell apart"
                    if prefix
                    else "the context ends in an unfinished assistant turn"
                )
                raise LogprobsUnsupported(
                    f"openai:{self.model}: {why}. Servers that support it (vLLM, SGLang) can continue an "
                    "assistant turn: pass --continue-final-message (continue_final_message=True in Python). "
                    "Otherwise use --mode generate, or candidates that differ at their first character "
                    "(e.g. '1'/'2', 'A'/'B').",
                    fatal=True,
                )
            if unfinished:
                messages[-1] = ChatMessage("assistant", messages[-1].content + prefix)
            else:
                messages.append(ChatMessage("assistant", prefix))
            payload.update(continue_final_message=True, add_generation_prompt=False)
        payload.update(
            {
                "model": self.model,
                "messages": self._messages(messages),
                self.max_tokens_field: 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": self.top_logprobs,
            }
        )
        suffixes = [c[len(prefix) :] for c in candidates]
        return await self._request(
            payload, lambda data: self._score(data, candidates, suffixes, prefix), logprobs=True
        )

    def _score(
        self, data: dict[str, Any], candidates: Sequence[str], suffixes: Sequence[str], prefix: str
    ) -> list[float]:
        choices = data["choices"]
        if not isinstance(choices, list) or not choices:
            raise KeyError("choices is empty")
        entries = first_token_alternatives(answer_choice(choices).get("logprobs"), _token_text)
        seen: set[tuple[str, float]] = set()
        by_text: dict[str, list[float]] = {}
        for text, raw_value in entries:
            value = logprob_value(raw_value)
            if value is None:  # null or NaN: no value, not a very unlikely one
                continue
            if (text, value) in seen:  # the chosen token is listed again among the alternatives
                continue
            seen.add((text, value))
            by_text.setdefault(text, []).append(value)
        if not by_text:
            raise LogprobsUnsupported(
                f"{self.base_url} returned no logprobs for model {self.model!r}: the server does not support "
                f"them (or has them turned off). {_NEEDS_LOGPROBS}",
                fatal=True,
            )
        # The first answer token reads the same with a leading space or a raw tokenizer's Ġ/▁ mark
        # (" A", "ĠA", "▁A" start the answer A): such alternatives count for the candidate, summed. Not
        # after a given prefix (there a space is text), nor when it would merge two candidates.
        normalize = not prefix and len({answer_start(c) for c in suffixes}) == len(suffixes)
        key: Callable[[str], str] = answer_start if normalize else str
        pooled: dict[str, list[float]] = {}
        for text, values in by_text.items():
            if key(
                text
            ):  # an alternative whose text was lost (vLLM shows some byte tokens as "") matches nothing
                pooled.setdefault(key(text), []).extend(values)
        finite = [v for values in by_text.values() for v in values if math.isfinite(v)]
        # A missing candidate is at most as likely as the least likely alternative listed (a top-N
        # list), and at most the probability left over by everything listed (also when the server
        # lists only the sampled token).
        floor = min(finite) if finite else -math.inf
        left = 1.0 - sum(math.exp(v) for v in finite)
        if 1e-12 < left < 1.0:
            floor = min(floor, math.log(left))
        out: list[float] = []
        for cand, suffix in zip(candidates, suffixes, strict=True):
            if key(suffix) in pooled:
                value = _logsumexp(pooled[key(suffix)])
                out.append(CandidateLogprob(value, given_prefix=prefix) if prefix else value)
                continue
            if self.missing_candidate == "raise":
                raise LogprobsUnsupported(
                    f"candidate {cand!r} is not among the server's top {len(by_text)} first tokens"
                    + (f" after the prefix {prefix!r}" if prefix else "")
                )
            out.append(CandidateLogprob(floor, upper_bound=True, given_prefix=prefix))
        return out

    # -- reachability ----------------------------------------------------------------------------

    @staticmethod
    def _connect_cause(exc: aiohttp.ClientConnectorError) -> str:
        """Why a connection could not be opened, in words: DNS, refused, or the system's message."""
        host = f"{exc.host}:{exc.port}"
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return f"cannot resolve the host name {exc.host!r}"
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return f"connection refused: nothing listens at {host}"
        detail = os_error.strerror if isinstance(os_error, OSError) and os_error.strerror else str(os_error)
        return f"{host}: {' '.join(str(detail).split())}"

    async def preflight(self) -> None:
        """Open one connection to the server (a ``GET {base_url}/models``) before a run asks anything.

        Any HTTP answer, even 401 or 404, shows the server is there; only a connection that cannot be
        opened (a name no DNS resolves, a refused port, no answer within 10 s, a TLS failure) raises a
        fatal :class:`ModelError` naming the address, where it came from and the cause.
        """
        url = endpoint(self.base_url, "/models")
        wait = min(self.timeout, PREFLIGHT_CONNECT_TIMEOUT)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=wait, sock_read=wait)
        try:
            async with (await self._get_session()).get(url, timeout=timeout):
                return
        except aiohttp.ClientConnectorError as exc:
            cause = self._connect_cause(exc)
            if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientConnectorSSLError):
                cause = f"TLS failed: {' '.join(str(exc).split())}"
        except aiohttp.ConnectionTimeoutError:
            cause = f"no connection within {wait:g}s"
        except aiohttp.InvalidURL:
            cause = "not a valid http(s) URL"
        except (aiohttp.ClientError, OSError, TimeoutError):
            return  # connected, but the answer was slow or cut: the requests will tell
        raise ModelError(
            f"cannot reach {redact_url(self.base_url)} ({self.base_url_origin}): {self._mask(cause)}. "
            "Check --base-url and that the server is running.",
            fatal=True,
        )

    # -- facts -----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "spec": self.spec,
            "backend": "openai",
            "model": self.model,
            "base_url": redact_url(self.base_url),
            "api_key_env": self.api_key_env,
            "api_key_set": self._api_key is not None,
            "timeout": self.timeout,
            "max_answer_bytes": self.max_answer_bytes,
            "concurrency": self.concurrency,
            "max_retries": self.max_retries,
            "extra_body": self.extra_body,
            "continue_final_message": self.continue_final_message,
            "top_logprobs": self.top_logprobs,
        }
        if self.extra_body:  # e.g. enable_thinking changes the answers: part of the model's identity
            facts["identity"] = {"extra_body": self.extra_body}
        return facts

    async def aclose(self) -> None:
        lifetime, self._lifetime, self._session = self._lifetime, None, None
        if lifetime is not None and self._session_loop is asyncio.get_running_loop():
            await lifetime.aclose()
