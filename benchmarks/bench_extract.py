"""Speed of the multi-choice answer extractor, and what it reads, over the hand-labelled corpus.

The extractor runs on every answer of a run (100k answers for a large model sweep), so it must stay
fast: the goal is well above 2,000 answers per second on one core. On the shared 2-core development VM,
under other people's load, it measured 4,400-5,600 answers/s over the corpus and 1,300-2,100/s over
its long answers (process CPU time; 2,200-2,800/s and 740-990/s before the regex speed-ups of
``cvalues.mc.fastre``, in the same interleaved runs). Prints answers/s (best of
``--repeat`` passes over the whole corpus, and over its long answers alone), the outcome counts and,
per corpus file, how many answers agree with the label and how many are a confident wrong pick
(回复1/回复2 where the label differs). Time is the process's CPU time (``time.process_time``), so a
machine shared with other work reports what one core does rather than how busy the machine was.

    .venv/bin/python benchmarks/bench_extract.py [--repeat 5] [--corpus tests/extract_corpus]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from cvalues.mc.extract import OUTCOMES, extract_choice

ROOT = Path(__file__).resolve().parents[1]
_HEADER = re.compile(r"^@@@ (\S+)")


def read_corpus(folder: Path) -> list[tuple[str, str, str]]:
    """(file name, expected outcome, answer text) for every case (format: the corpus README.md)."""
    cases: list[tuple[str, str, str]] = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    if "id" in record:  # the id schema of the later held-out sets
                        cases.append((path.name, record["gold"], record["answer"]))
                    else:
                        cases.append((path.name, record["expected"], record["text"]))
        elif path.suffix == ".txt":
            label, body = None, []
            for line in [*path.read_text(encoding="utf-8").splitlines(), "@@@ end"]:
                m = _HEADER.match(line)
                if m:
                    if label is not None:
                        cases.append((path.name, label, "\n".join(body).strip("\n")))
                    label, body = m.group(1), []
                elif label is not None:
                    body.append(line)
    return cases


def best_rate(texts: list[str], repeat: int) -> float:
    """Answers per CPU second, best of ``repeat`` passes (one warm-up pass first)."""
    for text in texts:
        extract_choice(text)
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.process_time()
        for text in texts:
            extract_choice(text)
        best = min(best, time.process_time() - start)
    return len(texts) / best if best > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="passes over the corpus; the best is kept")
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "extract_corpus")
    args = parser.parse_args()

    cases = read_corpus(args.corpus)
    texts = [text for _, _, text in cases]
    long_texts = [text for text in texts if len(text) >= 150]
    for name, group in (("all", texts), ("150+ characters", long_texts)):
        if not group:
            continue
        rate = best_rate(group, args.repeat)
        chars = sum(len(t) for t in group) / len(group)
        print(
            f"{name}: {len(group)} answers ({chars:.0f} characters on average), best of {args.repeat}: "
            f"{rate:,.0f} answers/s ({1e6 / rate:.0f} µs of CPU per answer)"
        )

    got = [extract_choice(text).label for text in texts]
    counts = Counter(got)
    print("outcomes: " + ", ".join(f"{o} {counts.get(o, 0)}" for o in OUTCOMES))
    per_file: dict[str, list[int]] = {}
    for (name, expected, _), label in zip(cases, got, strict=True):
        row = per_file.setdefault(name, [0, 0, 0])
        row[0] += 1
        row[1] += label == expected
        row[2] += label in ("回复1", "回复2") and label != expected
    print(f"{'file':26} {'cases':>5} {'agree':>7} {'confident wrong':>15}")
    for name, (n, agree, wrong) in per_file.items():
        print(f"{name:26} {n:5d} {agree / n:7.1%} {wrong:15d}")


if __name__ == "__main__":
    main()
