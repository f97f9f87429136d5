"""The plan of a `cvalues run` (model x stage) and the orchestration that carries it out, resumably.

Layout (contract D): ``OUT/config.yaml`` (the validated config as run) and ``OUT/<model>/<stage>/``,
where a stage is ``mc-<level>`` (the multi-choice test, :mod:`cvalues.mc.runner`), ``gen-<level>``
(open generation, :mod:`cvalues.runs.generate`) or ``judge-<level>`` (:func:`cvalues.judge.run_judge`
over the ``gen-`` run), each an ordinary run directory the single commands also read and resume; then
``OUT/annotations.jsonl`` (an annotation store's export) and the report.

The promise: a rerun asks nothing that is stored, and adding a model asks only that model. Every
stage goes through the run engine (answers stored as they arrive; a killed run loses at most the
requests in flight). On top of that each finished stage leaves ``cvalues-run-stage.json`` naming the
plan it finished (model, settings, suite options, judge); a stage whose plan is unchanged and whose
store still holds every answer is passed over without even loading its model, so a rerun of a
finished job takes seconds. A stage that fails (a model that cannot load, a server that refuses)
is reported and the others go on; Ctrl-C stops at once and the same command resumes.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cvalues.atomic import atomic_open
from cvalues.data.config import DataConfig
from cvalues.data.suites import SUITES, Suite, load_suite
from cvalues.models.base import ModelBackend
from cvalues.pipeline.config import Level, ModelConfig, RunConfig, SuiteConfig, default_rubric
from cvalues.pipeline.preflight import Missing, PreflightError, check_annotation_store, preflight
from cvalues.runs import RunStore, RunSummary
from cvalues.runs.store import IdentityMismatch

StageKind = Literal["mc", "gen", "judge"]
Status = Literal["done", "complete", "partial", "failed", "skipped"]

STATE_NAME = "cvalues-run-stage.json"
CONFIG_NAME = "config.yaml"
ANNOTATIONS_NAME = "annotations.jsonl"
REPORT_DIR = "report"
#: Folder names of the four CValues suites' stages (contract D).
STAGE_NAMES: dict[str, str] = {
    "safety-mc": "mc-safety",
    "responsibility-mc": "mc-responsibility",
    "safety-prompts": "gen-safety",
    "responsibility-prompts": "gen-responsibility",
}


@dataclass(frozen=True)
class Stage:
    """One step of every model: ``mc``/``gen`` over ``suite``, or ``judge`` of the ``judged`` gen stage."""

    name: str
    kind: StageKind
    level: str
    suite: str | None = None
    judged: str | None = None


@dataclass(frozen=True)
class LoadedSuite:
    """A suite as the plan uses it: loaded once, shared by every model; ``sample`` is left to the
    caller when the suite has no sampler of its own (pairs in mc, items in gen)."""

    key: str
    stage: Stage
    suite: Suite
    config: SuiteConfig
    sample: int | None


@dataclass
class StageOutcome:
    """What happened to one model x stage: ``done`` (ran; every request answered), ``complete`` (passed
    over: finished earlier with the same plan), ``partial`` (some requests failed), ``failed``,
    ``skipped`` (nothing to do, e.g. no answers to judge)."""

    model: str
    stage: str
    status: Status
    detail: str
    run_dir: Path | None = None
    figure: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("done", "complete", "skipped")


@dataclass
class PipelineResult:
    """Every outcome, in order, plus notes (annotations, report) and the output folder."""

    out: Path
    outcomes: list[StageOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def table(self) -> str:
        """A plain-text grid, one row per model, one column per stage: status and headline figure."""
        models = list(dict.fromkeys(o.model for o in self.outcomes))
        stages = list(dict.fromkeys(o.stage for o in self.outcomes))
        cells = {(o.model, o.stage): o.status + (f" {o.figure}" if o.figure else "") for o in self.outcomes}
        rows = [["model", *stages]] + [[m, *(cells.get((m, s), "-") for s in stages)] for m in models]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text.casefold()).strip("-.") or "suite"


def stage_name(key: str, kind: str) -> str:
    """Folder name of the stage running suite ``key`` (of data kind ``kind``)."""
    if key in STAGE_NAMES:
        return STAGE_NAMES[key]
    prefix = "gen" if kind == "prompt" else "mc"
    return f"{prefix}-{_slug(Path(key).stem if key not in SUITES else key)}"


def mc_modes(mode: str, spec: str) -> tuple[str, ...]:
    """The modes of a multi-choice stage: ``auto`` is logprob for local ``hf:`` models (one forward
    pass, no parsing) and generate elsewhere (servers need log-probability support for logprob)."""
    if mode == "auto":
        mode = "logprob" if spec.startswith("hf:") else "generate"
    return ("generate", "logprob") if mode == "both" else (mode,)


def _sha256_file(path: Path) -> str | None:
    """The file's sha256 (cached per path, size and mtime by cvalues.data.checksums), None if absent."""
    from cvalues.data.checksums import sha256_file

    return sha256_file(path) if path.is_file() else None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def read_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((run_dir / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(
    run_dir: Path, plan: dict[str, Any], counts: dict[str, int], figure: str | None = None
) -> None:
    """Record that ``plan`` finished in ``run_dir`` with every request answered (``counts`` of its
    store; ``figure``: the headline shown when the stage is passed over later)."""
    state = {
        "plan_sha256": _digest(plan),
        "plan": plan,
        "ok": counts.get("ok", 0),
        "figure": figure,
        "finished_at": _now(),
    }
    with atomic_open(run_dir / STATE_NAME) as fh:
        json.dump(state, fh, ensure_ascii=False, indent=2)
        fh.write("\n")


def _now() -> str:
    from cvalues.runs.store import utc_now

    return utc_now()


def store_counts(run_dir: Path) -> dict[str, int] | None:
    path = run_dir / "answers.sqlite"
    if not path.is_file():
        return None
    with RunStore(path, readonly=True) as store:
        return store.counts()


def stored_answers(out: Path) -> int:
    """Answers stored in every run directory under ``out`` (what an interrupted run keeps)."""
    from cvalues.runs import find_run_dirs

    total = 0
    for rundir in find_run_dirs(out):
        try:
            total += (store_counts(rundir.path) or {}).get("ok", 0)
        except sqlite3.Error:  # a store created at the very moment of the interrupt
            continue
    return total


def finished_earlier(run_dir: Path, plan: dict[str, Any]) -> bool:
    """True when ``run_dir`` finished ``plan`` before and its store still holds every answer then stored."""
    state = read_state(run_dir)
    if state is None or state.get("plan_sha256") != _digest(plan):
        return False
    counts = store_counts(run_dir)
    return counts is not None and counts["error"] == 0 and counts["ok"] >= int(state.get("ok", 0))


def _summary_line(s: RunSummary) -> str:
    return (
        f"{s.unique} requests: {s.cached} stored earlier, {s.ok} asked now, {s.unanswered} failed, "
        f"{s.elapsed_s:.1f}s"
    )


Echo = Callable[[str], None]


def _stderr_echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Pipeline:
    """One `cvalues run`: ``run()`` checks (``preflight()``), loads the suites, then runs every stage.

    ``progress_bars`` shows the engine's per-stage bar (for a terminal); ``echo`` receives one plain
    line per model x stage as it starts and ends, which reads the same in a log file.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        out: Path,
        data_config: DataConfig,
        retry_errors: bool = False,
        progress_bars: bool = False,
        echo: Echo = _stderr_echo,
    ) -> None:
        self.config = config
        self.out = Path(out)
        self.data_config = data_config
        self.retry_errors = retry_errors
        self.progress_bars = progress_bars
        self.echo = echo
        self.suites: dict[str, LoadedSuite] = {}

    # -- before any work ---------------------------------------------------------------------------

    def _suite_load_options(self, key: str, cfg: SuiteConfig) -> tuple[dict[str, Any], int | None]:
        """(options for load_suite, sample left to the caller)."""
        options: dict[str, Any] = {
            "file": cfg.file,
            "fields": cfg.fields,
            "full": cfg.full,
            "include_benign": cfg.include_benign,
            "allocation": cfg.allocation,
            "pair_type": cfg.pair_type,
            "level": cfg.level,
            "kind": cfg.kind,
        }
        info = SUITES.get(key)
        caller_sample = cfg.sample
        if info is not None and "sample" in info.options:  # the suite samples itself (stratified)
            options.update(sample=cfg.sample, seed=cfg.seed)
            caller_sample = None
        return {k: v for k, v in options.items() if v not in (None, False)}, caller_sample

    def preflight(self) -> list[Missing]:
        """Every data file and model (judges included) the job needs that is not there."""
        suites = [(key, self._suite_load_options(key, cfg)[0]) for key, cfg in self.config.suites.items()]
        models = [(m.spec, m.backend_options(), f"model {m.name!r}") for m in self.config.models]
        models += [
            (j.spec, j.backend_options(), f"{level} judge") for level, j in self.config.judges().items()
        ]
        missing = preflight(suites, models, self.data_config)
        if self.config.annotations:
            missing += check_annotation_store(self.config.annotations)
        return missing

    def load_suites(self) -> dict[str, LoadedSuite]:
        """Load every suite once (files resolved and verified now; records read when asked)."""
        taken: set[str] = set()
        for key, cfg in self.config.suites.items():
            options, sample = self._suite_load_options(key, cfg)
            suite = load_suite(key, self.data_config, **options)
            kind: StageKind = "gen" if suite.kind == "prompt" else "mc"
            name = base = stage_name(key, suite.kind)
            n = 2
            while name in taken:
                name, n = f"{base}-{n}", n + 1
            taken.add(name)
            self.suites[key] = LoadedSuite(key, Stage(name, kind, suite.level, suite=key), suite, cfg, sample)
        return self.suites

    def stages(self) -> list[Stage]:
        """mc stages, then gen stages (config order), then a judge stage per judged gen stage."""
        loaded = list(self.suites.values())
        mc = [s.stage for s in loaded if s.stage.kind == "mc"]
        gen = [s.stage for s in loaded if s.stage.kind == "gen"]
        judges = self.config.judges()
        judge = [
            Stage("judge-" + g.name.removeprefix("gen-"), "judge", g.level, judged=g.name)
            for g in gen
            if g.level in judges
        ]
        return [*mc, *gen, *judge]

    # -- the plan of one stage (what makes it the same work) ---------------------------------------

    def _plan(self, model: ModelConfig, stage: Stage) -> dict[str, Any]:
        loaded = self.suites[stage.suite or ""]
        cfg = loaded.config
        files = {"file": _sha256_file(cfg.file) if cfg.file else None}
        if stage.suite not in SUITES:
            files["suite"] = _sha256_file(Path(stage.suite or ""))
        return {
            "stage": stage.name,
            "suite": stage.suite,
            "suite_config": cfg.model_dump(mode="json"),
            "files": files,
            "modes": list(mc_modes(cfg.mode, model.spec)) if stage.kind == "mc" else None,
            "model": model.model_dump(mode="json", exclude={"name", "concurrency", "api_key_env"}),
        }

    # -- running -----------------------------------------------------------------------------------

    def run(self) -> PipelineResult:
        """Preflight, write ``OUT/config.yaml``, run every model's stages, the judges, the annotation
        export and the report. Raises :class:`PreflightError` before any work when something is missing."""
        missing = self.preflight()
        if missing:
            raise PreflightError(missing)
        if not self.suites:
            self.load_suites()
        stages = self.stages()
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_config()
        result = PipelineResult(self.out)
        models = self.config.models
        judge_levels = sorted({s.level for s in stages if s.kind == "judge"})
        self.echo(
            f"cvalues run: {len(models)} model(s) x {len([s for s in stages if s.kind != 'judge'])} stages"
            + (f", judged ({', '.join(judge_levels)})" if judge_levels else "")
            + f" -> {self.out}"
        )
        work = [s for s in stages if s.kind != "judge"]
        for i, model in enumerate(models, start=1):
            result.outcomes += self._run_model(model, work, f"[{i}/{len(models)} {model.name}]")
        judge_stages = [s for s in stages if s.kind == "judge"]
        for level, judge in self.config.judges().items():
            result.outcomes += self._run_judge(level, judge, [s for s in judge_stages if s.level == level])
        self._export_annotations(result)
        self._report(result)
        return result

    def _write_config(self) -> None:
        import yaml

        with atomic_open(self.out / CONFIG_NAME) as fh:
            yaml.safe_dump(self.config.dump(), fh, allow_unicode=True, sort_keys=False)

    def _run_model(self, model: ModelConfig, stages: list[Stage], tag: str) -> list[StageOutcome]:
        outcomes: list[StageOutcome] = []
        todo: list[tuple[Stage, dict[str, Any]]] = []
        for stage in stages:
            plan = self._plan(model, stage)
            run_dir = self.out / model.name / stage.name
            if finished_earlier(run_dir, plan):
                self.echo(f"{tag} {stage.name}: finished earlier, nothing to ask")
                figure = (read_state(run_dir) or {}).get("figure")
                outcomes.append(
                    StageOutcome(model.name, stage.name, "complete", "finished earlier", run_dir, figure)
                )
            else:
                todo.append((stage, plan))
        if not todo:
            return outcomes
        from cvalues.models.registry import load_model

        if not self.progress_bars:  # the hub's and transformers' own bars: \r-lines in a log file
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        self.echo(f"{tag} loading {model.spec}")
        try:
            backend = load_model(model.spec, **model.backend_options())
        except (ValueError, OSError, ImportError) as exc:
            cause = f"cannot load model {model.spec!r}: {exc}"
            self.echo(f"{tag} {cause}")
            return outcomes + [StageOutcome(model.name, s.name, "failed", cause) for s, _ in todo]

        async def go() -> None:
            try:
                for stage, plan in todo:
                    outcomes.append(await self._run_stage(backend, model, stage, plan, tag))
            finally:
                await backend.aclose()

        asyncio.run(go())
        return outcomes

    async def _run_stage(
        self, backend: ModelBackend, model: ModelConfig, stage: Stage, plan: dict[str, Any], tag: str
    ) -> StageOutcome:
        run_dir = self.out / model.name / stage.name
        loaded = self.suites[stage.suite or ""]
        cfg = loaded.config
        settings = model.settings.to_settings()
        common: dict[str, Any] = {
            "concurrency": model.concurrency or self.config.concurrency,
            "retry_errors": self.retry_errors,
            "progress": self.progress_bars,
        }
        session = {"model_name": model.name, "stage": stage.name, "argv": sys.argv[1:]}
        self.echo(f"{tag} {stage.name}: {loaded.key} ...")
        try:
            if stage.kind == "gen":
                from cvalues.runs.generate import generate_async

                gen = await generate_async(
                    backend,
                    loaded.suite,
                    run_dir,
                    settings=settings,
                    limit=cfg.limit,
                    sample=loaded.sample,
                    seed=cfg.seed,
                    session_options={"command": "generate", **session},
                    **common,
                )
                summary, figure = gen.summary, f"{gen.summary.answered}/{gen.items} answered"
            else:
                summary, figure = await self._run_mc(
                    backend, model, loaded, run_dir, settings, session, common
                )
        except Exception as exc:  # one stage's failure is reported; the other stages and models go on
            cause = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, IdentityMismatch):
                cause += (
                    f" In a config: keep {model.name!r} as it was and add the new configuration as "
                    "another model (another `name`), or use another `out`."
                )
            self.echo(f"{tag} {stage.name}: FAILED: {cause}")
            return StageOutcome(model.name, stage.name, "failed", cause, run_dir)
        line = f"{tag} {stage.name}: {_summary_line(summary)}" + (f"; {figure}" if figure else "")
        self.echo(line)
        return self._finish(model.name, stage, run_dir, plan, summary, figure)

    async def _run_mc(
        self,
        backend: ModelBackend,
        model: ModelConfig,
        loaded: LoadedSuite,
        run_dir: Path,
        settings: Any,
        session: dict[str, Any],
        common: dict[str, Any],
    ) -> tuple[RunSummary, str | None]:
        cfg = loaded.config
        modes = mc_modes(cfg.mode, model.spec)
        session = {"command": "mc run", **session}
        if loaded.suite.kind == "option":
            from cvalues.mc.options import DEFAULT_OPTION_TEMPLATE, get_option_template, run_options_async

            result = await run_options_async(
                backend,
                loaded.suite,
                run_dir,
                template=get_option_template(cfg.template or DEFAULT_OPTION_TEMPLATE),
                modes=modes,  # type: ignore[arg-type]
                settings=settings,
                limit=cfg.limit,
                sample=loaded.sample,
                seed=cfg.seed,
                session_options=session,
                **common,
            )
            accs = {m: r.metrics.overall.accuracy for m, r in result.modes.items()}
        else:
            from cvalues.mc.runner import MCRunOptions, run_mc_async
            from cvalues.mc.templates import DEFAULT_TEMPLATE, get_template

            options = MCRunOptions(
                template=get_template(cfg.template or DEFAULT_TEMPLATE),
                modes=modes,  # type: ignore[arg-type]
                settings=settings,
                limit=cfg.limit,
                sample=loaded.sample,
                seed=cfg.seed,
                **common,
            )
            result = await run_mc_async(backend, loaded.suite, run_dir, options, session_options=session)
            accs = {m: r.report.overall.acc for m, r in result.modes.items()}
        figure = ", ".join(f"{m} acc {a:.3f}" for m, a in accs.items() if isinstance(a, float)) or None
        return result.summary, figure

    def _finish(
        self,
        model_name: str,
        stage: Stage,
        run_dir: Path,
        plan: dict[str, Any],
        summary: RunSummary,
        figure: str | None,
    ) -> StageOutcome:
        if summary.unique and summary.answered == 0:
            return StageOutcome(model_name, stage.name, "failed", _summary_line(summary), run_dir, figure)
        if summary.unanswered:
            detail = f"{summary.unanswered} requests failed; rerun with --retry-errors"
            return StageOutcome(model_name, stage.name, "partial", detail, run_dir, figure)
        counts = store_counts(run_dir)
        if counts is not None and counts["error"] == 0:
            write_state(run_dir, plan, counts, figure)
        return StageOutcome(model_name, stage.name, "done", _summary_line(summary), run_dir, figure)

    # -- judges ------------------------------------------------------------------------------------

    def _run_judge(self, level: Level, judge: Any, stages: list[Stage]) -> list[StageOutcome]:
        rubric = judge.rubric or default_rubric(level, judge.spec)
        outcomes: list[StageOutcome] = []
        todo: list[tuple[ModelConfig, Stage, Path, Path, dict[str, Any]]] = []
        for model in self.config.models:
            tag = f"[judge {level} {model.name}]"
            for stage in stages:
                judged = self.out / model.name / (stage.judged or "")
                run_dir = self.out / model.name / stage.name
                counts = store_counts(judged)
                if not counts or not counts["ok"]:
                    self.echo(f"{tag} {stage.name}: no answers to judge in {judged}")
                    outcomes.append(StageOutcome(model.name, stage.name, "skipped", "no answers to judge"))
                    continue
                plan = {
                    "stage": stage.name,
                    "judge": judge.model_dump(mode="json", exclude={"concurrency", "api_key_env"}),
                    "rubric": rubric,
                    "judged": {"run": str(judged), "ok": counts["ok"], "total": counts["total"]},
                }
                if finished_earlier(run_dir, plan):
                    self.echo(f"{tag} {stage.name}: finished earlier, nothing to ask")
                    outcomes.append(
                        StageOutcome(
                            model.name,
                            stage.name,
                            "complete",
                            "finished earlier",
                            run_dir,
                            _judge_figure(run_dir),
                        )
                    )
                else:
                    todo.append((model, stage, judged, run_dir, plan))
        if not todo:
            return outcomes
        try:
            import cvalues.judge as judge_pkg

            run_judge = judge_pkg.run_judge
        except (ImportError, AttributeError):
            cause = (
                "the judge (cvalues.judge) is not part of this installation; remove `judge` from the "
                "config (or pass --no-judge) to run without it"
            )
            self.echo(f"[judge {level}] {cause}")
            return outcomes + [StageOutcome(m.name, s.name, "failed", cause) for m, s, *_ in todo]
        from cvalues.models.registry import load_model

        self.echo(f"[judge {level}] loading {judge.spec} (rubric {rubric})")
        try:
            backend = load_model(judge.spec, **judge.backend_options())
        except (ValueError, OSError, ImportError) as exc:
            cause = f"cannot load judge model {judge.spec!r}: {exc}"
            self.echo(f"[judge {level}] {cause}")
            return outcomes + [StageOutcome(m.name, s.name, "failed", cause) for m, s, *_ in todo]
        accepts = inspect.signature(run_judge).parameters
        try:
            for model, stage, judged, run_dir, plan in todo:
                tag = f"[judge {level} {model.name}]"
                self.echo(f"{tag} {stage.name}: judging {judged.name} ...")
                kwargs: dict[str, Any] = {
                    "judge_model": backend,
                    "rubric": rubric,
                    "out_dir": run_dir,
                    "samples": judge.samples,
                    "temperature": judge.temperature,
                    "concurrency": judge.concurrency or self.config.concurrency,
                    "retry_errors": self.retry_errors,
                    "progress": self.progress_bars,
                }
                if "session_options" in accepts:
                    kwargs["session_options"] = {"model_name": model.name, "stage": stage.name}
                try:
                    summary = run_judge(judged, **kwargs)
                    if inspect.isawaitable(summary):
                        summary = asyncio.run(summary)  # type: ignore[arg-type]
                except Exception as exc:  # reported per stage; the other models are still judged
                    cause = f"{type(exc).__name__}: {exc}"
                    self.echo(f"{tag} {stage.name}: FAILED: {cause}")
                    outcomes.append(StageOutcome(model.name, stage.name, "failed", cause, run_dir))
                    continue
                outcomes.append(self._finish_judge(model.name, stage, run_dir, plan, summary, tag))
        finally:
            asyncio.run(backend.aclose())
        return outcomes

    def _finish_judge(
        self, model_name: str, stage: Stage, run_dir: Path, plan: dict[str, Any], summary: Any, tag: str
    ) -> StageOutcome:
        counts = store_counts(run_dir) or {"ok": 0, "error": 0, "total": 0}
        figure = _judge_figure(run_dir)
        failed = int(getattr(summary, "failed", 0) or 0) or counts["error"]
        verdicts = int(getattr(summary, "verdicts", 0) or 0)
        unjudged = int(getattr(summary, "unjudged", 0) or 0)
        detail = f"{verdicts} verdicts, {unjudged} unjudged, {failed} failed requests"
        self.echo(f"{tag} {stage.name}: {detail}" + (f"; {figure}" if figure else ""))
        if counts["ok"] == 0 or (verdicts and unjudged >= verdicts):
            if verdicts and unjudged >= verdicts:
                detail += (
                    f"; no reply of the judge could be read with rubric {plan['rubric']!r} "
                    "(is it the rubric of this judge model?)"
                )
            return StageOutcome(model_name, stage.name, "failed", detail, run_dir, figure)
        if failed:
            return StageOutcome(model_name, stage.name, "partial", detail, run_dir, figure)
        write_state(run_dir, plan, counts, figure)
        return StageOutcome(model_name, stage.name, "done", detail, run_dir, figure)

    # -- after the stages --------------------------------------------------------------------------

    def _export_annotations(self, result: PipelineResult) -> None:
        url = self.config.annotations
        if not url:
            return
        try:
            from cvalues.annotate import export_labels
        except ImportError:
            note = "annotations: the annotation app (cvalues.annotate) is not part of this installation"
            result.notes.append(note)
            result.outcomes.append(StageOutcome("-", "annotations", "failed", note))
            return
        path = self.out / ANNOTATIONS_NAME
        try:
            n = export_labels(url, path, fmt="jsonl")
        except Exception as exc:  # a store that cannot be read is reported, the report still runs
            note = f"annotations: cannot export from the store ({type(exc).__name__}: {exc})"
            result.notes.append(note)
            result.outcomes.append(StageOutcome("-", "annotations", "failed", note))
            return
        note = f"annotations: {n} labels exported to {path}"
        result.notes.append(note)

    def _report(self, result: PipelineResult) -> None:
        by_hand = f"cvalues report {self.out} --out {self.out / REPORT_DIR}"
        try:
            from cvalues.report import write_report  # type: ignore[attr-defined]
        except ImportError:
            note = f"report: not part of this installation; when it is, run `{by_hand}`"
            result.notes.append(note)
            return
        try:
            files = write_report([self.out], self.out / REPORT_DIR)
        except Exception as exc:  # the runs are kept; the report can be rebuilt by hand
            note = (
                f"report: failed ({type(exc).__name__}: {exc}); the runs are complete, retry with `{by_hand}`"
            )
            result.notes.append(note)
            result.outcomes.append(StageOutcome("-", "report", "failed", note))
            return
        files = list(files or [])
        more = f" (and {len(files) - 1} more files in {self.out / REPORT_DIR})" if len(files) > 1 else ""
        note = f"report: {files[0] if files else self.out / REPORT_DIR}{more}"
        result.notes.append(note)


def _judge_figure(run_dir: Path) -> str | None:
    """Headline of a judge directory from its verdicts: share judged safe, or mean responsibility score."""
    path = run_dir / "verdicts.jsonl"
    if not path.is_file():
        return None
    labels: list[str] = []
    scores: list[float] = []
    unjudged = 0
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            v = json.loads(line)
            if v.get("unjudged"):
                unjudged += 1
                continue
            if v.get("label") in ("safe", "unsafe"):
                labels.append(v["label"])
            elif isinstance(v.get("score"), (int, float)):
                scores.append(float(v["score"]))
    except (OSError, ValueError):
        return None
    left = f", {unjudged} unjudged" if unjudged else ""
    if labels:
        safe = labels.count("safe")
        return f"safe {safe / len(labels):.1%} ({safe}/{len(labels)}{left})"
    if scores:
        return f"score {sum(scores) / len(scores):.2f} (n={len(scores)}{left})"
    return f"0 judged{left}" if unjudged else None
