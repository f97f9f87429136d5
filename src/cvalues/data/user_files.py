"""Bring your own: which form a user's file takes, and the loaders of its multi-choice forms.

A user file (JSONL, JSON array or CSV) holds one of three forms, chosen by :func:`detect_layout` from
the ``--kind`` asked for, the ``--field`` mapping and the first row (a CSV's header):

* ``prompt``: one open prompt a row (:func:`cvalues.data.loaders.user_prompts`);
* ``mc-triples``: a question, a good reply and a bad reply a row; each row becomes two
  :class:`~cvalues.data.schema.MCItem` (both orders) sharing ``pair_id``, like ``safety-mc``;
* ``mc-official``: the official responsibility multi-choice line form (``prompt``, ``label``,
  ``meta_info``), one item a row, the prompt kept as given; no pin is checked (a lab's own file);
* ``records``: a file written by ``cvalues data export`` (each line a record's ``to_dict()`` with its
  ``kind`` and ``level``), read back as the same records.

A file without a single record is an error naming it, raised here, before any run directory is made.

The form is decided once, before any record is read, so a suite's kind is known when it is loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cvalues.data.errors import DataError
from cvalues.data.loaders import (
    CATEGORY_FIELDS,
    ID_FIELDS,
    TEXT_FIELDS,
    UniqueIds,
    mc_pair,
    meta_text,
    read_official_line,
    short_hash,
    user_prompts,
)
from cvalues.data.readers import get_text, iter_table, no_records_error, normalise_text
from cvalues.data.schema import (
    GOLD_LABELS,
    LEVELS,
    Level,
    MCItem,
    OptionItem,
    PromptRecord,
    Record,
    category_by_name,
)

Form = Literal["prompt", "mc-triples", "mc-official", "records"]
FORMS: tuple[str, ...] = ("prompt", "mc-triples", "mc-official", "records")
#: What ``kind=`` (``--kind``) accepts: ``auto`` detects the form from the mapping and the first row.
KINDS: tuple[str, ...] = ("auto", "prompt", "mc")

FORM_DESCRIPTIONS: dict[str, str] = {
    "prompt": "one prompt a row",
    "mc-triples": "multi-choice triples: a question, a good and a bad reply a row, asked in both orders",
    "mc-official": "official multi-choice lines with prompt, label and meta_info: one item a row",
    "records": "records written by `cvalues data export` (kind, level, category ...), read back as they are",
}
#: The record types of the ``records`` form, by their ``kind``; a row must carry every field without a
#: default (the dataclass is the one place that says which).
RECORD_TYPES: dict[str, type[PromptRecord] | type[MCItem] | type[OptionItem]] = {
    "prompt": PromptRecord,
    "mc": MCItem,
    "option": OptionItem,
}

#: Default columns of the triple form, first present wins (``--field KEY=COLUMN`` overrides).
TRIPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "question": ("question", "问题", "prompt", "query", "text", "题目", "内容"),
    "good": (
        "good",
        "good_reply",
        "good_response",
        "pos_resp",
        "safe_response",
        "safe_reply",
        "responsible_response",
        "chosen",
        "安全回答",
        "安全有用回答",
        "好回复",
        "正确回复",
    ),
    "bad": (
        "bad",
        "bad_reply",
        "bad_response",
        "neg_resp",
        "unsafe_response",
        "unsafe_reply",
        "irresponsible_response",
        "rejected",
        "违规回答",
        "不安全回答",
        "坏回复",
        "错误回复",
    ),
    "category": CATEGORY_FIELDS,
    "difficulty": ("difficulty", "difficulty_level", "难度"),
    "id": (*ID_FIELDS, "编号"),
}
#: Keys a row may leave out; unmapped and absent from the first row, they are looked up in each row.
OPTIONAL_TRIPLE_KEYS: tuple[str, ...] = ("category", "difficulty", "id")
#: Other names accepted for the keys of a triple mapping (``--field text=问题`` means the question).
TRIPLE_KEY_ALIASES: dict[str, str] = {"text": "question", "scenario": "category", "domain": "category"}
#: Keys of the official line form, and where its category may sit in ``meta_info``.
OFFICIAL_KEYS: tuple[str, ...] = ("prompt", "label", "meta_info")
OFFICIAL_CATEGORY_KEYS: tuple[str, ...] = ("domain_en", "scenario", "category", "domain", "domain_zh")
_RESPONSIBILITY_HINTS = ("domain_en", "domain_zh", "domain")


@dataclass(frozen=True)
class UserFileLayout:
    """How a user file is read: its form, level and (triples, prompts) record key -> column.

    ``columns`` maps each record key to the column it is read from (None: absent); ``meta_columns``
    are further ``--field`` keys copied into ``MCItem.meta``; ``line`` is where the first row was read.
    """

    form: Form
    level: Level
    columns: dict[str, str | None] = field(default_factory=dict)
    meta_columns: dict[str, str] = field(default_factory=dict)
    line: int | None = None
    #: The ``records`` form: the kind of its records (``prompt``, ``mc`` or ``option``).
    record_kind: str | None = None

    @property
    def kind(self) -> Literal["prompt", "mc", "option"]:
        """The suite kind this form yields."""
        if self.form == "records":
            return self.record_kind  # type: ignore[return-value]
        return "prompt" if self.form == "prompt" else "mc"

    def describe(self) -> dict[str, Any]:
        """JSON-able form, description and column mapping (for ``data show`` and manifests)."""
        out: dict[str, Any] = {"form": self.form, "form_description": FORM_DESCRIPTIONS[self.form]}
        if self.columns:
            out["columns"] = dict(self.columns)
        if self.meta_columns:
            out["meta_columns"] = dict(self.meta_columns)
        return out


def _first(columns: list[str], choices: tuple[str, ...]) -> str | None:
    for choice in choices:
        if choice in columns:
            return choice
    return None


def _first_row(path: Path, fmt: str | None) -> tuple[int, Mapping[str, Any]] | None:
    rows = iter_table(path, fmt)
    try:
        return next(rows, None)
    finally:
        rows.close()


def _triple_mapping(fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split a ``--field`` mapping into triple keys (aliases folded) and meta keys."""
    mapped: dict[str, str] = {}
    meta: dict[str, str] = {}
    for key, column in fields.items():
        canonical = TRIPLE_KEY_ALIASES.get(key, key)
        if canonical in TRIPLE_COLUMNS:
            if canonical in mapped and mapped[canonical] != column:
                raise DataError(
                    f"--field {key}={column} and --field {canonical}={mapped[canonical]} name the same key"
                )
            mapped[canonical] = column
        else:
            meta[key] = column
    return mapped, meta


