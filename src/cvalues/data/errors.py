"""The one error type of the data layer: bad or missing input, told to a person as ``file:line: field``."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """A data file is missing, corrupt or malformed.

    ``path`` names the file (or the upstream file id when there is no local path), ``line`` the 1-based
    line (JSONL, CSV row start) or item number (JSON array) and ``field`` the field concerned. ``str()``
    renders ``path:line: field 'name': message`` with the parts that are known.
    """

    def __init__(
        self,
        message: str,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.field is not None:
            where += f"field {self.field!r}: "
        return where + self.message

    def __reduce__(self):  # keep attributes when pickled (multiprocessing)
        return (type(self), (self.message, self.path, self.line, self.field))
