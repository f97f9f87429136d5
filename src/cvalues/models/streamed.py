"""Reading a streamed chat completion sent to a request that did not ask for one.

Why: cvalues never asks for a stream (``stream`` is not sent), yet some gateways and proxies in front
of OpenAI-compatible servers stream every answer (server-sent events, ``data: {chunk}`` lines ending in
``data: [DONE]``). Refusing such an answer as "not JSON" would retry it in vain and fail every item,
so the events are put back together into the one answer the request expected.

:func:`looks_streamed` tells such a body apart; :func:`assemble_stream` returns the
``chat.completion`` a non-streaming server would have sent: the content (and ``reasoning_content``) of
the first choice's deltas joined, its last finish reason, its per-token ``logprobs`` joined, and the
last ``usage``. An ``error`` event (DashScope ends a stream whose reply its moderation stopped with
one) is kept as the answer's ``error``. A stream that ends with neither ``[DONE]`` nor a finish
reason was cut off: :class:`IncompleteStream`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_PREFIXES = (b"data:", b"event:", b"id:", b"retry:")


class IncompleteStream(ValueError):
    """The events end before the answer does (no ``[DONE]`` and no finish reason)."""


def looks_streamed(body: bytes, content_type: str | None = None) -> bool:
    """Whether ``body`` is server-sent events rather than one JSON document."""
    if content_type and "text/event-stream" in content_type.lower():
        return True
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(_PREFIXES)


def _events(text: str) -> list[str]:
    """The ``data`` of each event (an event's ``data:`` lines joined by newlines, as the SSE spec says)."""
    events: list[str] = []
    data: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if data:
                events.append("\n".join(data))
                data = []
            continue
        if line.startswith(":"):  # a comment (keep-alive)
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        events.append("\n".join(data))
    return events


def assemble_stream(body: bytes | str) -> dict[str, Any]:
    """The ``chat.completion`` the events of ``body`` add up to (see the module docstring).

    Raises ``ValueError`` for an event that is not JSON and :class:`IncompleteStream` for a stream
    that stops before its answer ends."""
    text = (body if isinstance(body, str) else body.decode("utf-8")).lstrip("\ufeff")
    out: dict[str, Any] = {"object": "chat.completion"}
    content: list[str] = []
    reasoning: list[str] = []
    logprobs: list[Any] = []
    finish: Any = None
    done = False
    saw_choice = False
    for data in _events(text):
        if data.strip() == "[DONE]":
            done = True
            break
        chunk = json.loads(data)
        if not isinstance(chunk, Mapping):
            raise ValueError(f"a stream event is JSON but not an object: {data[:80]!r}")
        for key in ("id", "model", "system_fingerprint", "created"):
            if chunk.get(key) and key not in out:
                out[key] = chunk[key]
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        if chunk.get("error") is not None:
            out["error"] = chunk["error"]
            done = True  # the server ends the answer with its error
            break
        for extra in set(chunk) - {
            "id",
            "model",
            "system_fingerprint",
            "created",
            "usage",
            "choices",
            "object",
        }:
            out.setdefault(extra, chunk[extra])  # e.g. base_resp, prompt_filter_results: kept as sent
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            continue
        choice = choices[0]
        saw_choice = True
        delta = choice.get("delta") or choice.get("message") or {}
        if isinstance(delta, Mapping):
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            piece = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(piece, str):
                reasoning.append(piece)
        lp = choice.get("logprobs")
        if isinstance(lp, Mapping) and isinstance(lp.get("content"), list):
            logprobs.extend(lp["content"])
        if choice.get("finish_reason") is not None:
            finish = choice["finish_reason"]
    if not done and finish is None:
        raise IncompleteStream("the streamed answer stops before it ends (no [DONE], no finish reason)")
    if saw_choice or "error" not in out:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        out["choices"] = [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": {"content": logprobs} if logprobs else None,
            }
        ]
    return out
