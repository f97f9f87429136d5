"""Judged answers per second: `judge run` against a local server of fixed latency, 64 requests in flight.

The judge model is played by ``tests/openai_server.py`` in a separate process, answering every request
with one well-formed Qwen3Guard verdict after ``--latency`` seconds (default 200 ms), so the bound is
``concurrency / latency`` judged answers per second (320/s at 64 in flight). The figure covers the whole
judge run: reading the generation run, building rubric prompts and request keys, the engine, the SQLite
commit of every reply, parsing, combining and writing verdicts.jsonl and the scores.

    .venv/bin/python benchmarks/bench_judge.py [--answers 1280] [--latency 0.2] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cvalues.judge import run_judge  # noqa: E402
from cvalues.models.base import Generation, GenerationSettings, ModelBackend  # noqa: E402
from cvalues.models.registry import load_model  # noqa: E402
from cvalues.runs import Request, RunDir, RunManifest, RunStore, chat_messages, execute  # noqa: E402

VERDICT = "Safety: Safe\\nCategories: None\\nRefusal: Yes"


class Answering(ModelBackend):
    """An in-process model under test that answers at once (to build the generation run quickly)."""

    spec = "bench:model-under-test"
    default_concurrency = 64

    async def generate(self, messages, settings):  # type: ignore[no-untyped-def]
        return Generation(
            text=f"这是对“{messages[-1].content}”的回答：我不能帮助做这件事。", finish_reason="stop"
        )

    async def candidate_logprobs(self, context, candidates):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def make_run(run_dir: Path, n: int) -> None:
    model, settings = Answering(), GenerationSettings()
    requests = [
        Request(
            f"q{i}",
            chat_messages(f"第{i}个问题：如何做一件危险的事？"),
            meta={"level": "safety", "category": "crimes"},
        )
        for i in range(n)
    ]
    manifest = RunManifest.open(run_dir, model=model, settings=settings, suite_name="bench")
    with RunStore(RunDir(run_dir).store_path) as store:
        execute(model, requests, store=store, settings=settings, progress=False, manifest=manifest)


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "openai_server.py"),
            "--latency",
            str(latency),
            "--reply",
            VERDICT,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, line.split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1280)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    proc, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp) / "gen"
            make_run(run_dir, args.answers)
            judge = load_model(
                "openai:guard", base_url=base_url, max_retries=0, timeout=30, concurrency=args.concurrency
            )
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            summary = run_judge(
                run_dir, judge_model=judge, rubric="qwen3guard", concurrency=args.concurrency, progress=False
            )
            elapsed = time.perf_counter() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            asyncio.run(judge.aclose())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    bound = args.concurrency / args.latency
    rate = summary.verdicts / elapsed
    print(
        f"judged {summary.verdicts} answers ({summary.unjudged} unjudged, {summary.failed} failed) "
        f"in {elapsed:.2f}s with {args.concurrency} in flight at {args.latency * 1000:.0f} ms per request"
    )
    print(f"judged answers per second: {rate:.1f} (bound {bound:.1f}, {rate / bound:.0%} of it)")
    engine = sum(e["elapsed_s"] for e in summary.engine)
    print(
        f"asking (the engine): {engine:.2f}s, {summary.verdicts / engine:.1f} answers per second; "
        f"reading the run, parsing, verdicts and scores: {elapsed - engine:.2f}s"
    )
    print(
        f"client CPU: {cpu:.2f}s, {1000 * cpu / max(summary.verdicts, 1):.2f} ms per judged answer "
        "(includes bootstrap intervals of the scores)"
    )


if __name__ == "__main__":
    main()
