"""Streaming readers for JSONL, JSON and CSV files that report errors as ``file:line: field``.

Encoding is detected, not assumed: UTF-8 with BOM, UTF-8, then GB18030, each a strict decode. Files are
read line by line in binary (``\\n`` never occurs inside a UTF-8 or GB18030 character), so memory stays
bounded and an undecodable byte is reported with its line number. A file that is neither (a binary file,
UTF-16) gets one message wherever it is read: :data:`NOT_TEXT`.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cvalues.data.errors import DataError
from cvalues.encoding import BOM, NOT_TEXT, SNIFF_BYTES, NotText, binary_error, decode_text
from cvalues.encoding import detect_encoding as sniff_encoding  # this module's own takes a path


def decode_bytes(data: bytes, path: Path | str) -> tuple[str, str]:
    """``(text, encoding)`` of a whole file's bytes (:func:`cvalues.encoding.decode_text`); anything
    but UTF-8 or GB18030 text is a :class:`DataError` naming ``path`` (and the line, when known)."""
    try:
        return decode_text(data)
    except NotText as exc:
        raise DataError(exc.message, path=path, line=exc.line) from None


def detect_encoding(path: Path) -> str:
    """``utf-8-sig``, ``utf-8`` or ``gb18030``: the first strict decode that fits
    (:func:`cvalues.encoding.detect_encoding`, whose damaged-UTF-8 rule makes an error at the bad line
    rather than a file silently re-read as mojibake)."""
    with path.open("rb") as fh:
        error = binary_error(fh.read(SNIFF_BYTES))
        if error is not None:
            raise DataError(error.message, path=path, line=error.line)
        fh.seek(0)
        try:
            return sniff_encoding(fh)
        except NotText as exc:
            raise DataError(exc.message, path=path, line=exc.line) from None


def iter_lines(path: Path, encoding: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, decoded line with its ending)``; an undecodable byte is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file does not exist", path=path)
    encoding = encoding or detect_encoding(path)
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(BOM) and codec == "utf-8":
                raw = raw[3:]
            try:
                yield lineno, raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{NOT_TEXT}: undecodable byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
                    f"(file read as {encoding.upper()})",
                    path=path,
                    line=lineno,
                ) from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; a bad line is a DataError."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno
            ) from None
        except RecursionError:
            raise DataError(_TOO_DEEP, path=path, line=lineno) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, found {type(obj).__name__}", path=path, line=lineno)
        yield lineno, obj


_TOO_DEEP = "JSON nested too deeply to read (thousands of levels of [ or {): not a data file"


def _text(path: Path) -> str:
    return "".join(line for _, line in iter_lines(path))


def read_json(path: Path) -> Any:
    """Parse a whole (small) JSON document; a syntax error names its line."""
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno
        ) from None
    except RecursionError:
        raise DataError(_TOO_DEEP, path=path) from None


def iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line where the item starts, item)`` for each element of a top-level JSON array."""
    yield from json_members(_text(path), path)


def json_members(text: str, path: Path | str, container: str = "[") -> Iterator[tuple[int, Any]]:
    """``(line where it starts, value)`` of each element of the top-level JSON array (``container``
    ``[``) or each value of the top-level object (``{``) that ``text`` holds, so that a reader can
    name the line of the element it refuses; a syntax error is a DataError naming its line."""
    close = "]" if container == "[" else "}"
    decoder = json.JSONDecoder()
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def bad(msg: str, pos: int) -> DataError:
        return DataError(msg, path=path, line=line_of(pos))

    line, counted_to = 1, 0  # lines counted as the walk goes: each element's line in one pass

    i = skip(0)
    if i >= n or text[i] != container:
        raise bad(f"expected a JSON {'array' if container == '[' else 'object'} ({container!r})", i)
    i = skip(i + 1)
    if i < n and text[i] == close:
        if skip(i + 1) != n:
            raise bad(f"unexpected text after the closing {close!r}", skip(i + 1))
        return
    while True:
        try:
            if container == "{":
                key, i = decoder.raw_decode(text, i)
                if not isinstance(key, str):
                    raise bad("malformed JSON: expected a property name", i)
                i = skip(i)
                if i >= n or text[i] != ":":
                    raise bad("malformed JSON: expected ':'", i)
                i = skip(i + 1)
            line += text.count("\n", counted_to, i)
            counted_to = i
            item, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno
            ) from None
        except RecursionError:
            raise DataError(_TOO_DEEP, path=path, line=line) from None
        yield line, item
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == close:
            if skip(i + 1) != n:
                raise bad(f"unexpected text after the closing {close!r}", skip(i + 1))
            return
        raise bad(f"expected ',' or {close!r} in JSON {'array' if container == '[' else 'object'}", i)