def _required_fields(kind: str) -> list[str]:
    """The fields a record of ``kind`` cannot do without (those with no default)."""
    missing = dataclasses.MISSING
    fields = dataclasses.fields(RECORD_TYPES[kind])
    return [f.name for f in fields if f.default is missing and f.default_factory is missing]


def _record_kind(row: Mapping[str, Any]) -> str | None:
    """The ``kind`` of an exported record row (every field of its type present), else None."""
    kind = row.get("kind")
    if isinstance(kind, str) and kind in RECORD_TYPES and all(k in row for k in _required_fields(kind)):
        return kind
    return None


def _is_official_row(row: Mapping[str, Any]) -> bool:
    return all(k in row for k in OFFICIAL_KEYS) and isinstance(row.get("meta_info"), dict)


def detect_layout(
    path: Path,
    *,
    kind: str | None = "auto",
    fields: Mapping[str, str] | None = None,
    level: str | None = None,
    fmt: str | None = None,
) -> UserFileLayout:
    """Decide how to read user file ``path`` from ``kind``, the mapping and the first row.

    ``kind`` ``prompt`` always reads prompts; ``mc`` requires one of the multi-choice forms; ``auto``
    (or None) picks: triples when the mapping names a ``good`` or ``bad`` column, else the official
    line form when the first row has ``prompt``, ``label`` and an object ``meta_info``, else triples
    when the columns include a default good-reply and a default bad-reply column, else prompts.
    ``level`` defaults to safety, except for the official line form whose first ``meta_info`` names a
    ``domain_en``/``domain_zh``/``domain`` (responsibility, like the official file).
    """
    path = Path(path)
    kind = kind or "auto"
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; choose {', '.join(KINDS)}", path=path)
    if level is not None and level not in LEVELS:
        raise DataError(f"unknown level {level!r}; choose safety or responsibility", path=path)
    fields = dict(fields or {})
    first = _first_row(path, fmt)
    if first is None:
        raise no_records_error(path)
    if kind == "prompt":
        return _prompt_layout(path, fields, level, fmt, first)
    record_kind = _record_kind(first[1])
    if record_kind is not None and not (kind == "mc" and record_kind != "mc"):
        if fields:
            raise DataError(
                f"--field {', '.join(sorted(fields))} does not apply to records written by `cvalues data "
                "export`, whose keys are fixed",
                path=path,
            )
        row_level = get_text(first[1], "level", path, first[0])
        if row_level not in LEVELS:
            raise DataError(f"unknown level {row_level!r}", path=path, line=first[0], field="level")
        if level is not None and level != row_level:
            raise DataError(
                f"--level {level} does not apply: these records carry their own level ({row_level})",
                path=path,
                line=first[0],
                field="level",
            )
        return UserFileLayout("records", row_level, line=first[0], record_kind=record_kind)  # type: ignore[arg-type]
    mapped, meta = _triple_mapping(fields)
    columns = list(first[1].keys())
    line = first[0]
    if "good" in mapped or "bad" in mapped:
        return _triple_layout(path, mapped, meta, columns, line, level)
    if first is not None and _is_official_row(first[1]):
        if fields:
            raise DataError(
                f"--field {', '.join(sorted(fields))} does not apply to the official line form "
                "(prompt, label, meta_info), whose keys are fixed",
                path=path,
            )
        meta_info = first[1]["meta_info"]
        guessed: Level = "responsibility" if any(k in meta_info for k in _RESPONSIBILITY_HINTS) else "safety"
        return UserFileLayout("mc-official", level or guessed, line=line)  # type: ignore[arg-type]
    if _first(columns, TRIPLE_COLUMNS["good"]) and _first(columns, TRIPLE_COLUMNS["bad"]):
        return _triple_layout(path, mapped, meta, columns, line, level)
    if kind == "mc":
        if first is None:
            raise DataError("no rows to read a multi-choice item from", path=path)
        raise DataError(
            "not a multi-choice file: no good and bad reply columns (map them with --field good=COLUMN "
            "--field bad=COLUMN) and no prompt/label/meta_info keys "
            f"(columns: {', '.join(columns)})",
            path=path,
            line=line,
            field="good",
        )
    return _prompt_layout(path, fields, level, fmt, first)


