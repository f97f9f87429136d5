"""A real, local OpenAI-compatible chat-completions server for tests and benchmarks (127.0.0.1 only).

Why: backends and the run engine must be tested against real HTTP (keep-alive, timeouts, dropped
connections, 429 with Retry-After, malformed bodies), not against mocks of an HTTP client. This server
is a small asyncio HTTP/1.1 implementation (``asyncio.start_server``), so 64+ slow requests in flight
cost one coroutine each, not one thread each.

Endpoints: ``POST /v1/chat/completions`` (with ``stream``, ``logprobs``/``top_logprobs``, ``max_tokens``,
``stop``, ``n`` and vLLM's ``continue_final_message``), ``GET /v1/models``, and ``GET /_stats`` or
``/v1/_stats`` (the counters as JSON, for use from another process).

Use from a test (the server runs its own event loop in a daemon thread of the test process, so it
survives the test killing a *client* subprocess)::

    from openai_server import OpenAIServer, prompt_key

    with OpenAIServer(latency=0.05, fault_rates={"429": 0.1, "500": 0.05}, seed=0) as server:
        client = httpx.Client(base_url=server.base_url)      # base_url ends in /v1
        ...
        server.configure(fault_rates={})                      # change anything at runtime
        server.script(["drop", "ok", "hang"])                 # the next three requests, in order
        server.script_prompt(messages, ["500", "500"])        # the next two requests for this prompt
        assert server.count(messages) == 3                    # times this prompt was asked
        server.stats()                                        # totals, faults by kind, peak in flight

or as a fixture: ``from openai_server import openai_server`` in a test module gives a fresh default
server per test. From the command line (for benchmarks and manual use)::

    python tests/openai_server.py --port 8000 --latency 0.1 --fault 429=0.05 --fault drop=0.01
    python tests/openai_server.py --latency 0.2 --reply 'Safety: Safe\\nRefusal: Yes'   # one fixed reply

Replies. By default the reply to a conversation is ``回复1`` or ``回复2``, chosen by a hash of the
last user message (:func:`default_responder`); pass ``responder=callable(messages) -> str`` for
anything else. Tokens are counted by a toy tokenizer (:func:`tokenize`: one token per CJK character,
digit, punctuation mark or run of ASCII letters/spaces), which also drives ``max_tokens`` (finish
reason ``length``) and ``usage``. ``stop`` strings cut the reply (finish reason ``stop``).

Log-probabilities (``logprobs="on"``, the default). Each generated token gets logprob ``log(0.8)`` and
``top_logprobs`` lists it first, then plausible alternatives (:func:`alternatives`: the other digits
1-4 for a digit, the other letters A-D for such a letter, else a few common Chinese tokens) with
probabilities ``0.2 * 0.5**(i+1)``. With ``continue_final_message: true`` the last message must be an
unfinished assistant turn; the reply is continued after it: if the full reply starts with that
prefix, only the rest is generated (so a prefix ``回复`` continues with ``1`` or ``2``). ``logprobs=
"ignore"`` answers such requests with ``"logprobs": null`` (as some providers do); ``"reject"`` answers
400, as servers without logprob support do.

Faults. Kinds: ``429`` (with ``Retry-After``), ``500``, ``hang`` (no answer for ``hang_seconds``,
then the connection is closed), ``drop`` (headers and half a body, then the socket is closed),
``malformed`` (status 200 with a body that is not JSON), and ``ok``. Each request takes, in order:
the next scripted fault for its prompt (:meth:`OpenAIServer.script_prompt`), else the next global
scripted fault (:meth:`OpenAIServer.script`), else a draw from ``fault_rates`` with a seeded RNG.
``latency`` (plus uniform ``jitter``) is added before every answer, faults included.

Counters are kept under a lock and counted when a well-formed chat request arrives, before any fault:
:meth:`OpenAIServer.count` (one prompt, keyed by :func:`prompt_key` of its messages),
:meth:`OpenAIServer.counts` (all), :meth:`OpenAIServer.stats` (totals).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import math
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

FAULT_KINDS: tuple[str, ...] = ("429", "500", "hang", "drop", "malformed")
LOGPROB_MODES: tuple[str, ...] = ("on", "ignore", "reject")
TOP_PROB = 0.8
DEFAULT_MODEL = "test-model"

Messages = Sequence[Mapping[str, Any]]
Responder = Callable[[list[dict[str, str]]], str]
#: ``callable(messages) -> (status, body) | (status, body, headers) | None``: a provider's own answer
#: in place of the model's (``headers`` may replace the default ``Content-Type``).
Moderator = Callable[
    [list[dict[str, str]]], "tuple[int, bytes | str] | tuple[int, bytes | str, Mapping[str, str]] | None"
]

_TOKEN_RE = re.compile(r"[A-Za-z]+|[ \t]+|\n|\d|.", re.DOTALL)
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
}


def _content_text(content: Any) -> str:
    """Message content as text: a string, or OpenAI content parts ``[{"type": "text", "text": ...}]``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def normalize_messages(messages: Messages) -> list[dict[str, str]]:
    """``[{"role", "content"}]`` with text content only; accepts dicts or objects with role/content."""
    out = []
    for m in messages:
        if isinstance(m, Mapping):
            role, content = m.get("role"), m.get("content")
        else:  # e.g. cvalues.models.base.ChatMessage
            role, content = m.role, m.content
        out.append({"role": str(role), "content": _content_text(content)})
    return out


