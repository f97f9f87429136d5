"""hf generation: cvalues' ``hf:`` backend against lm-evaluation-harness's ``HFLM.generate_until``.

Both sides generate greedily up to ``--max-tokens`` new tokens for the same ``--prompts`` safety
prompts (each rendered with the model's chat template, exactly as cvalues asks them) on the same tiny
random llama (``tests/tiny_model.py``; ``--shape qwen2.5-0.5b``: a random model of Qwen2.5-0.5B's
shape, ``bench_logprob.build_model``), at the same batch size, on CPU. Runs are interleaved (cvalues,
lm-eval, cvalues, ...), each in a fresh process; the script prints min/median per side and the ratio:

* ``loop``: the generation itself (cvalues: the run engine's session time from ``manifest.json``,
  store writes included; lm-eval: ``HFLM.generate_until`` over the prompts);
* ``whole``: the whole process (cvalues: the ``cvalues generate`` command; lm-eval: import, model load
  and ``generate_until``, without its task machinery, which favours lm-eval) and its peak memory (the
  largest sum of resident memory over the process and its children, ``bench_logprob.run_child``, so
  the N processes of ``--replicas N``, cvalues only, all count);
* tokens/s: the generated tokens (each side's answers re-tokenized with the model's tokenizer, so
  both are counted alike) over the loop time. It also counts how many answers the two sides agree on.

lm-eval is never a dependency of cvalues: install it in a virtual environment of its own (see
``bench_logprob.py`` and ``benchmarks/RESULTS.md``).

    .venv/bin/python benchmarks/bench_generate.py --peer-python /work/bench-venv/bin/python \\
        [--reps 3] [--batch-size 8 32] [--prompts 200] [--max-tokens 32] [--threads 1] [--replicas 1 2] \\
        [--base-src /tmp/main/src]

Each rep runs every cvalues side (this tree, then ``--base-src``'s, at each ``--replicas`` count), then
lm-eval; each line shows the load average at its start (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_logprob import ROOT, build_model, run_child, summary

#: lm-eval's side, run with the peer's interpreter: read the rendered prompts, generate, print timings.
PEER_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
model_dir, prompts_file, batch_size, max_tokens, out_file, dtype = sys.argv[1:7]
lm = HFLM(pretrained=model_dir, batch_size=int(batch_size), device="cpu", dtype=dtype)
rows = [json.loads(line) for line in open(prompts_file, encoding="utf-8")]
gen = {"until": [], "max_gen_toks": int(max_tokens), "do_sample": False}
reqs = [Instance("generate_until", r, (r["context"], dict(gen)), i) for i, r in enumerate(rows)]
t1 = time.perf_counter()
texts = lm.generate_until(reqs, disable_tqdm=True)
t2 = time.perf_counter()
json.dump({r["id"]: t for r, t in zip(rows, texts)}, open(out_file, "w"), ensure_ascii=False)
print(json.dumps({"loop_s": t2 - t1, "setup_s": t1 - t0}))
"""


def write_prompts(model_dir: Path, n: int, suite_file: Path, rendered_file: Path) -> int:
    """The first ``n`` safety prompts as a bring-your-own suite (cvalues) and rendered (lm-eval)."""
    from cvalues.data.config import DataConfig
    from cvalues.data.schema import PromptRecord
    from cvalues.data.suites import load_suite
    from cvalues.models.registry import load_model
    from cvalues.runs.generate import prompt_requests

    suite = load_suite("safety-prompts", DataConfig.from_env())
    records = [r for r in suite.records() if isinstance(r, PromptRecord)][:n]
    with suite_file.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n")
    model = load_model(f"hf:{model_dir}", device="cpu")
    with rendered_file.open("w", encoding="utf-8") as f:
        for request in prompt_requests(records, None):
            context = model.render(request.messages, continue_final=False)
            f.write(json.dumps({"id": request.item_id, "context": context}, ensure_ascii=False) + "\n")
    return len(records)


