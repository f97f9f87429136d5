"""Write records as normalised JSONL, atomically: a failure half-way leaves no file behind."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cvalues.atomic import atomic_open
from cvalues.data.schema import Record


def export_jsonl(records: Iterable[Record], out: Path | str, *, overwrite: bool = True) -> int:
    """Write ``record.to_dict()`` per line to ``out`` via a temporary file and rename; returns the count.

    If reading the records fails (a DataError from a malformed input line), the temporary file is removed
    and ``out`` is left as it was. With ``overwrite=False`` an existing ``out`` is a FileExistsError
    raised before anything is read. The file reads back as the same records (``--suite FILE``).
    """
    count = 0
    with atomic_open(out, encoding="utf-8", newline="\n", overwrite=overwrite) as fh:
        for record in records:
            fh.write(json.dumps(record.to_dict(), ensure_ascii=False, sort_keys=False))
            fh.write("\n")
            count += 1
    return count
