"""Which bytes are text: UTF-8 (with or without BOM), else GB18030, strictly; anything else has one name.

A leaf utility shared by every reader of user files (data suites, scored files, review sheets, replay
answers), so that a binary file or a UTF-16 file gets the same message wherever it is given:
:data:`NOT_TEXT`, and so that one rule decides between UTF-8 and GB18030 (:func:`detect_encoding`): a
file that reads as UTF-8 Chinese and then hits a bad byte is damaged UTF-8, reported at that line, not
re-read whole as GB18030 (which decodes most UTF-8 bytes, into nonsense).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

#: The start of every error about a file that is not text in an encoding cvalues reads.
NOT_TEXT = "not UTF-8 or GB18030 text"
#: Bytes looked at for a NUL, the mark of binary data (or UTF-16), before decoding.
SNIFF_BYTES = 8192


class NotText(ValueError):
    """Bytes that are not UTF-8 or GB18030 text; ``line`` (1-based) where that shows, if known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message, self.line = message, line

    def at(self, path: Path | str) -> str:
        """``path[:line]: message``, the form every data error takes."""
        return f"{path}{f':{self.line}' if self.line is not None else ''}: {self.message}"


def binary_error(head: bytes) -> NotText | None:
    """The error for a file starting with ``head`` if it is binary (holds a NUL byte), else None.

    UTF-8 and GB18030 text never holds a NUL byte; binary files and UTF-16 text almost always do early.
    A UTF-16 byte-order mark is named as such (Excel's "Unicode text" and Notepad's "Unicode" save it),
    with what to do; otherwise the error names the line and column of the first NUL, so that one stray
    NUL in a text file (a broken export) can be found and removed."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return NotText(f"{NOT_TEXT} (UTF-16 text, with its byte-order mark: save the file as UTF-8)")
    at = head.find(b"\x00")
    if at < 0:
        return None
    start = head.rfind(b"\n", 0, at) + 1
    column = len(head[start:at].decode("utf-8", errors="replace")) + 1  # in characters, as an editor counts
    return NotText(
        f"{NOT_TEXT} (a NUL byte at column {column}, offset {at}: binary data or UTF-16?)",
        head.count(b"\n", 0, at) + 1,
    )


BOM = b"\xef\xbb\xbf"


def is_cjk(ch: str) -> bool:
    """Whether ``ch`` is a CJK ideograph (the basic block or extension A)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def detect_encoding(lines: Iterable[bytes]) -> str:
    """``utf-8-sig``, ``utf-8`` or ``gb18030`` for a file given as binary lines (``\\n`` never occurs
    inside a UTF-8 or GB18030 character): the first strict decode that fits.

    A file that decodes as UTF-8 after a BOM, or after two Chinese characters, and then hits a bad byte
    is damaged UTF-8 (GB18030 Chinese fails as UTF-8 at once): :class:`NotText` names the line and
    column, rather than the file being read as GB18030. Stops reading at the first bad byte.
    """
    encoding = "utf-8"
    cjk_seen = 0
    for number, raw in enumerate(lines, start=1):
        if number == 1 and raw.startswith(BOM):
            encoding, raw = "utf-8-sig", raw[len(BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if encoding == "utf-8-sig" or cjk_seen >= 2:
                raise NotText(
                    f"{NOT_TEXT}: undecodable byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
                    f"(file is otherwise {encoding.upper()})",
                    number,
                ) from None
            return "gb18030"
        if cjk_seen < 2:
            cjk_seen += sum(1 for ch in text if is_cjk(ch))
    return encoding


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of a whole file's bytes: ``utf-8-sig`` (a BOM dropped), ``utf-8`` or
    ``gb18030``, by :func:`detect_encoding`.

    Raises :class:`NotText` (its message starts with :data:`NOT_TEXT`) for anything else, and for
    damaged UTF-8."""
    error = binary_error(data[:SNIFF_BYTES])
    if error is not None:
        raise error
    encoding = detect_encoding(io.BytesIO(data))
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotText(f"{NOT_TEXT} (undecodable byte 0x{data[exc.start]:02x})", line) from None
    raise AssertionError("unreachable")  # pragma: no cover
