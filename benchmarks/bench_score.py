"""`cvalues mc score` on a large official-format file: time and peak memory, streamed against in memory.

Writes a synthetic official-format file of ``--lines`` lines (a ~3 KB prompt with a question and two
replies, the answers taken in turn from the short answers (<= 80 characters) of the hand-labelled
extractor corpus, so the extractor sees real answer shapes; 100,000 lines make ~250 MB), then runs,
interleaved, each in a fresh process:

* ``cli``: the whole ``cvalues mc score FILE --bootstrap 1000`` command (streamed; a process pool
  extracts on files of 16 MB or more);
* ``serial``: the same streaming code with one process (``workers=1``), metrics included;
* ``no-cache``: ``serial`` with no answer remembered (every answer extracted as if new: the worst
  case, where a model never repeats an answer);
* ``in-memory``: the previous way (parse the whole file, score every row, write, then the metrics),
  kept as :func:`cvalues.mc.official.parse_official` + ``score_rows`` + ``write_rows``.

Prints min/median wall seconds and peak RSS per way, and checks that all outputs are identical.

    .venv/bin/python benchmarks/bench_score.py [--lines 100000] [--reps 3] [--ways cli serial in-memory]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

WAYS = {
    "serial": (
        "from pathlib import Path; import sys; from cvalues.mc import official, metrics;"
        "r = official.score_file(Path(sys.argv[1]), Path(sys.argv[2]), workers=1);"
        "r.metrics(resamples=1000)"
    ),
    # every answer extracted as if it were new (no answer is remembered): the worst case, a model
    # that never gives the same answer twice
    "no-cache": (
        "from pathlib import Path; import sys; from cvalues.mc import official;"
        "official.CACHE_MAX_CHARS = -1;"
        "r = official.score_file(Path(sys.argv[1]), Path(sys.argv[2]), workers=1);"
        "r.metrics(resamples=1000)"
    ),
    "in-memory": (
        "from pathlib import Path; import sys; from cvalues.mc import official, metrics;"
        "rows = official.score_rows(official.parse_official(Path(sys.argv[1])));"
        "official.write_rows(Path(sys.argv[2]), rows);"
        "metrics.compute_metrics([r.to_scored() for r in rows], resamples=1000)"
    ),
}


def write_file(path: Path, lines: int) -> None:
    from bench_extract import read_corpus

    # short answers (up to 80 characters), as a model answering "which reply is better" mostly gives
    answers = [text for _, _, text in read_corpus(ROOT / "tests" / "extract_corpus") if len(text) <= 80]
    filler = "为了让提示接近真实长度，这里是一段关于个人信息保护、法律责任和心理健康的背景说明。" * 6
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            pair = i // 2
            question = f"问题{pair}：{filler[: 40 + pair % 80]}"
            good, bad = f"好的回复{pair}：{filler[:150]}", f"坏的回复{pair}：{filler[:120]}"
            first, second = (good, bad) if i % 2 == 0 else (bad, good)
            record = {
                "id": i,
                "prompt": f"下面给你一个问题两个回复……[问题]：{question}\n[回复1]：{first}[回复1结束]\n"
                f"[回复2]：{second}[回复2结束]",
                "response": answers[i % len(answers)],
                "label": "回复1" if i % 2 == 0 else "回复2",
                "meta_info": {
                    "domain_en": ["law", "psychology", "environment"][pair % 3],
                    "difficulty_level": ["easy", "hard"][pair % 2],
                    "question": question,
                    "pos_resp": good,
                    "neg_resp": bad,
                },
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, the child's own peak RSS in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:6])} failed:\n{err[-2000:]}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ways", nargs="+", default=["cli", "serial", "in-memory"])
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file [a temp folder]")
    args = parser.parse_args()
    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "answers.jsonl"
        t0 = time.perf_counter()
        write_file(src, args.lines)
        size = src.stat().st_size / 1e6
        print(f"{args.lines} lines, {size:.0f} MB (written in {time.perf_counter() - t0:.1f}s), "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")  # fmt: skip
        walls: dict[str, list[float]] = {w: [] for w in args.ways}
        peaks: dict[str, list[float]] = {w: [] for w in args.ways}
        digests: set[str] = set()
        for rep in range(args.reps):
            for way in args.ways:
                out = tmp / f"{way}.jsonl"
                out.unlink(missing_ok=True)
                if way == "cli":
                    cmd = [sys.executable, "-m", "cvalues", "mc", "score", str(src), "-o", str(out)]
                else:
                    cmd = [sys.executable, "-c", WAYS[way], str(src), str(out)]
                wall, peak = run_child(cmd, env)
                walls[way].append(wall)
                peaks[way].append(peak)
                with out.open("rb") as fh:  # in blocks: the parent stays small (a child's peak
                    digests.add(hashlib.file_digest(fh, "sha256").hexdigest())  # includes it)
                print(f"rep {rep} {way}: {wall:.2f}s {peak:.0f} MB", flush=True)
        for way in args.ways:
            w, p = walls[way], peaks[way]
            print(f"{way}: min {min(w):.2f}s median {statistics.median(w):.2f}s "
                  f"({args.lines / min(w):.0f} lines/s best), peak RSS max {max(p):.0f} MB")  # fmt: skip
        if "in-memory" in walls and "cli" in walls:
            ratio = statistics.median(walls["in-memory"]) / statistics.median(walls["cli"])
            print(
                f"in-memory/cli median {ratio:.2f}x, min {min(walls['in-memory']) / min(walls['cli']):.2f}x"
            )
        print("outputs identical" if len(digests) == 1 else f"OUTPUTS DIFFER: {len(digests)} digests")


if __name__ == "__main__":
    main()
