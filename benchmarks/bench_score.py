"""`cvalues mc score` on a large official-format file: time and peak memory, streamed against in memory.

Writes a synthetic official-format file of ``--lines`` lines (a ~3 KB prompt with a question and two
replies, the answers taken in turn from the short answers (<= 80 characters) of the hand-labelled
extractor corpus, so the extractor sees real answer shapes; 100,000 lines make ~250 MB), then runs,
interleaved, each in a fresh process:

* ``cli``: the whole ``cvalues mc score FILE --format json`` command (streamed; on files of 16 MB or
  more a pool scores chunks on 3+ cores, and on 2 once the extractor turns out to be the work);
* ``serial``: the same streaming code with one process (``workers=1``), metrics included;
* ``no-cache``: ``serial`` with no answer remembered (every answer extracted as if new: the worst
  case, where a model never repeats an answer);
* ``default``, ``no-cache-default``: ``serial`` and ``no-cache`` with the default processes;
* ``in-memory``: the previous way (parse the whole file, score every row, write, then the metrics),
  kept as :func:`cvalues.mc.official.parse_official` + ``score_rows`` + ``write_rows``.

Prints min/median wall seconds, CPU seconds (the child and its pool workers) and peak RSS per way, the
load average before and after (the development VM's 2 cores are shared), and checks that all outputs
are identical, and, for ``cli``, that the metrics JSON printed is too.

With ``--base-src DIR`` (e.g. ``git archive OLD src | tar -x -C /tmp/old``, or another checkout's
``src``) every way also runs on that tree, interleaved with this one (``base:cli`` ...), and the two
trees' outputs and metrics must be byte-identical. ``--input FILE`` scores an existing file instead
of writing one.

    .venv/bin/python benchmarks/bench_score.py [--lines 100000] [--reps 3] [--ways cli serial in-memory]
        [--input FILE] [--base-src DIR]
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
    # the same two with the default processes (on 2 cores, a pool of 2 once the extractor is the work)
    "default": (
        "from pathlib import Path; import sys; from cvalues.mc import official, metrics;"
        "r = official.score_file(Path(sys.argv[1]), Path(sys.argv[2]));"
        "r.metrics(resamples=1000)"
    ),
    "no-cache-default": (
        "from pathlib import Path; import sys; from cvalues.mc import official;"
        "official.CACHE_MAX_CHARS = -1;"
        "r = official.score_file(Path(sys.argv[1]), Path(sys.argv[2]));"
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


def run_child(cmd: list[str], env: dict[str, str], stdout: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the child and its waited-for children, the child's peak RSS in MB)."""
    t0 = time.perf_counter()
    with stdout.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:6])} failed:\n{err[-2000:]}")
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def digest(path: Path) -> str:
    with path.open("rb") as fh:  # in blocks: the parent stays small (a child's peak includes it)
        return hashlib.file_digest(fh, "sha256").hexdigest()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ways", nargs="+", default=["cli", "serial", "in-memory"])
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file [a temp folder]")
    parser.add_argument("--input", type=Path, default=None, help="score this file instead of writing one")
    parser.add_argument("--base-src", type=Path, default=None, help="an older src/ to compare with")
    args = parser.parse_args()
    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = {"": ROOT / "src"} | ({"base:": args.base_src.resolve()} if args.base_src else {})
    envs = {
        tag: {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        for tag, src in trees.items()
    }
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        if args.input is not None:
            src = args.input.resolve()
            lines = sum(1 for raw in src.open("rb") if raw.strip())
        else:
            src, lines = tmp / "answers.jsonl", args.lines
            t0 = time.perf_counter()
            write_file(src, lines)
            print(f"written in {time.perf_counter() - t0:.1f}s")
        print(f"{lines} lines, {src.stat().st_size / 1e6:.0f} MB, python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cpus, load average {load()}")  # fmt: skip
        runs = [tag + way for way in args.ways for tag in trees]
        walls: dict[str, list[float]] = {r: [] for r in runs}
        cpus: dict[str, list[float]] = {r: [] for r in runs}
        peaks: dict[str, list[float]] = {r: [] for r in runs}
        digests: set[str] = set()
        metrics: set[str] = set()
        for rep in range(args.reps):
            for way in args.ways:
                for tag in trees if rep % 2 == 0 else reversed(trees):  # alternate which tree goes first
                    out, printed = tmp / f"{way}.jsonl", tmp / f"{way}.stdout"
                    out.unlink(missing_ok=True)
                    if way == "cli":
                        cmd = [sys.executable, "-m", "cvalues", "mc", "score", str(src), "-o", str(out),
                               "--format", "json"]  # fmt: skip
                    else:
                        cmd = [sys.executable, "-c", WAYS[way], str(src), str(out)]
                    wall, cpu, peak = run_child(cmd, envs[tag], printed)
                    walls[tag + way].append(wall)
                    cpus[tag + way].append(cpu)
                    peaks[tag + way].append(peak)
                    digests.add(digest(out))
                    if way == "cli":
                        metrics.add(digest(printed))
                    print(f"rep {rep} {tag}{way}: {wall:.2f}s wall, {cpu:.2f}s cpu, {peak:.0f} MB "
                          f"(load {load()})", flush=True)  # fmt: skip
        for run in runs:
            w, c, p = walls[run], cpus[run], peaks[run]
            print(f"{run}: wall min {min(w):.2f}s median {statistics.median(w):.2f}s "
                  f"({lines / min(w):.0f} lines/s best), cpu min {min(c):.2f}s median "
                  f"{statistics.median(c):.2f}s, peak RSS max {max(p):.0f} MB")  # fmt: skip
        for way in args.ways if args.base_src else ():
            old, new = walls["base:" + way], walls[way]
            print(f"{way}: base/this median {statistics.median(old) / statistics.median(new):.2f}x, "
                  f"min {min(old) / min(new):.2f}x")  # fmt: skip
        if "in-memory" in walls and "cli" in walls:
            ratio = statistics.median(walls["in-memory"]) / statistics.median(walls["cli"])
            print(
                f"in-memory/cli median {ratio:.2f}x, min {min(walls['in-memory']) / min(walls['cli']):.2f}x"
            )
        print("outputs identical" if len(digests) == 1 else f"OUTPUTS DIFFER: {len(digests)} digests")
        if metrics:
            print("metrics identical" if len(metrics) == 1 else f"METRICS DIFFER: {len(metrics)} digests")
        print(f"load average at the end {load()}")


if __name__ == "__main__":
    main()
