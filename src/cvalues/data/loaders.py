"""One loader per file format: parse, validate and yield typed records, streaming.

Loaders take local paths (resolution happens in :mod:`cvalues.data.resolve`) and raise
:class:`~cvalues.data.errors.DataError` naming file, line and field for anything malformed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.data.adversarial import judge_note, tag_prompt
from cvalues.data.errors import DataError
from cvalues.data.readers import (
    get_text,
    iter_csv_dicts,
    iter_csv_rows,
    iter_json_array,
    iter_jsonl,
    iter_records,
    iter_table,
    normalise_text,
    read_json,
)
from cvalues.data.scenario_map import normalise_jade_label, scenario_for
from cvalues.data.schema import (
    DOMAIN_KEYS,
    GOLD_LABELS,
    Level,
    MCItem,
    OptionItem,
    PromptRecord,
    category_by_name,
)


def short_hash(*parts: str, n: int = 12) -> str:
    """A stable short id from text parts (sha1 of the parts joined by NUL)."""
    return hashlib.sha1("\0".join(parts).encode("utf-8")).hexdigest()[:n]


class UniqueIds:
    """Raises a DataError on the second occurrence of an id within one suite."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Path | str, int | None]] = {}

    def check(self, record_id: str, path: Path | str, line: int | None, field: str | None = "id") -> None:
        if record_id in self._seen:
            first_path, first_line = self._seen[record_id]
            raise DataError(
                f"duplicate id {record_id!r} (first at {first_path}:{first_line})",
                path=path,
                line=line,
                field=field,
            )
        self._seen[record_id] = (path, line)


def mc_pair(
    *,
    pair_id: str,
    question: str,
    good: str,
    bad: str,
    level: Level,
    category: str,
    difficulty: str | None,
    source: str,
    meta: Mapping[str, Any] | None = None,
) -> tuple[MCItem, MCItem]:
    """Both orders of one (good, bad) reply pair: ids ``<pair_id>-1`` (good first) and ``-2``."""
    common = dict(
        question=question,
        level=level,
        category=category,
        difficulty=difficulty,
        pair_id=pair_id,
        source=source,
        meta=dict(meta or {}),
    )
    return (
        MCItem(id=f"{pair_id}-1", reply1=good, reply2=bad, gold="回复1", **common),
        MCItem(id=f"{pair_id}-2", reply1=bad, reply2=good, gold="回复2", **common),
    )


# --- CValues official files -------------------------------------------------------------------------------


def responsibility_prompts(path: Path, source: str) -> Iterator[PromptRecord]:
    """``dataset/cvalues_responsibility_prompts.jsonl``: ``id_, prompt, domain_en, domain_zh``."""
    ids = UniqueIds()
    for line, row in iter_jsonl(path):
        raw_id = get_text(row, "id_", path, line)
        record_id = f"rp-{raw_id}"
        ids.check(record_id, path, line, "id_")
        domain = get_text(row, "domain_en", path, line)
        if domain not in DOMAIN_KEYS:
            raise DataError(
                f"unknown domain {domain!r} (known: {', '.join(sorted(DOMAIN_KEYS))})",
                path=path,
                line=line,
                field="domain_en",
            )
        yield PromptRecord(
            id=record_id,
            text=get_text(row, "prompt", path, line),
            level="responsibility",
            category=domain,
            source=source,
            meta={"domain_zh": get_text(row, "domain_zh", path, line), "id_": row["id_"]},
        )


@dataclass(frozen=True, slots=True)
class OfficialLine:
    """The fields of one line in the official multi-choice form (``prompt``, ``label``, ``meta_info``)."""

    prompt: str
    label: str
    meta: dict[str, Any]
    question: str
    good: str
    bad: str


def meta_text(meta: Mapping[str, Any], key: str, path: Path, line: int, *, required: bool = True) -> str:
    """:func:`get_text` of ``meta_info[key]``, errors naming the field ``meta_info.<key>``."""
    try:
        return get_text(meta, key, path, line, required=required)
    except DataError as exc:
        raise DataError(exc.message, path=path, line=line, field=f"meta_info.{key}") from None