def cvalues_answers(run_dir: Path) -> dict[str, str]:
    from cvalues.runs import RunDir, RunStore

    with RunStore(RunDir(run_dir).store_path, readonly=True) as store:
        return {a.item_id: a.text or "" for a in store.answers(status="ok")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads of both sides (OMP_NUM_THREADS)"
    )
    parser.add_argument(
        "--shape",
        choices=["tiny", "qwen2.5-0.5b"],
        default="tiny",
        help="the model (bench_logprob.build_model)",
    )
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--skip-peer", action="store_true", help="cvalues only (no lm-eval installed)")
    parser.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[1],
        help="cvalues only: model copies in separate processes (--replicas; the cores are split); "
        "several counts run interleaved, e.g. --replicas 1 2",
    )
    parser.add_argument(
        "--base-src",
        type=Path,
        default=None,
        help="an older src/ to interleave with (e.g. git archive main src | tar -x -C /tmp/main)",
    )
    parser.add_argument("--prepare", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare is not None:  # the child that builds the model and writes the prompts
        build_model(args.prepare / "model", args.shape)
        prompts, rendered = args.prepare / "prompts.jsonl", args.prepare / "rendered.jsonl"
        print(write_prompts(args.prepare / "model", args.prompts, prompts, rendered))
        return

    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    trees = {"this": ROOT / "src"} | ({"base": args.base_src.resolve()} if args.base_src else {})
    env.setdefault("CVALUES_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    os.environ["CVALUES_DATA_MIRROR"] = env["CVALUES_DATA_MIRROR"]
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    from tokenizers import Tokenizer

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = tmp / "model"
        # In a child: this process stays small, so its children's peak memory is their own (a forked
        # child starts with its parent's high-water mark).
        prepare = [
            sys.executable,
            __file__,
            "--prepare",
            str(tmp),
            "--prompts",
            str(args.prompts),
            "--shape",
            args.shape,
        ]
        n = int(run_child(prepare, env)[2].strip().splitlines()[-1])
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        (tmp / "peer.py").write_text(PEER_SCRIPT, encoding="utf-8")
        print(
            f"{n} prompts x {args.max_tokens} new tokens, greedy, {args.shape}, {args.dtype}, threads "
            f"{args.threads or 'default'}, cvalues replicas {' '.join(map(str, args.replicas))}, "
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus"
        )

        def tokens(texts: dict[str, str]) -> int:
            """The answers' tokens; with ``--shape qwen2.5-0.5b`` the random model's ids mostly lie
            outside the small test tokenizer and decode to nothing: then every prompt's full
            ``--max-tokens`` is counted (both sides generate alike, so the ratio is the loops')."""
            counted = sum(len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts.values())
            return counted if args.shape == "tiny" else len(texts) * args.max_tokens

        # the cvalues sides: this tree (and --base-src's) at each --replicas count
        sides = [
            (f"{tree}{'' if r == 1 else f' x{r}'}", src, r)
            for tree, src in trees.items()
            for r in args.replicas
        ]

        def run_cvalues(src: Path, replicas: int, batch: int, run_dir: Path) -> dict[str, float]:
            cmd = [sys.executable, "-m", "cvalues", "generate", "--model", f"hf:{model_dir}",
                   "--device", "cpu", "--dtype", args.dtype, "--suite", str(tmp / "prompts.jsonl"),
                   "--batch-size", str(batch), "--max-tokens", str(args.max_tokens), "--temperature", "0",
                   "--run-dir", str(run_dir), "--no-progress",
                   *(["--replicas", str(replicas)] if replicas > 1 else [])]  # fmt: skip
            # a fresh cache: the model is loaded before the session, as on a first run (a remembered
            # description would defer the load into the session's time, see cvalues.runs.deferred)
            own = {**env, "CVALUES_CACHE_DIR": str(tmp / f"cache-{run_dir.name}")}
            own["PYTHONPATH"] = f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
            wall, rss, _ = run_child(cmd, own)
            manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
            loop = manifest["sessions"][-1]["summary"]["elapsed_s"]
            answers[run_dir.name] = cvalues_answers(run_dir)
            return {"loop": loop, "whole": wall, "rss": rss, "tps": tokens(answers[run_dir.name]) / loop}

        answers: dict[str, dict[str, str]] = {}
        for batch in args.batch_size:
            figures: dict[str, dict[str, list[float]]] = {
                name: {"loop": [], "whole": [], "rss": [], "tps": []} for name, _, _ in sides
            }
            peer = figures.setdefault("lm-eval", {"loop": [], "whole": [], "rss": [], "tps": []})
            if args.skip_peer:
                del figures["lm-eval"]
            for rep in range(args.reps):
                line = [f"batch {batch} rep {rep} (load {os.getloadavg()[0]:.1f})"]
                reference: dict[str, str] | None = None
                for k, (name, src, replicas) in enumerate(sides):
                    got = run_cvalues(src, replicas, batch, tmp / f"run-b{batch}-{rep}-{k}")
                    for key, value in got.items():
                        figures[name][key].append(value)
                    mine = answers[f"run-b{batch}-{rep}-{k}"]
                    reference = reference if reference is not None else mine
                    same = sum(mine.get(i) == t for i, t in reference.items())
                    line.append(f"{name} loop {got['loop']:.2f}s whole {got['whole']:.2f}s {got['rss']:.0f}MB"
                                + ("" if k == 0 else f" same as {sides[0][0]} {same}/{n}"))  # fmt: skip
                if not args.skip_peer:
                    out_file = tmp / f"peer-b{batch}-{rep}.json"
                    cmd = [
                        args.peer_python,
                        str(tmp / "peer.py"),
                        str(model_dir),
                        str(tmp / "rendered.jsonl"),
                        str(batch),
                        str(args.max_tokens),
                        str(out_file),
                        args.dtype,
                    ]
                    wall, rss, out = run_child(cmd, env)
                    theirs = json.loads(out_file.read_text(encoding="utf-8"))
                    loop = json.loads(out.strip().splitlines()[-1])["loop_s"]
                    peer["loop"].append(loop)
                    peer["whole"].append(wall)
                    peer["rss"].append(rss)
                    peer["tps"].append(tokens(theirs) / loop)
                    assert reference is not None
                    same = sum(reference.get(k, "").strip() == v.strip() for k, v in theirs.items())
                    line.append(
                        f"lm-eval loop {loop:.2f}s whole {wall:.2f}s {rss:.0f}MB same answers {same}/{n}"
                    )
                print(" | ".join(line), flush=True)
            print(f"batch {batch}:")
            for name, fig in figures.items():
                print(
                    f"  {name:<12}",
                    summary("loop", fig["loop"], "s"),
                    summary("whole", fig["whole"], "s"),
                    summary("peak", fig["rss"], "MB"),
                    f"tokens/s max {max(fig['tps']):.0f} med {statistics.median(fig['tps']):.0f}",
                )
            for name, _, _ in sides:
                fig = figures[name]
                # against lm-eval, and this tree against the base tree at the same replicas
                for other in ("lm-eval", name.replace("this", "base", 1)):
                    if other not in figures or other == name:
                        continue
                    theirs = figures[other]
                    tps = statistics.median(fig["tps"]) / statistics.median(theirs["tps"])
                    best = max(fig["tps"]) / max(theirs["tps"])
                    whole = statistics.median(theirs["whole"]) / statistics.median(fig["whole"])
                    print(f"  {name}/{other} tokens/s: median {tps:.2f}x, best {best:.2f}x; "
                          f"whole {other}/{name} median {whole:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