def _prompt_layout(
    path: Path,
    fields: Mapping[str, str],
    level: str | None,
    fmt: str | None,
    first: tuple[int, Mapping[str, Any]] | None = None,
) -> UserFileLayout:
    """The prompt form; its columns as :func:`cvalues.data.loaders.user_prompts` will pick them.

    Without ``level``, a first category that names a responsibility domain and no safety scenario
    (``domain_en: law``, ``domain_zh: 法理学``, as in the official prompt files) makes the file's level
    responsibility; otherwise it is safety."""
    if first is None:
        first = _first_row(path, fmt)
    columns = list(first[1].keys()) if first else []
    category = fields.get("category") or fields.get("scenario") or _first(columns, CATEGORY_FIELDS)
    shown: dict[str, str | None] = {
        "text": fields.get("text") or _first(columns, TEXT_FIELDS),
        "category": category,
        "id": fields.get("id") or _first(columns, ID_FIELDS),
    }
    if level is None and first is not None and category is not None:
        value = first[1].get(category)
        if isinstance(value, str) and value.strip():
            if category_by_name(value, "safety") is None and category_by_name(value, "responsibility"):
                level = "responsibility"
    return UserFileLayout("prompt", level or "safety", shown, line=first[0] if first else None)  # type: ignore[arg-type]


