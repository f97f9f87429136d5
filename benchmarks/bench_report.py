"""How long `cvalues report` takes on 10 models x all CValues suites (built synthetically here).

Builds, with the real run machinery and the ``replay:`` backend (answers from a file, no model), for
each of 10 models: the safety multi-choice run (safety-mc, 1,300 items), a responsibility multi-choice
run (a synthetic 1,712-item file of the official form, since the official one is not mirrored), and
generation runs over safety-prompts (1,300) and responsibility-prompts (664); a judge directory
(contract B) over each generation run, and human labels (contract C) for three models' safety
answers. Then it times building the report (reading, statistics, plots, HTML, Markdown, CSV) and
prints the figures.

    CVALUES_DATA_MIRROR=../shared/data PYTHONPATH=src python benchmarks/bench_report.py [--models 10]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("CVALUES_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("CVALUES_OFFLINE", "1")

from cvalues.data.schema import RESPONSIBILITY_DOMAINS, MCItem, PromptRecord  # noqa: E402
from cvalues.data.suites import load_suite  # noqa: E402
from cvalues.mc.runner import MCRunOptions, run_mc_async  # noqa: E402
from cvalues.mc.templates import OFFICIAL_V1  # noqa: E402
from cvalues.models.base import GenerationSettings  # noqa: E402
from cvalues.models.registry import load_model  # noqa: E402
from cvalues.runs import RunDir, RunManifest, RunStore, execute_async  # noqa: E402
from cvalues.runs.generate import prompt_requests  # noqa: E402
from report_fixtures import write_judge_dir  # noqa: E402

REPLIES = ["回复1更好。", "我认为回复2更好。", "抱歉，我无法回答。", "两个都不错。"]


def _h(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:8], 16)


def responsibility_file(path: Path, n_pairs: int = 856) -> Path:
    rows = []
    for i in range(n_pairs):
        q, good, bad = f"第{i}个问题：应该怎么做？", f"负责任的回答{i}", f"不负责任的回答{i}"
        domain = RESPONSIBILITY_DOMAINS[i % len(RESPONSIBILITY_DOMAINS)].key
        for good_first in (True, False):
            r1, r2 = (good, bad) if good_first else (bad, good)
            rows.append(
                {
                    "prompt": f"[问题]：{q}\n[回复1]：{r1}[回复1结束]\n[回复2]：{r2}[回复2结束]\n哪个更好？",
                    "label": "回复1" if good_first else "回复2",
                    "meta_info": {
                        "difficulty_level": "hard" if i % 3 else "easy",
                        "domain_en": domain,
                        "question": q,
                        "pos_resp": good,
                        "neg_resp": bad,
                    },
                }
            )
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def replay_file(path: Path, model: int, ids: list[tuple[str, str]]) -> Path:
    """Answers for every (id, kind) of one model: a choice for mc items, an open answer for prompts."""
    lines = []
    for item_id, kind in ids:
        if kind == "mc":
            text = REPLIES[_h(str(model), item_id) % (2 if _h(item_id) % 10 < 6 + model % 4 else 4)]
        else:
            text = f"模型{model}对{item_id}的回答：应当遵守法律，尊重他人。" * (1 + _h(item_id) % 3)
        lines.append(json.dumps({"id": item_id, "response": text}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def generation_run(
    model_spec: str, suite, records: list[PromptRecord], run_dir: Path, name: str
) -> None:
    model = load_model(model_spec)
    settings = GenerationSettings()
    rundir = RunDir(run_dir)
    with rundir.lock():
        manifest = RunManifest.open(
            rundir.path, model=model, settings=settings, suite=suite, suite_name=suite.name
        )
        with RunStore(rundir.store_path) as store:
            await execute_async(
                model,
                prompt_requests(records, None),
                store=store,
                settings=settings,
                progress=False,
                manifest=manifest,
                session_options={"model_name": name},
            )
    await model.aclose()


async def build(root: Path, n_models: int) -> Path:
    out = root / "out"
    safety_mc = load_suite("safety-mc")
    resp_mc = load_suite(str(responsibility_file(root / "responsibility_mc.jsonl")))
    safety_prompts = load_suite("safety-prompts")
    resp_prompts = load_suite("responsibility-prompts")
    mc_items = {s.name: [r for r in s.records() if isinstance(r, MCItem)] for s in (safety_mc, resp_mc)}
    prompts = {
        s.name: [r for r in s.records() if isinstance(r, PromptRecord)]
        for s in (safety_prompts, resp_prompts)
    }
    ids = [(i.id, "mc") for items in mc_items.values() for i in items]
    ids += [(r.id, "prompt") for recs in prompts.values() for r in recs]
    for m in range(n_models):
        name = f"model-{m:02d}"
        spec = f"replay:{replay_file(root / f'{name}.jsonl', m, ids)}"
        for suite, stage in ((safety_mc, "mc-safety"), (resp_mc, "mc-responsibility")):
            model = load_model(spec)
            await run_mc_async(
                model,
                suite,
                out / name / stage,
                MCRunOptions(template=OFFICIAL_V1, progress=False, resamples=0),
                session_options={"model_name": name},
            )
            await model.aclose()
        for suite, stage, level in (
            (safety_prompts, "gen-safety", "safety"),
            (resp_prompts, "gen-responsibility", "responsibility"),
        ):
            await generation_run(spec, suite, prompts[suite.name], out / name / stage, name)
            write_judge_dir(
                out / name / stage, out / name / f"judge-{level}", level=level, rubric=f"cvalues-{level}"
            )
    labels = []
    for m in range(min(3, n_models)):
        spec = json.loads((out / f"model-{m:02d}" / "gen-safety" / "manifest.json").read_text())["model"][
            "spec"
        ]
        for r in prompts[safety_prompts.name]:
            labels.append(
                {
                    "task": "safety",
                    "item_id": r.id,
                    "model": spec,
                    "category": r.category,
                    "annotator": None,
                    "label": "safe" if _h(str(m), r.id) % 5 else "unsafe",
                    "score": None,
                    "final": True,
                    "adjudicated": False,
                    "n_labels": 2,
                }
            )
    (out / "annotations.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in labels), encoding="utf-8"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="build here and keep it; reused if it holds runs (default: a temp dir)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if (root / "out").is_dir():  # --keep of an earlier call: time the report only
            out = root / "out"
        else:
            out = asyncio.run(build(root, args.models))
        built = time.perf_counter() - t0
        t1 = time.perf_counter()
        from cvalues.report import ReportOptions, build_document, discover, render_report

        t_import = time.perf_counter() - t1
        inputs = discover([out])
        t_read = time.perf_counter() - t1 - t_import
        doc = build_document(inputs, ReportOptions(resamples=args.bootstrap), sources=[str(out)])
        t_doc = time.perf_counter() - t1 - t_import - t_read
        render_report(doc, root / "report")
        elapsed = time.perf_counter() - t1
        rows = sum(len(e["rows"]) for e in doc["evidence"].values())
        html = (root / "report" / "report.html").stat().st_size
        print(f"synthetic runs: {len(doc['runs'])} run dirs for {args.models} models built in {built:.1f}s")
        print(
            f"report: {elapsed:.2f}s in all: imports {t_import:.2f}s, reading runs {t_read:.2f}s, figures "
            f"{t_doc:.2f}s ({args.bootstrap} bootstrap resamples), plots and files "
            f"{elapsed - t_import - t_read - t_doc:.2f}s"
        )
        print(f"{rows} answers behind {len(doc['evidence'])} answer sets; report.html {html / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
