"""``replay:FILE``: answers collected elsewhere, served as if a model gave them.

Why: users score outputs from any tool (a vendor console, another harness, a colleague's script)
without calling a model. The file is JSONL, one answer per line, with an id and a response; a JSON
array, an object of answer objects (OpenCompass's predictions), Parquet, CSV, TSV or xlsx is read as data
files are (:mod:`cvalues.data.readers`); a given ``encoding`` changes only the decoding. Field names are
configurable, with the names other tools use tried when not given (:data:`RESPONSE_FIELDS`); dotted
names reach into nested objects and lists (``meta_info.id``, ``choices.0.message.content``).

How the run engine finds an answer (two mechanisms, the first preferred):

1. **By item id.** The engine checks ``isinstance(backend, ReplayBackend)`` and calls
   :meth:`ReplayBackend.lookup` with the item's id (``str(item.id)``). Ids in the file are compared as
   strings, so ``7`` and ``"7"`` are the same id. A file with prompts may leave ids out (the official
   eval file has none): such lines are found by their prompt only.
2. **By prompt text**, when the file also has a prompt field (``prompt_field``; by default the first
   of :data:`PROMPT_FIELDS` every line has): :meth:`ReplayBackend.generate` takes the content of
   the last ``user`` message and looks it up exactly, then with whitespace normalised (every run of
   whitespace, full-width spaces included, becomes one space; ends stripped). A file without prompts
   cannot answer ``generate``: it raises a ModelError saying that answers must be looked up by id.

A line recorded as the provider's content moderation's answer (``finish_reason`` ``content_filter``
next to the answer or at the top of the line, or a ``blocked`` object as ``cvalues runs export``
writes it) is served as such a block (``docs/models.md``), so that a run collected elsewhere scores
its blocked prompts as cvalues' own runs do. A line recording a failed request (``status: error``, or
an ``error`` beside no answer) holds no answer: its id raises the "no answer" ModelError.

Every problem with the file is reported when it is loaded, naming ``file:line`` and the field:
bad encoding, bad JSON, a missing or non-string field, duplicate ids, a prompt repeated with
different answers on lines without ids. An id or prompt with no answer raises
``ModelError(retryable=False, "no answer for ...")``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.encoding import BOM, NotText, decode_text
from cvalues.models.base import (
    BLOCKED_FINISH_REASON,
    ChatMessage,
    Generation,
    GenerationSettings,
    LogprobsUnsupported,
    ModelBackend,
    ModelError,
)
from cvalues.models.moderation import ProviderBlock, is_block_finish_reason
from cvalues.spreadsheet import UnreadableWorkbook, csv_uncell, read_workbook
from cvalues.textcut import shorten

_WHITESPACE = re.compile(r"\s+")
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"  # an xlsx workbook is a zip archive
_MISSING = object()

#: Where an answer's item id is looked for when ``id_field`` is not given, the first that any line has:
#: a batch API's output names the caller's id ``custom_id`` (its ``id`` is the provider's), cvalues' own
#: exports ``item_id``.
ID_FIELDS = ("custom_id", "id", "item_id")
#: Where the text is inside an answer field that holds a whole reply object rather than its text: a
#: batch API's output line (OpenAI, Azure, DashScope, Zhipu: ``response.body``), a saved chat
#: completion, a completion, DashScope's native ``output``.
NESTED_ANSWER_PATHS = (
    "body.choices.0.message.content",
    "choices.0.message.content",
    "choices.0.text",
    "output.choices.0.message.content",
    "output.text",
    "message.content",
    "content",
    "text",
)
#: Where the answer is looked for when ``response_field`` is not given, in this order: the first that
#: every line has (other tools name it ``prediction``, ``output``, ``completion`` ...; a sheet exported
#: from a Chinese console ``模型回答`` or ``回答``). Never a reference answer's name (``answer``, ``答案``).
RESPONSE_FIELDS = (
    "response",
    "prediction",
    "output",
    "completion",
    "generated_text",
    "model_output",
    "text",
    "模型回答",
    "模型回复",
    "回答",
    "回复",
    "输出",
)
#: Where the prompt is looked for when ``prompt_field`` is not given: the first that every line has
#: (``messages``: a chat, whose last user turn is the prompt; ``origin_prompt``: OpenCompass's
#: predictions, a text or a chat of ``{"role": "HUMAN", "prompt": ...}`` turns).
PROMPT_FIELDS = ("prompt", "question", "messages", "origin_prompt", "问题", "提问", "输入")
#: Where a line records why its reply ended, looked for next to the answer first, then further up
#: (a saved chat completion keeps it in ``choices.0``, cvalues' export at the top).
FINISH_FIELDS = ("finish_reason", "finishReason")
_USER_ROLES = frozenset({"user", "human"})


class ReplayFileError(ValueError):
    """The replay file is unreadable or malformed; the message names ``file:line`` and the field."""


def normalise_whitespace(text: str) -> str:
    """Collapse each run of whitespace (including U+3000 and newlines) to one space; strip the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def _get(record: dict[str, Any], dotted: str) -> Any:
    """``record``'s value at a dotted name; a whole number indexes a list (``choices.0.message.content``,
    lm-evaluation-harness's ``filtered_resps.0``). A key that is the whole dotted name wins (a sheet's
    ``meta.id`` column, ``pandas.json_normalize`` output)."""
    if dotted in record:
        return record[dotted]
    value: Any = record
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdecimal() and part.isascii() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _json_cell(value: Any, opener: str) -> Any:
    """A sheet's cell holding JSON (cvalues' CSV export writes chats and blocks so) read back; any
    other value as it is."""
    if isinstance(value, str) and value.lstrip().startswith(opener):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def _turn_text(content: Any) -> Any:
    """A turn's text: a string, or the text parts of OpenAI's list of content parts."""
    if isinstance(content, list) and content:
        texts = [p if isinstance(p, str) else p.get("text") for p in content if isinstance(p, str | dict)]
        texts = [t for t in texts if isinstance(t, str)]
        return "\n".join(texts) if texts else _MISSING
    return content


