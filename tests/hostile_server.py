"""A tiny HTTP/1.1 server on 127.0.0.1 whose every answer a test writes by hand (byte by byte if it
likes): trickling bodies, redirects, huge or deeply nested answers, echoed headers. For the hostile
cases tests/openai_server.py (a well-behaved OpenAI server with faults) does not cover."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[None]]


class LoopServer:
    """An asyncio server on 127.0.0.1 in a thread of its own, for a ``with`` block; a subclass gives
    ``_on_connection(reader, writer)`` (and may reset its state in ``_reset``)."""

    port: int

    def _reset(self) -> None:
        """Called on entering, before the server starts."""

    def __enter__(self) -> Self:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._reset()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            server = self._loop.run_until_complete(asyncio.start_server(self._on_connection, "127.0.0.1", 0))
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self._server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class HostileServer(LoopServer):
    """``with HostileServer(handler) as server: server.base_url`` (ends in ``/v1``)."""

    handler: Handler
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                seen = Seen(method, target, headers, body)
                self.seen.append(seen)
                await self.handler(seen, writer)
        writer.close()


def completion(text: str) -> bytes:
    """A chat-completions body answering ``text``."""
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]},
        ensure_ascii=False,
    ).encode("utf-8")


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    headers: dict[str, Any] | None = None,
    *,
    length: bool = True,
) -> None:
    """Write one whole response (``length=False``: no Content-Length, the body ends with the connection)."""
    head = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    if length:
        head.append(f"Content-Length: {len(body)}")
    else:
        head.append("Connection: close")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
    if not length:
        writer.close()
