"""What OpenAI-compatible servers answer, read one way (for the ``openai:`` backend).

Why a module of its own: vLLM, SGLang, TGI, llama.cpp, Ollama, LMDeploy, FastChat, Xinference, the
LiteLLM / one-api relays and the hosted APIs answer the same request in different spellings: finish
reasons (``eos_token``, ``stop_sequence``, ``end_turn``), an error object inside a 200, a completion
inside a ``{"code": 0, "data": {...}}`` envelope, a billing problem sent as 429, a missing model sent
as 400 or 500, rate-limit waits in ``x-ratelimit-reset-*`` headers or a body's ``estimated_time``,
log-probabilities in the legacy completions shape or with ``Ġ``/``▁`` markers. Each rule here was
measured on held-out answers of real servers written blind (``tests/server_answers/``).
"""

from __future__ import annotations

import codecs
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from cvalues.encoding import BOM, is_cjk

#: Finish reasons other servers spell differently, mapped to OpenAI's (``Generation.finish_reason``
#: promises ``stop``/``length``): TGI before 2.2 (``eos_token``, ``stop_sequence``), llama.cpp wrappers
#: (``eos``), relays passing an Anthropic-style upstream through (``end_turn``, ``max_tokens``).
FINISH_SPELLINGS: Mapping[str, str] = {
    "eos_token": "stop",
    "eos": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "max_tokens": "length",
}

#: Finish reasons saying the *server* stopped the reply for its own reasons: what came back is not
#: the model's answer, and asking again may give the whole one (retryable).
SERVER_CUT_FINISH: Mapping[str, str] = {
    "abort": "the server aborted the request (SGLang)",
    "error": "the provider failed while answering (OpenRouter)",
    "insufficient_system_resource": "the provider ran out of inference resources (DeepSeek)",
    "network_error": "the model's inference failed midway (Zhipu)",
}


# -- the body as text -----------------------------------------------------------------------------

_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