def _is_chat(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) for m in value)


def _chat_prompt(value: Any) -> Any:
    """The last user turn's text when ``value`` is a chat: a list of ``{"role", "content"}`` (OpenAI),
    ``{"role": "HUMAN", "prompt"}`` (OpenCompass) or ``{"from": "human", "value"}`` (ShareGPT)."""
    if _is_chat(value):
        users = [m for m in value if str(m.get("role", m.get("from", ""))).casefold() in _USER_ROLES]
        if not users:
            return _MISSING
        turn = users[-1]
        content = next((turn[k] for k in ("content", "prompt", "value") if k in turn), _MISSING)
        return _turn_text(content)
    return value


@dataclass(frozen=True, slots=True)
class ReplayAnswer:
    """One line of a replay file."""

    item_id: str | None  # None: the line has no id and is found by its prompt
    response: str
    prompt: str | None
    line: int
    blocked: dict[str, str] | None = None
    failed: str | None = None  # the line records a failed request (no answer): why


def _recorded_block(record: dict[str, Any], response_field: str) -> dict[str, str] | None:
    """The provider block a line records: its ``blocked`` object, or a filter's finish reason next to
    the answer (``choices.0.finish_reason`` of a saved completion) or at the top of the line."""
    blocked = _json_cell(record.get("blocked"), "{")
    if isinstance(blocked, dict):
        return ProviderBlock.from_dict(blocked).to_dict()
    parts = response_field.split(".") if response_field not in record else [response_field]
    for depth in range(len(parts) - 1, -1, -1):
        holder = _get(record, ".".join(parts[:depth])) if depth else record
        if not isinstance(holder, dict):
            continue
        finish = next((holder[k] for k in FINISH_FIELDS if k in holder), _MISSING)
        if finish is not _MISSING:
            if is_block_finish_reason(finish):
                return ProviderBlock("unknown", str(finish), "").to_dict()
            return None  # the nearest finish reason says how the reply ended
    return None


def _recorded_failure(record: dict[str, Any], response: Any) -> str | None:
    """Why a line records a failed request rather than an answer: ``status: error`` (cvalues' export
    of a run with failures), or an ``error`` beside no answer (a batch API's failed request)."""
    status, error = record.get("status"), record.get("error")
    if isinstance(status, str) and status.strip().casefold() == "error":
        return shorten(str(error or "status error"), 200)
    if isinstance(response, dict):  # a reply object without text: a batch API's failed request
        code, body = response.get("status_code"), response.get("body")
        failure = body.get("error") if isinstance(body, dict) else None
        if failure or (isinstance(code, int) and code >= 400):
            detail = failure if failure else f"status {code}"
            text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False, default=str)
            return shorten(text, 200)
    if response is _MISSING or response is None or response == "":
        if error:  # an error object, message or code; not null, false, "" or {}
            text = error if isinstance(error, str) else json.dumps(error, ensure_ascii=False, default=str)
            return shorten(text, 200)
    return None