def read_official_line(row: Mapping[str, Any], path: Path, line: int) -> OfficialLine:
    """Validate the fields every official-form line has; the ``prompt`` is kept exactly as written."""
    prompt = get_text(row, "prompt", path, line, strip=False)  # shown to the model as written
    label = get_text(row, "label", path, line)
    if label not in GOLD_LABELS:
        message = f"unknown label {label!r} (expected 回复1 or 回复2)"
        raise DataError(message, path=path, line=line, field="label")
    meta = row.get("meta_info")
    if not isinstance(meta, dict):
        raise DataError("missing value (expected an object)", path=path, line=line, field="meta_info")
    return OfficialLine(
        prompt=prompt,
        label=label,
        meta=meta,
        question=meta_text(meta, "question", path, line),
        good=meta_text(meta, "pos_resp", path, line),
        bad=meta_text(meta, "neg_resp", path, line),
    )


def responsibility_mc(path: Path, source: str) -> Iterator[MCItem]:
    """``dataset/cvalues_responsibility_mc.jsonl`` (format in docs/data.md): one item per line.

    Ids are ``rmc-<line>`` (the file is pinned, so lines are stable); both orders of a pair share
    ``pair_id`` = hash of (question, pos_resp, neg_resp).
    """
    for line, row in iter_jsonl(path):
        official = read_official_line(row, path, line)
        label, meta = official.label, official.meta
        question, pos, neg = official.question, official.good, official.bad
        difficulty = meta_text(meta, "difficulty_level", path, line)
        if difficulty not in ("easy", "hard"):
            raise DataError(
                f"unknown difficulty {difficulty!r} (expected easy or hard)",
                path=path,
                line=line,
                field="meta_info.difficulty_level",
            )
        domain = meta_text(meta, "domain_en", path, line)
        if domain not in DOMAIN_KEYS:
            raise DataError(f"unknown domain {domain!r}", path=path, line=line, field="meta_info.domain_en")
        good_first = label == "回复1"
        yield MCItem(
            id=f"rmc-{line:04d}",
            question=question,
            reply1=pos if good_first else neg,
            reply2=neg if good_first else pos,
            gold=label,
            level="responsibility",
            category=domain,
            difficulty=difficulty,
            pair_id=f"rmc-{short_hash(question, pos, neg)}",
            source=source,
            prompt=official.prompt,
            meta={"domain_zh": meta.get("domain_zh"), "line": line},
        )


# --- open safety substitute --------------------------------------------------------------------------------


def substitute_meta(family: str, label: str, text: str) -> dict[str, Any]:
    """Meta every substitute safety prompt carries: its family, whether it is adversarial and why
    (:mod:`cvalues.data.adversarial`), and the judge note of its task form where there is one."""
    tag = tag_prompt(family, label, text)
    meta: dict[str, Any] = {
        "family": family,
        "source_category": label,
        "adversarial": tag.adversarial,
        "adversarial_rule": tag.rule,
    }
    note = judge_note(family, label)
    if note:
        meta["judge_note"] = note
    return meta


def xsafety_prompts(path: Path, source: str, scenario_file: str) -> Iterator[PromptRecord]:
    """One XSafety zh scenario file: one column, no header, UTF-8 with BOM."""
    scenario = scenario_for("xsafety", scenario_file)
    if scenario is None:
        raise DataError(f"XSafety scenario {scenario_file!r} is not in the scenario map", path=path)
    for line, row in iter_csv_rows(path):
        if len(row) != 1:
            raise DataError(f"expected 1 field, found {len(row)}", path=path, line=line)
        text = get_text({"text": row[0]}, "text", path, line)
        yield PromptRecord(
            id=f"xsafety-{scenario_file}-{line}",
            text=text,
            level="safety",
            category=scenario,
            source=source,
            meta=substitute_meta("xsafety", scenario_file, text),
        )


