"""Labels out of the store (JSONL, CSV, Label Studio JSON) and Label Studio's JSON export back in.

JSONL and CSV follow contract C (docs/annotate.md): one line per (answer, annotator) label with
``final: false``, then one ``final: true`` line per settled answer (``annotator: null``): the admin's
adjudication, else the majority label (safety; a tie gives no final line) or the mean score
(responsibility), with ``adjudicated`` and ``n_labels``. CSV cells that a spreadsheet would run as a
formula (starting with ``= + - @``, a tab or a carriage return) get a leading apostrophe.

Label Studio: one task per answer with ``data`` {prompt, answer, task, item_id, category, answer_uid}
(and the model under ``meta``, which Label Studio does not show), annotations as ``choices``
(safe/unsafe) or ``rating`` (1-10) results; :func:`label_studio_config` is the matching labelling
config. :func:`read_label_studio` reads Label Studio's JSON export (of those tasks, or of tasks
carrying item_id + model) back into labels, through the same idempotent submission path.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from cvalues.annotate.agreement import settle
from cvalues.annotate.store import (
    TASK_ROLES,
    AnswerLabel,
    Store,
    StoreError,
    SubmissionError,
    SubmissionIn,
    iso,
)
from cvalues.atomic import atomic_open
from cvalues.data.errors import DataError
from cvalues.data.readers import read_json
from cvalues.spreadsheet import csv_cell

EXPORT_FORMATS: tuple[str, ...] = ("jsonl", "csv", "label-studio")
COLUMNS: tuple[str, ...] = (
    "task",
    "item_id",
    "model",
    "category",
    "annotator",
    "label",
    "score",
    "reason_scenario",
    "note",
    "created_at",
    "final",
    "adjudicated",
    "n_labels",
)


def label_rows(store: Store, task: str | None = None) -> list[dict[str, Any]]:
    """Contract C rows: every label, then every settled answer's final line."""
    rows: list[dict[str, Any]] = []
    by_answer: dict[int, list[Any]] = defaultdict(list)
    for r in store.label_table(task):
        value = r.label.label if r.item.task == "safety" else r.label.score
        by_answer[r.answer.id].append(value)
        rows.append(
            {
                "task": r.item.task,
                "item_id": r.item.item_id,
                "model": r.answer.model,
                "category": r.item.category,
                "annotator": r.annotator,
                "label": r.label.label,
                "score": r.label.score,
                "reason_scenario": r.label.reason_scenario,
                "note": r.label.note,
                "created_at": iso(r.label.updated_at),
                "final": False,
            }
        )
    adjudications = store.adjudications()
    for item, answer in store.answers_table(task):
        adj = adjudications.get(answer.id)
        values = by_answer.get(answer.id, [])
        adjudicated = None if adj is None else (adj.label if item.task == "safety" else adj.score)
        final = settle(values, item.task, adjudicated)
        if final is None:
            continue
        rows.append(
            {
                "task": item.task,
                "item_id": item.item_id,
                "model": answer.model,
                "category": item.category,
                "annotator": None,
                "label": final if item.task == "safety" else None,
                "score": None if item.task == "safety" else final,
                "reason_scenario": None,
                "note": adj.note if adj is not None else None,
                "created_at": iso(adj.created_at) if adj is not None else None,
                "final": True,
                "adjudicated": adj is not None,
                "n_labels": len(values),
            }
        )
    return rows


#: A cell a spreadsheet shows as text: the one rule every CSV cvalues writes follows.
csv_safe = csv_cell


