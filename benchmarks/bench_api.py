"""API throughput: `cvalues generate` against lm-evaluation-harness's chat-completions model, same prompts.

A local OpenAI-compatible server (``tests/openai_server.py``, its own process) answers every request
after ``--latency`` seconds. Both sides send the same ``--prompts`` user prompts (the first of the
safety-prompts suite, written to a JSONL file that cvalues reads as a bring-your-own suite and lm-eval
gets as chat histories) with ``C`` requests in flight, each side as a whole command in a fresh process,
interleaved. The bound is ``prompts * latency / C``. Prints min/median wall time and peak memory per
side and level, the share of the bound, and the ratio.

lm-eval lives in its own virtual environment (see ``bench_logprob.py``), never a cvalues dependency.

    .venv/bin/python benchmarks/bench_api.py --peer-python /work/bench-venv/bin/python \\
        [--prompts 1000] [--latency 0.2] [--concurrency 8 32 64] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

PEER_SCRIPT = r"""
import json, sys
from lm_eval.api.instance import Instance
from lm_eval.models.api_models import JsonChatStr
from lm_eval.models.openai_completions import LocalChatCompletion
base_url, prompts_file, concurrency = sys.argv[1:4]
lm = LocalChatCompletion(base_url=base_url + "/chat/completions", model="test-model",
                         num_concurrent=int(concurrency), tokenizer_backend=None, max_retries=0,
                         tokenized_requests=False)
rows = [json.loads(line) for line in open(prompts_file, encoding="utf-8")]
reqs = [Instance("generate_until", r,
                 (JsonChatStr(json.dumps([{"role": "user", "content": r["text"]}], ensure_ascii=False)),
                  {"until": [], "max_gen_toks": 512, "do_sample": False, "temperature": 0}), i)
        for i, r in enumerate(rows)]
out = lm.generate_until(reqs, disable_tqdm=True)
assert len(out) == len(rows) and all(isinstance(o, str) and o for o in out), out[:3]
"""


def main() -> None:
    from bench_logprob import run_child
    from bench_throughput import start_server

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.setdefault("CVALUES_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    os.environ["CVALUES_DATA_MIRROR"] = env["CVALUES_DATA_MIRROR"]

    from cvalues.data.config import DataConfig
    from cvalues.data.schema import PromptRecord
    from cvalues.data.suites import load_suite

    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            prompts = tmp / "prompts.jsonl"
            records = [r for r in load_suite("safety-prompts", DataConfig.from_env()).records()
                       if isinstance(r, PromptRecord)][: args.prompts]  # fmt: skip
            with prompts.open("w", encoding="utf-8") as fh:
                for r in records:
                    fh.write(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n")
            (tmp / "peer.py").write_text(PEER_SCRIPT, encoding="utf-8")
            print(f"{len(records)} prompts, server latency {args.latency}s, python {sys.version.split()[0]}, "
                  f"{os.cpu_count()} cpus")  # fmt: skip
            for c in args.concurrency:
                bound = len(records) * args.latency / c
                ours: list[tuple[float, float]] = []
                peer: list[tuple[float, float]] = []
                for rep in range(args.reps):
                    cmd = [sys.executable, "-m", "cvalues", "generate", "--model", "openai:test-model",
                           "--base-url", base_url, "--concurrency", str(c), "--suite", str(prompts),
                           "--run-dir", str(tmp / f"run-{c}-{rep}"), "--no-progress",
                           "--max-retries", "0"]  # fmt: skip
                    ours.append(run_child(cmd, env)[:2])
                    cmd = [args.peer_python, str(tmp / "peer.py"), base_url, str(prompts), str(c)]
                    peer.append(run_child(cmd, env)[:2])
                    print(f"C={c} rep {rep}: cvalues {ours[-1][0]:.2f}s {ours[-1][1]:.0f}MB | "
                          f"lm-eval {peer[-1][0]:.2f}s {peer[-1][1]:.0f}MB", flush=True)  # fmt: skip
                for name, runs in (("cvalues", ours), ("lm-eval", peer)):
                    walls = [w for w, _ in runs]
                    print(f"C={c} {name}: min {min(walls):.2f}s median {statistics.median(walls):.2f}s "
                          f"(bound {bound:.2f}s, {bound / min(walls):.0%} of it at best), "
                          f"peak {max(m for _, m in runs):.0f}MB")  # fmt: skip
                ratio = statistics.median(w for w, _ in peer) / statistics.median(w for w, _ in ours)
                print(f"C={c} lm-eval/cvalues median {ratio:.2f}x")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