class ReplayBackend(ModelBackend):
    """Serve recorded answers from a JSONL file, by item id or by prompt text."""

    default_concurrency = 64

    def __init__(
        self,
        path: str | Path,
        *,
        id_field: str | None = None,
        response_field: str | None = None,
        prompt_field: str | None = None,
        encoding: str | None = None,
        spec: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.spec = spec or f"replay:{path}"
        self._explicit_id_field = id_field
        self._explicit_response_field = response_field
        self.id_field = id_field or "id"
        self.response_field = response_field or "response"
        self.encoding = encoding
        self._explicit_prompt_field = prompt_field
        self.prompt_field: str | None = None
        self.answers: dict[str, ReplayAnswer] = {}
        self._count = 0
        self._failed = 0
        self._by_prompt: dict[str, list[ReplayAnswer]] = {}
        self._by_normalised: dict[str, list[ReplayAnswer]] = {}
        self._sha256 = ""
        self._sheet = False  # a CSV/TSV sheet: every cell is text, JSON cells are read back
        self._header: list[str] = []
        self._header_line = 1
        self._load()

    @property
    def needs_item_id(self) -> bool:
        """True when the file has no prompts, so answers can only be found with :meth:`lookup`."""
        return self.prompt_field is None

    def _where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ReplayFileError(f"cannot read replay file {self.path}: {exc.strerror or exc}") from exc
        self._sha256 = hashlib.sha256(data).hexdigest()
        records = self._records(data)
        if not records:
            raise ReplayFileError(f"{self.path}: the replay file holds no answers")
        self.id_field = self._explicit_id_field or next(
            (name for name in ID_FIELDS if any(_get(r, name) is not _MISSING for _, r in records)), "id"
        )
        if self._explicit_response_field is None:
            self.response_field = self._choose(records, RESPONSE_FIELDS) or "response"
        self.prompt_field = self._choose_prompt_field(records)
        self._check_columns()
        for number, record in records:
            self._add(number, record)
        self._check_prompts()

    # -- reading the file ----------------------------------------------------------------------------

    def _records(self, data: bytes) -> list[tuple[int, dict[str, Any]]]:
        """The file's objects with their lines: JSON Lines, or (by content or suffix) a JSON array, an
        object of objects (OpenCompass's predictions), Parquet, CSV or TSV, read as data files are. A
        given ``encoding`` changes how the text is decoded, not how it is read."""
        if data.removeprefix(BOM).lstrip().startswith(PARQUET_MAGIC):
            return self._parquet_records()
        suffix = self.path.suffix.casefold()
        if suffix == ".xlsx" or data.startswith(ZIP_MAGIC):
            return self._workbook_records()
        text = self._decode(data)
        if suffix in (".csv", ".tsv"):
            return self._sheet_records(text, "\t" if suffix == ".tsv" else ",")
        if text.lstrip().startswith("["):
            return self._array_records(text)
        return self._jsonl_records(text)

    def _decode(self, data: bytes) -> str:
        """The file's text: UTF-8 or GB18030 as the data readers detect them, or ``encoding`` if given."""
        if self.encoding is None:
            try:
                text, self.encoding = decode_text(data)
            except NotText as exc:
                raise ReplayFileError(exc.at(self.path)) from None
            return text
        try:
            text = data.decode(self.encoding)
        except LookupError:
            raise ReplayFileError(f"{self.path}: unknown encoding {self.encoding!r}") from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].decode(self.encoding, errors="replace").count("\n") + 1
            raise ReplayFileError(
                f"{self._where(line)}: not valid {self.encoding} text (byte offset {exc.start})"
            ) from None
        return text.removeprefix("\ufeff")

    def _parquet_records(self) -> list[tuple[int, dict[str, Any]]]:
        from cvalues.data.errors import DataError
        from cvalues.data.readers import iter_records

        try:
            return list(iter_records(self.path))
        except DataError as exc:
            raise ReplayFileError(str(exc)) from None

    def _object(self, value: Any, line: int) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ReplayFileError(f"{self._where(line)}: expected a JSON object, got {type(value).__name__}")
        return value

    def _bad_json(self, exc: json.JSONDecodeError, line: int | None = None) -> ReplayFileError:
        return ReplayFileError(
            f"{self._where(line or exc.lineno)}: not valid JSON ({exc.msg}, column {exc.colno})"
        )

    def _jsonl_records(self, text: str) -> list[tuple[int, dict[str, Any]]]:
        records: list[tuple[int, dict[str, Any]]] = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if not records:  # maybe one document over many lines rather than JSON Lines
                    spread = self._object_records(text)
                    if spread is not None:
                        return spread
                raise self._bad_json(exc, number) from None
            except RecursionError:
                raise ReplayFileError(f"{self._where(number)}: JSON nested too deeply to read") from None
            records.append((number, self._object(record, number)))
        return records

    def _members(self, text: str, container: str) -> list[tuple[int, Any]]:
        """``(line where it starts, value)`` of each element of the JSON array or object that ``text``
        holds (for an object, its values), so that errors name the line of the element."""
        from cvalues.data.errors import DataError
        from cvalues.data.readers import json_members

        try:
            return list(json_members(text, self.path, container))
        except DataError as exc:
            raise ReplayFileError(str(exc)) from None

    def _array_records(self, text: str) -> list[tuple[int, dict[str, Any]]]:
        return [(line, self._object(value, line)) for line, value in self._members(text, "[")]

    def _object_records(self, text: str) -> list[tuple[int, dict[str, Any]]] | None:
        """One JSON object over many lines: an object of answer objects (OpenCompass's predictions
        file, keyed by index; the keys are not item ids) is read as its values; any other object is
        refused. None when ``text`` is not one JSON object."""
        from cvalues.data.errors import DataError
        from cvalues.data.readers import json_members

        try:  # one pass: the values with their lines, or not one JSON object at all
            members = list(json_members(text, self.path, "{"))
        except DataError:
            return None
        if not members or not all(isinstance(value, dict) for _, value in members):
            raise ReplayFileError(
                f"{self._where(1)}: one JSON object spread over lines, not answers: expected JSON Lines "
                "(one object a line), a JSON array of objects, or an object whose every value is an "
                "answer object (OpenCompass's predictions)"
            )
        return members

    def _sheet_records(self, text: str, delimiter: str) -> list[tuple[int, dict[str, Any]]]:
        """A CSV or TSV sheet's rows as ``(line where the row starts, {column: cell})``; a sheet cvalues
        wrote quotes formula-like cells (:func:`cvalues.spreadsheet.csv_cell`): they are read back."""
        self._sheet = True
        parts = text.split("\n")
        lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        reader = csv.reader(iter(lines), strict=True, delimiter=delimiter)
        records: list[tuple[int, dict[str, Any]]] = []
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return records
            except csv.Error as exc:
                raise ReplayFileError(f"{self._where(start)}: not a valid sheet row ({exc})") from None
            if row and not self._header:
                self._header, self._header_line = [h.strip() for h in row], start
            elif row:
                if len(row) != len(self._header):
                    at = f"field {self._header[len(row)]!r}: " if len(row) < len(self._header) else ""
                    raise ReplayFileError(
                        f"{self._where(start)}: {at}expected {len(self._header)} fields "
                        f"({', '.join(self._header)}), found {len(row)}"
                    )
                cells = {k: csv_uncell(v) for k, v in zip(self._header, row, strict=True)}
                records.append((start, cells))
            start = reader.line_num + 1

    def _workbook_records(self) -> list[tuple[int, dict[str, Any]]]:
        """An Excel workbook's rows as ``(row number, {column: text})``, from the one sheet whose header
        (its first non-empty row) names a field this file is read by, else from its only sheet."""
        try:
            sheets = [(title, rows) for title, rows in read_workbook(self.path) if rows]
        except UnreadableWorkbook as exc:
            raise ReplayFileError(f"{self.path}: {exc}") from None
        if not sheets:
            return []
        known = {
            name
            for name in (self._explicit_id_field, self._explicit_response_field, self._explicit_prompt_field)
            if name
        } or {*ID_FIELDS, *RESPONSE_FIELDS, *PROMPT_FIELDS}
        named = [(t, rows) for t, rows in sheets if known & {str(c).strip() for c in rows[0][1]}]
        if len(named) > 1:
            titles = ", ".join(repr(t) for t, _ in named)
            raise ReplayFileError(
                f"{self.path}: several sheets hold answers ({titles}); keep one in the workbook, or save "
                "it as CSV"
            )
        if not named and len(sheets) > 1:
            titles = ", ".join(repr(t) for t, _ in sheets)
            raise ReplayFileError(
                f"{self.path}: no sheet's first row names {', '.join(sorted(known))} (sheets {titles}); "
                "name the columns with id_field=..., response_field=..."
            )
        (header_line, header), body = (named or sheets)[0][1][0], (named or sheets)[0][1][1:]
        self._sheet = True
        self._header, self._header_line = [str(c).strip() for c in header], header_line
        records: list[tuple[int, dict[str, Any]]] = []
        for number, cells in body:
            row = {h: str(cells[k]) if k < len(cells) else "" for k, h in enumerate(self._header) if h}
            records.append((number, row))
        return records

    def _check_columns(self) -> None:
        """A sheet naming a column it is read by twice is ambiguous: which of the two holds it?"""
        for name in (self.id_field, self.response_field, self.prompt_field):
            if name and self._header.count(name) > 1:
                raise ReplayFileError(
                    f"{self._where(self._header_line)}: field {name!r}: the header names this column "
                    f"{self._header.count(name)} times; rename all but one"
                )

    @staticmethod
    def _choose(records: list[tuple[int, dict[str, Any]]], names: Sequence[str]) -> str | None:
        """The first of ``names`` that every line has."""
        for name in names:
            if all(_get(record, name) is not _MISSING for _, record in records):
                return name
        return None

    def _choose_prompt_field(self, records: list[tuple[int, dict[str, Any]]]) -> str | None:
        if self._explicit_prompt_field is not None:
            return self._explicit_prompt_field or None  # "" turns prompt matching off
        return self._choose(records, PROMPT_FIELDS)

    # -- one line ------------------------------------------------------------------------------------

    def _missing_answer_hint(self) -> str:
        if self._explicit_response_field is not None:
            return ""
        hint = (
            f"; looked for {', '.join(RESPONSE_FIELDS)} on every line; name the answer's field "
            "with response_field=NAME (dotted for nested objects)"
        )
        if len(self._header) == 1 and any(sep in self._header[0] for sep in ",;\t|"):
            hint += f" (the header is one column, {self._header[0]!r}: is the sheet separated otherwise?)"
        return hint

    def _add(self, number: int, record: dict[str, Any]) -> None:
        where = self._where(number)
        response, field = _get(record, self.response_field), self.response_field
        if isinstance(response, dict):  # a whole reply object: its text, where such objects keep it
            for path in NESTED_ANSWER_PATHS:  # a null text too: a filtered reply keeps none
                if isinstance(inner := _get(response, path), str) or inner is None:
                    response, field = inner, f"{field}.{path}"
                    break
        blocked = _recorded_block(record, field)
        failed = _recorded_failure(record, response)
        if failed is not None or (blocked is not None and (response is _MISSING or response is None)):
            response = ""  # a failed request has no answer; a withheld one is served empty
        elif response is _MISSING:
            raise ReplayFileError(
                f"{where}: field {self.response_field!r} (the answer) is missing{self._missing_answer_hint()}"
            )
        elif not isinstance(response, str):
            raise ReplayFileError(
                f"{where}: field {self.response_field!r} must be a string, got {type(response).__name__}"
            )
        prompt = None
        if self.prompt_field is not None:
            value = _get(record, self.prompt_field)
            if self._sheet and _is_chat(chat := _json_cell(value, "[")):
                value = chat  # a chat cvalues' CSV export wrote as JSON
            prompt = _chat_prompt(value)
            if not isinstance(prompt, str):
                got = "nothing" if prompt is _MISSING else type(prompt).__name__
                if _is_chat(value) and prompt is _MISSING:
                    got = "a chat without a user turn's text"
                raise ReplayFileError(f"{where}: field {self.prompt_field!r} must be a string, got {got}")
        raw_id = _get(record, self.id_field)
        item_id: str | None = None
        if raw_id is _MISSING or raw_id is None or raw_id == "":  # an empty CSV cell says nothing
            if self.prompt_field is None:  # nothing to find the answer by
                raise ReplayFileError(
                    f"{where}: field {self.id_field!r} (the item id) is missing; a file without ids "
                    "needs prompts on every line (" + ", ".join(PROMPT_FIELDS) + ", or prompt_field=...)"
                )
        elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise ReplayFileError(f"{where}: field {self.id_field!r} must be a string or an integer")
        else:
            item_id = str(raw_id)
        if item_id in self.answers:
            first = self.answers[item_id].line
            raise ReplayFileError(
                f"{where}: field {self.id_field!r}: duplicate id {item_id!r} (first on line {first})"
            )
        answer = ReplayAnswer(
            item_id=item_id, response=response, prompt=prompt, line=number, blocked=blocked, failed=failed
        )
        if failed is None:
            self._count += 1
        else:
            self._failed += 1
        if item_id is not None:  # a line without an id is found by its prompt only
            self.answers[item_id] = answer
        if prompt is not None:
            self._by_prompt.setdefault(prompt, []).append(answer)
            self._by_normalised.setdefault(normalise_whitespace(prompt), []).append(answer)

    def _check_prompts(self) -> None:
        """Lines with the same prompt and different answers can only be told apart by id: a line of
        them without an id could never be found, so the file is refused naming it."""
        for matches in self._by_prompt.values():
            answered = [m for m in matches if m.failed is None]
            if len({m.response for m in answered}) < 2 or all(m.item_id is not None for m in answered):
                continue
            first = answered[0]
            other = next(m for m in answered[1:] if m.response != first.response or m.item_id is None)
            lines = ", ".join(str(m.line) for m in answered)
            raise ReplayFileError(
                f"{self._where(other.line)}: field {self.prompt_field!r}: lines {lines} have this same "
                "prompt with different answers and not every one has an id; give every line an id "
                "(id_field=...) so that the answers can be told apart"
            )

    def _generation(self, answer: ReplayAnswer) -> Generation:
        raw: dict[str, Any] = {"replay_id": answer.item_id, "replay_line": answer.line}
        if answer.failed is not None:
            what = f"item id {answer.item_id!r}" if answer.item_id is not None else "this prompt"
            raise ModelError(
                f"no answer for {what} in {self.path}: line {answer.line} records a failed request "
                f"({answer.failed})",
                retryable=False,
            )
        if answer.blocked is not None:
            return Generation(
                text=answer.response,
                finish_reason=BLOCKED_FINISH_REASON,
                raw={**raw, "blocked": answer.blocked},
            )
        return Generation(text=answer.response, finish_reason="replay", raw=raw)

    def lookup(self, item_id: str | int) -> Generation:
        """The recorded answer for ``item_id``; ``ModelError(retryable=False)`` if the file has none."""
        answer = self.answers.get(str(item_id))
        if answer is None:
            raise ModelError(f"no answer for item id {str(item_id)!r} in {self.path}", retryable=False)
        return self._generation(answer)

    def lookup_prompt(self, prompt: str) -> Generation:
        """The recorded answer whose prompt equals ``prompt`` (exactly, else whitespace-normalised)."""
        if self.prompt_field is None:
            raise ModelError(
                f"{self.path} has no prompt field, so answers can only be found by item id "
                f"(the run engine calls ReplayBackend.lookup(item_id)); pass prompt_field=... if the file "
                f"names its prompts differently",
                retryable=False,
            )
        matches = self._by_prompt.get(prompt) or self._by_normalised.get(normalise_whitespace(prompt), [])
        matches = [m for m in matches if m.failed is None] or matches  # an answer over a failed ask
        if not matches:
            excerpt = shorten(prompt, 40)
            raise ModelError(f"no answer for prompt {excerpt!r} in {self.path}", retryable=False)
        if len({m.response for m in matches}) > 1:
            lines = ", ".join(str(m.line) for m in matches)
            raise ModelError(
                f"{self.path}: the prompt matches lines {lines} with different answers; "
                "look answers up by id",
                retryable=False,
            )
        return self._generation(matches[0])

    async def generate(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Generation:
        """Answer by prompt text: the content of the last ``user`` message (see the module docstring)."""
        user = [m for m in messages if m.role == "user"]
        if not user:
            raise ModelError("replay: the messages hold no user turn to look up", retryable=False)
        return self.lookup_prompt(user[-1].content)

    async def candidate_logprobs(
        self, context: Sequence[ChatMessage], candidates: Sequence[str]
    ) -> list[float]:
        raise LogprobsUnsupported(
            "replay backends hold recorded text only and cannot score candidates: use --mode generate, "
            "or an hf: or openai: model for --mode logprob",
            fatal=True,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "backend": "replay",
            "path": str(self.path),
            "sha256": self._sha256,
            "answers": self._count,
            "failed": self._failed,
            "id_field": self.id_field,
            "response_field": self.response_field,
            "prompt_field": self.prompt_field,
            "encoding": self.encoding,
            # what changes the answers: the file's bytes and which fields are read
            "identity": {
                "sha256": self._sha256,
                "id_field": self.id_field,
                "response_field": self.response_field,
            },
        }