def export_labels(db_url: str, out_path: str | os.PathLike[str], fmt: str = "jsonl") -> int:
    """Write the store's labels to ``out_path`` (atomically) as jsonl, csv or label-studio; returns the
    number of lines (JSONL/CSV rows, or Label Studio tasks) written."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    with Store(db_url) as store:
        if fmt == "label-studio":
            tasks = label_studio_tasks(store)
            with atomic_open(out_path) as fh:
                json.dump(tasks, fh, ensure_ascii=False, indent=1)
                fh.write("\n")
            return len(tasks)
        rows = label_rows(store)
    if fmt == "jsonl":
        with atomic_open(out_path) as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return len(rows)
    with atomic_open(out_path, encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in COLUMNS})
    return len(rows)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_safe(value)


# --- Label Studio -----------------------------------------------------------------------------------


def label_studio_config(task: str) -> str:
    """The Label Studio labelling config matching :func:`label_studio_tasks` for ``task``."""
    if task == "safety":
        control = (
            '  <Choices name="safety" toName="answer" choice="single" required="true">\n'
            '    <Choice value="safe"/>\n    <Choice value="unsafe"/>\n  </Choices>\n'
        )
    else:
        control = '  <Rating name="score" toName="answer" maxRating="10" required="true"/>\n'
    return (
        "<View>\n"
        '  <Text name="prompt" value="$prompt"/>\n'
        '  <Text name="answer" value="$answer"/>\n'
        f"{control}"
        '  <TextArea name="note" toName="answer" required="false"/>\n'
        "</View>\n"
    )


def label_studio_tasks(store: Store) -> list[dict[str, Any]]:
    """One Label Studio task per answer, with the labels as annotations (``completed_by``: the name)."""
    labels: dict[int, list[Any]] = defaultdict(list)
    for r in store.label_table():
        labels[r.answer.id].append(r)
    tasks = []
    for item, answer in store.answers_table():
        annotations = []
        for r in labels.get(answer.id, []):
            result = []
            if item.task == "safety":
                result.append(_ls_result("safety", "choices", {"choices": [r.label.label]}))
            else:
                result.append(_ls_result("score", "rating", {"rating": r.label.score}))
            if r.label.note:
                result.append(_ls_result("note", "textarea", {"text": [r.label.note]}))
            annotations.append(
                {"completed_by": r.annotator, "created_at": iso(r.label.updated_at), "result": result}
            )
        tasks.append(
            {
                "data": {
                    "prompt": item.prompt,
                    "answer": answer.text,
                    "task": item.task,
                    "item_id": item.item_id,
                    "category": item.category,
                    "answer_uid": answer.uid,
                },
                "meta": {"model": answer.model},
                "annotations": annotations,
            }
        )
    return tasks


def _ls_result(from_name: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": "answer", "type": kind, "value": value}


def _annotator_name(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        email = completed_by.get("email") or ""
        return email.split("@")[0] or f"ls-user-{completed_by.get('id')}"
    if isinstance(completed_by, int):
        return f"ls-user-{completed_by}"
    if isinstance(completed_by, str) and completed_by.strip():
        return completed_by.strip().split("@")[0]
    raise ValueError("completed_by is missing")


def read_label_studio(
    store: Store, path: str | os.PathLike[str], *, create_users: bool = True
) -> dict[str, int]:
    """Read a Label Studio JSON export back as labels; returns counts (tasks, labels, duplicates).

    Each task is matched to an answer by ``data.answer_uid`` or by (``data.task``, ``data.item_id``,
    model from ``meta.model`` or ``data.model``). Each annotation becomes one submission with the id
    ``ls:<task id>:<annotation id>``, so reading the same export twice changes nothing. Cancelled
    annotations are skipped. Annotators are matched by name (email before the ``@``), created without
    a password when missing (``create_users``).
    """
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError("a Label Studio JSON export is a list of tasks", path=path)
    table = store.answers_table()
    answers = {a.uid: (i, a) for i, a in table}
    by_key = {(i.task, i.item_id, a.model): (i, a) for i, a in table}
    counts = {"tasks": 0, "labels": 0, "duplicates": 0, "skipped": 0}
    # Everything is checked before anything is stored, so a refused file imports nothing.
    planned: list[tuple[str, str, Any, Any, str, dict[str, Any]]] = []
    for n, task in enumerate(data, start=1):
        where = f"task {n} (id {task.get('id')})" if isinstance(task, dict) else f"task {n}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            hint = ""
            if isinstance(task, dict) and "annotations" not in task:
                hint = " and no 'annotations': export the project as Label Studio's JSON, not JSON-MIN or CSV"
            raise DataError(f"{where}: no 'data' object{hint}", path=path, line=n)
        d = task["data"]
        model = (task.get("meta") or {}).get("model") or d.get("model")
        found = answers.get(d.get("answer_uid") or "") or by_key.get((d.get("task"), d.get("item_id"), model))
        if found is None:
            raise DataError(
                f"{where}: no answer in the store with answer_uid {d.get('answer_uid')!r} "
                f"or task/item_id/model {d.get('task')!r}/{d.get('item_id')!r}/{model!r}",
                path=path,
                line=n,
                field="data",
            )
        item, answer = found
        counts["tasks"] += 1
        for m, ann in enumerate(task.get("annotations") or [], start=1):
            if not isinstance(ann, dict):
                raise DataError(
                    f"{where}, annotation {m}: not an object", path=path, line=n, field="annotations"
                )
            if ann.get("was_cancelled"):
                counts["skipped"] += 1
                continue
            try:
                name = _annotator_name(ann.get("completed_by"))
                label = _ls_value(ann.get("result") or [], item.task)
            except ValueError as exc:
                raise DataError(
                    f"{where}, annotation {m}: {exc}", path=path, line=n, field="annotations"
                ) from None
            user = store.user(name)
            if user is None and not create_users:
                raise DataError(f"{where}: no user {name!r} in the store", path=path, line=n)
            if user is not None and user.role not in TASK_ROLES[item.task]:
                raise DataError(
                    f"{where}, annotation {m}: {name!r} is an {user.role}, "
                    f"who does not label {item.task} items",
                    path=path,
                    line=n,
                )
            sub_id = f"ls:{task.get('id', n)}:{ann.get('id', m)}"
            planned.append((f"{where}, annotation {m}", name, item, answer, sub_id, label))
    experts = {name for _, name, item, *_ in planned if item.task == "responsibility"}
    for where, name, item, answer, sub_id, label in planned:
        user = store.user(name)
        if user is None:  # created with a role that labels every task it has annotations of here
            user = store.add_user(name, "expert" if name in experts else "annotator", None)
        store.assign(user.id, item.id)
        try:
            result = store.submit(
                user,
                SubmissionIn(
                    submission_id=sub_id[:100],
                    item_pk=item.id,
                    labels=[AnswerLabel(answer.uid, **label)],
                ),
                partial=True,
            )
        except (SubmissionError, StoreError) as exc:
            raise DataError(f"{where}: {exc}", path=path) from None
        counts["duplicates" if result.duplicate else "labels"] += 1
    return counts


def _ls_value(result: list[dict[str, Any]], task: str) -> dict[str, Any]:
    out: dict[str, Any] = {"note": None}
    for r in result:
        value = r.get("value") or {}
        if r.get("type") == "choices" and task == "safety":
            choices = value.get("choices") or []
            if len(choices) != 1 or choices[0] not in ("safe", "unsafe"):
                raise ValueError(f"choices must be ['safe'] or ['unsafe'], got {choices!r}")
            out["label"] = choices[0]
        elif r.get("type") in ("rating", "number") and task == "responsibility":
            score = value.get(r["type"])
            if isinstance(score, float) and score.is_integer():
                score = int(score)
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 10:
                raise ValueError(f"{r['type']} must be a whole number from 1 to 10, got {score!r}")
            out["score"] = score
        elif r.get("type") == "textarea":
            out["note"] = "\n".join(value.get("text") or []) or None
    if task == "safety" and "label" not in out:
        raise ValueError("no safe/unsafe choice in the result")
    if task == "responsibility" and not isinstance(out.get("score"), int):
        raise ValueError("no integer rating in the result")
    return out
