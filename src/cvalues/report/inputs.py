"""What a report reads: run directories found by their manifests, judge verdicts, human labels.

A report is built from folders a user names. Runs are found by their ``manifest.json`` (never by
folder names, so hand-made runs work as well as ``cvalues run`` output) and classified by what the
manifest says:

* a **judge directory** has ``extra.judge`` in its identity and a ``verdicts.jsonl`` (contract B);
* a **multi-choice run** (``cvalues mc run``, two replies) has ``extra.mc_template``; its scored rows
  are read from ``mc-<mode>-predictions.jsonl`` and the prompts shown from its store;
* an **option run** (SafetyBench form) has ``extra.option_template`` and ``options-<mode>-*`` files;
* a **generation run** (``cvalues generate``) is any other run of a prompt suite; its answers are read
  from its store.

Judge directories nested inside a generation run (``RUN_DIR/judge/<rubric>``, the judge's default)
are found too. Human labels come from annotation exports (contract C): ``annotations.jsonl`` at the
top of a given folder, or files named with ``--annotations``; lines with ``"final": true`` are the
settled labels; a file without such lines is read as one label per (model, item).

Nothing here asks a model or rescoring anything: a report reads what the runs wrote. A malformed
line is a :class:`ReportInputError` naming the file, the line and the field.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvalues.data.errors import DataError
from cvalues.data.readers import iter_jsonl
from cvalues.data.schema import DOMAIN_KEYS, LEVELS, SCENARIO_KEYS
from cvalues.data.suites import SUITES
from cvalues.judge.labels import HumanLabel, LabelFileError
from cvalues.judge.labels import read_labels as read_label_file
from cvalues.mc.metrics import GOLD_LABELS, ScoredItem
from cvalues.mc.outcomes import OUTCOMES
from cvalues.runs import RunDir, RunStore, find_run_dirs, read_manifest

#: Where a run's scored rows are, per kind of run.
MC_PREFIX = "mc"
OPTION_PREFIX = "options"
VERDICTS_NAME = "verdicts.jsonl"
ANNOTATIONS_NAME = "annotations.jsonl"


class ReportInputError(ValueError):
    """A file the report reads is malformed; the message names the file, the line and the field."""


# --- records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What every run directory contributes: where it is, its manifest, and whose answers it holds."""

    path: Path
    manifest: dict[str, Any]
    kind: str  # mc | options | generation | judge
    spec: str  # the model spec in the manifest (for a judge: the judge model)
    model_name: str | None  # the "model_name" session option, when a session recorded one
    suite: str | None
    level: str | None

    @property
    def model_key(self) -> str:
        """How the report names this run's model: its display name, else its spec."""
        return self.model_name or self.spec


@dataclass(frozen=True)
class MCRow:
    """One scored multi-choice row with the evidence behind its outcome."""

    item: ScoredItem
    rule: str
    response: str
    evidence: str


@dataclass
class MCRun:
    """A two-reply multi-choice run: per mode its scored rows, the failed count and the prompts."""

    info: RunInfo
    modes: dict[str, list[MCRow]]
    failed: dict[str, int]
    prompts: dict[str, str]  # item_id -> the prompt shown (from the store)


@dataclass
class OptionRun:
    """An option-question run (SafetyBench form): per mode the metrics file it wrote and its rows."""

    info: RunInfo
    metrics: dict[str, dict[str, Any]]
    rows: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class GenAnswer:
    """One answer of a generation run."""

    item_id: str
    category: str | None
    prompt: str
    text: str | None
    error: str | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenRun:
    """A generation run: its answers by item id."""

    info: RunInfo
    answers: dict[str, GenAnswer]


@dataclass(frozen=True)
class VerdictRow:
    """One judge verdict (contract B), the fields the report uses."""

    item_id: str
    model: str
    level: str
    category: str | None
    label: str | None
    score: float | None
    reason: str | None
    unjudged: bool
    prompt: str
    answer: str
    raw: str | None
    adversarial: bool = True  # safety-prompts tags benign prompts False (issue 13); scores exclude them
    blocked: bool = False  # withheld by the provider's moderation, decided without the judge (docs/judge.md)


@dataclass
class JudgeRun:
    """A judge directory: the rubric, whom it judged, and its verdicts."""

    info: RunInfo
    rubric: str
    rubric_version: str | None
    judged_run: Path | None
    judged_model: str
    verdicts: list[VerdictRow]


