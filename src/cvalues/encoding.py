"""Which bytes are text: UTF-8 (with or without BOM), else GB18030, strictly; anything else has one name.

A leaf utility shared by every reader of user files (data suites, scored files, review sheets, replay
answers), so that a binary file or a UTF-16 file gets the same message wherever it is given:
:data:`NOT_TEXT`.
"""

from __future__ import annotations

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


def binary_problem(head: bytes) -> str | None:
    """The message for a file starting with ``head`` if it is binary (holds a NUL byte), else None.

    UTF-8 and GB18030 text never holds a NUL byte; binary files and UTF-16 text almost always do early."""
    at = head.find(b"\x00")
    if at < 0:
        return None
    return f"{NOT_TEXT} (a NUL byte at offset {at}: binary data or UTF-16?)"


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of a whole file's bytes: ``utf-8-sig`` (a BOM dropped), else ``gb18030``.

    Raises :class:`NotText` (its message starts with :data:`NOT_TEXT`) for anything else."""
    problem = binary_problem(data[:SNIFF_BYTES])
    if problem is not None:
        raise NotText(problem)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotText(f"{NOT_TEXT} (undecodable byte 0x{data[exc.start]:02x})", line) from None
    raise AssertionError("unreachable")  # pragma: no cover
