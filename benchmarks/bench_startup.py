"""Start-up time of the commands every user runs first: ``--help``, ``data list``, ``runs list``.

Each command runs in a fresh process, ``--reps`` times, and the script prints min/median wall time.
With ``--base-src DIR`` (e.g. ``git archive OLD src | tar -x -C /tmp/old``) the same commands run
interleaved against that tree too (A, B, A, B ...), and the ratio is printed. The import profile
itself: ``python -X importtime -c "import cvalues.cli"``.

    .venv/bin/python benchmarks/bench_startup.py [--reps 10] [--base-src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS = (["--help"], ["data", "list"], ["runs", "list"])


def run_once(src: Path, args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    command = [sys.executable, "-m", "cvalues", *args]
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--base-src", type=Path, default=None, help="an older src/ to compare with")
    args = parser.parse_args()
    trees = {"this": SRC} | ({"base": args.base_src.resolve()} if args.base_src else {})
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as cwd:  # `runs list` looks under ./runs: an empty folder
        for _ in range(args.reps):
            for command in COMMANDS:
                for name, src in trees.items():
                    times.setdefault((name, " ".join(command)), []).append(run_once(src, command, Path(cwd)))
    for command in COMMANDS:
        key = " ".join(command)
        cells = []
        for name in trees:
            ts = times[(name, key)]
            cells.append(f"{name}: min {min(ts):.3f} s / median {statistics.median(ts):.3f} s")
        if args.base_src:
            ratio = statistics.median(times[("base", key)]) / statistics.median(times[("this", key)])
            cells.append(f"base/this (median) {ratio:.2f}x")
        print(f"cvalues {key:<10} " + "; ".join(cells))


if __name__ == "__main__":
    main()