@dataclass
class Inputs:
    """Everything found under the given folders."""

    mc: list[MCRun] = field(default_factory=list)
    options: list[OptionRun] = field(default_factory=list)
    generations: list[GenRun] = field(default_factory=list)
    judges: list[JudgeRun] = field(default_factory=list)
    labels: list[HumanLabel] = field(default_factory=list)
    label_files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[RunInfo]:
        found = [*self.mc, *self.options, *self.generations, *self.judges]
        return sorted((r.info for r in found), key=lambda i: str(i.path))


# --- discovery ----------------------------------------------------------------------------------------


def discover(roots: list[Path], annotations: list[Path] | None = None, *, max_depth: int = 4) -> Inputs:
    """Find and read every run under ``roots`` (and nested judge directories), plus the label files.

    ``annotations`` adds label files to the ``annotations.jsonl`` found at the top of each root.
    """
    inputs = Inputs()
    seen: set[Path] = set()
    for root in roots:
        if not Path(root).exists():
            raise ReportInputError(f"{root}: no such folder")
        for rundir in _walk_runs(Path(root), max_depth):
            resolved = rundir.path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            _load_run(rundir, inputs)
    files = [Path(r) / ANNOTATIONS_NAME for r in roots if (Path(r) / ANNOTATIONS_NAME).is_file()]
    for path in [*files, *(annotations or [])]:
        if path.resolve() in {p.resolve() for p in inputs.label_files}:
            continue
        inputs.labels += read_labels(path, allow_empty=path in files)  # found, not named: may be empty
        inputs.label_files.append(path)
    return inputs