def jade_prompts(path: Path, source: str, prefix: str) -> Iterator[PromptRecord]:
    """JADE-DB v1/v2 benchmark files: ``ID,问题,违规类型,违规子类``."""
    ids = UniqueIds()
    for line, row in iter_csv_dicts(path):
        record_id = f"{prefix}-{get_text(row, 'ID', path, line)}"
        ids.check(record_id, path, line, "ID")
        _, sub = normalise_jade_label(
            get_text(row, "违规类型", path, line), get_text(row, "违规子类", path, line)
        )
        text = get_text(row, "问题", path, line)
        scenario = scenario_for("jade", sub, text)
        if scenario is None:
            raise DataError(
                f"unknown label {row['违规子类'].strip()!r} (read as {sub!r}; not in the scenario map)",
                path=path,
                line=line,
                field="违规子类",
            )
        yield PromptRecord(
            id=record_id,
            text=text,
            level="safety",
            category=scenario,
            source=source,
            meta={
                **substitute_meta("jade", sub, text),
                "jade_type": row["违规类型"].strip(),
                "jade_subtype": row["违规子类"].strip(),
            },
        )


def flames_prompts(path: Path, source: str) -> Iterator[PromptRecord]:
    """``Flames_1k_Chinese.jsonl``: ``dimension, subcomponent, prompt``."""
    for line, row in iter_jsonl(path):
        label = f"{get_text(row, 'dimension', path, line)}/{get_text(row, 'subcomponent', path, line)}"
        scenario = scenario_for("flames", label)
        if scenario is None:
            raise DataError(
                f"unknown label {label!r} (not in the scenario map)",
                path=path,
                line=line,
                field="subcomponent",
            )
        text = get_text(row, "prompt", path, line)
        yield PromptRecord(
            id=f"flames-{line}",
            text=text,
            level="safety",
            category=scenario,
            source=source,
            meta=substitute_meta("flames", label, text),
        )


def jailbench_prompts(path: Path, source: str) -> Iterator[PromptRecord]:
    """``JailBench.csv``: an unnamed index column, ``query, 一级领域, 二级领域``.

    Every row wraps one seed question in one of :data:`JAILBENCH_TEMPLATES` jailbreak templates; the file
    holds them seed by seed, in blocks of that many rows (checked: one harm domain per block, one template
    opening per position). Each record keeps its seed's text (``seed``, the part of the row not shared by
    the other rows of its template), its harm domain (``harm_domain``) and ``sample_group`` so that a
    sample takes at most one template per seed.
    """
    ids = UniqueIds()
    scenario = scenario_for("jailbench", "*")
    assert scenario is not None
    rows: list[tuple[int, str, str, str]] = []
    for line, row in iter_csv_dicts(path):
        record_id = f"jailbench-{get_text(row, '', path, line)}"
        ids.check(record_id, path, line, "(index)")
        domain = f"{row.get('一级领域', '').strip()}/{row.get('二级领域', '').strip()}"
        rows.append((line, record_id, get_text(row, "query", path, line), domain))
    seeds = _jailbench_seeds([text for _, _, text, _ in rows], path)
    for index, (_, record_id, text, domain) in enumerate(rows):
        seed = seeds[index]
        yield PromptRecord(
            id=record_id,
            text=text,
            level="safety",
            category=scenario,
            source=source,
            meta={
                **substitute_meta("jailbench", domain, text),
                "harm_domain": domain,
                "seed": seed,
                "template": index % JAILBENCH_TEMPLATES,
                "sample_group": "jailbench-seed:" + normalise_text(seed),
            },
        )


#: Jailbreak templates per seed question in JailBench.csv.
JAILBENCH_TEMPLATES = 20


def _jailbench_seeds(texts: list[str], path: Path) -> list[str]:
    """Each row's seed question: the row without the prefix and suffix shared by its template's rows."""
    if len(texts) % JAILBENCH_TEMPLATES:
        raise DataError(
            f"expected blocks of {JAILBENCH_TEMPLATES} templated rows, found {len(texts)} rows", path=path
        )
    seeds = [""] * len(texts)
    for position in range(JAILBENCH_TEMPLATES):
        members = list(range(position, len(texts), JAILBENCH_TEMPLATES))
        group = [texts[i] for i in members]
        # Strings, not paths: commonprefix compares character by character, which is what is wanted.
        prefix = os.path.commonprefix(group) if len(group) > 1 else ""  # noqa: RUF071
        suffix = os.path.commonprefix([t[::-1] for t in group])[::-1] if len(group) > 1 else ""  # noqa: RUF071
        for i in members:
            core = texts[i][len(prefix) : len(texts[i]) - len(suffix)].strip()
            seeds[i] = core or texts[i]
    return seeds


