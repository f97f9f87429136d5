"""How far a judge can be trusted: calibration on answers labelled by construction, agreement with people.

* :func:`calibrate`: the safety multi-choice suite (JADE-DB v3) pairs each question with a violating
  reply and a safe-and-helpful one, so every reply is an answer whose true label is known without an
  annotator (unsafe and safe). The judge judges each reply as it would a model's answer (a judge run
  of its own, durable and resumable); the figures compare its labels with the true ones.
* :func:`agreement`: a judge directory's verdicts against people's labels (contract C exports, or any
  JSONL/JSON/CSV/TSV of ``item_id`` [+ ``model``] + ``label`` or ``score``, read by
  :mod:`cvalues.judge.labels`).

Both record their figures as JSON under ``<CVALUES_CACHE_DIR or ~/.cache/cvalues>/calibration/`` (and in
``--out`` when given); :func:`find_calibration` returns the latest record for a judge model + rubric,
which ``judge run`` and reports show beside an otherwise "uncalibrated" score. Figures are defined in
:mod:`cvalues.judge.stats`.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.judge.labels import HumanLabel, read_labels
from cvalues.judge.rubrics import JudgeInput, get_rubric
from cvalues.judge.runner import JudgeError, judge_async, judge_extra, judge_settings, slug
from cvalues.judge.verdicts import Verdict, read_verdicts
from cvalues.runs import select
from cvalues.runs.manifest import read_manifest, write_json_atomic
from cvalues.runs.store import utc_now

CALIBRATION_DIR = "calibration"


def calibration_root() -> Path:
    """``<CVALUES_CACHE_DIR or ~/.cache/cvalues>/calibration``."""
    base = os.environ.get("CVALUES_CACHE_DIR") or "~/.cache/cvalues"
    return Path(base).expanduser() / CALIBRATION_DIR


def record_calibration(record: Mapping[str, Any], out: str | os.PathLike[str] | None = None) -> Path:
    """Write ``record`` (which names ``judge_model``, ``rubric``, ``kind``) to the calibration folder, and
    to ``out`` when given; returns the path in the calibration folder."""
    root = calibration_root()
    stamp = str(record["created_at"]).replace(":", "").replace("-", "").replace(".", "")
    path = root / f"{record['kind']}-{record['rubric']}-{slug(record['judge_model'])}-{stamp}.json"
    write_json_atomic(path, dict(record))
    if out is not None:
        write_json_atomic(Path(out), dict(record))
    return path


def find_calibration(judge_model_spec: str, rubric: str) -> dict[str, Any] | None:
    """The latest calibration or agreement record for this judge model and rubric (contract B), or None.

    Only records made with the rubric's current hash count: a changed rubric is uncalibrated again.
    """
    root = calibration_root()
    if not root.is_dir():
        return None
    try:
        sha = get_rubric(rubric).sha256
    except ValueError:
        sha = None
    best: dict[str, Any] | None = None
    for path in root.glob("*.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict):
            continue
        if record.get("judge_model") != judge_model_spec or record.get("rubric") != rubric:
            continue
        if sha is not None and record.get("rubric_sha256") != sha:
            continue
        if best is None or str(record.get("created_at")) > str(best.get("created_at")):
            best = record
    return best


def headline(record: Mapping[str, Any] | None) -> str:
    """One line saying how far a judge is calibrated (or that it is not)."""
    if not record:
        return (
            "uncalibrated (run `cvalues judge calibrate` or `cvalues judge agreement` "
            "for this judge and rubric)"
        )

    def fig(name: str) -> str:
        value = record.get(name)
        return "-" if value is None else f"{value:.3f}"

    if "qwk" in record or "spearman" in record:
        body = f"spearman {fig('spearman')}, qwk {fig('qwk')}, mae {fig('mae')}"
    else:
        body = (
            f"kappa {fig('kappa')}, unsafe recall {fig('unsafe_recall')}, unsafe F1 {fig('unsafe_f1')}, "
            f"accuracy {fig('accuracy')}"
        )
    return f"{record.get('kind')} on n={record.get('n')} ({record.get('created_at')}): {body}"


def _flat(figures: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: (figures.get(name) or {}).get("value") for name in names}


# --------------------------------------------------------------------------------------------------
# calibrate


def calibration_inputs(
    suite: Any, *, sample: int | None = None, seed: int = 0
) -> list[tuple[JudgeInput, str]]:
    """``(input, true label)`` for both replies of every pair (or ``sample`` pairs) of a two-reply
    safety suite: the good reply is a safe answer, the bad one an unsafe answer."""
    from cvalues.data.schema import MCItem

    pairs: dict[str, MCItem] = {}
    for record in suite.records():
        if isinstance(record, MCItem) and record.pair_id not in pairs:
            pairs[record.pair_id] = record
    chosen = select(list(pairs.values()), sample=sample, seed=seed, id_of=lambda r: r.pair_id)
    out: list[tuple[JudgeInput, str]] = []
    for item in chosen:
        good, bad = (item.reply1, item.reply2) if item.gold == "回复1" else (item.reply2, item.reply1)
        for label, reply in (("unsafe", bad), ("safe", good)):
            out.append(
                (
                    JudgeInput(
                        item_id=f"{item.pair_id}:{label}",
                        prompt=item.question,
                        answer=reply,
                        model=f"suite:{suite.name}",
                        level=item.level,
                        category=item.category,
                    ),
                    label,
                )
            )
    return out


@dataclass
class CalibrationResult:
    record: dict[str, Any]
    verdicts: list[Verdict]
    recorded_at: Path


async def calibrate_async(
    suite: Any,
    *,
    judge_model: Any,
    rubric: str,
    sample: int | None = None,
    seed: int = 0,
    work_dir: str | os.PathLike[str] | None = None,
    concurrency: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    temperature: float | None = None,
    resamples: int = 1000,
    out: str | os.PathLike[str] | None = None,
) -> CalibrationResult:
    """Judge the labelled replies of ``suite`` and compare; records and returns the figures.

    ``work_dir`` (default ``<calibration folder>/runs/<rubric>-<judge slug>-<suite>``) keeps the judge's
    replies, so a rerun (or a larger ``sample``) asks only what it has not asked yet.
    """
    from cvalues.judge import stats

    spec = get_rubric(rubric)
    if spec.level != "safety":
        raise JudgeError(f"calibrate measures safety rubrics; {rubric!r} is a {spec.level} rubric")
    if getattr(suite, "kind", None) != "mc" or getattr(suite, "level", None) != "safety":
        raise JudgeError(f"suite {suite.name!r} is not a two-reply safety suite (use safety-mc)")
    labelled = calibration_inputs(suite, sample=sample, seed=seed)
    if not labelled:
        raise JudgeError(f"suite {suite.name!r} holds no pairs")
    settings = judge_settings(spec, 1, temperature)
    work = (
        Path(work_dir)
        if work_dir
        else calibration_root() / "runs" / f"{spec.name}-{slug(judge_model.spec)}-{suite.name}"
    )
    extra = judge_extra(
        spec,
        judged_run=f"suite:{suite.name}",
        judged_model=f"suite:{suite.name}",
        samples=1,
        calibration=True,
    )
    outcome = await judge_async(
        [i for i, _ in labelled],
        judge_model=judge_model,
        rubric=spec,
        out_dir=work,
        settings=settings,
        samples=1,
        extra=extra,
        suite_name=suite.name,
        concurrency=concurrency,
        retry_errors=retry_errors,
        progress=progress,
        session_options={"command": "judge calibrate", "sample": sample, "seed": seed},
    )
    truth = {i.item_id: label for i, label in labelled}
    judged = [v for v in outcome.verdicts if not v.unjudged]
    strict = stats.label_agreement(
        [truth[v.item_id] for v in judged], [v.label or "" for v in judged], resamples=resamples, seed=seed
    )
    loose = stats.label_agreement(
        [truth[v.item_id] for v in judged],
        [v.label_loose or "" for v in judged],
        resamples=resamples,
        seed=seed,
    )
    record = {
        "kind": "calibrate",
        "judge_model": judge_model.spec,
        "rubric": spec.name,
        "rubric_version": spec.version,
        "rubric_sha256": spec.sha256,
        "suite": suite.name,
        "sample": sample,
        "seed": seed,
        "created_at": utc_now(),
        "answers": len(labelled),
        "n": len(judged),
        "unjudged": len(outcome.verdicts) - len(judged),
        "failed": len(outcome.failed),
        "controversial": sum(v.controversial for v in judged),
        **_flat(strict, stats.LABEL_METRICS),
        "figures": strict,
        "figures_loose": loose,
        "work_dir": str(work.resolve()),
    }
    path = record_calibration(record, out)
    return CalibrationResult(record, outcome.verdicts, path)


# --------------------------------------------------------------------------------------------------
# agreement


def _match(verdicts: Sequence[Verdict], labels: Sequence[HumanLabel]) -> list[tuple[Verdict, HumanLabel]]:
    by_key = {(v.model, v.item_id): v for v in verdicts}
    by_item: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_item[v.item_id].append(v)
    pairs = []
    for lab in labels:
        if lab.model is not None:
            v = by_key.get((lab.model, lab.item_id))
        else:
            found = by_item.get(lab.item_id, [])
            if len(found) > 1:
                raise ValueError(
                    f"{lab.source}: item {lab.item_id!r} was judged for several models; add a 'model' column"
                )
            v = found[0] if found else None
        if v is not None:
            pairs.append((v, lab))
    return pairs


def agreement(
    judge_dir: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    *,
    resamples: int = 1000,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    record: bool = True,
) -> dict[str, Any]:
    """Compare a judge directory's verdicts with people's labels; records and returns the figures."""
    from cvalues.judge import stats

    verdicts = read_verdicts(judge_dir)
    try:
        manifest = read_manifest(judge_dir)
    except FileNotFoundError:
        manifest = {}
    info = (manifest.get("extra") or {}).get("judge") or {}
    judge_model = (manifest.get("model") or {}).get("spec") or (verdicts[0].judge_model if verdicts else None)
    rubric = info.get("rubric") or (verdicts[0].rubric if verdicts else None)
    level = info.get("level") or (verdicts[0].level if verdicts else "safety")
    labels = read_labels(labels_path, task=level)
    pairs = _match(verdicts, labels)
    usable = [(v, h) for v, h in pairs if (h.label if level == "safety" else h.score) is not None]
    judged = [(v, h) for v, h in usable if not v.unjudged]
    base: dict[str, Any] = {
        "kind": "agreement",
        "judge_model": judge_model,
        "rubric": rubric,
        "rubric_version": info.get("rubric_version"),
        "rubric_sha256": info.get("rubric_sha256"),
        "level": level,
        "judge_dir": str(Path(judge_dir).resolve()),
        "labels": str(Path(labels_path).resolve()),
        "created_at": utc_now(),
        "labels_read": len(labels),
        "matched": len(usable),
        "unmatched_labels": len(labels) - len(pairs),
        "unjudged": len(usable) - len(judged),
        "n": len(judged),
    }
    kw = {"resamples": resamples, "seed": seed}
    if level == "safety":
        figures = stats.label_agreement([h.label for _, h in judged], [v.label for v, _ in judged], **kw)  # type: ignore[misc]
        loose = stats.label_agreement([h.label for _, h in judged], [v.label_loose for v, _ in judged], **kw)  # type: ignore[misc]
        per_model = {}
        for model in sorted({v.model for v, _ in judged}):
            mine = [(v, h) for v, h in judged if v.model == model]
            per_model[model] = {
                "n": len(mine),
                "judged_safe_rate": stats.mean_interval([v.label == "safe" for v, _ in mine], **kw),
                "human_safe_rate": stats.mean_interval([h.label == "safe" for _, h in mine], **kw),
            }
        result = {
            **base,
            **_flat(figures, stats.LABEL_METRICS),
            "figures": figures,
            "figures_loose": loose,
            "by_model": per_model,
        }
    else:
        figures = stats.score_agreement(
            [float(h.score) for _, h in judged], [float(v.score) for v, _ in judged], **kw
        )  # type: ignore[arg-type]
        by_domain = {}
        for cat in sorted({v.category or "-" for v, _ in judged}):
            mine = [(v, h) for v, h in judged if (v.category or "-") == cat]
            by_domain[cat] = stats.score_agreement(
                [float(h.score) for _, h in mine], [float(v.score) for v, _ in mine], **kw
            )  # type: ignore[arg-type]
        result = {
            **base,
            **_flat(figures, ("spearman", "pearson", "qwk", "mae")),
            "figures": figures,
            "by_domain": by_domain,
        }
    if record and judge_model and rubric:
        result["recorded_at"] = str(record_calibration(result, out))
    elif out is not None:
        write_json_atomic(Path(out), result)
    return result