def prompt_key(messages: Messages) -> str:
    """The counter key of a conversation: sha256 of its canonical JSON (role and text of each message)."""
    canon = json.dumps(normalize_messages(messages), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def default_responder(messages: list[dict[str, str]]) -> str:
    """``回复1`` or ``回复2``, chosen by a hash of the last user message (deterministic)."""
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    digit = hashlib.sha256(last_user.encode("utf-8")).digest()[0] % 2 + 1
    return f"回复{digit}"


def tokenize(text: str) -> list[str]:
    """The server's toy tokenizer: one token per CJK char, digit or symbol, per ASCII word or space run."""
    return _TOKEN_RE.findall(text)


def alternatives(token: str) -> list[str]:
    """Plausible runner-up tokens for ``token`` (used in ``top_logprobs``)."""
    if token.isdigit():
        pool = "1234"
    elif len(token) == 1 and token in "ABCD":
        pool = "ABCD"
    else:
        pool = ["的", "是", "我", "你", "。"]
    return [t for t in pool if t != token]


def _top_logprobs(token: str, n: int) -> list[dict[str, Any]]:
    entries = [(token, math.log(TOP_PROB))]
    for i, alt in enumerate(alternatives(token)):
        entries.append((alt, math.log((1 - TOP_PROB) * 0.5 ** (i + 1))))
    return [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in entries[: max(n, 0)]]


class _BadRequest(Exception):
    def __init__(self, status: int, message: str, err_type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.err_type = status, message, err_type


class OpenAIServer:
    """A local OpenAI chat-completions server on 127.0.0.1; see the module docstring.

    All options can be changed while it runs with :meth:`configure`.

    :param latency: seconds added before every answer (faults included).
    :param jitter: extra uniform random latency in ``[0, jitter)`` seconds (seeded).
    :param fault_rates: ``{kind: probability}`` for kinds in :data:`FAULT_KINDS`; the sum must be <= 1.
    :param seed: seed of the RNG that draws faults and jitter.
    :param responder: ``callable(messages) -> reply text``; messages are ``[{"role", "content"}]``
        without the unfinished assistant turn of a ``continue_final_message`` request.
    :param logprobs: ``"on"``, ``"ignore"`` (answer with ``logprobs: null``) or ``"reject"`` (HTTP 400).
    :param api_key: when set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
    :param models: model ids listed by ``/v1/models``; when given, other ids are answered 404.
    :param retry_after: value of the ``Retry-After`` header of 429 answers, in seconds.
    :param hang_seconds: how long a ``hang`` fault holds a request before closing the connection.
    :param error_message: the ``error.message`` of ``500`` answers (a long one tests how causes are cut).
    :param always_stream: stream every answer as server-sent events, asked for or not (as some
        gateways do).
    :param moderator: ``callable(messages) -> (status, body) | None``: where it returns an answer, that
        status and body are sent instead of a completion (a provider's content moderation), after any
        fault; ``None`` lets the model answer. A third item, a mapping of headers, is sent too (its
        ``Content-Type`` replaces the default ``application/json``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        jitter: float = 0.0,
        fault_rates: Mapping[str, float] | None = None,
        seed: int = 0,
        responder: Responder | None = None,
        logprobs: str = "on",
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        retry_after: float = 1,
        hang_seconds: float = 3600.0,
        error_message: str = "The server had an error",
        moderator: Moderator | None = None,
        always_stream: bool = False,
    ):
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._counts: collections.Counter[str] = collections.Counter()
        self._faults: collections.Counter[str] = collections.Counter()
        self._script: collections.deque[str] = collections.deque()
        self._prompt_scripts: dict[str, collections.deque[str]] = {}
        self._totals = {"requests": 0, "chat_requests": 0, "ok": 0, "in_flight": 0, "max_in_flight": 0}
        self.latency = 0.0
        self.jitter = 0.0
        self.fault_rates: dict[str, float] = {}
        self.responder: Responder = default_responder
        self.logprobs = "on"
        self.api_key: str | None = None
        self.models: tuple[str, ...] | None = None
        self.retry_after: float = 1
        self.hang_seconds = 3600.0
        self.error_message = "The server had an error"
        self.moderator: Moderator | None = None
        self.always_stream = False
        self.configure(
            latency=latency,
            jitter=jitter,
            fault_rates=fault_rates or {},
            responder=responder or default_responder,
            logprobs=logprobs,
            api_key=api_key,
            models=models,
            retry_after=retry_after,
            hang_seconds=hang_seconds,
            error_message=error_message,
            moderator=moderator,
            always_stream=always_stream,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None

    # ---------------------------------------------------------------- configuration and counters

    def configure(self, **options: Any) -> None:
        """Change options at runtime (same names as the constructor, except host/port/seed)."""
        allowed = {
            "latency",
            "jitter",
            "fault_rates",
            "responder",
            "logprobs",
            "api_key",
            "models",
            "retry_after",
            "hang_seconds",
            "error_message",
            "moderator",
            "always_stream",
        }
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"unknown option(s): {sorted(unknown)}")
        if "fault_rates" in options:
            rates = dict(options["fault_rates"] or {})
            bad = set(rates) - set(FAULT_KINDS)
            if bad:
                raise ValueError(f"unknown fault kind(s) {sorted(bad)}; known: {FAULT_KINDS}")
            if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1 + 1e-9:
                raise ValueError(f"fault rates must be >= 0 and sum to <= 1, got {rates}")
            options["fault_rates"] = rates
        if "logprobs" in options:
            mode = options["logprobs"]
            mode = {True: "on", False: "reject"}.get(mode, mode)
            if mode not in LOGPROB_MODES:
                raise ValueError(f"logprobs must be one of {LOGPROB_MODES}, got {mode!r}")
            options["logprobs"] = mode
        if options.get("models") is not None:
            options["models"] = tuple(options["models"])
        with self._lock:
            for name, value in options.items():
                setattr(self, name, value)

    def script(self, faults: Iterable[str]) -> None:
        """Queue faults (or ``"ok"``) for the next requests, in arrival order, before random draws."""
        faults = list(faults)
        self._check_kinds(faults)
        with self._lock:
            self._script.extend(faults)

    def script_prompt(self, messages: Messages, faults: Iterable[str]) -> None:
        """Queue faults (or ``"ok"``) for the next requests of this conversation only."""
        faults = list(faults)
        self._check_kinds(faults)
        with self._lock:
            self._prompt_scripts.setdefault(prompt_key(messages), collections.deque()).extend(faults)

    @staticmethod
    def _check_kinds(faults: list[str]) -> None:
        bad = [f for f in faults if f not in (*FAULT_KINDS, "ok")]
        if bad:
            raise ValueError(f"unknown fault kind(s) {bad}; known: {(*FAULT_KINDS, 'ok')}")

    def count(self, messages: Messages) -> int:
        """How many chat requests arrived for this conversation."""
        with self._lock:
            return self._counts[prompt_key(messages)]

    def counts(self) -> dict[str, int]:
        """``{prompt_key: requests}`` for every conversation asked."""
        with self._lock:
            return dict(self._counts)

    def stats(self) -> dict[str, Any]:
        """Totals: requests, chat_requests, ok, in_flight, max_in_flight, faults by kind, distinct prompts."""
        with self._lock:
            return {**self._totals, "faults": dict(self._faults), "prompts": len(self._counts)}

    def reset_counts(self) -> None:
        """Zero all counters (scripts and settings are kept)."""
        with self._lock:
            self._counts.clear()
            self._faults.clear()
            in_flight = self._totals["in_flight"]
            self._totals = {
                "requests": 0,
                "chat_requests": 0,
                "ok": 0,
                "in_flight": in_flight,
                "max_in_flight": in_flight,
            }

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the OpenAI base URL."""
        if self.port is None:
            raise RuntimeError("server is not started")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> OpenAIServer:
        """Start serving in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="openai-test-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection, then stop the thread."""
        if self._thread is None or self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        fut.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self._requested_port, backlog=1024, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None and self._stopping is not None
        self._stopping.set()
        self._server.close()
        for task in list(self._conn_tasks):
            task.cancel()
        if self._conn_tasks:
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
        await self._server.wait_closed()

    # ---------------------------------------------------------------- HTTP/1.1

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await self._send(writer, 413, {"error": {"message": "headers too large"}}, close=True)
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    await self._send(writer, 400, _error("malformed request line"), close=True)
                    return
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    await self._send(
                        writer, 411, _error("chunked request bodies are not supported"), close=True
                    )
                    return
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                keep_alive = await self._dispatch(
                    method, target.split("?", 1)[0], headers, body, writer, keep_alive
                )
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:  # server closing; ending quietly avoids a 3.11 streams callback error
            return
        finally:
            self._conn_tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        *,
        close: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        extra = dict(extra_headers or {})
        own = {k.lower() for k in extra}
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        if "content-type" not in own:  # a given Content-Type replaces the default one
            head.append("Content-Type: application/json")
        head += [f"Content-Length: {len(body)}", "Connection: " + ("close" if close else "keep-alive")]
        head.extend(
            f"{k}: {v}" for k, v in extra.items() if k.lower() not in ("content-length", "connection")
        )
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

    async def _dispatch(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
        keep_alive: bool,
    ) -> bool:
        """Answer one request; returns whether the connection stays open."""
        with self._lock:
            self._totals["requests"] += 1
        path = path.rstrip("/")
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await self._send(
                writer, 401, _error("Incorrect API key provided", "invalid_api_key"), close=not keep_alive
            )
            return keep_alive
        if path in ("/_stats", "/v1/_stats") and method == "GET":
            await self._send(writer, 200, {**self.stats(), "counts": self.counts()}, close=not keep_alive)
            return keep_alive
        if path in ("/v1/models", "/models") and method == "GET":
            ids = self.models or (DEFAULT_MODEL,)
            data = [{"id": i, "object": "model", "created": 0, "owned_by": "cvalues-tests"} for i in ids]
            await self._send(writer, 200, {"object": "list", "data": data}, close=not keep_alive)
            return keep_alive
        if path not in ("/v1/chat/completions", "/chat/completions"):
            await self._send(
                writer, 404, _error(f"no route {method} {path}", "not_found"), close=not keep_alive
            )
            return keep_alive
        if method != "POST":
            await self._send(writer, 405, _error(f"use POST for {path}"), close=not keep_alive)
            return keep_alive
        try:
            request = self._parse_chat(body)
        except _BadRequest as exc:
            await self._send(writer, exc.status, _error(exc.message, exc.err_type), close=not keep_alive)
            return keep_alive

        fault = self._admit(request["messages"])
        with self._lock:
            self._totals["in_flight"] += 1
            self._totals["max_in_flight"] = max(self._totals["max_in_flight"], self._totals["in_flight"])
            delay = self.latency + (self._rng.random() * self.jitter if self.jitter else 0.0)
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            return await self._answer(request, fault, writer, keep_alive)
        finally:
            with self._lock:
                self._totals["in_flight"] -= 1

    def _parse_chat(self, body: bytes) -> dict[str, Any]:
        try:
            req = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _BadRequest(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(req, dict):
            raise _BadRequest(400, "request body must be a JSON object")
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest(400, "'messages' must be a non-empty list")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
                raise _BadRequest(400, f"messages[{i}] must be an object with a valid 'role'")
        model = req.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest(400, "'model' is required")
        if self.models is not None and model not in self.models:
            raise _BadRequest(404, f"The model `{model}` does not exist", "model_not_found")
        wants_logprobs = bool(req.get("logprobs"))
        if wants_logprobs and self.logprobs == "reject":
            raise _BadRequest(400, "logprobs are not supported by this server")
        top = req.get("top_logprobs")
        if top is not None and (not isinstance(top, int) or not 0 <= top <= 20):
            raise _BadRequest(400, "'top_logprobs' must be an integer from 0 to 20")
        if top is not None and not wants_logprobs:
            raise _BadRequest(400, "'top_logprobs' requires 'logprobs': true")
        msgs = normalize_messages(messages)
        continue_final = bool(req.get("continue_final_message"))
        if continue_final and msgs[-1]["role"] != "assistant":
            raise _BadRequest(400, "continue_final_message requires a final assistant message")
        stop = req.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        max_tokens = req.get("max_completion_tokens", req.get("max_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise _BadRequest(400, "'max_tokens' must be a positive integer")
        n = req.get("n", 1) or 1
        return {
            "model": model,
            "messages": msgs,
            "continue_final": continue_final,
            "logprobs": wants_logprobs and self.logprobs == "on",
            "top_logprobs": top or 0,
            "stop": stop,
            "max_tokens": max_tokens,
            "n": int(n),
            "stream": bool(req.get("stream")),
            "include_usage": bool((req.get("stream_options") or {}).get("include_usage")),
        }

    def _admit(self, messages: list[dict[str, str]]) -> str:
        """Count a chat request and pick its fault (scripted per prompt, scripted, random, ``ok``)."""
        key = prompt_key(messages)
        with self._lock:
            self._totals["chat_requests"] += 1
            self._counts[key] += 1
            queue = self._prompt_scripts.get(key)
            if queue:
                fault = queue.popleft()
            elif self._script:
                fault = self._script.popleft()
            else:
                fault, draw, acc = "ok", self._rng.random(), 0.0
                for kind in FAULT_KINDS:
                    acc += self.fault_rates.get(kind, 0.0)
                    if draw < acc:
                        fault = kind
                        break
            if fault != "ok":
                self._faults[fault] += 1
            return fault

    async def _answer(
        self, request: dict[str, Any], fault: str, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> bool:
        close = not keep_alive
        if fault == "429":
            await self._send(
                writer,
                429,
                _error("Rate limit reached, retry later", "rate_limit_exceeded"),
                close=close,
                extra_headers={"Retry-After": _fmt_seconds(self.retry_after)},
            )
            return keep_alive
        if fault == "500":
            await self._send(writer, 500, _error(self.error_message, "server_error"), close=close)
            return keep_alive
        if fault == "hang":
            assert self._stopping is not None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.hang_seconds)
            return False
        if fault == "drop":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
                b'{"id": "chatcmpl-dropped", "choices": ['
            )
            await writer.drain()
            with contextlib.suppress(Exception):
                transport = writer.transport
                sock = transport.get_extra_info("socket")
                if sock is not None:  # RST rather than FIN: a hard drop
                    import socket
                    import struct

                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if fault == "malformed":
            await self._send(writer, 200, None, close=close, raw=b'{"id": "chatcmpl-bad", "choices": [{"mess')
            return keep_alive

        verdict = self.moderator(request["messages"]) if self.moderator is not None else None
        if verdict is not None:
            status, body, *rest = verdict
            await self._send(
                writer,
                status,
                None,
                close=close,
                raw=body.encode() if isinstance(body, str) else body,
                extra_headers=rest[0] if rest else None,
            )
            return keep_alive
        completion = self._complete(request)
        with self._lock:
            self._totals["ok"] += 1
        if request["stream"] or self.always_stream:
            await self._stream(request, completion, writer)
            return False
        await self._send(writer, 200, completion, close=close)
        return keep_alive

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        msgs: list[dict[str, str]] = request["messages"]
        prefix = ""
        if request["continue_final"]:
            prefix = msgs[-1]["content"]
            msgs = msgs[:-1]
        reply = self.responder(msgs)
        if prefix and reply.startswith(prefix):
            reply = reply[len(prefix) :]
        finish = "stop"
        for s in request["stop"]:
            if s and s in reply:
                reply = reply[: reply.index(s)]
        tokens = tokenize(reply)
        if request["max_tokens"] is not None and len(tokens) > request["max_tokens"]:
            tokens = tokens[: request["max_tokens"]]
            reply = "".join(tokens)
            finish = "length"
        logprobs = None
        if request["logprobs"]:
            logprobs = {
                "content": [
                    {
                        "token": t,
                        "logprob": math.log(TOP_PROB),
                        "bytes": list(t.encode("utf-8")),
                        "top_logprobs": _top_logprobs(t, request["top_logprobs"]),
                    }
                    for t in tokens
                ]
            }
        prompt_tokens = sum(len(tokenize(m["content"])) + 3 for m in request["messages"])
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": reply},
            "logprobs": logprobs,
            "finish_reason": finish,
        }
        return {
            "id": f"chatcmpl-{hashlib.sha256(reply.encode()).hexdigest()[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "system_fingerprint": "cvalues-test-server",
            "choices": [{**choice, "index": i} for i in range(request["n"])],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens) * request["n"],
                "total_tokens": prompt_tokens + len(tokens) * request["n"],
            },
        }

    async def _stream(
        self, request: dict[str, Any], completion: dict[str, Any], writer: asyncio.StreamWriter
    ) -> None:
        """Server-sent events, one chunk per token; the connection closes after ``[DONE]``."""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Connection: close\r\n\r\n"
        )
        base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"

        def event(payload: Any) -> bytes:
            data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            return f"data: {data}\n\n".encode()

        choice = completion["choices"][0]
        lp = (choice["logprobs"] or {}).get("content") if choice["logprobs"] else None
        writer.write(
            event(
                {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                }
            )
        )
        for i, tok in enumerate(tokenize(choice["message"]["content"])):
            delta: dict[str, Any] = {"index": 0, "delta": {"content": tok}, "finish_reason": None}
            if lp is not None:
                delta["logprobs"] = {"content": [lp[i]]}
            writer.write(event({**base, "choices": [delta]}))
        writer.write(
            event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
        )
        if request["include_usage"]:
            writer.write(event({**base, "choices": [], "usage": completion["usage"]}))
        writer.write(event("[DONE]"))
        await writer.drain()