def jade_triples(
    path: Path, source: str, difficulty: str, scenario_of: Mapping[str, str]
) -> Iterator[MCItem]:
    """JADE-DB v3 ``ID,问题,违规回答,安全有用回答`` (GB18030): each triple in both orders."""
    ids = UniqueIds()
    for line, row in iter_csv_dicts(path):
        pair_id = f"jade3-{difficulty}-{get_text(row, 'ID', path, line)}"
        ids.check(pair_id, path, line, "ID")
        question = get_text(row, "问题", path, line)
        scenario = scenario_of.get(normalise_text(question), "others")
        yield from mc_pair(
            pair_id=pair_id,
            question=question,
            good=get_text(row, "安全有用回答", path, line),
            bad=get_text(row, "违规回答", path, line),
            level="safety",
            category=scenario,
            difficulty=difficulty,
            source=source,
            meta={"line": line, "matched": normalise_text(question) in scenario_of},
        )


def question_scenarios(records: Iterable[PromptRecord]) -> dict[str, str]:
    """Normalised question text -> scenario, first occurrence winning."""
    table: dict[str, str] = {}
    for record in records:
        table.setdefault(normalise_text(record.text), record.category)
    return table


# --- SafetyBench -------------------------------------------------------------------------------------------

#: SafetyBench's 7 categories and the keys used as OptionItem.category.
SAFETYBENCH_CATEGORIES: dict[str, str] = {
    "Offensiveness": "offensiveness",
    "Unfairness and Bias": "unfairness_and_bias",
    "Physical Health": "physical_health",
    "Mental Health": "mental_health",
    "Illegal Activities": "illegal_activities",
    "Ethics and Morality": "ethics_and_morality",
    "Privacy and Property": "privacy_and_property",
}


def safetybench(questions: Path, answers: Path, source: str) -> Iterator[OptionItem]:
    """SafetyBench zh subset: question array (``id, question, options, category``) + answers object."""
    answer_table = read_json(answers)
    if not isinstance(answer_table, dict):
        raise DataError("expected a JSON object mapping id -> {category, answer}", path=answers)
    ids = UniqueIds()
    for line, row in iter_json_array(questions):
        if not isinstance(row, dict):
            raise DataError("expected a JSON object", path=questions, line=line)
        raw_id = get_text(row, "id", questions, line)
        record_id = f"safetybench-zh-{raw_id}"
        ids.check(record_id, questions, line)
        category = get_text(row, "category", questions, line)
        if category not in SAFETYBENCH_CATEGORIES:
            raise DataError(f"unknown category {category!r}", path=questions, line=line, field="category")
        options = row.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= 4:
            raise DataError("expected a list of 2 to 4 options", path=questions, line=line, field="options")
        opts = tuple(get_text({"o": o}, "o", questions, line) for o in options)
        entry = answer_table.get(raw_id)
        if not isinstance(entry, dict) or "answer" not in entry:
            raise DataError(f"no answer for id {raw_id}", path=answers, field=raw_id)
        answer = entry["answer"]
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(opts):
            raise DataError(
                f"answer {answer!r} is not an index of the {len(opts)} options",
                path=answers,
                field=f"{raw_id}.answer",
            )
        yield OptionItem(
            id=record_id,
            question=get_text(row, "question", questions, line),
            options=opts,
            answer=answer,
            level="safety",
            category=SAFETYBENCH_CATEGORIES[category],
            source=source,
            meta={"source_category": category},
        )


# --- ModelScope sets (user-supplied) -----------------------------------------------------------------------

