"""Write records as normalised JSONL, atomically: a failure half-way leaves no file behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cvalues.data.schema import Record


def export_jsonl(records: Iterable[Record], out: Path | str) -> int:
    """Write ``record.to_dict()`` per line to ``out`` via a temporary file and rename; returns the count.

    If reading the records fails (a DataError from a malformed input line), the temporary file is removed
    and ``out`` is left as it was.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for record in records:
                fh.write(json.dumps(record.to_dict(), ensure_ascii=False, sort_keys=False))
                fh.write("\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
