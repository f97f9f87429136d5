"""Start-up time of the commands every user runs first: ``--help``, ``data list``, ``runs list``.

Each command runs in a fresh process, ``--reps`` times, and the script prints min/median wall time.
With ``--base-src DIR`` (e.g. ``git archive OLD src | tar -x -C /tmp/old``) the same commands run
interleaved against that tree too (A, B, A, B ...), and the ratio is printed. The import profile
itself: ``python -X importtime -c "import cvalues.cli"``.

With ``--reruns``, also a rerun that asks nothing: ``mc run`` on 100 pairs of ``safety-mc`` (the data
mirror, ``CVALUES_DATA_MIRROR``, default ``../shared/data``) is run once to fill its run directory,
then timed again: a log-prob run of the tiny hf model (``tests/tiny_model.py``; its load is deferred
until a request needs it), generate and log-prob runs against the local OpenAI-compatible test
server (``tests/openai_server.py``, started in this process), a generate run of a ``replay:`` file
(the server's answers) and ``cvalues generate`` of 100 prompts. Such reruns take the rerun shortcut
(``cvalues.runs.rerun``); each is also timed with ``CVALUES_RERUN_SHORTCUT=0`` (the full path, in a
run directory of its own, since a full rerun rewrites the outputs the stamp checks). Each tree has its
own run directories.

    .venv/bin/python benchmarks/bench_startup.py [--reps 10] [--base-src /tmp/old/src] [--reruns]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
COMMANDS = (["--help"], ["data", "list"], ["runs", "list"])
FULL_PATH = {"CVALUES_RERUN_SHORTCUT": "0"}


@dataclass
class Case:
    """One timed command; ``run_dir`` (a name) is made per tree, ``prepare`` runs before its first run."""

    label: str
    args: list[str]
    run_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None

    def command(self, tmp: Path, tree: str) -> list[str]:
        return self.args + (["--run-dir", str(tmp / tree / self.run_dir)] if self.run_dir else [])


def run_once(src: Path, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, "PYTHONPATH": str(src), **(env or {})}
    start = time.perf_counter()
    command = [sys.executable, "-m", "cvalues", *args]
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--base-src", type=Path, default=None, help="an older src/ to compare with")
    parser.add_argument("--reruns", action="store_true", help="also time reruns that ask nothing")
    args = parser.parse_args()
    trees = {"this": SRC} | ({"base": args.base_src.resolve()} if args.base_src else {})
    times: dict[tuple[str, str], list[float]] = {}
    cases = [Case(" ".join(c), list(c)) for c in COMMANDS]
    with contextlib.ExitStack() as stack:
        cwd = Path(stack.enter_context(tempfile.TemporaryDirectory()))  # `runs list`: ./runs is empty
        if args.reruns:
            reruns = rerun_cases(cwd, stack)
            cases += reruns
            for case in reruns:  # the first run asks; the timed ones do not
                if case.prepare is not None:
                    case.prepare()
                for name, src in trees.items():
                    run_once(src, case.command(cwd, name), cwd, case.env)
        for _ in range(args.reps):
            for case in cases:
                for name, src in trees.items():
                    elapsed = run_once(src, case.command(cwd, name), cwd, case.env)
                    times.setdefault((name, case.label), []).append(elapsed)
    width = max(len(case.label) for case in cases)
    for case in cases:
        cells = []
        for name in trees:
            ts = times[(name, case.label)]
            cells.append(f"{name}: min {min(ts):.3f} s / median {statistics.median(ts):.3f} s")
        if args.base_src:
            ratio = statistics.median(times[("base", case.label)]) / statistics.median(
                times[("this", case.label)]
            )
            cells.append(f"base/this (median) {ratio:.2f}x")
        print(f"cvalues {case.label:<{width}} " + "; ".join(cells))


def rerun_cases(tmp: Path, stack: contextlib.ExitStack) -> list[Case]:
    """Commands whose run directories the first run fills: ``mc run`` of the tiny hf model (log-prob), of
    the local test server (generate, log-prob) and of a replay file (generate), and ``generate``; each
    also with the shortcut off."""
    sys.path.insert(0, str(ROOT / "tests"))
    from openai_server import OpenAIServer
    from tiny_model import build_tiny_model

    os.environ.setdefault("CVALUES_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    os.environ.setdefault("CVALUES_CACHE_DIR", str(tmp / "cache"))
    model_dir = build_tiny_model(tmp / "tiny")
    server = stack.enter_context(OpenAIServer())
    common = ["--suite", "safety-mc", "--sample", "100", "--no-progress"]
    openai = ["--model", "openai:m", "--base-url", server.base_url]
    replay_file = tmp / "replay.jsonl"

    def write_replay() -> None:  # the server's answers, by item id, from the first openai generate run
        predictions = tmp / "this" / "openai-generate" / "mc-generate-predictions.jsonl"
        with predictions.open(encoding="utf-8") as src, replay_file.open("w", encoding="utf-8") as out:
            for line in src:
                row = json.loads(line)
                out.write(
                    json.dumps({"id": row["id"], "response": row["response"]}, ensure_ascii=False) + "\n"
                )

    cases = [
        Case("mc run hf --mode logprob", ["mc", "run", "--model", f"hf:{model_dir}", "--device", "cpu",
             "--mode", "logprob", *common], "hf-logprob"),
        Case("mc run openai --mode generate", ["mc", "run", *openai, "--mode", "generate", *common],
             "openai-generate"),
        Case("mc run openai --mode logprob", ["mc", "run", *openai, "--continue-final-message",
             "--mode", "logprob", *common], "openai-logprob"),
        Case("mc run replay --mode generate", ["mc", "run", "--model", f"replay:{replay_file}",
             "--mode", "generate", *common], "replay-generate", prepare=write_replay),
        Case("generate openai", ["generate", *openai, "--suite", "responsibility-prompts", "--limit", "100",
             "--no-progress"], "generate"),
    ]  # fmt: skip
    full = [Case(f"{c.label} (full path)", c.args, f"{c.run_dir}-full", FULL_PATH) for c in cases]
    return [Case(f"{c.label} (rerun)", c.args, c.run_dir, c.env, c.prepare) for c in cases] + full


if __name__ == "__main__":
    main()