#: CValues-Comparison reply types, best first.
COMPARISON_TYPES: tuple[str, ...] = ("拒绝&正向建议", "拒绝为主", "风险回复")
#: Pair types of CValues-Comparison: key -> (pos_type, neg_type).
COMPARISON_PAIR_TYPES: dict[str, tuple[str, str]] = {
    "refuse_vs_risky": ("拒绝为主", "风险回复"),
    "advise_vs_risky": ("拒绝&正向建议", "风险回复"),
    "advise_vs_refuse": ("拒绝&正向建议", "拒绝为主"),
}
_PAIR_KEY = {v: k for k, v in COMPARISON_PAIR_TYPES.items()}
_COMPARISON_TYPE_BY_KEY = {normalise_text(name): name for name in COMPARISON_TYPES}


def comparison_pair_type(name: str) -> str | None:
    """Accept a pair-type key, ``pos_type-neg_type``/``pos_type vs neg_type`` text, or ``all`` (None)."""
    wanted = "".join(name.split()).casefold()
    if wanted in ("", "all"):
        return None
    for key, (pos, neg) in COMPARISON_PAIR_TYPES.items():
        if wanted in (key, f"{pos}-{neg}".casefold(), f"{pos}vs{neg}".casefold(), f"{pos}>{neg}".casefold()):
            return key
    raise DataError(f"unknown pair type {name!r}; choose all or one of {', '.join(COMPARISON_PAIR_TYPES)}")


def cvalues_comparison(path: Path, source: str, pair_type: str | None = None) -> Iterator[MCItem]:
    """CValues-Comparison (``prompt, pos_resp, neg_resp, pos_type, neg_type``), streamed: JSON Lines as
    ModelScope ships it, a JSON array, or the Hugging Face copy's Parquet (:func:`iter_records`).

    Each line becomes two items (both orders), ids ``cvc-<line>-1|2``; ``difficulty`` is the pair type
    key; level ``safety``, category ``others`` (the set carries no scenario). Reply types are compared
    after NFKC and without whitespace (``拒绝＆正向建议`` typed with a full-width ampersand is the same).
    """
    for line, row in iter_records(path):
        types = []
        for key in ("pos_type", "neg_type"):
            value = get_text(row, key, path, line)
            value = _COMPARISON_TYPE_BY_KEY.get(normalise_text(value), value)
            if value not in COMPARISON_TYPES:
                raise DataError(
                    f"unknown label {value!r} (expected one of {', '.join(COMPARISON_TYPES)})",
                    path=path,
                    line=line,
                    field=key,
                )
            types.append(value)
        key = _PAIR_KEY.get((types[0], types[1]))
        if key is None:
            raise DataError(
                f"pos_type {types[0]!r} does not rank above neg_type {types[1]!r}",
                path=path,
                line=line,
                field="pos_type",
            )
        if pair_type is not None and key != pair_type:
            continue
        yield from mc_pair(
            pair_id=f"cvc-{line}",
            question=get_text(row, "prompt", path, line),
            good=get_text(row, "pos_resp", path, line),
            bad=get_text(row, "neg_resp", path, line),
            level="safety",
            category="others",
            difficulty=key,
            source=source,
            meta={"pos_type": types[0], "neg_type": types[1]},
        )


_DOMAIN_FIELDS = ("domain_en", "domain_zh", "domain", "category", "field", "领域", "类别")


def poison_mpts(path: Path, source: str) -> Iterator[PromptRecord]:
    """100PoisonMpts ``train.jsonl``: ``prompt`` and ``answer`` plus other fields kept in ``meta``
    (also a JSON array, e.g. saved as ``train.json``, or Parquet: :func:`iter_records`).

    The category is the responsibility domain named by the first of ``domain_en, domain_zh, domain,
    category, field, 领域, 类别`` that maps onto the 8 domains; otherwise ``others``.
    """
    ids = UniqueIds()
    for line, row in iter_records(path):
        text = get_text(row, "prompt", path, line)
        raw_id = row.get("id", row.get("id_"))
        record_id = f"poison-{raw_id}" if raw_id not in (None, "") else f"poison-{line}"
        ids.check(record_id, path, line)
        category = "others"
        for key in _DOMAIN_FIELDS:
            value = row.get(key)
            if isinstance(value, str) and value.strip():
                found = category_by_name(value, "responsibility")
                if found is not None:
                    category = found.key
                    break
        meta = {k: v for k, v in row.items() if k != "prompt"}
        meta.setdefault("answer", get_text(row, "answer", path, line, required=False))
        yield PromptRecord(
            id=record_id, text=text, level="responsibility", category=category, source=source, meta=meta
        )


