"""Log-prob multi-choice scoring: cvalues against lm-evaluation-harness, same items, same prompts.

Both sides score the same 1,300 safety-mc items (650 JADE pairs in both orders, ``cvalues-official-v1``
prompt rendered with the model's chat template) with the candidates ``回复1``/``回复2`` on the same
random model, at the same batch size, on CPU. Runs are interleaved (cvalues, lm-eval, cvalues, ...),
each in a fresh process, and the script prints min/median per side and the ratios:

* ``loop``: the scoring itself (cvalues: the run engine's session time from ``manifest.json``, store
  writes included; lm-eval: ``HFLM.loglikelihood`` over the 2,600 requests);
* ``whole``: the whole process (cvalues: the ``cvalues mc run --mode logprob`` command, metrics and
  files included; lm-eval: import, model load and ``loglikelihood``, without its task machinery, which
  favours lm-eval) and its peak memory: the largest sum of resident memory over the process and its
  children, sampled every 50 ms (:func:`run_child`), so that ``--replicas N`` (cvalues only: N model
  processes, the cores split between them) counts every copy.

It also prints the largest difference of ``lp(回复1) - lp(回复2)`` between the two sides.

``--peer-cli`` adds a third side, interleaved with the others: lm-eval's own command, ``lm_eval --model
hf --tasks ...``, on a task written here (:data:`PEER_TASK`: the same 1,300 rendered contexts as a
``multiple_choice`` task over ``回复1``/``回复2`` with no delimiter, read from a local JSON Lines file),
timed as a whole like ``cvalues mc run``: what a user of each tool runs, task and dataset machinery
included.

lm-eval is never a dependency of cvalues: install it in a virtual environment of its own, e.g.
``python -m venv --system-site-packages /work/bench-venv && /work/bench-venv/bin/pip install lm-eval``
(with system site packages it shares torch/transformers with cvalues' environment).

    .venv/bin/python benchmarks/bench_logprob.py --peer-python /work/bench-venv/bin/python \\
        [--reps 3] [--batch-size 8] [--shape tiny|qwen2.5-0.5b] [--dtype float32|bfloat16] [--pairs 650] \\
        [--replicas 2] [--score-workers 2] [--peer-cli]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: lm-eval's side, run with the peer's interpreter: read the requests, score them, print timings.
PEER_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
model_dir, requests_file, batch_size, dtype, out_file = sys.argv[1:6]
lm = HFLM(pretrained=model_dir, batch_size=int(batch_size), device="cpu", dtype=dtype)
rows = [json.loads(line) for line in open(requests_file, encoding="utf-8")]
reqs = [Instance("loglikelihood", r, (r["context"], r["continuation"]), i) for i, r in enumerate(rows)]
t1 = time.perf_counter()
values = lm.loglikelihood(reqs, disable_tqdm=True)
t2 = time.perf_counter()
json.dump([v[0] for v in values], open(out_file, "w"))
print(json.dumps({"loop_s": t2 - t1, "setup_s": t1 - t0}))
"""


#: lm-eval's task for ``--peer-cli``: the contexts and candidates of ``requests.jsonl`` as documents.
PEER_TASK = """task: cvalues_safety_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {docs}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: 0
target_delimiter: ""
metric_list:
  - metric: acc
"""


def write_peer_task(requests_file: Path, directory: Path) -> Path:
    """``directory`` holding lm-eval's task YAML and its documents (one per item, both candidates)."""
    docs: dict[str, dict[str, object]] = {}
    for line in requests_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        doc = docs.setdefault(row["id"], {"context": row["context"], "choices": []})
        doc["choices"].append(row["continuation"])  # type: ignore[union-attr]
    directory.mkdir(parents=True, exist_ok=True)
    docs_file = directory / "docs.jsonl"
    docs_file.write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs.values()), encoding="utf-8"
    )
    (directory / "cvalues_safety_mc.yaml").write_text(PEER_TASK.format(docs=docs_file), encoding="utf-8")
    return directory