def _triple_layout(
    path: Path,
    mapped: dict[str, str],
    meta: dict[str, str],
    columns: list[str],
    line: int | None,
    level: str | None,
) -> UserFileLayout:
    resolved: dict[str, str | None] = {
        key: mapped.get(key) or _first(columns, defaults) for key, defaults in TRIPLE_COLUMNS.items()
    }
    for key, what in (("question", "question"), ("good", "good-reply"), ("bad", "bad-reply")):
        if resolved[key] is None:
            raise DataError(
                f"no {what} column: map one with --field {key}=COLUMN (columns: {', '.join(columns)})",
                path=path,
                line=line,
                field=key,
            )
    for key in ("question", "good", "bad"):
        if key in mapped and columns and mapped[key] not in columns:
            raise DataError(
                f"column {mapped[key]!r} (--field {key}={mapped[key]}) is not in the file "
                f"(columns: {', '.join(columns)})",
                path=path,
                line=line,
                field=key,
            )
    if resolved["good"] == resolved["bad"]:
        raise DataError(
            f"good and bad replies both read from column {resolved['good']!r}",
            path=path,
            line=line,
            field="bad",
        )
    return UserFileLayout("mc-triples", level or "safety", resolved, meta, line)  # type: ignore[arg-type]


def _category(value: str, level: Level, path: Path, line: int, field_name: str) -> str:
    found = category_by_name(value, level)
    if found is None:
        what = "scenario" if level == "safety" else "domain"
        raise DataError(
            f"unknown {what} {value!r} (use a key, English or Chinese name; see docs/data.md, "
            "or --level to choose safety scenarios or responsibility domains)",
            path=path,
            line=line,
            field=field_name,
        )
    return found.key


def _distinct(good: str, bad: str, path: Path, line: int, field_name: str) -> None:
    if normalise_text(good) == normalise_text(bad):
        raise DataError(
            "good and bad replies are identical (after folding full-width forms and whitespace)",
            path=path,
            line=line,
            field=field_name,
        )


def user_mc_triples(
    path: Path, layout: UserFileLayout, *, source: str | None = None, fmt: str | None = None
) -> Iterator[MCItem]:
    """Items of a triple-form file: each row in both orders, ids ``<id>-1`` (good first) and ``-2``.

    The pair id is the row's id column, else ``<file stem>-<line>``; ``category`` (optional, else
    ``others``) is validated against the layout's level; ``difficulty`` is kept as written (optional).
    An optional key neither mapped nor in the first row is read from the first default column a row has.
    """
    path = Path(path)
    source = source or str(path)
    ids = UniqueIds()
    for line, row in iter_table(path, fmt):
        cols = dict(layout.columns)
        for key in OPTIONAL_TRIPLE_KEYS:  # a JSON row may carry a key the first row left out
            if cols[key] is None:
                cols[key] = _first(list(row.keys()), TRIPLE_COLUMNS[key])
        question = get_text(row, cols["question"], path, line)  # type: ignore[arg-type]
        good = get_text(row, cols["good"], path, line)  # type: ignore[arg-type]
        bad = get_text(row, cols["bad"], path, line)  # type: ignore[arg-type]
        _distinct(good, bad, path, line, cols["bad"])  # type: ignore[arg-type]
        pair_id = f"{path.stem}-{line}"
        if cols["id"] is not None:
            pair_id = get_text(row, cols["id"], path, line)
        ids.check(pair_id, path, line, cols["id"] or "id")
        category = "others"
        if cols["category"] is not None:
            value = get_text(row, cols["category"], path, line, required=False)
            if value:
                category = _category(value, layout.level, path, line, cols["category"])
        difficulty = None
        if cols["difficulty"] is not None:
            difficulty = get_text(row, cols["difficulty"], path, line, required=False) or None
        meta = {key: row.get(col) for key, col in layout.meta_columns.items()}
        yield from mc_pair(
            pair_id=pair_id,
            question=question,
            good=good,
            bad=bad,
            level=layout.level,
            category=category,
            difficulty=difficulty,
            source=source,
            meta={**meta, "line": line},
        )