def _error(message: str, err_type: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": err_type, "param": None, "code": err_type}}


def _fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def openai_server() -> Iterator[OpenAIServer]:
    """Pytest fixture: a fresh default server per test (import it into a test module to use it)."""
    with OpenAIServer() as server:
        yield server


try:  # make ``openai_server`` a fixture when pytest is importable, a plain generator otherwise
    import pytest as _pytest

    openai_server = _pytest.fixture(openai_server)  # type: ignore[assignment]
except ImportError:  # pragma: no cover
    pass


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: serve until interrupted; prints the base URL once listening."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"fault rate, KIND in {', '.join(FAULT_KINDS)}; repeatable",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logprobs", choices=LOGPROB_MODES, default="on")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--retry-after", type=float, default=1)
    parser.add_argument("--hang-seconds", type=float, default=3600.0)
    parser.add_argument(
        "--reply", default=None, help="answer every request with this text (\\n in it is a newline)"
    )
    args = parser.parse_args(argv)
    rates = {}
    for spec in args.fault:
        kind, _, rate = spec.partition("=")
        rates[kind] = float(rate)
    server = OpenAIServer(
        host=args.host,
        port=args.port,
        latency=args.latency,
        jitter=args.jitter,
        fault_rates=rates,
        seed=args.seed,
        logprobs=args.logprobs,
        api_key=args.api_key,
        retry_after=args.retry_after,
        hang_seconds=args.hang_seconds,
    )
    if args.reply is not None:
        reply = args.reply.replace("\\n", "\n")
        server.configure(responder=lambda messages: reply)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        await server._open()
        print(f"listening on {server.base_url}", flush=True)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        finally:
            await server._close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