def build_model(directory: Path, shape: str) -> Path:
    """The tiny test model, or a random model with Qwen2.5-0.5B's shape (config built here)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_model import build_tiny_model, build_tokenizer

    if shape == "tiny":
        build_tiny_model(directory)
        # JADE pairs reach ~1,200 tokens with the tiny character-level tokenizer: lm-eval would cut
        # contexts longer than the model's positions, so give it room (RoPE needs no weights for it).
        config_file = directory / "config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["max_position_embeddings"] = 8192
        config_file.write_text(json.dumps(config), encoding="utf-8")
        return directory
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer(byte_level=True)
    config = Qwen2Config(  # Qwen/Qwen2.5-0.5B-Instruct's config.json, random weights
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_requests(model_dir: Path, pairs: int, path: Path) -> int:
    """The rendered contexts and candidates, exactly as cvalues asks them."""
    from cvalues.data.config import DataConfig
    from cvalues.data.schema import MCItem
    from cvalues.data.suites import load_suite
    from cvalues.mc.runner import build_requests, select_pairs
    from cvalues.mc.templates import OFFICIAL_V1
    from cvalues.models.base import GenerationSettings
    from cvalues.models.registry import load_model

    suite = load_suite("safety-mc", DataConfig.from_env())
    items = select_pairs([r for r in suite.records() if isinstance(r, MCItem)], sample=pairs, seed=0)
    model = load_model(f"hf:{model_dir}", device="cpu")
    with path.open("w", encoding="utf-8") as f:
        for request in build_requests(items, "logprob", OFFICIAL_V1, GenerationSettings()):
            context = model.render(request.messages)
            for cand in request.candidates:
                f.write(
                    json.dumps(
                        {"id": request.item_id, "context": context, "continuation": cand}, ensure_ascii=False
                    )
                    + "\n"
                )
    return len(items)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux ``/proc``; just ``pid`` elsewhere)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                    todo += [int(child) for child in fh.read().split()]
        except OSError:  # gone meanwhile, or no /proc
            pass
    return tree


def tree_rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its descendants, summed, in MB (0 without ``/proc``)."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total * os.sysconf("SC_PAGE_SIZE") / 1024**2


def run_child(cmd: list[str], env: dict[str, str], every_s: float = 0.05) -> tuple[float, float, str]:
    """(wall seconds, peak memory in MB, stdout) of one child process.

    Peak memory is the largest sum of resident memory over the child and all its descendants (the
    processes of ``--replicas``, which the child's own figure would hide), sampled every ``every_s``
    from ``/proc``; or the child's own peak from ``wait4`` where that is higher (a peak shorter than
    a sampling interval, or no ``/proc``). Shared pages (libraries) count once per process.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, env=env)
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(every_s):
                peak[0] = max(peak[0], tree_rss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode(errors="replace")
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:5])} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, max(peak[0], usage.ru_maxrss / 1024), out