def _check_prompt_order(prompt: str, good: str, bad: str, gold: str, path: Path, line: int) -> None:
    """When each reply appears verbatim exactly once in the prompt, the label must name the good one's
    position (a short reply such as 好 that also occurs in the instructions proves nothing)."""
    if good in bad or bad in good or prompt.count(good) != 1 or prompt.count(bad) != 1:
        return
    at_good, at_bad = prompt.find(good), prompt.find(bad)
    shown = "回复1" if at_good < at_bad else "回复2"
    if shown != gold:
        raise DataError(
            f"label {gold} disagrees with the prompt, which shows meta_info.pos_resp as {shown}",
            path=path,
            line=line,
            field="label",
        )


def user_mc_official(
    path: Path, layout: UserFileLayout, *, source: str | None = None, fmt: str | None = None
) -> Iterator[MCItem]:
    """Items of a file in the official line form, one a row, the ``prompt`` kept as given.

    ``pair_id`` is ``<file stem>-<hash of question, pos_resp, neg_resp>`` (the same for both orders);
    an item's id is its row's ``id`` if it has one, else ``<pair_id>-1`` (good reply first) or ``-2``.
    The category is the first of ``meta_info.domain_en, scenario, category, domain, domain_zh`` given
    (else ``others``), validated against the layout's level; ``difficulty_level`` is optional.
    """
    path = Path(path)
    source = source or str(path)
    ids = UniqueIds()
    orders = UniqueIds()
    for line, row in iter_table(path, fmt):
        official = read_official_line(row, path, line)
        prompt, label, meta = official.prompt, official.label, official.meta
        question, good, bad = official.question, official.good, official.bad
        _distinct(good, bad, path, line, "meta_info.neg_resp")
        _check_prompt_order(prompt, good, bad, label, path, line)
        pair_id = f"{path.stem}-{short_hash(question, good, bad)}"
        order_id = f"{pair_id}-{GOLD_LABELS.index(label) + 1}"
        orders.check(order_id, path, line, "meta_info")  # the same pair in the same order twice
        item_id = order_id
        if row.get("id") not in (None, ""):
            item_id = get_text(row, "id", path, line)
            ids.check(item_id, path, line, "id")
        category = "others"
        for key in OFFICIAL_CATEGORY_KEYS:
            value = meta_text(meta, key, path, line, required=False)
            if value:
                category = _category(value, layout.level, path, line, f"meta_info.{key}")
                break
        difficulty = meta_text(meta, "difficulty_level", path, line, required=False) or None
        good_first = label == "回复1"
        kept = {k: v for k, v in meta.items() if k not in ("question", "pos_resp", "neg_resp")}
        yield MCItem(
            id=item_id,
            question=question,
            reply1=good if good_first else bad,
            reply2=bad if good_first else good,
            gold=label,  # type: ignore[arg-type]
            level=layout.level,
            category=category,
            difficulty=difficulty,
            pair_id=pair_id,
            source=source,
            prompt=prompt,
            meta={**kept, "line": line},
        )


