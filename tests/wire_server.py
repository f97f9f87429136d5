"""A scripted HTTP/1.x server on 127.0.0.1 that writes every answer byte by byte as a case says.

Why: the wire round (tests/wire_cases/) needs what neither tests/openai_server.py (a well-behaved
server with faults) nor tests/hostile_server.py (a handler per test) gives in data form: compressed
and chunked bodies, declared charsets, interim 1xx answers, HTTP/1.0, connections closed or reset
before or in the middle of an answer, a keep-alive connection the server drops while idle, stalled
and trickled bodies, redirects. A case is a list of *steps*, one per request received, in order (the
last one repeats); each step is a plain dict read from JSON (see tests/wire_cases/README.md)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import json
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from hostile_server import LoopServer


@dataclass
class WireRequest:
    """One request the server received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    reused: bool  # arrived on a connection that had already carried a request


def completion_json(text: str, finish_reason: str | None = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-wire",
        "object": "chat.completion",
        "created": 1732704550,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }


def logprobs_json(values: dict[str, float]) -> dict[str, Any]:
    """A one-token answer whose alternatives are ``values`` (the most likely one is the token)."""
    ranked = sorted(values.items(), key=lambda kv: -kv[1])
    top = [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in ranked]
    body = completion_json(ranked[0][0], "length")
    body["choices"][0]["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
    return body


def _placeholders(value: str, origin: str) -> str:
    value = value.replace("{origin}", origin)
    while "{date:" in value:
        start = value.index("{date:")
        end = value.index("}", start)
        offset = float(value[start + 6 : end])
        value = value[:start] + email.utils.formatdate(time.time() + offset, usegmt=True) + value[end + 1 :]
    return value


def step_body(step: dict[str, Any], request: WireRequest) -> bytes:
    """The body of ``step`` before any content coding, in its declared character set."""
    if "body_hex" in step:
        return bytes.fromhex(step["body_hex"])
    if "completion" in step:
        text = step["completion"]
        obj: Any = completion_json(text, step.get("finish_reason", "stop"))
    elif "big_completion" in step:
        big = step["big_completion"]
        obj = completion_json(big["char"] * big["count"])
    elif "echo_prompt" in step:
        sent = json.loads(request.body.decode("utf-8"))
        obj = completion_json(sent["messages"][-1]["content"])
    elif "logprobs" in step:
        obj = logprobs_json(step["logprobs"])
    elif "json" in step:
        obj = step["json"]
    else:
        obj = None
    text = step.get("body", "") if obj is None else json.dumps(obj, ensure_ascii=step.get("ascii", False))
    return text.encode(step.get("charset", "utf-8"))


def _encode(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, mtime=0)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "deflate-raw":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return packer.compress(data) + packer.flush()
    if coding in ("identity", "fake"):
        return data
    raise ValueError(f"unknown coding {coding!r}")


def build_response(step: dict[str, Any], request: WireRequest, origin: str) -> tuple[bytes, bytes]:
    """The response of ``step``: its head (interim answers, status line, headers) and its framed body."""
    status = step.get("status", 200)
    reason = step.get("reason", HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "X")
    version = step.get("version", "HTTP/1.1")
    body = step_body(step, request)
    coding = step.get("encoding")
    if coding:
        body = _encode(body, coding)
    if "encoded_cut" in step:  # a coded stream cut short, framed as if whole
        body = body[: step["encoded_cut"]]
    headers: list[tuple[str, str]] = [(k, _placeholders(v, origin)) for k, v in step.get("headers", [])]
    names = {k.lower() for k, _ in headers}
    if "content-type" not in names and step.get("content_type", "application/json") is not None:
        headers.insert(0, ("Content-Type", step.get("content_type", "application/json")))
    if coding and coding != "identity" and "content-encoding" not in names:
        headers.append(("Content-Encoding", "gzip" if coding == "fake" else coding.split("-")[0]))
    framing = step.get("framing", "length")
    if framing == "length" and "content-length" not in names:
        headers.append(("Content-Length", str(len(body) + step.get("extra_length", 0))))
        if step.get("dup_length"):
            headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        size = step.get("chunk", 7)
        ext = ";ext=1" if step.get("chunk_ext") else ""
        parts = [b"%x%s\r\n%s\r\n" % (len(c), ext.encode(), c) for c in _pieces(body, size)]
        trailer = "".join(f"{k}: {v}\r\n" for k, v in step.get("trailers", []))
        body = b"".join(parts) + (b"" if step.get("no_last_chunk") else b"0\r\n" + trailer.encode() + b"\r\n")
    elif framing == "close" and "connection" not in names:
        headers.append(("Connection", "close"))
    head = f"{version} {status} {reason}".rstrip(" ")
    raw_head = (head + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("utf-8")
    interim = "".join(step.get("interim", [])).encode("latin-1")
    return interim + raw_head, body


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


@dataclass
class WireServer(LoopServer):
    """``with WireServer(steps) as server: server.origin``: answers the i-th request with ``steps[i]``
    (the last step repeats); a request for another path than ``route`` gets ``not_found``."""

    steps: list[dict[str, Any]]
    route: str | None = "/v1/chat/completions"  # None: every path is answered by the steps
    not_found: dict[str, Any] = field(
        default_factory=lambda: {"status": 404, "json": {"detail": "Not Found"}}
    )
    seen: list[WireRequest] = field(default_factory=list)
    port: int = 0

    def _reset(self) -> None:
        self._used = 0

    def _next_step(self, request: WireRequest) -> dict[str, Any]:
        while True:
            index = min(self._used, len(self.steps) - 1)
            step = self.steps[index]
            self._used += 1
            if step.get("when") == "reused" and not request.reused:
                continue  # this step is for a reused connection only
            return step

    async def _read_head(self, reader: asyncio.StreamReader, reused: bool) -> WireRequest:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return WireRequest(method, target, headers, b"", reused)

    async def _read_body(self, reader: asyncio.StreamReader, request: WireRequest) -> None:
        headers = request.headers
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        else:
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
        request.body = body

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        with contextlib.suppress(Exception, asyncio.CancelledError):
            while True:
                request = await self._read_head(reader, served > 0)
                served += 1
                self.seen.append(request)
                if self.route is not None and request.target != self.route:
                    step = self.not_found
                else:
                    step = self._next_step(request)
                if not step.get("early"):  # else answer before reading the body (nginx's 413)
                    await self._read_body(reader, request)
                if not await self._serve(step, request, writer):
                    return
        with contextlib.suppress(Exception):
            writer.close()

    async def _serve(self, step: dict[str, Any], request: WireRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is finished."""
        fault = step.get("fault")
        if step.get("delay"):
            await asyncio.sleep(step["delay"])
        if fault == "close_on_request":
            writer.close()
            return False
        if fault == "reset_on_request":
            _reset(writer)
            return False
        if fault == "stall_on_request":
            await asyncio.sleep(3600)
        for need, status in (("content-length", 411), ("content-type", 415)):
            if need in step.get("require", []) and (
                need not in request.headers
                or (need == "content-type" and "application/json" not in request.headers[need])
            ):
                step = {"status": status, "json": {"error": {"message": f"{need} required"}}}
        head, body = build_response(step, request, self.origin)
        data = head + (body[: step["cut_at"]] if "cut_at" in step else body)
        trickle = step.get("trickle")
        if trickle:
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(trickle)
        else:
            writer.write(data)
            await writer.drain()
        after = step.get("after", "close" if step.get("framing") == "close" else "keep")
        if after == "close":
            writer.close()
            return False
        if after == "reset":
            _reset(writer)
            return False
        if after == "stall":
            await asyncio.sleep(3600)
        if step.get("idle_close") is not None:
            await asyncio.sleep(step["idle_close"])
            writer.close()
            return False
        return True


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
