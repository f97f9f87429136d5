"""``replay:FILE``: answers collected elsewhere, served as if a model gave them.

Why: users score outputs from any tool (a vendor console, another harness, a colleague's script)
without calling a model. The file is JSONL, one answer per line, with an id and a response; a JSON
array, Parquet, CSV or TSV is read as data files are (:mod:`cvalues.data.readers`). Field names are
configurable, with the names other tools use tried when not given (:data:`RESPONSE_FIELDS`); dotted
names reach into nested objects and lists (``meta_info.id``, ``choices.0.message.content``).

How the run engine finds an answer (two mechanisms, the first preferred):

1. **By item id.** The engine checks ``isinstance(backend, ReplayBackend)`` and calls
   :meth:`ReplayBackend.lookup` with the item's id (``str(item.id)``). Ids in the file are compared as
   strings, so ``7`` and ``"7"`` are the same id. A file with prompts may leave ids out (the official
   eval file has none): such lines are found by their prompt only.
2. **By prompt text**, when the file also has a prompt field (``prompt_field``; by default ``prompt``
   or ``question`` if present): :meth:`ReplayBackend.generate` takes the content of the last ``user``
   message and looks it up exactly, then with whitespace normalised (every run of whitespace,
   full-width spaces included, becomes one space; ends stripped). A file without prompts cannot
   answer ``generate``: it raises a ModelError saying that answers must be looked up by id.

A line recorded as the provider's content moderation's answer (``finish_reason`` ``content_filter``
or another filter's reason, or a ``blocked`` object as ``cvalues runs export`` writes it) is served
as such a block (``docs/models.md``), so that a run collected elsewhere scores its blocked prompts
as cvalues' own runs do.

Every problem with the file is reported when it is loaded, naming ``file:line`` and the field:
bad encoding, bad JSON, a missing or non-string field, duplicate ids. An id or prompt with no
answer raises ``ModelError(retryable=False, "no answer for ...")``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.encoding import NotText, decode_text
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
from cvalues.spreadsheet import csv_uncell
from cvalues.textcut import shorten

_WHITESPACE = re.compile(r"\s+")
_MISSING = object()

#: Where an answer's item id is looked for when ``id_field`` is not given: cvalues' own exports say
#: ``item_id``.
ID_FIELDS = ("id", "item_id")
#: Where the answer is looked for when ``response_field`` is not given, in this order: the first that
#: every line has (other tools name it ``prediction``, ``output``, ``completion`` ...).
RESPONSE_FIELDS = ("response", "prediction", "output", "completion", "generated_text", "model_output", "text")
#: Where the prompt is looked for when ``prompt_field`` is not given: the first that every line has
#: (``messages``: a chat, whose last user turn is the prompt).
PROMPT_FIELDS = ("prompt", "question", "messages")


class ReplayFileError(ValueError):
    """The replay file is unreadable or malformed; the message names ``file:line`` and the field."""


def normalise_whitespace(text: str) -> str:
    """Collapse each run of whitespace (including U+3000 and newlines) to one space; strip the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def _get(record: dict[str, Any], dotted: str) -> Any:
    """``record``'s value at a dotted name; a whole number indexes a list (``choices.0.message.content``,
    lm-evaluation-harness's ``filtered_resps.0``)."""
    value: Any = record
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdecimal() and part.isascii() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _chat_prompt(value: Any) -> Any:
    """The last user turn's text when ``value`` is a chat (a list of ``{"role", "content"}``)."""
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        users = [m.get("content") for m in value if m.get("role") == "user"]
        return users[-1] if users else _MISSING
    return value


@dataclass(frozen=True, slots=True)
class ReplayAnswer:
    """One line of a replay file."""

    item_id: str | None  # None: the line has no id and is found by its prompt
    response: str
    prompt: str | None
    line: int
    blocked: dict[str, str] | None = None


