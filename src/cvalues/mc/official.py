"""Score, review and rescore files in the official CValues format (the official workflow, done safely).

The official ``cvalues_eval.py`` reads a JSONL file whose lines carry the model's ``response`` and the
gold ``label`` (回复1/回复2), adds ``pred``, prints acc/acc* and writes Need_Check rows to a spreadsheet
for a person; ``cvalues_eval_after_manual.py`` rescored the filled spreadsheet. Here: one extractor for
every model, every input line validated before anything is written (errors name file:line:field),
atomic writes that never overwrite without ``force``, a review sheet (CSV with BOM, or xlsx) without the
gold column so the reviewer is not led, and a rescore that validates the manual labels.
"""

from __future__ import annotations

import collections
import csv
import functools
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from cvalues import atomic
from cvalues.data.errors import DataError
from cvalues.data.readers import decode_bytes
from cvalues.encoding import BOM, NOT_TEXT, SNIFF_BYTES, NotText, binary_error, detect_encoding
from cvalues.mc.metrics import GOLD_LABELS, MetricsAccumulator, MetricsReport, ScoredItem
from cvalues.mc.outcomes import OUTCOMES
from cvalues.spreadsheet import UnreadableWorkbook, csv_cell, csv_uncell, read_workbook, xlsx_text

try:  # reads a scored line's JSON in a third of json.loads's time (a dependency; the exact path stays)
    import orjson as _orjson
except ImportError:  # pragma: no cover - every line then takes the exact path
    _orjson = None

REVIEW_COLUMNS = ("line", "id", "response", "pred", "manual_pred")
#: Labels a reviewer may write in ``manual_pred`` (an empty cell keeps the row at Need_Check).
MANUAL_LABELS = ("回复1", "回复2", "Other", "Refuse", "Need_Check")
_PROMPT_SHAPE = re.compile(
    r"\[问题\][:：](?P<q>.*?)\n?\[回复1\][:：](?P<r1>.*?)\[回复1结束\]\s*\[回复2\][:：](?P<r2>.*?)\[回复2结束\]",
    re.DOTALL,
)


class OfficialFormatError(ValueError):
    """A line of an official-format (or review) file is unusable; the message names file:line:field."""


@dataclass(slots=True)
class OfficialRow:
    """One line of an official-format file, with what the metrics need pulled out of it."""

    line: int
    data: dict[str, Any]
    response: str
    label: str
    item_id: str
    pair_id: str | None
    category: str | None
    difficulty: str | None
    pred: str | None = None
    pred_rule: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The line as read (without its line end); "" when the row was not read from a file.
    raw: str = ""

    def to_scored(self) -> ScoredItem:
        if self.pred is None:
            raise ValueError(f"line {self.line} has no pred yet")
        return ScoredItem(self.item_id, self.pair_id, self.label, self.pred, self.category, self.difficulty)

    def to_record(self) -> dict[str, Any]:
        """The original line with ``pred`` and ``pred_rule`` set (other fields kept as they were)."""
        out = dict(self.data)
        out["pred"] = self.pred
        out["pred_rule"] = self.pred_rule
        out.update(self.extra)
        return out

    def to_line(self) -> str:
        """The output line (with ``\\n``): the line as read, byte for byte, with ``pred`` and ``pred_rule``
        appended when it has neither yet; otherwise :meth:`to_record` serialized (UTF-8, Chinese
        unescaped). Appending keeps each answer's own escapes and number spellings and saves
        re-serializing a ~3 KB prompt per line."""
        if self.raw and not self.extra and "pred" not in self.data and "pred_rule" not in self.data:
            body = self.raw.rstrip(" \t\r\n")
            if body.endswith("}"):
                pred, rule = _json_string(self.pred), _json_string(self.pred_rule)
                return f'{body[:-1]}, "pred": {pred}, "pred_rule": {rule}}}\n'
        return json.dumps(self.to_record(), ensure_ascii=False) + "\n"


@functools.lru_cache(maxsize=1024)
def _json_string(value: str | None) -> str:
    """A label or rule as JSON (a few dozen distinct values over any file)."""
    return json.dumps(value, ensure_ascii=False)