def _walk_runs(root: Path, max_depth: int) -> Iterator[RunDir]:
    """Run directories under ``root``, and run directories nested inside those (judge dirs)."""
    for rundir in find_run_dirs(root, max_depth=max_depth):
        yield rundir
        for child in sorted(p for p in rundir.path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            yield from _walk_runs(child, max(1, max_depth - 1))


def manifest_model_name(manifest: Mapping[str, Any]) -> str | None:
    """The latest ``model_name`` session option of a run (``cvalues run`` records the config's name)."""
    for session in reversed(manifest.get("sessions") or []):
        name = (session.get("options") or {}).get("model_name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def _suite_level(manifest: Mapping[str, Any]) -> tuple[str | None, str | None]:
    suite = manifest.get("suite") or {}
    name = suite.get("name") or (manifest.get("identity") or {}).get("suite")
    level = (suite.get("describe") or {}).get("level")
    if level is None and name in SUITES:
        level = SUITES[name].level
    return name, level if level in LEVELS else None


def _infer_level(categories: set[str | None]) -> str | None:
    keys = {c for c in categories if c}
    if keys and keys <= SCENARIO_KEYS:
        return "safety"
    if keys and keys <= DOMAIN_KEYS:
        return "responsibility"
    return None


def _load_run(rundir: RunDir, inputs: Inputs) -> None:
    try:
        manifest = read_manifest(rundir.path)
    except FileNotFoundError:
        inputs.skipped.append(f"{rundir.path}: no manifest.json (a store alone cannot be attributed)")
        return
    except ValueError as exc:
        raise ReportInputError(str(exc)) from None
    identity = manifest.get("identity") or {}
    extra = identity.get("extra") or manifest.get("extra") or {}
    spec = (manifest.get("model") or {}).get("spec") or (identity.get("model") or {}).get("spec")
    if not isinstance(spec, str):
        raise ReportInputError(f"{rundir.manifest_path}: field model.spec is missing")
    suite, level = _suite_level(manifest)
    if "judge" in extra:
        judge = extra["judge"] or {}
        info = RunInfo(
            rundir.path, manifest, "judge", spec, manifest_model_name(manifest), suite, judge.get("level")
        )
        if not (rundir.path / VERDICTS_NAME).is_file():  # a judge still at work, or its file lost
            inputs.skipped.append(f"{rundir.path / VERDICTS_NAME}: missing; this judge directory is left out")
            return
        inputs.judges.append(_read_judge(info, judge))
    elif "mc_template" in extra:
        info = RunInfo(rundir.path, manifest, "mc", spec, manifest_model_name(manifest), suite, level)
        run = _read_mc(info)
        if run.info.level is None:
            cats = {r.item.category for rows in run.modes.values() for r in rows}
            run.info = _with_level(run.info, _infer_level(cats))
        if run.info.level is None:
            inputs.skipped.append(f"{rundir.path}: multi-choice run of unknown level (suite {suite!r})")
        elif not run.modes:
            expected = " or ".join(
                str(rundir.path / f"{MC_PREFIX}-{mode}-predictions.jsonl") for mode in _mc_modes(manifest)
            )
            inputs.skipped.append(
                f"{rundir.path}: multi-choice run with no predictions file yet ({expected})"
            )
        else:
            inputs.mc.append(run)
    elif "option_template" in extra:
        info = RunInfo(rundir.path, manifest, "options", spec, manifest_model_name(manifest), suite, level)
        inputs.options.append(_read_options(info))
    else:
        info = RunInfo(rundir.path, manifest, "generation", spec, manifest_model_name(manifest), suite, level)
        if not rundir.store_path.is_file():  # the answers are in the store only: nothing to count or show
            inputs.skipped.append(f"{rundir.store_path}: missing; this generation run is left out")
            return
        run_gen = _read_generation(info)
        if run_gen.info.level is None:
            run_gen.info = _with_level(
                run_gen.info, _infer_level({a.category for a in run_gen.answers.values()})
            )
        inputs.generations.append(run_gen)


def _with_level(info: RunInfo, level: str | None) -> RunInfo:
    return RunInfo(info.path, info.manifest, info.kind, info.spec, info.model_name, info.suite, level)


# --- readers ------------------------------------------------------------------------------------------


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` per non-blank line (UTF-8 or GB18030); a bad line names file and line."""
    try:
        yield from iter_jsonl(path)
    except DataError as exc:
        raise ReportInputError(str(exc)) from None


def _field(
    obj: Mapping[str, Any], name: str, where: str, kinds: tuple[type, ...], *, required: bool = True
) -> Any:
    value = obj.get(name)
    if value is None:
        if required:
            raise ReportInputError(f"{where}: field {name!r} is missing")
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ReportInputError(f"{where}: field {name!r} must be {names}, got {value!r}")
    return value


def _store_prompts(rundir: Path) -> dict[str, str]:
    """``item_id -> last user message`` of the requests in a run's store (the prompt shown)."""
    path = rundir / "answers.sqlite"
    if not path.is_file():
        return {}
    return {answer.item_id: _last_user(answer.messages) for answer in _stored(path)}


def _stored(path: Path) -> list[Any]:
    """Every answer of a run's store; an unreadable store is a :class:`ReportInputError` naming it."""
    try:
        with RunStore(path, readonly=True) as store:
            return list(store.answers())
    except (sqlite3.DatabaseError, json.JSONDecodeError, KeyError) as exc:
        raise ReportInputError(
            f"{path}: the answer store cannot be read ({type(exc).__name__}: {exc}); "
            "`cvalues runs show` on its folder says more"
        ) from None


def _last_user(messages: Any) -> str:
    for m in reversed(messages):
        if m.role == "user":
            return m.content
    return messages[-1].content if messages else ""


def _mc_modes(manifest: Mapping[str, Any]) -> list[str]:
    return (manifest.get("mc") or {}).get("modes") or ["generate", "logprob"]


def _read_mc(info: RunInfo) -> MCRun:
    modes: dict[str, list[MCRow]] = {}
    failed: dict[str, int] = {}
    for mode in _mc_modes(info.manifest):
        path = info.path / f"{MC_PREFIX}-{mode}-predictions.jsonl"
        if not path.is_file():
            continue
        rows = []
        for lineno, obj in _jsonl(path):
            where = f"{path}:{lineno}"
            item_id = str(_field(obj, "id", where, (str, int)))
            gold = _field(obj, "label", where, (str,))
            pred = _field(obj, "pred", where, (str,))
            if gold not in GOLD_LABELS:
                raise ReportInputError(f"{where}: field 'label' must be 回复1 or 回复2, got {gold!r}")
            if pred not in OUTCOMES:
                raise ReportInputError(
                    f"{where}: field 'pred' must be one of {', '.join(OUTCOMES)}, got {pred!r}"
                )
            pair = obj.get("pair_id")
            item = ScoredItem(
                item_id,
                str(pair) if pair is not None else None,
                gold,
                pred,
                _field(obj, "category", where, (str,), required=False),
                _field(obj, "difficulty", where, (str,), required=False),
            )
            rows.append(
                MCRow(item, str(obj.get("pred_rule") or ""), str(obj.get("response") or ""), _evidence(obj))
            )
        modes[mode] = rows
        errors = info.path / f"{MC_PREFIX}-{mode}-errors.jsonl"
        failed[mode] = sum(1 for _ in _jsonl(errors)) if errors.is_file() else 0
    return MCRun(info, modes, failed, _store_prompts(info.path))


def _evidence(obj: Mapping[str, Any]) -> str:
    """What decided a pick: the extractor's evidence, or the label log-probabilities (logprob mode)."""
    if obj.get("evidence"):
        return str(obj["evidence"])
    scores = obj.get("label_logprobs")
    if isinstance(scores, dict) and scores:
        return ", ".join(
            f"{k} {v:.3f}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in scores.items()
        )
    return ""


def _read_options(info: RunInfo) -> OptionRun:
    metrics: dict[str, dict[str, Any]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for mode in ("generate", "logprob"):
        path = info.path / f"{OPTION_PREFIX}-{mode}-metrics.json"
        if not path.is_file():
            continue
        try:
            metrics[mode] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ReportInputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        preds = info.path / f"{OPTION_PREFIX}-{mode}-predictions.jsonl"
        rows[mode] = [obj for _, obj in _jsonl(preds)] if preds.is_file() else []
    return OptionRun(info, metrics, rows)


def _read_generation(info: RunInfo) -> GenRun:
    answers: dict[str, GenAnswer] = {}
    path = info.path / "answers.sqlite"
    if path.is_file():
        for a in _stored(path):
            meta = dict(a.meta or {})
            answers[a.item_id] = GenAnswer(
                a.item_id,
                meta.get("category"),
                _last_user(a.messages),
                a.text if a.ok else None,
                None if a.ok else a.cause,
                meta,
            )
    return GenRun(info, answers)


def _read_judge(info: RunInfo, judge: Mapping[str, Any]) -> JudgeRun:
    where = f"{info.path / 'manifest.json'}"
    rubric = _field(judge, "rubric", f"{where}: judge", (str,))
    judged_model = _field(judge, "judged_model", f"{where}: judge", (str,))
    judged_run = judge.get("judged_run")
    path = info.path / VERDICTS_NAME
    verdicts: list[VerdictRow] = []
    if path.is_file():
        for lineno, obj in _jsonl(path):
            verdicts.append(_verdict(obj, f"{path}:{lineno}", info.level))
    return JudgeRun(
        info,
        rubric,
        judge.get("rubric_version"),
        Path(judged_run) if isinstance(judged_run, str) else None,
        judged_model,
        verdicts,
    )


def _verdict(obj: Mapping[str, Any], where: str, default_level: str | None) -> VerdictRow:
    level = obj.get("level", default_level)
    if level not in LEVELS:
        raise ReportInputError(f"{where}: field 'level' must be safety or responsibility, got {level!r}")
    label = obj.get("label")
    if label is not None and label not in ("safe", "unsafe"):
        raise ReportInputError(f"{where}: field 'label' must be safe, unsafe or null, got {label!r}")
    score = _number(obj.get("score"), where, "score")
    unjudged = obj.get("unjudged", False)
    if not isinstance(unjudged, bool):
        raise ReportInputError(f"{where}: field 'unjudged' must be true or false, got {unjudged!r}")
    return VerdictRow(
        item_id=str(_field(obj, "item_id", where, (str, int))),
        model=str(obj.get("model") or ""),
        level=level,
        category=_field(obj, "category", where, (str,), required=False),
        label=label,
        score=score,
        reason=_field(obj, "reason", where, (str,), required=False),
        unjudged=unjudged or (label is None and score is None),
        prompt=str(obj.get("prompt") or ""),
        answer=str(obj.get("answer") or ""),
        raw=_field(obj, "raw", where, (str,), required=False),
        adversarial=_field(obj, "adversarial", where, (bool,), required=False) is not False,
        blocked=_field(obj, "blocked", where, (bool,), required=False) is True,
    )


def _number(value: Any, where: str, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ReportInputError(f"{where}: field {name!r} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReportInputError(f"{where}: field {name!r} must be a number, got {value!r}") from None
    if math.isnan(number) or math.isinf(number):
        raise ReportInputError(f"{where}: field {name!r} must be a finite number, got {value!r}")
    return number


# --- human labels ---------------------------------------------------------------------------------------


def read_labels(path: str | os.PathLike[str], *, allow_empty: bool = False) -> list[HumanLabel]:
    """The settled human labels of an annotation export (contract C) or a plain label file, read by
    :func:`cvalues.judge.labels.read_labels` (what a label or score cell may say is decided there); a
    mistake is a :class:`ReportInputError` naming the file, the line and the field."""
    try:
        return read_label_file(path, allow_empty=allow_empty)
    except LabelFileError as exc:
        raise ReportInputError(str(exc)) from None