def _recorded_block(record: dict[str, Any]) -> dict[str, str] | None:
    """The provider block a line records (its ``blocked`` object, or a filter's ``finish_reason``)."""
    blocked = record.get("blocked")
    if isinstance(blocked, dict):
        return ProviderBlock.from_dict(blocked).to_dict()
    finish = record.get("finish_reason")
    if is_block_finish_reason(finish):
        return ProviderBlock("unknown", str(finish), "").to_dict()
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
        self._by_prompt: dict[str, list[ReplayAnswer]] = {}
        self._by_normalised: dict[str, list[ReplayAnswer]] = {}
        self._sha256 = ""
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
        for number, record in records:
            self._add(number, record)

    def _records(self, data: bytes) -> list[tuple[int, dict[str, Any]]]:
        """The file's objects with their lines: JSON Lines, or (by content or suffix) a JSON array,
        Parquet, CSV or TSV, read as data files are."""
        head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
        suffix = self.path.suffix.casefold()
        if self.encoding is None and (suffix in (".csv", ".tsv") or head.startswith((b"[", b"PAR1"))):
            return self._table_records(suffix, parquet=head.startswith(b"PAR1"))
        records: list[tuple[int, dict[str, Any]]] = []
        for number, text in enumerate(self._lines(data), start=1):
            if not text.strip():
                continue
            where = self._where(number)
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ReplayFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
            if not isinstance(record, dict):
                raise ReplayFileError(f"{where}: expected a JSON object, got {type(record).__name__}")
            records.append((number, record))
        return records

    def _table_records(self, suffix: str, *, parquet: bool) -> list[tuple[int, dict[str, Any]]]:
        from cvalues.data.errors import DataError
        from cvalues.data.readers import detect_encoding, iter_csv_dicts, iter_records

        try:
            if suffix in (".csv", ".tsv"):
                self.encoding = detect_encoding(self.path)
                rows = iter_csv_dicts(self.path, self.encoding, delimiter="\t" if suffix == ".tsv" else ",")
                # a sheet cvalues wrote quotes formula-like cells (spreadsheet.csv_cell): read them back
                return [(line, {k: csv_uncell(v) for k, v in row.items()}) for line, row in rows]
            if not parquet:
                self.encoding = detect_encoding(self.path)
            return list(iter_records(self.path))
        except DataError as exc:
            raise ReplayFileError(str(exc)) from None

    @staticmethod
    def _choose(records: list[tuple[int, dict[str, Any]]], names: Sequence[str]) -> str | None:
        """The first of ``names`` that every line has."""
        for name in names:
            if all(_get(record, name) is not _MISSING for _, record in records):
                return name
        return None

    def _lines(self, data: bytes) -> list[str]:
        """The file's lines: UTF-8 or GB18030 as the data readers detect them, or ``encoding`` if given."""
        if self.encoding is None:
            try:
                text, self.encoding = decode_text(data)
            except NotText as exc:
                raise ReplayFileError(exc.at(self.path)) from None
            return text.split("\n")
        if data.startswith(b"\xef\xbb\xbf") and self.encoding.replace("-", "").lower() == "utf8":
            data = data[3:]
        lines = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                lines.append(raw.decode(self.encoding))
            except UnicodeDecodeError as exc:
                raise ReplayFileError(
                    f"{self._where(number)}: not valid {self.encoding} text (byte {exc.start})"
                ) from exc
        return lines

    def _choose_prompt_field(self, records: list[tuple[int, dict[str, Any]]]) -> str | None:
        if self._explicit_prompt_field is not None:
            return self._explicit_prompt_field or None  # "" turns prompt matching off
        return self._choose(records, PROMPT_FIELDS)

    def _add(self, number: int, record: dict[str, Any]) -> None:
        where = self._where(number)
        raw_id = _get(record, self.id_field)
        item_id: str | None = None
        if raw_id is _MISSING or raw_id is None or raw_id == "":  # an empty CSV cell says nothing
            if self.prompt_field is None:  # nothing to find the answer by
                raise ReplayFileError(
                    f"{where}: field {self.id_field!r} (the item id) is missing; a file without ids "
                    "needs prompts on every line (field prompt or question, or prompt_field=...)"
                )
        elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise ReplayFileError(f"{where}: field {self.id_field!r} must be a string or an integer")
        else:
            item_id = str(raw_id)
        response = _get(record, self.response_field)
        if response is _MISSING:
            hint = ""
            if self._explicit_response_field is None:
                hint = (
                    f"; looked for {', '.join(RESPONSE_FIELDS)} on every line; name the answer's field "
                    "with response_field=NAME (dotted for nested objects)"
                )
            raise ReplayFileError(f"{where}: field {self.response_field!r} (the answer) is missing{hint}")
        if not isinstance(response, str):
            raise ReplayFileError(
                f"{where}: field {self.response_field!r} must be a string, got {type(response).__name__}"
            )
        prompt = None
        if self.prompt_field is not None:
            prompt = _chat_prompt(_get(record, self.prompt_field))
            if not isinstance(prompt, str):
                got = "nothing" if prompt is _MISSING else type(prompt).__name__
                raise ReplayFileError(f"{where}: field {self.prompt_field!r} must be a string, got {got}")
        if item_id in self.answers:
            first = self.answers[item_id].line
            raise ReplayFileError(
                f"{where}: field {self.id_field!r}: duplicate id {item_id!r} (first on line {first})"
            )
        answer = ReplayAnswer(
            item_id=item_id, response=response, prompt=prompt, line=number, blocked=_recorded_block(record)
        )
        self._count += 1
        if item_id is not None:  # a line without an id is found by its prompt only
            self.answers[item_id] = answer
        if prompt is not None:
            self._by_prompt.setdefault(prompt, []).append(answer)
            self._by_normalised.setdefault(normalise_whitespace(prompt), []).append(answer)

    def _generation(self, answer: ReplayAnswer) -> Generation:
        raw: dict[str, Any] = {"replay_id": answer.item_id, "replay_line": answer.line}
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