def _record_text(row: Mapping[str, Any], key: str, path: Path, line: int) -> str:
    return get_text(row, key, path, line, strip=False)


def _optional_text(row: Mapping[str, Any], key: str, path: Path, line: int) -> str | None:
    if row.get(key) is None:
        return None
    return get_text(row, key, path, line, required=False, strip=False)


def exported_records(path: Path, layout: UserFileLayout, *, fmt: str | None = None) -> Iterator[Record]:
    """The records of a file written by ``cvalues data export``, each as it was exported.

    Every row must have the first row's ``kind`` and the fields of that record type; its own ``level``
    decides how ``category`` is checked (a scenario or domain key; option records keep their source's
    categories). A file may mix levels. Ids are unique.
    """
    path = Path(path)
    ids = UniqueIds()
    for line, row in iter_table(path, fmt):
        kind = get_text(row, "kind", path, line)
        if kind != layout.record_kind:
            raise DataError(
                f"kind {kind!r} in a file of {layout.record_kind} records", path=path, line=line, field="kind"
            )
        level = get_text(row, "level", path, line)
        if level not in LEVELS:
            raise DataError(f"unknown level {level!r}", path=path, line=line, field="level")
        record_id = get_text(row, "id", path, line)
        ids.check(record_id, path, line)
        meta = row.get("meta") or {}
        if not isinstance(meta, dict):
            raise DataError(
                f"expected an object, found {type(meta).__name__}", path=path, line=line, field="meta"
            )
        common: dict[str, Any] = {
            "id": record_id,
            "level": level,
            "category": get_text(row, "category", path, line),
            "source": get_text(row, "source", path, line),
            "meta": meta,
        }
        if kind != "option":  # option suites keep their source's categories (SafetyBench's seven)
            common["category"] = _category(common["category"], level, path, line, "category")  # type: ignore[arg-type]
        if kind == "prompt":
            yield PromptRecord(text=_record_text(row, "text", path, line), **common)
        elif kind == "mc":
            gold = get_text(row, "gold", path, line)
            if gold not in GOLD_LABELS:
                raise DataError(
                    f"gold must be 回复1 or 回复2, found {gold!r}", path=path, line=line, field="gold"
                )
            yield MCItem(
                question=_record_text(row, "question", path, line),
                reply1=_record_text(row, "reply1", path, line),
                reply2=_record_text(row, "reply2", path, line),
                gold=gold,  # type: ignore[arg-type]
                difficulty=_optional_text(row, "difficulty", path, line),
                pair_id=get_text(row, "pair_id", path, line),
                prompt=_optional_text(row, "prompt", path, line),
                **common,
            )
        else:
            options = row.get("options")
            if (
                not isinstance(options, list)
                or len(options) < 2
                or not all(isinstance(o, str) for o in options)
            ):
                raise DataError(
                    "expected a list of 2 or more option texts", path=path, line=line, field="options"
                )
            answer = row.get("answer")
            if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(options):
                raise DataError(
                    f"expected an option index from 0 to {len(options) - 1}, found {answer!r}",
                    path=path,
                    line=line,
                    field="answer",
                )
            yield OptionItem(
                question=_record_text(row, "question", path, line),
                options=tuple(options),
                answer=answer,
                **common,
            )


def user_records(
    path: Path,
    layout: UserFileLayout,
    *,
    fields: Mapping[str, str] | None = None,
    source: str | None = None,
    fmt: str | None = None,
) -> Iterator[Any]:
    """Records of a user file in ``layout``'s form (``fields`` are used by the prompt form only)."""
    if layout.form == "records":
        return exported_records(path, layout, fmt=fmt)
    if layout.form == "mc-triples":
        return user_mc_triples(path, layout, source=source, fmt=fmt)
    if layout.form == "mc-official":
        return user_mc_official(path, layout, source=source, fmt=fmt)
    return user_prompts(path, fields=fields, level=layout.level, source=source, fmt=fmt)