def _declared_charset(content_type: str | None) -> str | None:
    """The codec a ``Content-Type``'s charset names, when Python knows it; else None."""
    match = _CHARSET.search(content_type or "")
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def answer_text(body: bytes, content_type: str | None = None) -> str | None:
    """The text of an answer's body, or None when it is not text in any encoding that fits.

    UTF-8 first (a BOM dropped), whatever the ``charset`` label says: JSON between systems is UTF-8
    (RFC 8259), and a proxy stamping ``iso-8859-1`` on UTF-8 must not turn an answer into mojibake.
    A body that is not UTF-8 is read in its declared charset (a Chinese relay's ``gbk``), else as
    GB18030, as cvalues reads files; but UTF-8 that turns bad after two Chinese characters is damaged
    UTF-8 (GB18030 Chinese fails as UTF-8 at once), None rather than GB18030 nonsense. UTF-16 and
    UTF-32, which JSON's first bytes give away (``json.detect_encoding``), are read as such."""
    wide = json.detect_encoding(body[:4])
    if wide.startswith(("utf-16", "utf-32")):
        try:
            return body.decode(wide).lstrip("\ufeff")
        except UnicodeDecodeError:
            return None
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = len(BOM) if body.startswith(BOM) else 0
        good = body[start : exc.start].decode("utf-8", "ignore")
        if start or sum(1 for ch in good if is_cjk(ch)) >= 2:
            return None
    for codec in dict.fromkeys(c for c in (_declared_charset(content_type), "gb18030") if c):
        if codec == "utf-8":
            continue
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(data: Any, text: str) -> Any:
    """``data`` (parsed from ``text``) with every unpaired surrogate escape (``"\\ud83d"`` alone: an
    emoji cut in half by a Python server) read as U+FFFD, so that an answer can be stored as UTF-8.
    A paired escape is one character already; ``text`` is searched first so that most answers cost
    one regex scan."""
    if not _SURROGATE_ESCAPE.search(text):
        return data

    def fix(node: Any) -> Any:
        if isinstance(node, str):
            return _LONE_SURROGATE.sub("\ufffd", node)
        if isinstance(node, dict):
            return {fix(k): fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return fix(data)


# -- finish reasons and choices ------------------------------------------------------------------


def normalize_finish_reason(value: Any) -> str | None:
    """``value`` in OpenAI's spelling where another server spells it differently; None stays None."""
    if not isinstance(value, str):
        return None if value is None else str(value)
    return FINISH_SPELLINGS.get(value.lower(), value)


def answer_choice(choices: list[Any]) -> Any:
    """The choice that answers the request: the one with ``index`` 0, wherever it sits (a gateway
    merging choices may list index 1 first), else the first."""
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index") == 0:
            return choice
    return choices[0]


def _has_choices(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("choices"), list) and bool(data["choices"])


def unwrap_envelope(data: dict[str, Any]) -> dict[str, Any]:
    """A completion inside a relay's success envelope (``{"code": 0, "msg": ..., "data": {...}}``)."""
    inner = data.get("data")
    if not _has_choices(data) and isinstance(inner, dict) and _has_choices(inner):
        return inner
    return data


def embedded_status(data: Mapping[str, Any]) -> int | None:
    """The HTTP status an error object inside a 200 answer gives itself, when it gives one.

    vLLM and FastChat write ``{"object": "error", "code": 400, ...}`` (FastChat's codes are the
    status times 100 plus a number: 40301); OpenRouter a 200 ``{"error": {"code": 502, ...}}``. The
    code inside decides how to treat it: a 400 is not fixed by asking again.
    """
    if _has_choices(data):
        return None
    error: Any = data if data.get("object") == "error" else data.get("error")
    if not isinstance(error, Mapping):
        return None
    code = error.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    if 40000 <= code < 60000:
        code //= 100
    return code if 400 <= code < 600 else None


# -- what an error answer means ------------------------------------------------------------------

_BILLING_CODES = frozenset(
    {"insufficient_quota", "exceeded_current_quota_error", "1113", "insufficient_balance"}
)
_BILLING = re.compile(
    r"insufficient[ _](?:account[ _])?balance|exceeded your current quota|check your plan and billing"
    r"|account\b[^.]{0,60}\bsuspended|欠费|余额不足|请充值",
    re.IGNORECASE,
)
_NO_MODEL = re.compile(
    r"model_not_found|DeploymentNotFound|InvalidEndpointOrModel|invalid model name"
    r"|\bmodel\b[^\n]{0,80}?\b(?:does not exist|doesn't exist|not found|not exist)"
    r"|\bonly\b.{0,80}\ballowed now, your model\b",
    re.IGNORECASE,
)
_REFUSED_FIELD = re.compile(
    r"unrecognized request argument|extra_forbidden|extra inputs are not permitted|unsupported parameter"
    r"|integer_above_max_value|integer above maximum value"
    r"|supports at most \d+ completion tokens|range of max_tokens should be",
    re.IGNORECASE,
)
#: What a TLS port answers a plain-HTTP request with (nginx, Go's net/http, Apache): every request
#: fails the same way until the base URL says https://.
_PLAIN_HTTP_TO_TLS = re.compile(
    r"plain HTTP request was sent to HTTPS port|client sent an HTTP request to an HTTPS server"
    r"|speaking plain HTTP to an SSL-enabled server",
    re.IGNORECASE,
)
_TOO_LARGE_FOR_LIMIT = re.compile(r"request too large for\b|must be reduced in order to run", re.IGNORECASE)


def _parsed(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _error_words(data: Any) -> tuple[str, set[str]]:
    """All the message text of an error body, and its code/type values (lower case)."""
    texts: list[str] = []
    codes: set[str] = set()

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 4:
            return
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in ("code", "type", "error_type") and isinstance(value, str | int):
                    codes.add(str(value).lower())
                walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node[:20]:
                walk(value, depth + 1)
        elif isinstance(node, str):
            texts.append(node)

    walk(data)
    return " ".join(texts), codes


def error_meaning(status: int, body: bytes | str) -> tuple[str, str] | None:
    """What an error answer means beyond its status, as ``(kind, why)``; None when the status says it.

    ``kind`` is ``fatal`` (no request can succeed as the backend is set up: the account's balance or
    quota, a model that does not exist, a request field the server refuses), ``non-retryable`` (a 429
    that no wait fixes: this request alone is over the per-minute limit) or ``retryable`` (TGI's 424,
    a failure inside the model server during generation).
    """
    data = _parsed(body)
    text, codes = _error_words(data if data is not None else body)
    if status == 402 or codes & _BILLING_CODES or _BILLING.search(text):
        return "fatal", "the account's balance or quota: no request can succeed until it is topped up"
    if _NO_MODEL.search(text) or "model_not_found" in codes:
        return "fatal", "the server has no such model: check the name in --model openai:NAME and --base-url"
    if _REFUSED_FIELD.search(text) or (
        status == 422 and isinstance(data, Mapping) and isinstance(data.get("detail"), list)
    ):
        return "fatal", (
            "the server refuses a field or value every request carries (e.g. seed, max_tokens, or one "
            "set by --extra-body); change the option or leave it out"
        )
    if _PLAIN_HTTP_TO_TLS.search(text):
        return "fatal", "the server's port speaks HTTPS: use https:// in --base-url"
    if status == 429 and _TOO_LARGE_FOR_LIMIT.search(text):
        return "non-retryable", "this request alone is over the per-minute limit; waiting cannot fix it"
    if status == 424:
        return "retryable", "the model server failed during generation"
    return None


# -- how long to wait ----------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)?")


def parse_duration(value: str, now: float | None = None) -> float | None:
    """Seconds in a rate-limit reset value: ``20s``, ``6m0s``, ``210ms``, ``1.5`` (seconds), or an
    epoch timestamp; None when it is none of these."""
    value = value.strip().lower()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if number > 1e9:  # an epoch timestamp
            return max(number - (time.time() if now is None else now), 0.0)
        return max(number, 0.0)
    pos, total = 0, 0.0
    unit_seconds = {"ms": 0.001, "h": 3600.0, "m": 60.0, "s": 1.0}
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None or match.group(2) is None:
            return None
        total += float(match.group(1)) * unit_seconds[match.group(2)]
        pos = match.end()
    return total


def ratelimit_reset(headers: Mapping[str, str]) -> float | None:
    """The wait an exhausted ``x-ratelimit-remaining-*`` limit announces in its ``x-ratelimit-reset-*``
    header (OpenAI and the servers copying its headers); the longest when several are exhausted."""
    waits = []
    for kind in ("requests", "tokens"):
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        reset = headers.get(f"x-ratelimit-reset-{kind}")
        if remaining is None or reset is None:
            continue
        try:
            exhausted = float(remaining) <= 0
        except ValueError:
            continue
        wait = parse_duration(reset) if exhausted else None
        if wait is not None:
            waits.append(wait)
    return max(waits) if waits else None


def body_wait(body: bytes | str) -> float | None:
    """The seconds a body says the server needs (Hugging Face's ``estimated_time`` while loading)."""
    data = _parsed(body)
    value = data.get("estimated_time") if isinstance(data, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


# -- log-probabilities ---------------------------------------------------------------------------

#: Leading marks of a space in raw tokenizer pieces: byte-level BPE's ``Ġ``, SentencePiece's ``▁``.
_SPACE_MARKS = ("\u0120", "\u2581")


def answer_start(text: str) -> str:
    """A first answer token as the answer reads: its leading space (or ``Ġ``/``▁`` mark) dropped, so
    that ``" A"``, ``"ĠA"`` and ``"▁A"`` all start the answer ``A``."""
    i = 0
    while i < len(text) and (text[i].isspace() or text[i] in _SPACE_MARKS):
        i += 1
    return text[i:]


def logprob_value(value: Any) -> float | None:
    """A usable log-probability: a number that is not NaN (``-inf``, ``-9999`` are real values);
    ``null`` (llama.cpp writes a non-finite float so) and NaN are no value."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def first_token_alternatives(logprobs: Any, token_text: Any) -> list[tuple[str, float | None]]:
    """``(text, logprob)`` of the first generated token and its alternatives, from the chat shape
    (``content[0]`` with ``top_logprobs`` as a list, or as a ``{token: logprob}`` dict) or the legacy
    completions shape (``tokens``, ``token_logprobs``, ``top_logprobs`` as dicts), as Together and
    llama-cpp-python answer chat requests. ``token_text(entry)`` reads an entry's text."""
    if not isinstance(logprobs, Mapping):
        return []
    content = logprobs.get("content")
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        out = [(token_text(first), first.get("logprob"))]
        top = first.get("top_logprobs")
        if isinstance(top, Mapping):
            out += [(str(k), v) for k, v in top.items()]
        elif isinstance(top, list):
            out += [(token_text(e), e.get("logprob")) for e in top if isinstance(e, Mapping)]
        return out
    tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if isinstance(tokens, list) and tokens:
        out = [(str(tokens[0]), values[0] if isinstance(values, list) and values else None)]
        top = logprobs.get("top_logprobs")
        if isinstance(top, list) and top and isinstance(top[0], Mapping):
            out += [(str(k), v) for k, v in top[0].items()]
        return out
    return []
