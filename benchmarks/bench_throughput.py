"""Throughput of the run engine with the real openai backend against a local server of fixed latency.

The server (``tests/openai_server.py``) runs in a separate process, so the CPU time measured here is
the client side only: request building and keys, httpx, JSON, the SQLite commit of every answer, the
progress accounting. For each concurrency C the bound is ``C / latency`` items per second; the goal is
at least 90% of it up to C = 64, with under 1 ms of client CPU per item.

Three measures per level: the engine alone (an in-process backend that sleeps), the engine with the
openai backend over HTTP, and, as the reference of what this server and this machine allow, a bare
asyncio HTTP/1.1 client with no engine and no store (one keep-alive connection per worker, a
pre-built request, ``Content-Length`` framing): the gap between it and the bound is the server's
and the kernel's share, not the harness's.

    .venv/bin/python benchmarks/bench_throughput.py [--latency 0.1] [--seconds 3] [--concurrency 1 4 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cvalues.models.base import Generation, GenerationSettings, ModelBackend
from cvalues.models.registry import load_model
from cvalues.runs import Request, RunStore, chat_messages, execute_async

ROOT = Path(__file__).resolve().parents[1]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of another process (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "openai_server.py"), "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, line.split()[-1]


class SleepingBackend(ModelBackend):
    """In-process backend that answers after ``latency`` seconds: the engine's own cost, without HTTP."""

    spec = "bench:sleep"

    def __init__(self, latency: float, concurrency: int):
        self.latency, self.default_concurrency = latency, concurrency

    async def generate(self, messages, settings):  # type: ignore[no-untyped-def]
        await asyncio.sleep(self.latency)
        return Generation("回复1", "stop", prompt_tokens=20, completion_tokens=3)

    async def candidate_logprobs(self, context, candidates):  # type: ignore[no-untyped-def]
        raise NotImplementedError


async def one_level(
    base_url: str | None, concurrency: int, n: int, tag: str, store: RunStore, latency: float
) -> tuple[float, float]:
    """Run ``n`` fresh items at ``concurrency``; returns (wall seconds, client CPU seconds)."""
    model: ModelBackend
    if base_url is None:
        model = SleepingBackend(latency, concurrency)
    else:
        model = load_model(
            "openai:bench", base_url=base_url, concurrency=concurrency, max_retries=0, timeout=30
        )
    settings = GenerationSettings(max_tokens=16)
    requests = [
        Request(f"{tag}-{i}", chat_messages(f"第{i}个问题（{tag}）：请简要回答，你怎么看待这件事？"))
        for i in range(n)
    ]
    try:
        # warm up (connections opened, lazy imports done) so that the measure is the steady state
        warm = [Request(f"warm-{tag}-{i}", chat_messages(f"warm {tag} {i}")) for i in range(concurrency)]
        await execute_async(model, warm, store=store, settings=settings, progress=False)
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = await execute_async(model, requests, store=store, settings=settings, progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await model.aclose()
    if summary.ok != n:
        raise RuntimeError(f"only {summary.ok}/{n} answered: {summary.errors_by_cause}")
    return wall, cpu


async def bare_http_level(base_url: str, concurrency: int, n: int) -> tuple[float, float]:
    """``n`` chat requests from ``concurrency`` bare keep-alive connections; (wall s, CPU s)."""
    host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    path = base_url.split("//", 1)[1].split("/", 1)[1]
    left = n

    async def worker(w: int) -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            i = 0
            while left > 0:
                left -= 1
                body = json.dumps(
                    {"model": "bench", "messages": [{"role": "user", "content": f"第{w}-{i}个问题"}]},
                    ensure_ascii=False,
                ).encode()
                head = f"POST /{path}/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + body)
                lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                length = next(int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length:"))
                answer = json.loads(await reader.readexactly(length))
                if lines[0].split()[1] != "200" or "choices" not in answer:
                    raise RuntimeError(f"bare client: unexpected answer {lines[0]!r}")
                i += 1
        finally:
            writer.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1, help="server latency per request, seconds")
    parser.add_argument("--seconds", type=float, default=3.0, help="target duration per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    args = parser.parse_args()

    header = (
        f"{'conc':>5} {'items':>6} {'items/s':>9} {'bound':>8} {'ratio':>6} {'client cpu ms/item':>19} "
        f"{'server cpu ms/item':>19}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        print(f"engine only: in-process backend sleeping {args.latency * 1000:.0f} ms (no HTTP)")
        print(header)
        for c in args.concurrency:
            n = max(20, int(c / args.latency * args.seconds))
            with RunStore(Path(tmp) / f"fake{c}.sqlite") as store:
                wall, cpu = asyncio.run(one_level(None, c, n, f"f{c}", store, args.latency))
            report(c, n, wall, cpu, args.latency, None)

        proc, base_url = start_server(args.latency)
        try:
            print(f"\nbare HTTP client (reference, no engine): server {base_url}")
            print(header)
            for c in args.concurrency:
                n = max(20, int(c / args.latency * args.seconds))
                asyncio.run(bare_http_level(base_url, c, c))  # warm-up: imports, server code paths
                server0 = process_cpu_seconds(proc.pid)
                wall, cpu = asyncio.run(bare_http_level(base_url, c, n))
                server1 = process_cpu_seconds(proc.pid)
                server = None if server0 is None or server1 is None else (server1 - server0) / n
                report(c, n, wall, cpu, args.latency, server)

            print(f"\nopenai backend over HTTP: server {base_url}, latency {args.latency * 1000:.0f} ms")
            print(header)
            for c in args.concurrency:
                n = max(20, int(c / args.latency * args.seconds))
                server0 = process_cpu_seconds(proc.pid)
                with RunStore(Path(tmp) / f"c{c}.sqlite") as store:
                    wall, cpu = asyncio.run(one_level(base_url, c, n, f"c{c}", store, args.latency))
                server1 = process_cpu_seconds(proc.pid)
                server = None if server0 is None or server1 is None else (server1 - server0) / n
                report(c, n, wall, cpu, args.latency, server)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def report(c: int, n: int, wall: float, cpu: float, latency: float, server_cpu: float | None) -> None:
    rate, bound = n / wall, c / latency
    server = "n/a" if server_cpu is None else f"{server_cpu * 1000:.3f}"
    print(
        f"{c:>5} {n:>6} {rate:>9.1f} {bound:>8.1f} {rate / bound:>6.1%} {cpu / n * 1000:>19.3f} {server:>19}"
    )


if __name__ == "__main__":
    main()
