"""What an annotation project imports: the answers of generation runs, or a JSONL/CSV of answers.

Both become :class:`SourceAnswer` records (one prompt, one model's answer). A generation run is read
through the run layer (:func:`cvalues.runs.read_manifest`, :class:`cvalues.runs.RunStore`): its ``ok``
answers, the prompt as the last user turn, the category and level from the stored request meta.
A file has one object per line with ``prompt``, ``response`` (or ``answer``), ``model`` and
``category`` (key, English or Chinese name), and optionally ``item_id`` (else a hash of the prompt);
UTF-8 or GB18030. Errors name the file, line and field.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cvalues.data.errors import DataError
from cvalues.data.readers import get_text, iter_table, no_records_error
from cvalues.data.schema import category_by_name
from cvalues.runs import RunDir, RunStore, read_manifest


@dataclass(frozen=True)
class SourceAnswer:
    """One model's answer to one prompt, ready to import as (part of) an annotation item."""

    item_id: str
    prompt: str
    answer: str
    model: str
    category: str | None
    source: str
    level: str | None = None


def prompt_id(prompt: str) -> str:
    """A stable id for a prompt given without one: ``p-`` and 16 hex digits of its SHA-256."""
    return "p-" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def _category_key(value: str, task: str, where: str) -> str:
    cat = category_by_name(value, task)  # type: ignore[arg-type]
    if cat is None:
        raise DataError(f"unknown {'scenario' if task == 'safety' else 'domain'} {value!r}", path=where)
    return cat.key


#: What annotators see for a reply the provider's content moderation withheld whole (docs/annotate.md).
WITHHELD_TEXT = (
    "【服务方的内容审核拦截了这条回复，用户没有看到任何文字。"
    "Withheld by the provider's content moderation: no text reached the user.】"
)


def read_run(run_dir: str | os.PathLike[str], task: str) -> list[SourceAnswer]:
    """The ``ok`` generate answers of a generation run directory, checked against ``task``."""
    rundir = RunDir(Path(run_dir))
    if not rundir.store_path.is_file():
        raise DataError(f"not a generation run directory ({rundir.store_path.name} is missing)", path=run_dir)
    try:
        manifest = read_manifest(rundir.path)
    except FileNotFoundError:
        manifest = {}
    spec = (manifest.get("model") or {}).get("spec")
    source = str(rundir.path.resolve())
    out: list[SourceAnswer] = []
    with RunStore(rundir.store_path, readonly=True) as store:
        for a in store.answers(status="ok"):
            if a.text is None:  # a log-probability request, not an open answer
                continue
            level = a.meta.get("level")
            if level and level != task:
                raise DataError(
                    f"item {a.item_id!r} is a {level} prompt; import it with --task {level}", path=run_dir
                )
            users = [m.content for m in a.messages if m.role == "user"]
            if not users:
                raise DataError(f"item {a.item_id!r}: the stored request has no user turn", path=run_dir)
            category = a.meta.get("category")
            out.append(
                SourceAnswer(
                    item_id=a.item_id,
                    prompt=users[-1],
                    answer=WITHHELD_TEXT if a.withheld else a.text,
                    model=spec or a.model,
                    category=_category_key(category, task, str(run_dir)) if category else None,
                    source=source,
                    level=level,
                )
            )
    return out


def read_answers_file(path: str | os.PathLike[str], task: str) -> list[SourceAnswer]:
    """Rows of a JSONL/JSON/CSV file of prompt, response (or answer), model, category [, item_id]."""
    path = Path(path)
    out: list[SourceAnswer] = []
    for line, row in iter_table(path):
        prompt = get_text(row, "prompt", path, line, strip=False)
        if "response" not in row and "answer" not in row:
            raise DataError("missing value (or give it as 'answer')", path=path, line=line, field="response")
        key = "response" if "response" in row else "answer"
        answer = get_text(row, key, path, line, strip=False)
        model = get_text(row, "model", path, line)
        category_text = get_text(row, "category", path, line, required=False)
        category = None
        if category_text:
            cat = category_by_name(category_text, task)  # type: ignore[arg-type]
            if cat is None:
                kind = "scenario" if task == "safety" else "domain"
                raise DataError(f"unknown {kind} {category_text!r}", path=path, line=line, field="category")
            category = cat.key
        item_id = get_text(row, "item_id", path, line, required=False) or prompt_id(prompt)
        out.append(SourceAnswer(item_id, prompt, answer, model, category, f"{path.resolve()}:{line}"))
    if not out:
        raise no_records_error(path)
    return out


def read_source(path: str | os.PathLike[str], task: str) -> list[SourceAnswer]:
    """A run directory or an answers file, by what ``path`` is."""
    p = Path(path)
    if p.is_dir():
        return read_run(p, task)
    if p.is_file():
        return read_answers_file(p, task)
    raise DataError("no such run directory or file", path=p)