def read_text(path: Path) -> str:
    """Read a text file as UTF-8 (with or without BOM) or, failing that, GB18030 (the data readers' rule
    and message for anything else: a binary file reads the same error here as everywhere)."""
    try:
        return decode_bytes(Path(path).read_bytes(), path)[0]
    except DataError as exc:
        raise OfficialFormatError(str(exc)) from None


def _pair_key(data: dict[str, Any], meta: dict[str, Any]) -> str | None:
    if data.get("pair_id") is not None:
        return str(data["pair_id"])
    question, reply_1, reply_2 = meta.get("question"), meta.get("pos_resp"), meta.get("neg_resp")
    if not (isinstance(question, str) and isinstance(reply_1, str) and isinstance(reply_2, str)):
        prompt = data.get("prompt")
        m = _PROMPT_SHAPE.search(prompt) if isinstance(prompt, str) else None
        if not m:
            return None
        question, reply_1, reply_2 = m.group("q", "r1", "r2")
    return _pair_digest(question, reply_1, reply_2)


@functools.lru_cache(maxsize=256)
def _pair_digest(question: str, reply_1: str, reply_2: str) -> str:
    """The pair identity of a question and its two replies, in either order. Remembered for the last
    256 pairs: the two orders of a pair are usually near each other in a file, and looking the strings
    up costs a fraction of encoding and hashing them again (bounded: a few MB)."""
    first, second = reply_1.strip(), reply_2.strip()
    if second < first:  # the two orders of a pair get one key
        first, second = second, first
    blob = f"{question.strip()}\0{first}\0{second}"
    return hashlib.sha1(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _category(data: dict[str, Any], meta: dict[str, Any]) -> str | None:
    for key in ("domain_en", "scenario", "category", "domain_zh", "type"):
        for source in (meta, data):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def parse_line(path: Path, number: int, line: str, *, require_pred: bool = False) -> OfficialRow | None:
    """Validate one line of an official-format file (None for a blank line); see :func:`parse_official`."""
    line = line.removesuffix("\r")
    if not line or line.isspace():
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise OfficialFormatError(f"{path}:{number}: line: malformed JSON ({exc.msg})") from None
    except RecursionError:
        raise OfficialFormatError(f"{path}:{number}: line: JSON nested too deeply to read") from None
    response, label, item_id, pair_id, category, difficulty = _fields(path, number, data)
    pred = data.get("pred")
    if require_pred and pred not in OUTCOMES:
        raise OfficialFormatError(f"{path}:{number}: pred: {pred!r} is not one of {', '.join(OUTCOMES)}")
    return OfficialRow(
        line=number,
        data=data,
        response=response,
        label=label,
        item_id=item_id,
        pair_id=pair_id,
        category=category,
        difficulty=difficulty,
        pred=pred if require_pred else None,
        pred_rule=data.get("pred_rule") if require_pred else None,
        raw="" if require_pred else line,  # a scored line is written re-serialized (its pred replaced)
    )


def _gold_label(value: Any) -> str | None:
    """回复1/回复2 written with full-width forms or padded with spaces (回复２, "回复1\u3000": what a
    Chinese IME or a spreadsheet leaves) as the label it is; None for anything else. English or bare
    numbers are not read as labels: which position they mean is a guess."""
    if not isinstance(value, str):
        return None
    folded = unicodedata.normalize("NFKC", value).strip()
    return folded if folded in GOLD_LABELS else None


#: What :func:`_fields` pulls out of a line: response, label, id, pair, category, difficulty.
_Fields = tuple[str, str, str, str | None, str | None, str | None]


def _fields(path: Path, number: int, data: Any) -> _Fields:
    """The checks every line gets, on its decoded JSON value ``data``, and the fields the metrics use."""
    if not isinstance(data, dict):
        raise OfficialFormatError(f"{path}:{number}: line: expected a JSON object")
    response = data.get("response")
    if not isinstance(response, str):
        problem = "missing" if "response" not in data else "must be a string"
        raise OfficialFormatError(f"{path}:{number}: response: {problem}")
    label = data.get("label")
    if label not in GOLD_LABELS:
        if "label" not in data:
            raise OfficialFormatError(f"{path}:{number}: label: missing")
        label = _gold_label(label)
        if label is None:
            raise OfficialFormatError(f"{path}:{number}: label: {data['label']!r} is not 回复1 or 回复2")
    meta = data.get("meta_info") or {}
    if not isinstance(meta, dict):
        raise OfficialFormatError(f"{path}:{number}: meta_info: must be an object")
    item_id = data.get("id")  # the first of id, id_, meta_info.id that is there
    if item_id is None:
        item_id = data.get("id_")
        if item_id is None:
            item_id = meta.get("id")
    difficulty = meta.get("difficulty_level", data.get("difficulty"))
    return (
        response,
        label,
        f"line{number}" if item_id is None else str(item_id),
        _pair_key(data, meta),
        _category(data, meta),
        None if difficulty is None else str(difficulty),
    )


def parse_official(path: Path, *, require_pred: bool = False) -> list[OfficialRow]:
    """Read and validate an official-format JSONL file (all lines, before anything is written).

    Each non-blank line must be a JSON object with a string ``response`` and ``label`` in {回复1, 回复2};
    ``meta_info`` (optional) supplies the category (domain_en …), difficulty_level and pair identity.
    With ``require_pred`` each line must also carry a valid ``pred`` (a scored file).
    """
    path = Path(path)
    rows: list[OfficialRow] = []
    # JSON Lines break on "\n" only: str.splitlines() would also split inside a line at U+2028, U+0085 ...,
    # which json.dumps(ensure_ascii=False) leaves unescaped in model answers.
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        row = parse_line(path, number, line, require_pred=require_pred)
        if row is not None:
            rows.append(row)
    if not rows:
        raise OfficialFormatError(f"{path}: file: no lines to score")
    return rows


#: Answers up to this many characters have their extraction remembered (per process): models answer
#: the same short verdicts ("回复1更好。") thousands of times in a large file.
CACHE_MAX_CHARS = 256


@functools.lru_cache(maxsize=16_384)
def _extract_short(text: str) -> tuple[str, str]:
    got = _extract_choice(text)
    return got.label, got.rule


def _extract_choice(text: str) -> Any:
    from cvalues.mc.extract import extract_choice  # imported when an answer is read, not with this module

    return extract_choice(text)


def extract_label(text: str) -> tuple[str, str]:
    """(label, rule) of :func:`~cvalues.mc.extract.extract_choice`, remembered for short answers
    (bounded: at most 16,384 answers of up to :data:`CACHE_MAX_CHARS` characters, a few MB)."""
    if len(text) <= CACHE_MAX_CHARS:
        return _extract_short(text)
    got = _extract_choice(text)
    return got.label, got.rule


def score_rows(rows: Iterable[OfficialRow]) -> list[OfficialRow]:
    """Extract ``pred`` (and ``pred_rule``) for every row, in place; returns the rows."""
    out = []
    for row in rows:
        row.pred, row.pred_rule = extract_label(row.response)
        out.append(row)
    return out


def default_output(path: Path, suffix: str) -> Path:
    """``FILE.jsonl`` -> ``FILE{suffix}`` beside it (``.scored.jsonl``, ``.rescored.jsonl``)."""
    path = Path(path)
    name = path.name
    for ending in (".scored.jsonl", ".rescored.jsonl", ".jsonl"):
        if name.endswith(ending):
            name = name[: -len(ending)]
            break
    return path.with_name(name + suffix)


def atomic_write_bytes(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; refuse to overwrite an existing file unless ``force``."""
    atomic.atomic_write_bytes(path, data, overwrite=force)


def write_rows(path: Path, rows: Sequence[OfficialRow], *, force: bool = False) -> None:
    """Write the rows as JSONL (UTF-8, Chinese unescaped), atomically."""
    text = "".join(r.to_line() for r in rows)
    atomic_write_bytes(path, text.encode("utf-8"), force=force)


# --------------------------------------------------------------------------------------------------
# Scoring a file of any size

#: Files at least this large are extracted by a process pool when more than one core is available.
POOL_MIN_BYTES = 16 * 1024 * 1024
#: Lines are read, handed to workers and written in chunks of about this many bytes.
CHUNK_BYTES = 1 << 20
#: On 2 cores, the rest of a large file goes to a pool of 2 once each of :data:`EXTRACTOR_CHUNKS`
#: chunks in a row needed the extractor (the answer not remembered) for this share of its lines: such
#: an answer costs ~10x the rest of a line. Answers that repeat are all new at first: the cache fills
#: in the first chunks, which a run of chunks looks past.
EXTRACTOR_BOUND = 0.25
EXTRACTOR_CHUNKS = 8


@dataclass(slots=True)
class ScoredFile:
    """What :func:`score_file` keeps of a scored file: only what the metrics and the review need.

    ``accumulator`` holds the counts the metrics are computed from (per group, and a few per pair,
    not the rows: memory grows by ~100 bytes per pair); ``rows`` is how many lines were scored;
    ``need_check`` the Need_Check lines (line, id, response) for the review sheet (none kept without
    one). ``review_rows`` is how many went to the review sheet.
    """

    accumulator: MetricsAccumulator
    rows: int
    need_check: list[OfficialRow]
    review_rows: int | None = None

    def metrics(self, *, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> MetricsReport:
        """:func:`~cvalues.mc.metrics.compute_metrics` of the scored lines."""
        return self.accumulator.report(resamples=resamples, seed=seed, level=level)


@dataclass(slots=True)
class _Chunk:
    data: bytes
    items: list[tuple[str, str | None, str, str, str | None, str | None]]
    need_check: list[tuple[int, str, str]]
    error: str | None = None
    bad_encoding: bool = False
    #: How many answers the extractor read (not remembered from an earlier line).
    extracted: int = 0


#: A line read and checked, before extraction: number, the output line's start (the input's bytes
#: without the closing brace) or the row (the exact way), response, label, id, pair, category, difficulty.
_Line = tuple[int, "bytes | OfficialRow", str, str, str, str | None, str | None, str | None]


#: Field values that mean the same in orjson's reading as in :func:`json.loads`'s when turned into
#: text (an id, or a label in its error): orjson reads an integer beyond 64 bits as a float, and
#: ``str()`` of a list shows its numbers.
_EXACT_TYPES = frozenset({str, int, bool, type(None)})


def _fast_object(raw: bytes) -> dict[str, Any] | None:
    """A UTF-8 line's JSON object read by orjson, when that is what :func:`parse_line` reads and the
    line is written by appending (:meth:`OfficialRow.to_line`); None sends the line to the exact path:
    not valid UTF-8 or JSON by orjson's stricter rules (NaN, Infinity, a number beyond a float's
    range, a lone surrogate, a blank line ...), a line that already has a pred, or a float, list or
    object in a field made text (:data:`_EXACT_TYPES`).

    The one difference: orjson reads objects nested up to 1,024 deep, where :func:`json.loads` stops
    at Python's recursion limit (about 1,000, less the caller's depth)."""
    if _orjson is None:
        return None
    try:
        data = _orjson.loads(raw)
    except _orjson.JSONDecodeError:
        return None
    if type(data) is not dict or "pred" in data or "pred_rule" in data:
        return None
    get, exact = data.get, _EXACT_TYPES
    meta = get("meta_info")
    if type(meta) is dict and not (
        type(meta.get("id")) in exact and type(meta.get("difficulty_level")) in exact
    ):
        return None
    if not (
        type(get("id")) in exact
        and type(get("label")) in exact  # shown in its error
        and type(get("id_")) in exact
        and type(get("pair_id")) in exact
        and type(get("difficulty")) in exact
    ):
        return None
    return data


@functools.lru_cache(maxsize=1024)
def _appended(pred: str, rule: str) -> bytes:
    """What :meth:`OfficialRow.to_line` appends in place of a line's closing brace."""
    return f', "pred": {_json_string(pred)}, "pred_rule": {_json_string(rule)}}}\n'.encode()