def iter_csv_rows(
    path: Path, encoding: str | None = None, *, delimiter: str = ","
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line where the row starts, fields)`` for each CSV row (quoted newlines allowed)."""
    lines = iter_lines(path, encoding)
    reader = csv.reader((line for _, line in lines), strict=True, delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"malformed CSV: {exc}", path=path, line=start) from None
        if row:
            yield start, row
        start = reader.line_num + 1


def iter_csv_dicts(
    path: Path, encoding: str | None = None, *, delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {column: value})`` using the header row; a row of the wrong width is a DataError."""
    rows = iter_csv_rows(path, encoding, delimiter=delimiter)
    try:
        _, header = next(rows)
    except StopIteration:
        raise DataError("empty CSV file (no header row)", path=path) from None
    header = [h.strip() for h in header]
    for lineno, row in rows:
        if len(row) != len(header):
            missing = header[len(row)] if len(row) < len(header) else None
            raise DataError(
                f"expected {len(header)} fields ({', '.join(header)}), found {len(row)}",
                path=path,
                line=lineno,
                field=missing,
            )
        yield lineno, dict(zip(header, row, strict=True))


PARQUET_MAGIC = b"PAR1"


def _first_bytes(path: Path) -> bytes:
    """The first non-blank bytes of a file, after a UTF-8 BOM (enough to tell its layout)."""
    with Path(path).open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(BOM):
        head = head[len(BOM) :]
    return head.lstrip(b" \t\r\n")


def iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row number, row)`` of a Parquet file (the Hugging Face copies of datasets), streamed in
    batches; without pyarrow, a DataError that says how to convert the file to JSON Lines."""
    try:
        import pyarrow.parquet as pq  # optional: installed with the ray or hf extras, not required
    except ImportError:
        raise DataError(
            "a Parquet file (the layout of Hugging Face dataset copies); reading it needs pyarrow "
            '(pip install pyarrow), or convert it to JSON Lines first: python -c "import pandas, sys; '
            "pandas.read_parquet(sys.argv[1]).to_json(sys.argv[2], orient='records', lines=True, "
            'force_ascii=False)" FILE.parquet FILE.jsonl',
            path=path,
        ) from None
    try:
        parquet = pq.ParquetFile(path)
        row = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for item in batch.to_pylist():
                row += 1
                yield row, item
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid/ArrowIOError derive from these
        raise DataError(f"unreadable Parquet file: {exc}", path=path) from None


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Objects of a record file whatever its name says: JSON Lines, a JSON array of objects (by the
    first character, ``[``) or Parquet (by its magic bytes). Dataset hubs name the same content
    ``train.jsonl``, ``train.json`` or ``train-00000-of-00001.parquet``; the numbers are lines (rows
    for Parquet) as everywhere else."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file does not exist" if not path.is_dir() else _DIRECTORY, path=path)
    head = _first_bytes(path)
    if head.startswith(PARQUET_MAGIC):
        yield from iter_parquet(path)
    elif head.startswith(b"["):
        for lineno, item in iter_json_array(path):
            if not isinstance(item, dict):
                raise DataError(
                    f"expected a JSON object, found {type(item).__name__}", path=path, line=lineno
                )
            yield lineno, item
    else:
        if head.startswith(b"{") and head[1:].lstrip(b" \t\r").startswith(b"\n"):
            raise DataError(
                "one JSON object spread over lines, not records: expected JSON Lines (one object a "
                "line) or a JSON array of objects",
                path=path,
                line=1,
            )
        yield from iter_jsonl(path)


_DIRECTORY = "a folder, not a file: pass the data file inside it (e.g. train.jsonl or test.jsonl)"


def iter_table(path: Path, fmt: str | None = None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Rows of a JSONL, JSON (array of objects), Parquet, CSV or TSV file, chosen by ``fmt`` or the
    file suffix; JSON and JSONL are told apart by content (:func:`iter_records`), since hubs name
    JSON Lines ``.json`` and arrays ``.jsonl``."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).casefold()
    if fmt in ("jsonl", "ndjson", "json", "parquet"):
        yield from iter_records(path)
    elif fmt in ("csv", "tsv"):
        yield from iter_csv_dicts(path, delimiter="\t" if fmt == "tsv" else ",")
    else:
        raise DataError(f"unknown file format {fmt!r}: use .jsonl, .json, .parquet, .csv or .tsv", path=path)


def no_records_error(path: Path) -> DataError:
    """A file given by name without a single record: empty (or blank), or rows absent (``[]``, a CSV
    header alone). Every reader of a user's file says it the same way, naming the file."""
    with Path(path).open("rb") as fh:
        blank = not fh.read(4096).strip()
    return DataError(f"no records: {'the file is empty' if blank else 'the file holds no rows'}", path=path)


def get_text(
    row: Mapping[str, Any],
    key: str,
    path: Path | str,
    line: int,
    *,
    required: bool = True,
    strip: bool = True,
) -> str:
    """The stripped text of ``row[key]``; missing or empty (when required) is a DataError.

    ``strip=False`` returns the text exactly as written (a prompt shown verbatim to a model) while
    still treating a blank value as empty.
    """
    if key not in row or row[key] is None:
        if not required:
            return ""
        raise DataError("missing value", path=path, line=line, field=key)
    value = row[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(f"expected text, found {type(value).__name__}", path=path, line=line, field=key)
    if required and not value.strip():
        raise DataError("empty value", path=path, line=line, field=key)
    return value.strip() if strip else value


def normalise_text(text: str) -> str:
    """Key for comparing texts: NFKC (full-width ASCII folded) with all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())
