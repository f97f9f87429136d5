"""The benchmark's suites: named, typed, streaming collections of records, with their files' checksums.

``load_suite(name)`` resolves (and if needed downloads) every file a suite reads, so ``Suite.files`` can
go into a run manifest before any record is read; ``Suite.records()`` then parses lazily. A name that
is not a suite is read as a path to the user's own file (bring your own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cvalues.data import loaders, user_files
from cvalues.data.config import DataConfig
from cvalues.data.dedup import near_duplicate_pairs
from cvalues.data.errors import DataError
from cvalues.data.readers import iter_records, no_records_error, normalise_text
from cvalues.data.resolve import ResolvedFile, resolve, user_file
from cvalues.data.sampling import ALLOCATIONS, stratified_sample
from cvalues.data.scenario_map import SCENARIO_CAVEATS, single_source_scenarios
from cvalues.data.schema import LEVELS, PromptRecord, Record
from cvalues.data.sources import SOURCES, XSAFETY_SOURCE_IDS, get_source

Kind = Literal["prompt", "mc", "option"]

#: Character-bigram Jaccard similarity at which two substitute prompts count as one (paraphrases).
NEAR_DUPLICATE_THRESHOLD = 0.7
#: Paper size of the safety prompt set, the default sample size of ``safety-prompts``.
SAFETY_SAMPLE_SIZE = 1300
DEFAULT_SEED = 0
USER_FILE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv")

#: Pool order of the open safety substitute; on duplicate texts the first occurrence is kept.
SUBSTITUTE_SOURCES: tuple[str, ...] = (
    "jade-v2-medium",
    "jade-v1",
    "jade-v2-easy",
    *XSAFETY_SOURCE_IDS,
    "flames-1k",
    "jailbench",
)
#: JADE benchmark files whose questions give the v3 triples their scenario, in priority order.
TRIPLE_CATEGORY_SOURCES: tuple[str, ...] = ("jade-v2-medium", "jade-v1", "jade-v2-easy")


@dataclass(frozen=True, slots=True)
class SuiteInfo:
    """What ``list_suites`` says about a suite before anything is read.

    ``size`` is the default number of records (None: depends on the user's file); ``user_file`` is
    ``"no"`` (pinned upstream files only), ``"optional"`` or ``"required"`` (not downloadable).
    """

    name: str
    kind: Kind
    level: str
    description: str
    sources: tuple[str, ...]
    size: int | None
    user_file: Literal["no", "optional", "required"]
    options: tuple[str, ...] = ()


SUITES: dict[str, SuiteInfo] = {
    s.name: s
    for s in (
        SuiteInfo(
            "responsibility-prompts",
            "prompt",
            "responsibility",
            "the 664 official responsibility prompts, 8 domains",
            ("cvalues-responsibility-prompts",),
            664,
            "optional",
            ("file",),
        ),
        SuiteInfo(
            "responsibility-mc",
            "mc",
            "responsibility",
            "the official responsibility multi-choice (1,712 items; downloaded or given with --suite-file)",
            ("cvalues-responsibility-mc",),
            1712,
            "optional",
            ("file",),
        ),
        SuiteInfo(
            "safety-prompts",
            "prompt",
            "safety",
            "open substitute for the unreleased safety prompts (XSafety zh, JADE v1/v2, Flames, "
            "JailBench), 1,300 sampled over 10 scenarios; or your private file (--suite-file)",
            ("jade-v2-medium", "jade-v1", "jade-v2-easy", "xsafety-zh/*", "flames-1k", "jailbench"),
            SAFETY_SAMPLE_SIZE,
            "optional",
            ("file", "fields", "full", "include_benign", "sample", "seed", "allocation"),
        ),
        SuiteInfo(
            "safety-mc",
            "mc",
            "safety",
            "JADE-DB v3 safety triples (500 medium + 150 hard) in both orders",
            ("jade-v3-medium", "jade-v3-hard", *TRIPLE_CATEGORY_SOURCES),
            1300,
            "no",
        ),
        SuiteInfo(
            "safetybench-zh",
            "option",
            "safety",
            "SafetyBench zh subset, 2-4 options, 7 categories",
            ("safetybench-zh", "safetybench-zh-answers"),
            2100,
            "no",
        ),
        SuiteInfo(
            "cvalues-comparison",
            "mc",
            "safety",
            "CValues-Comparison (ModelScope only: give the JSONL with --suite-file), both orders",
            (),
            None,
            "required",
            ("file", "pair_type"),
        ),
        SuiteInfo(
            "poison-mpts",
            "prompt",
            "responsibility",
            "100PoisonMpts train.jsonl (ModelScope only: give it with --suite-file)",
            (),
            906,
            "required",
            ("file",),
        ),
    )
}


@dataclass
class Suite:
    """A loaded suite: its resolved files and a lazy, restartable stream of typed records."""

    name: str
    kind: Kind
    level: str | None
    options: dict[str, Any]
    files: list[ResolvedFile]
    produce: Callable[[], Iterator[Record]] = field(repr=False)
    explain: Callable[[], dict[str, Any]] | None = field(default=None, repr=False)

    def records(self) -> Iterator[Record]:
        """Stream the records (each call starts again from the files)."""
        return self.produce()

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def describe(self) -> dict[str, Any]:
        """JSON-able identity of the suite for run manifests: name, kind, options, file checksums."""
        return {
            "name": self.name,
            "kind": self.kind,
            "level": self.level,
            "options": {k: _jsonable(v) for k, v in self.options.items()},
            "files": [f.to_dict() for f in self.files],
        }

    def notes(self) -> dict[str, Any]:
        """How the suite was built (pool sizes, duplicates dropped, allocation), where that applies."""
        return self.explain() if self.explain else {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def list_suites() -> list[SuiteInfo]:
    """All built-in suites (a user file path is also accepted by ``load_suite``)."""
    return list(SUITES.values())


def suite_source_ids(name: str) -> list[str]:
    """The pinned source ids suite ``name`` reads (``xsafety-zh/*`` expanded); [] for user-file suites."""
    out: list[str] = []
    for sid in SUITES[name].sources:
        out += [s for s in SOURCES if s.startswith(sid[:-1])] if sid.endswith("/*") else [sid]
    return out


def parse_fields(fields: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """``{"text": "问题"}`` from a mapping or from ``["text=问题", ...]``."""
    if fields is None:
        return {}
    if isinstance(fields, Mapping):
        return {str(k): str(v) for k, v in fields.items()}
    out: dict[str, str] = {}
    for item in fields:
        key, sep, column = item.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise DataError(f"bad field mapping {item!r}: expected KEY=COLUMN, e.g. text=问题")
        out[key.strip()] = column.strip()
    return out


def _pinned(source_id: str, config: DataConfig, explicit: Path | None = None) -> ResolvedFile:
    return resolve(source_id, config, explicit)


def _id_checked(records: Iterator[Record], source: str) -> Iterator[Record]:
    ids = loaders.UniqueIds()
    for record in records:
        ids.check(record.id, source, None)
        yield record


# --- builders -----------------------------------------------------------------------------------------------


def _responsibility_prompts(config: DataConfig, file: Path | None) -> Suite:
    f = _pinned("cvalues-responsibility-prompts", config, file)
    src = get_source(f.source_id).mirror_path
    return Suite(
        "responsibility-prompts",
        "prompt",
        "responsibility",
        {},
        [f],
        lambda: loaders.responsibility_prompts(f.path, src),
    )


def _responsibility_mc(config: DataConfig, file: Path | None) -> Suite:
    f = _pinned("cvalues-responsibility-mc", config, file)
    src = get_source(f.source_id).mirror_path
    return Suite(
        "responsibility-mc", "mc", "responsibility", {}, [f], lambda: loaders.responsibility_mc(f.path, src)
    )


def _substitute_records(files: Mapping[str, ResolvedFile]) -> Iterator[PromptRecord]:
    for source_id in SUBSTITUTE_SOURCES:
        f = files[source_id]
        src = get_source(source_id).mirror_path
        if source_id.startswith("jade-"):
            yield from loaders.jade_prompts(f.path, src, source_id)
        elif source_id.startswith("xsafety-zh/"):
            yield from loaders.xsafety_prompts(f.path, src, source_id.split("/", 1)[1])
        elif source_id == "flames-1k":
            yield from loaders.flames_prompts(f.path, src)
        elif source_id == "jailbench":
            yield from loaders.jailbench_prompts(f.path, src)
        else:  # pragma: no cover - SUBSTITUTE_SOURCES and this dispatch are edited together
            raise AssertionError(source_id)


def build_substitute_pool(files: Mapping[str, ResolvedFile]) -> tuple[list[PromptRecord], dict[str, Any]]:
    """All substitute prompts, identical texts (NFKC, whitespace removed) kept once, first source wins;
    then near-duplicates (character-bigram Jaccard >= 0.7, :mod:`cvalues.data.dedup`) kept once too.

    JailBench rows are left out of the near-duplicate pass: its rows share long templates by design, and
    its seeds are handled by the sampler (one template per seed).
    """
    kept: dict[str, PromptRecord] = {}
    dropped: dict[str, list[str]] = {}
    by_source: dict[str, int] = {}
    for record in _substitute_records(files):
        key = normalise_text(record.text)
        by_source[record.source] = by_source.get(record.source, 0) + 1
        if key in kept:
            dropped.setdefault(key, []).append(record.id)
            continue
        kept[key] = record
    pool = []
    for key, record in kept.items():
        if key in dropped:
            record = dataclasses.replace(record, meta={**record.meta, "duplicates": dropped[key]})
        pool.append(record)
    pool, near = _drop_near_duplicates(pool)
    stats = {
        "records_read": sum(by_source.values()),
        "duplicates_dropped": sum(len(v) for v in dropped.values()),
        "near_duplicates_dropped": near,
        "pool_size": len(pool),
    }
    return pool, stats


def _drop_near_duplicates(pool: list[PromptRecord]) -> tuple[list[PromptRecord], int]:
    """Keep the first of each near-duplicate pair (pool order: source order); the kept record lists the
    ids it stands for in ``meta["near_duplicates"]``."""
    candidates = [i for i, r in enumerate(pool) if "sample_group" not in r.meta]
    pairs = near_duplicate_pairs([pool[i].text for i in candidates], NEAR_DUPLICATE_THRESHOLD)
    removed: dict[int, int] = {}
    for a, b, _ in pairs:
        first, second = candidates[a], candidates[b]
        if first in removed or second in removed:
            continue
        removed[second] = first
    if not removed:
        return pool, 0
    stands_for: dict[int, list[str]] = {}
    for second, first in removed.items():
        stands_for.setdefault(first, []).append(pool[second].id)
    out = []
    for i, record in enumerate(pool):
        if i in removed:
            continue
        if i in stands_for:
            record = dataclasses.replace(record, meta={**record.meta, "near_duplicates": stands_for[i]})
        out.append(record)
    return out, len(removed)


def _safety_prompts(config: DataConfig, opts: dict[str, Any]) -> Suite:
    file = opts.pop("file", None)
    fields = parse_fields(opts.pop("fields", None))
    full = bool(opts.pop("full", False))
    sample = int(opts.pop("sample", SAFETY_SAMPLE_SIZE) or SAFETY_SAMPLE_SIZE)
    seed = int(opts.pop("seed", DEFAULT_SEED) or 0)
    allocation = opts.pop("allocation", "equal") or "equal"
    include_benign = bool(opts.pop("include_benign", False))
    if allocation not in ALLOCATIONS:
        raise DataError(f"unknown allocation {allocation!r}; choose {' or '.join(ALLOCATIONS)}")
    _no_more(opts, "safety-prompts")
    if file is not None:
        f = user_file(file, "safety-prompts")
        return Suite(
            "safety-prompts",
            "prompt",
            "safety",
            {"file": f.path, "fields": fields},
            [f],
            lambda: _id_checked(
                loaders.user_prompts(
                    f.path, fields=fields, level="safety", require_category=True, source=str(f.path)
                ),
                str(f.path),
            ),
        )
    files = {sid: _pinned(sid, config) for sid in SUBSTITUTE_SOURCES}
    options: dict[str, Any] = {"full": full, "include_benign": include_benign}
    if not full:
        options.update(sample=sample, seed=seed, allocation=allocation)
    cache: dict[str, Any] = {}

    def build() -> tuple[list[PromptRecord], dict[str, Any]]:
        if "records" not in cache:
            everything, stats = build_substitute_pool(files)
            benign = [r for r in everything if r.meta.get("adversarial") is False]
            pool = (
                everything
                if include_benign
                else [r for r in everything if r.meta.get("adversarial") is not False]
            )
            stats["benign_in_pool"] = len(benign)
            stats["benign_excluded"] = 0 if include_benign else len(benign)
            records = pool
            if not full:
                records, quota = stratified_sample(pool, sample, seed, allocation)
                stats["allocation"] = quota
            stats["benign_in_selection"] = sum(1 for r in records if r.meta.get("adversarial") is False)
            stats["single_source_scenarios"] = single_source_scenarios()
            stats["scenario_caveats"] = dict(SCENARIO_CAVEATS)
            stats["pool_by_scenario"] = _count(pool, "category")
            stats["others_from"] = sorted(
                {str(r.meta.get("source_category")) for r in pool if r.category == "others"}
            )
            cache["records"], cache["stats"] = records, stats
        return cache["records"], cache["stats"]

    return Suite(
        "safety-prompts",
        "prompt",
        "safety",
        options,
        list(files.values()),
        lambda: iter(build()[0]),
        lambda: build()[1],
    )


def _count(records: Sequence[PromptRecord], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        key = str(getattr(r, attr))
        out[key] = out.get(key, 0) + 1
    return out


def triple_scenarios(files: Mapping[str, ResolvedFile]) -> dict[str, str]:
    """Normalised question -> scenario from the JADE benchmark files (priority order, first wins)."""
    table: dict[str, str] = {}
    for sid in TRIPLE_CATEGORY_SOURCES:
        for key, scenario in loaders.question_scenarios(
            loaders.jade_prompts(files[sid].path, get_source(sid).mirror_path, sid)
        ).items():
            table.setdefault(key, scenario)
    return table


def _safety_mc(config: DataConfig) -> Suite:
    ids = ("jade-v3-medium", "jade-v3-hard", *TRIPLE_CATEGORY_SOURCES)
    files = {sid: _pinned(sid, config) for sid in ids}

    def produce() -> Iterator[Record]:
        table = triple_scenarios(files)
        for sid, difficulty in (("jade-v3-medium", "medium"), ("jade-v3-hard", "hard")):
            yield from loaders.jade_triples(files[sid].path, get_source(sid).mirror_path, difficulty, table)

    return Suite("safety-mc", "mc", "safety", {}, list(files.values()), produce)


def _safetybench(config: DataConfig) -> Suite:
    q, a = _pinned("safetybench-zh", config), _pinned("safetybench-zh-answers", config)
    src = get_source("safetybench-zh").mirror_path
    return Suite(
        "safetybench-zh", "option", "safety", {}, [q, a], lambda: loaders.safetybench(q.path, a.path, src)
    )


def _user_only(name: str, file: Path | None) -> ResolvedFile:
    if file is None:
        info = SUITES[name]
        raise DataError(
            f"suite {name!r} is not downloadable from GitHub ({info.description}); download it from "
            f"ModelScope and give its path: --suite {name} --suite-file FILE (load_suite(..., file=...))"
        )
    resolved = user_file(file, name)
    rows = iter_records(resolved.path)
    try:  # a file without a record is an error now, when the suite loads, so no run directory is made
        if next(rows, None) is None:
            raise no_records_error(resolved.path)
    finally:
        rows.close()
    return resolved


def _comparison(opts: dict[str, Any]) -> Suite:
    f = _user_only("cvalues-comparison", opts.pop("file", None))
    pair_type = loaders.comparison_pair_type(str(opts.pop("pair_type", None) or "all"))
    _no_more(opts, "cvalues-comparison")
    return Suite(
        "cvalues-comparison",
        "mc",
        "safety",
        {"pair_type": pair_type or "all"},
        [f],
        lambda: loaders.cvalues_comparison(f.path, str(f.path), pair_type),
    )


def _poison(opts: dict[str, Any]) -> Suite:
    f = _user_only("poison-mpts", opts.pop("file", None))
    _no_more(opts, "poison-mpts")
    return Suite(
        "poison-mpts", "prompt", "responsibility", {}, [f], lambda: loaders.poison_mpts(f.path, str(f.path))
    )


def _user_suite(path: Path, opts: dict[str, Any]) -> Suite:
    fields = parse_fields(opts.pop("fields", None))
    level = opts.pop("level", None)
    if level is not None and level not in LEVELS:
        raise DataError(f"unknown level {level!r}; choose safety or responsibility")
    fmt = opts.pop("format", None)
    kind = opts.pop("kind", None)
    _no_more(opts, str(path))
    f = user_file(path)
    layout = user_files.detect_layout(f.path, kind=kind, fields=fields, level=level, fmt=fmt)
    options: dict[str, Any] = {"fields": fields, "level": layout.level, "form": layout.form}
    return Suite(
        str(path),
        layout.kind,
        layout.level,
        options,
        [f],
        lambda: user_files.user_records(f.path, layout, fields=fields, source=str(f.path), fmt=fmt),
        layout.describe,
    )


def _no_more(opts: dict[str, Any], name: str) -> None:
    extra = sorted(k for k, v in opts.items() if v not in (None, False, (), [], {}))
    if extra:
        raise DataError(f"option(s) {', '.join(extra)} do not apply to suite {name!r}")


def load_suite(name: str, config: DataConfig | None = None, **options: Any) -> Suite:
    """Load suite ``name`` (see :func:`list_suites`) or a user file path (bring your own).

    Options: ``file`` (the suite's data file given by hand: verified against the pin for official files,
    required for cvalues-comparison and poison-mpts, private prompts for safety-prompts), ``fields``
    (``{"text": "问题", "category": "类别"}`` or ``["text=问题"]``, for user files), ``full`` / ``sample``
    / ``seed`` / ``allocation`` (safety-prompts), ``pair_type`` (cvalues-comparison), ``level``,
    ``format`` and ``kind`` (user files: ``auto``, ``prompt`` or ``mc``; see
    :func:`cvalues.data.user_files.detect_layout`). Files are resolved, and a user file's form
    detected from its first row, now; records are read by ``Suite.records()``.
    """
    config = config or DataConfig.from_env()
    opts = dict(options)
    file = opts.get("file")
    if file is not None:
        opts["file"] = Path(file).expanduser()
    if name == "safety-prompts":
        return _safety_prompts(config, opts)
    if name == "cvalues-comparison":
        return _comparison(opts)
    if name == "poison-mpts":
        return _poison(opts)
    if name in ("responsibility-prompts", "responsibility-mc"):
        f = opts.pop("file", None)
        _no_more(opts, name)
        build = _responsibility_prompts if name == "responsibility-prompts" else _responsibility_mc
        return build(config, f)
    if name in ("safety-mc", "safetybench-zh"):
        _no_more(opts, name)
        return _safety_mc(config) if name == "safety-mc" else _safetybench(config)
    path = Path(name).expanduser()
    if path.suffix.casefold() in USER_FILE_SUFFIXES or path.exists():
        if opts.pop("file", None) is not None:
            raise DataError("give a user file either as the suite name or with --suite-file, not both")
        return _user_suite(path, opts)
    raise DataError(f"unknown suite {name!r}; known: {', '.join(SUITES)} (or a .jsonl/.json/.csv file path)")