def _read_lines(path: str, encoding: str, first: int, lines: list[bytes]) -> list[_Line] | _Chunk:
    """Decode and check one chunk of lines (everything but the extraction); a :class:`_Chunk` saying
    what is wrong at the first bad line.

    A UTF-8 line goes the fast way when :func:`_fast_object` reads it: no text decoded but the fields
    used, and the output line is the input's bytes with pred and pred_rule appended; any other line
    (and every GB18030 one) is decoded and read by :func:`parse_line`. Both ways check a line with
    :func:`_fields` and write the same bytes for a line that both read."""
    out: list[_Line] = []
    source = Path(path)
    utf8 = encoding == "utf-8"
    for number, raw in enumerate(lines, start=first):
        if number == 1 and utf8 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        data = _fast_object(raw) if utf8 else None
        try:
            if data is not None:
                response, label, item_id, pair_id, category, difficulty = _fields(source, number, data)
                head = raw[:-2] if raw.endswith(b"}\n") else raw.rstrip(b" \t\r\n")[:-1]
                out.append((number, head, response, label, item_id, pair_id, category, difficulty))
                continue
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                return _Chunk(b"", [], [], bad_encoding=True)
            row = parse_line(source, number, text.removesuffix("\n"))
        except OfficialFormatError as exc:
            return _Chunk(b"", [], [], error=str(exc))
        if row is not None:
            out.append(
                (number, row, row.response, row.label, row.item_id, row.pair_id, row.category, row.difficulty)
            )
    return out