def summary(name: str, values: list[float], unit: str) -> str:
    return f"{name}: min {min(values):.2f}{unit} median {statistics.median(values):.2f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=650)
    parser.add_argument("--shape", choices=["tiny", "qwen2.5-0.5b"], default="tiny")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of both sides (OMP_NUM_THREADS); default torch's choice",
    )
    parser.add_argument("--skip-peer", action="store_true", help="cvalues only (no lm-eval installed)")
    parser.add_argument(
        "--peer-cli", action="store_true", help="also time lm-eval's own command on the same items as a task"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="cvalues only: model copies in separate processes (--replicas; the cores are split)",
    )
    parser.add_argument(
        "--score-workers",
        type=int,
        default=None,
        help="cvalues only: CPU scoring threads in one process (--score-workers; the cores are split)",
    )
    args = parser.parse_args()

    # timed as a user runs it: compiled modules cached in __pycache__ (the sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile cvalues' sources again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.setdefault("CVALUES_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
    os.environ.update({"CVALUES_DATA_MIRROR": env["CVALUES_DATA_MIRROR"]})
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = build_model(tmp / "model", args.shape)
        items = write_requests(model_dir, args.pairs, tmp / "requests.jsonl")
        (tmp / "peer.py").write_text(PEER_SCRIPT, encoding="utf-8")
        print(
            f"{items} items, {2 * items} candidates, shape {args.shape}, dtype {args.dtype}, "
            f"batch {args.batch_size}, threads {args.threads or 'default'}, "
            f"cvalues replicas {args.replicas or 1}, score workers {args.score_workers or 1}, "
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus"
        )
        ours: dict[str, list[float]] = {"loop": [], "whole": [], "rss": []}
        peer: dict[str, list[float]] = {"loop": [], "whole": [], "rss": []}
        peer_cli: dict[str, list[float]] = {"whole": [], "rss": []}
        task_dir = write_peer_task(tmp / "requests.jsonl", tmp / "peer-task") if args.peer_cli else None
        diffs: list[float] = []
        for rep in range(args.reps):
            run_dir = tmp / f"run{rep}"
            cmd = [
                sys.executable,
                "-m",
                "cvalues",
                "mc",
                "run",
                "--model",
                f"hf:{model_dir}",
                "--device",
                "cpu",
                "--dtype",
                args.dtype,
                "--suite",
                "safety-mc",
                "--sample",
                str(args.pairs),
                "--mode",
                "logprob",
                "--batch-size",
                str(args.batch_size),
                "--run-dir",
                str(run_dir),
                "--no-progress",
                *(["--replicas", str(args.replicas)] if args.replicas else []),
                *(["--score-workers", str(args.score_workers)] if args.score_workers else []),
            ]
            # a fresh cache: the model is loaded before the session, as on a first run (a remembered
            # description would defer the load into the session's time, see cvalues.runs.deferred)
            fresh = {**env, "CVALUES_CACHE_DIR": str(tmp / f"cache-{run_dir.name}")}
            wall, rss, _ = run_child(cmd, fresh)
            manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
            ours["loop"].append(manifest["sessions"][-1]["summary"]["elapsed_s"])
            ours["whole"].append(wall)
            ours["rss"].append(rss)
            line = f"rep {rep}: cvalues loop {ours['loop'][-1]:.2f}s whole {wall:.2f}s {rss:.0f}MB"
            if not args.skip_peer:
                out_file = tmp / f"peer{rep}.json"
                cmd = [
                    args.peer_python,
                    str(tmp / "peer.py"),
                    str(model_dir),
                    str(tmp / "requests.jsonl"),
                    str(args.batch_size),
                    args.dtype,
                    str(out_file),
                ]
                wall, rss, out = run_child(cmd, env)
                peer["loop"].append(json.loads(out.strip().splitlines()[-1])["loop_s"])
                peer["whole"].append(wall)
                peer["rss"].append(rss)
                line += f" | lm-eval loop {peer['loop'][-1]:.2f}s whole {wall:.2f}s {rss:.0f}MB"
                if rep == 0:
                    diffs = compare(run_dir, tmp / "requests.jsonl", out_file)
            if task_dir is not None:
                cmd = [
                    args.peer_python,
                    "-m",
                    "lm_eval",
                    "--model",
                    "hf",
                    "--model_args",
                    f"pretrained={model_dir},dtype={args.dtype}",
                    "--device",
                    "cpu",
                    "--batch_size",
                    str(args.batch_size),
                    "--include_path",
                    str(task_dir),
                    "--tasks",
                    "cvalues_safety_mc",
                ]
                offline = {**env, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
                wall, rss, _ = run_child(cmd, offline)
                peer_cli["whole"].append(wall)
                peer_cli["rss"].append(rss)
                line += f" | lm_eval command {wall:.2f}s {rss:.0f}MB"
            print(line, flush=True)
        print(summary("cvalues loop", ours["loop"], "s"), f"({items / min(ours['loop']):.0f} items/s best)")
        print(summary("cvalues whole", ours["whole"], "s"), summary("peak", ours["rss"], "MB"))
        if peer["loop"]:
            print(
                summary("lm-eval loop", peer["loop"], "s"), f"({items / min(peer['loop']):.0f} items/s best)"
            )
            print(summary("lm-eval whole", peer["whole"], "s"), summary("peak", peer["rss"], "MB"))
            for key in ("loop", "whole"):
                ratio = statistics.median(peer[key]) / statistics.median(ours[key])
                best = min(peer[key]) / min(ours[key])
                print(f"{key}: lm-eval/cvalues median {ratio:.2f}x, min {best:.2f}x")
            print(f"max |Δ(lp1-lp2)| cvalues vs lm-eval: {max(diffs):.2e} over {len(diffs)} items")
        if peer_cli["whole"]:
            print(summary("lm_eval command", peer_cli["whole"], "s"), summary("peak", peer_cli["rss"], "MB"))
            ratio = statistics.median(peer_cli["whole"]) / statistics.median(ours["whole"])
            best = min(peer_cli["whole"]) / min(ours["whole"])
            print(f"whole, against lm_eval's command: lm-eval/cvalues median {ratio:.2f}x, min {best:.2f}x")


def compare(run_dir: Path, requests_file: Path, peer_file: Path) -> list[float]:
    """|(lp1 - lp2)_cvalues - (lp1 - lp2)_lm-eval| per item."""
    rows = [json.loads(line) for line in requests_file.read_text(encoding="utf-8").splitlines()]
    values = json.loads(peer_file.read_text(encoding="utf-8"))
    theirs: dict[str, dict[str, float]] = {}
    for row, value in zip(rows, values, strict=True):
        theirs.setdefault(row["id"], {})[row["continuation"]] = value
    diffs = []
    with (run_dir / "mc-logprob-predictions.jsonl").open(encoding="utf-8") as f:
        for line in f:
            pred = json.loads(line)
            ours = pred.get("label_logprobs") or {}
            if "回复1" in ours and pred["id"] in theirs:
                peer = theirs[pred["id"]]
                diffs.append(abs((ours["回复1"] - ours["回复2"]) - (peer["回复1"] - peer["回复2"])))
    return diffs


if __name__ == "__main__":
    main()