# --- bring your own ----------------------------------------------------------------------------------------

TEXT_FIELDS = ("text", "prompt", "question", "query", "问题", "内容")
#: Category columns, first present wins; ``domain_en``/``domain_zh`` as in the official prompt files.
CATEGORY_FIELDS = ("scenario", "category", "domain", "domain_en", "domain_zh", "场景", "类别", "领域")
ID_FIELDS = ("id", "id_", "ID")


def _default_column(columns: Iterable[str], choices: tuple[str, ...]) -> str | None:
    cols = list(columns)
    for choice in choices:
        if choice in cols:
            return choice
    return None


def user_prompts(
    path: Path,
    *,
    fields: Mapping[str, str] | None = None,
    level: Level = "safety",
    require_category: bool = False,
    source: str | None = None,
    fmt: str | None = None,
) -> Iterator[PromptRecord]:
    """Prompts from a user's JSONL, JSON (array) or CSV file.

    ``fields`` maps record keys to columns: ``text`` (required), ``id``, ``category`` (validated against the
    10 scenarios or 8 domains by key, English or Chinese name), any other key is copied into ``meta``.
    Unmapped, ``text`` defaults to the first present of text/prompt/question/query/问题/内容, ``category``
    to the first of :data:`CATEGORY_FIELDS` and ``id`` to id/id_/ID; ids default to ``<file stem>-<line>``.
    """
    path = Path(path)
    source = source or str(path)
    fields = dict(fields or {})
    unknown = set(fields) - {"text", "id", "category", "scenario"}
    meta_fields = {k: fields.pop(k) for k in unknown}
    if "scenario" in fields:
        fields.setdefault("category", fields.pop("scenario"))
    ids = UniqueIds()
    resolved: dict[str, str | None] | None = None
    for line, row in iter_table(path, fmt):
        if resolved is None:
            resolved = {
                "text": fields.get("text") or _default_column(row.keys(), TEXT_FIELDS),
                "category": fields.get("category") or _default_column(row.keys(), CATEGORY_FIELDS),
                "id": fields.get("id") or _default_column(row.keys(), ID_FIELDS),
            }
            if resolved["text"] is None:
                raise DataError(
                    f"no text column: map one with --field text=COLUMN (columns: {', '.join(row.keys())})",
                    path=path,
                    line=line,
                    field="text",
                )
            if require_category and resolved["category"] is None:
                raise DataError(
                    "no scenario column: map one with --field category=COLUMN",
                    path=path,
                    line=line,
                    field="scenario",
                )
        text = get_text(row, resolved["text"], path, line)  # type: ignore[arg-type]
        record_id = f"{path.stem}-{line}"
        if resolved["id"] is not None:
            record_id = get_text(row, resolved["id"], path, line)
        ids.check(record_id, path, line, resolved["id"] or "id")
        category = "others"
        column = resolved["category"]
        if column is not None and "category" not in fields and row.get(column) in (None, ""):
            # unmapped: a row without the first row's column may name its category in another default
            column = (
                _default_column([k for k, v in row.items() if v not in (None, "")], CATEGORY_FIELDS) or column
            )
        if column is not None:
            value = get_text(row, column, path, line, required=require_category)
            if value:
                found = category_by_name(value, level)
                if found is None:
                    what = "scenario" if level == "safety" else "domain"
                    raise DataError(
                        f"unknown {what} {value!r} (use a key, English or Chinese name; "
                        f"see `cvalues data show`)",
                        path=path,
                        line=line,
                        field=column,
                    )
                category = found.key
        meta = {key: row.get(col) for key, col in meta_fields.items()}
        yield PromptRecord(id=record_id, text=text, level=level, category=category, source=source, meta=meta)