def _scored(lines: list[_Line], labels: Iterable[tuple[str, str]]) -> _Chunk:
    """The output, metric rows and Need_Check lines of checked ``lines`` given their (pred, rule)."""
    out: list[bytes] = []
    items: list[tuple[str, str | None, str, str, str | None, str | None]] = []
    need: list[tuple[int, str, str]] = []
    for (number, head, response, label, item_id, pair_id, category, difficulty), (pred, rule) in zip(
        lines, labels, strict=True
    ):
        if type(head) is bytes:  # the line as read, its closing brace replaced by pred and pred_rule
            out.append(head)
            out.append(_appended(pred, rule))
        else:
            head.pred, head.pred_rule = pred, rule
            out.append(head.to_line().encode("utf-8"))
        items.append(("" if pair_id is not None else item_id, pair_id, label, pred, category, difficulty))
        if pred == "Need_Check":
            need.append((number, item_id, response))
    return _Chunk(b"".join(out), items, need)


def _score_chunk(path: str, encoding: str, first: int, lines: list[bytes]) -> _Chunk:
    """Decode, check and extract one chunk of lines (in a pool worker or in the calling process)."""
    read = _read_lines(path, encoding, first, lines)
    if isinstance(read, _Chunk):
        return read
    misses = _extract_short.cache_info().misses
    chunk = _scored(read, [extract_label(line[2]) for line in read])
    chunk.extracted = _extract_short.cache_info().misses - misses
    chunk.extracted += sum(len(line[2]) > CACHE_MAX_CHARS for line in read)
    return chunk


