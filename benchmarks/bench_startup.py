"""Start-up time of the commands every user runs first: ``--help``, ``data list``, ``runs list``.

Each command runs in a fresh process, ``--reps`` times, and the script prints min/median wall time.
With ``--base-src DIR`` (e.g. ``git archive OLD src | tar -x -C /tmp/old``) the same commands run
interleaved against that tree too (A, B, A, B ...), and the ratio is printed. The import profile
itself: ``python -X importtime -c "import cvalues.cli"``.

With ``--reruns``, also a rerun that asks nothing: ``mc run`` on 100 pairs of ``safety-mc`` (the data
mirror, ``CVALUES_DATA_MIRROR``, default ``../shared/data``) is run once to fill its run directory,
then timed again: a log-prob run of the tiny hf model (``tests/tiny_model.py``; its load is deferred
until a request needs it), and generate and log-prob runs against the local OpenAI-compatible test
server (``tests/openai_server.py``, started in this process).

    .venv/bin/python benchmarks/bench_startup.py [--reps 10] [--base-src /tmp/old/src] [--reruns]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
COMMANDS = (["--help"], ["data", "list"], ["runs", "list"])


def run_once(src: Path, args: list[str], cwd: Path) -> float:
    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    command = [sys.executable, "-m", "cvalues", *args]
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--base-src", type=Path, default=None, help="an older src/ to compare with")
    parser.add_argument("--reruns", action="store_true", help="also time mc run reruns that ask nothing")
    args = parser.parse_args()
    trees = {"this": SRC} | ({"base": args.base_src.resolve()} if args.base_src else {})
    times: dict[tuple[str, str], list[float]] = {}
    commands = [list(c) for c in COMMANDS]
    with contextlib.ExitStack() as stack:
        cwd = stack.enter_context(tempfile.TemporaryDirectory())  # `runs list` looks under ./runs: empty
        if args.reruns:
            commands += rerun_commands(Path(cwd), stack)
            for command in commands[len(COMMANDS) :]:  # the first run asks; the timed ones do not
                for src in trees.values():
                    run_once(src, command, Path(cwd))
        for _ in range(args.reps):
            for command in commands:
                for name, src in trees.items():
                    times.setdefault((name, " ".join(command)), []).append(run_once(src, command, Path(cwd)))
    for command in commands:
        key = " ".join(command)
        cells = []
        for name in trees:
            ts = times[(name, key)]
            cells.append(f"{name}: min {min(ts):.3f} s / median {statistics.median(ts):.3f} s")
        if args.base_src:
            ratio = statistics.median(times[("base", key)]) / statistics.median(times[("this", key)])
            cells.append(f"base/this (median) {ratio:.2f}x")
        label = key
        if "--mode" in command:
            scheme = command[command.index("--model") + 1].split(":")[0]
            label = f"mc run {scheme} --mode {command[command.index('--mode') + 1]} (rerun)"
        print(f"cvalues {label:<10} " + "; ".join(cells))


def rerun_commands(tmp: Path, stack: contextlib.ExitStack) -> list[list[str]]:
    """``mc run`` commands whose run directories the first run fills: the tiny hf model (log-prob) and
    the local test server (generate, log-prob)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from openai_server import OpenAIServer
    from tiny_model import build_tiny_model

    os.environ.setdefault("CVALUES_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    os.environ.setdefault("CVALUES_CACHE_DIR", str(tmp / "cache"))
    model_dir = build_tiny_model(tmp / "tiny")
    server = stack.enter_context(OpenAIServer())
    common = ["--suite", "safety-mc", "--sample", "100", "--no-progress"]
    return [
        ["mc", "run", "--model", f"hf:{model_dir}", "--device", "cpu", "--mode", "logprob", *common,
         "--run-dir", str(tmp / "hf-logprob")],
        ["mc", "run", "--model", "openai:m", "--base-url", server.base_url, "--mode", "generate", *common,
         "--run-dir", str(tmp / "openai-generate")],
        ["mc", "run", "--model", "openai:m", "--base-url", server.base_url, "--continue-final-message",
         "--mode", "logprob", *common,
         "--run-dir", str(tmp / "openai-logprob")],
    ]  # fmt: skip


if __name__ == "__main__":
    main()