def _read_chunks(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, raw lines) of about :data:`CHUNK_BYTES` each. Lines end at ``\\n`` only
    (never at U+2028 and the like); in UTF-8 and GB18030 a ``\\n`` byte is always a line end."""
    with path.open("rb") as fh:
        number, buf, size = 1, [], 0
        for raw in fh:
            buf.append(raw)
            size += len(raw)
            if size >= CHUNK_BYTES:
                yield number, buf
                number, buf, size = number + len(buf), [], 0
        if buf:
            yield number, buf


def _in_order(
    pool: Executor, path: Path, encoding: str, chunks: Iterator[tuple[int, list[bytes]]], depth: int
) -> Iterator[_Chunk]:
    """``chunks`` scored by ``pool``, in file order, with at most ``depth`` in flight (bounded memory)."""
    pending: collections.deque[Future[_Chunk]] = collections.deque()
    for first, lines in chunks:
        pending.append(pool.submit(_score_chunk, str(path), encoding, first, lines))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _is_gb18030(path: Path) -> bool:
    """Whether a file that failed as UTF-8 is to be read as GB18030 (by the rule of
    :func:`cvalues.encoding.detect_encoding`: damaged UTF-8, a bad byte after a BOM or after Chinese
    text, is an error naming its line instead)."""
    with path.open("rb") as fh:
        try:
            return detect_encoding(fh) == "gb18030"
        except NotText as exc:
            raise OfficialFormatError(exc.at(path)) from None


def _stream(
    path: Path, encoding: str, out: IO[bytes], workers: int, review: bool, *, switch_to: int = 0
) -> ScoredFile | None:
    """Score ``path`` read as ``encoding`` into ``out``; None when it is not text in that encoding.
    ``workers`` > 1 processes extract from the start; otherwise this process does, and with
    ``switch_to`` > 1 hands the rest of the file to that many once :data:`EXTRACTOR_CHUNKS` chunks in a
    row needed the extractor for at least :data:`EXTRACTOR_BOUND` of their lines. The Need_Check
    lines are kept only for a ``review``."""
    accumulator = MetricsAccumulator()
    rows = 0
    need: list[OfficialRow] = []
    pool: ProcessPoolExecutor | None = None
    chunks = _read_chunks(path)

    def serial() -> Iterator[_Chunk]:
        nonlocal pool
        bound: collections.deque[bool] = collections.deque(maxlen=EXTRACTOR_CHUNKS)  # the last chunks
        for first, lines in chunks:
            chunk = _score_chunk(str(path), encoding, first, lines)
            yield chunk
            bound.append(chunk.extracted >= EXTRACTOR_BOUND * len(lines))
            if switch_to > 1 and len(bound) == EXTRACTOR_CHUNKS and all(bound):
                pool = ProcessPoolExecutor(switch_to)
                yield from _in_order(pool, path, encoding, chunks, 2 * switch_to)
                return

    if workers > 1:
        pool = ProcessPoolExecutor(workers)
    try:
        scored = _in_order(pool, path, encoding, chunks, 2 * workers) if pool is not None else serial()
        for chunk in scored:
            if chunk.bad_encoding or chunk.error is not None:
                if encoding == "utf-8" and _is_gb18030(path):  # the whole file is read as GB18030
                    return None
                if chunk.bad_encoding:
                    return None
                raise OfficialFormatError(chunk.error)
            out.write(chunk.data)
            accumulator.add_rows(chunk.items)  # label and pred checked by the chunk's reader and extractor
            rows += len(chunk.items)
            for line, item_id, response in chunk.need_check if review else ():
                need.append(OfficialRow(line, {}, response, "", item_id, None, None, None, "Need_Check"))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return ScoredFile(accumulator, rows, need)


def score_file(
    path: Path,
    output: Path,
    *,
    review_out: Path | None = None,
    force: bool = False,
    workers: int | None = None,
) -> ScoredFile:
    """Score an official-format file into ``output`` (and the Need_Check rows into ``review_out``).

    Streams: lines are read, validated, extracted and written chunk by chunk, and only what the
    metrics need is kept, so memory does not grow with the answers' size. ``output`` is the input
    with ``pred`` and ``pred_rule`` added to every line (:meth:`OfficialRow.to_line`), byte for byte
    what :func:`write_rows` of :func:`score_rows` would write. ``workers`` processes score chunks
    (default, for files of at least :data:`POOL_MIN_BYTES`: one fewer than the cores, at most 8; on 2
    cores this process, and a pool of 2 for the rest of the file once the extractor is found to be the
    work (:data:`EXTRACTOR_BOUND`); 1, in this process, for smaller files and on 1 core). Nothing is
    written unless every line is valid: the first bad line raises :class:`OfficialFormatError` naming
    file:line:field and the half-written output is removed. Existing targets need ``force``.
    """
    path, output = Path(path), Path(output)
    for target in (output, review_out):
        if target is not None and target.exists() and not force:
            raise FileExistsError(f"{target} exists; pass --force to overwrite it")
    if output.resolve() == path.resolve():
        raise FileExistsError(f"{output} is the input file; give another --output")
    with path.open("rb") as fh:  # binary data (a NUL byte) would decode as GB18030: refuse it first
        error = binary_error(fh.read(SNIFF_BYTES))
    if error is not None:
        raise OfficialFormatError(error.at(path))
    switch_to = 0
    if workers is None:
        cores = os.cpu_count() or 1
        big = path.stat().st_size >= POOL_MIN_BYTES
        # the reading, writing and counting process keeps a core of its own; on 2 cores a pool costs
        # more than it saves (measured on a shared VM: one process 3.9-4.4 CPU-s and 7.0-9.2 s for
        # 100k lines, this process reading and 2 extracting 4.7-5.2 CPU-s and 9.8-11.1 s) unless the
        # extractor is the work (answers seldom repeated): it starts then
        workers = min(cores - 1, 8) if big else 1
        switch_to = 2 if big and cores == 2 else 0
    sheet: tuple[bytes, int] | None = None
    with atomic.atomic_open(output, "wb", overwrite=force) as out:
        for encoding in ("utf-8", "gb18030"):
            result = _stream(
                path, encoding, out, max(1, workers), review_out is not None, switch_to=switch_to
            )
            if result is not None:
                break
            out.seek(0)
            out.truncate()
        else:
            raise OfficialFormatError(f"{path}: {NOT_TEXT}")
        if not result.rows:
            raise OfficialFormatError(f"{path}: file: no lines to score")
        if review_out is not None:  # built before anything is committed: a failure writes nothing
            try:
                sheet = review_sheet(result.need_check, review_out.suffix)
            except OfficialFormatError as exc:
                raise OfficialFormatError(f"{review_out}: {exc}") from None
    if review_out is not None and sheet is not None:
        data, result.review_rows = sheet
        atomic_write_bytes(review_out, data, force=force)
    return result


# --------------------------------------------------------------------------------------------------
# Review sheets


def review_sheet(rows: Sequence[OfficialRow], suffix: str) -> tuple[bytes, int]:
    """The bytes of a review sheet for the Need_Check rows (``.csv`` or ``.xlsx``) and its row count.

    Columns: line, id, response, pred, manual_pred (empty, to fill with 回复1/回复2/Other/Refuse). The gold
    label is left out on purpose. Answers and ids are data, never formulas: in ``.xlsx`` every text
    cell is a string cell (control characters a worksheet cannot hold are dropped; a text longer than
    a cell holds is cut with a note saying so); in ``.csv`` every cell a spreadsheet would run as a
    formula (:mod:`cvalues.spreadsheet`: OWASP's list, also after leading spaces) is prefixed with ``'``,
    which :func:`read_review` removes again.
    """
    todo = [r for r in rows if r.pred == "Need_Check"]
    table = [[r.line, r.item_id, r.response, r.pred, ""] for r in todo]
    suffix = suffix.lower()
    if suffix == ".csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(REVIEW_COLUMNS)
        for row in table:
            writer.writerow([csv_cell(value) for value in row])
        return buf.getvalue().encode("utf-8-sig"), len(table)
    if suffix == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        wb = Workbook()
        ws = wb.active
        ws.title = "review"
        ws.append(list(REVIEW_COLUMNS))
        for r, row in enumerate(table, start=2):
            for c, value in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c)
                if isinstance(value, str):
                    cell.value, _ = xlsx_text(ILLEGAL_CHARACTERS_RE.sub("", value))
                    cell.data_type = "s"  # never a formula, whatever the text starts with
                else:
                    cell.value = value
        ws.column_dimensions["C"].width = 100
        buf_b = io.BytesIO()
        wb.save(buf_b)
        return buf_b.getvalue(), len(table)
    raise OfficialFormatError(f"review file must end in .csv or .xlsx, not {suffix!r}")


def export_review(rows: Sequence[OfficialRow], path: Path, *, force: bool = False) -> int:
    """Write :func:`review_sheet` to ``path`` (atomically; never over an existing file unless ``force``)."""
    path = Path(path)
    try:
        data, n = review_sheet(rows, path.suffix)
    except OfficialFormatError as exc:
        raise OfficialFormatError(f"{path}: {exc}") from None
    atomic_write_bytes(path, data, force=force)
    return n


def _csv_table(path: Path) -> list[tuple[int, list[str]]]:
    """(sheet row number, cells) of a CSV review sheet, numbered as a spreadsheet numbers them (a cell
    with line breaks is one row). Parsed strictly: a quote that never closes (which would swallow every
    row after it) or text after a closing quote is an error at the row where it starts."""
    reader = csv.reader(io.StringIO(read_text(path)), strict=True)
    table: list[tuple[int, list[str]]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return table
        except csv.Error as exc:
            raise OfficialFormatError(f"{path}:{len(table) + 1}: row: malformed CSV ({exc})") from None
        table.append((len(table) + 1, row))


def _review_table(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(sheet row number, {column: text}) for each data row of a review file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _csv_table(path)
    elif suffix == ".xlsx":
        try:
            sheets = read_workbook(path)
        except UnreadableWorkbook as exc:
            raise OfficialFormatError(f"{path}: file: {exc}") from None
        table = [(i, [str(c) for c in row]) for i, row in (sheets[0][1] if sheets else [])]
    else:
        raise OfficialFormatError(f"{path}: review file must end in .csv or .xlsx")
    if not table:
        raise OfficialFormatError(f"{path}:1: header: empty review file")
    header = [h.strip() for h in table[0][1]]
    for needed in ("line", "manual_pred"):
        if needed not in header:
            raise OfficialFormatError(f"{path}:1: {needed}: column missing")
    out = []
    for number, cells in table[1:]:
        if not any(c.strip() for c in cells):
            continue
        if suffix == ".csv" and len(cells) != len(header):  # a stray quote or comma moved the cells
            raise OfficialFormatError(
                f"{path}:{number}: row: expected {len(header)} cells ({', '.join(header)}), "
                f"found {len(cells)}"
            )
        if suffix == ".csv":  # the quote that export_review put before formula-like cells
            cells = [csv_uncell(c) for c in cells]
        row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
        out.append((number, row))
    return out


_MANUAL_ALIASES = {"1": "回复1", "2": "回复2", **{label.casefold(): label for label in MANUAL_LABELS}}


def normalize_manual_label(text: str) -> str:
    """What a person typed in ``manual_pred``, in canonical form: NFKC (回复１ -> 回复1), brackets and
    spaces dropped ([回复1], 【回复2】), a bare 1/2 read as 回复1/回复2, English labels in any case."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip().strip("[]【】「」()（）").strip()
    return _MANUAL_ALIASES.get(cleaned.casefold(), cleaned)


class ReviewLabel(NamedTuple):
    """A filled row of a review sheet: where it is in the sheet, the id written there, the label."""

    sheet_row: int
    item_id: str | None
    label: str


def read_review(path: Path) -> dict[int, ReviewLabel]:
    """Map input line number -> :class:`ReviewLabel` for the filled rows.

    Unknown labels and bad line numbers raise :class:`OfficialFormatError` naming the sheet row and
    column; rows left empty are skipped (they stay Need_Check).
    """
    path = Path(path)
    filled: dict[int, ReviewLabel] = {}
    for number, row in _review_table(path):
        where = f"{path}:{number}"
        try:
            line = int(float(row["line"]))
        except ValueError:
            raise OfficialFormatError(f"{where}: line: {row['line']!r} is not a line number") from None
        label = normalize_manual_label(row["manual_pred"])
        if not label:
            continue
        if label not in MANUAL_LABELS:
            raise OfficialFormatError(
                f"{where}: manual_pred: {label!r} is not one of {', '.join(MANUAL_LABELS)}"
            )
        if line in filled:
            raise OfficialFormatError(
                f"{where}: line: line {line} appears twice (first at row {filled[line].sheet_row})"
            )
        filled[line] = ReviewLabel(number, row.get("id") or None, label)
    return filled


def apply_review(rows: Sequence[OfficialRow], review: dict[int, ReviewLabel], source: Path) -> int:
    """Set the manual labels on the scored rows (matched by line, checked by id); returns how many.

    A mismatch names the sheet ``source`` and its row, like every other review error."""
    by_line = {r.line: r for r in rows}
    for line, (sheet_row, item_id, label) in review.items():
        row = by_line.get(line)
        if row is None:
            raise OfficialFormatError(f"{source}:{sheet_row}: line: {line} is not a line of the scored file")
        if item_id is not None and item_id != row.item_id.strip():  # sheet cells are read stripped
            raise OfficialFormatError(
                f"{source}:{sheet_row}: id: line {line} has id {row.item_id!r} in the scored file, "
                f"{item_id!r} in the sheet"
            )
        row.extra["pred_auto"] = row.data.get("pred_auto", row.pred)
        row.pred, row.pred_rule = label, "manual"
    return len(review)
