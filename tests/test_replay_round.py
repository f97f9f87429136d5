"""The blind round for the `replay:FILE` backend: every case of tests/replay_cases/cases.jsonl.

The cases were written from docs/models.md (the `replay:FILE` section) and other tools' documented
output formats before the backend's code was read (tests/replay_cases/README.md). Each case's file is
written under tmp_path byte for byte and loaded with `load_model("replay:PATH", **options)`; then:

* `error`: loading raises ValueError naming the file name, `:LINE` (when given), the field (when
  given) and each `contains` substring (case-insensitive);
* `answers`: `model.lookup(id).text` is the text; `lookup_error`: `model.lookup(id)` raises ModelError
  whose message contains the substring;
* `prompts`: `generate([user(prompt)])` (and the same after a system turn) returns the text;
  `prompt_error`: it raises ModelError containing the substring;
* `finish_reason` (by id) / `prompt_finish_reason` (by prompt): the Generation's finish_reason;
  `not_blocked`: ids whose Generation is not blocked; `needs_item_id`: the model's flag.

A failure message starts with CONFIDENTLY WRONG (a wrong answer served, a block served as an answer
or the reverse, a bad file accepted) or REFUSED (an exception where an answer was due).
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cvalues.models.base import ChatMessage, Generation, GenerationSettings, ModelError
from cvalues.models.registry import load_model

HERE = Path(__file__).resolve().parent / "replay_cases"
CASES: list[dict[str, Any]] = [
    json.loads(line)
    for line in (HERE / "cases.jsonl").read_text(encoding="utf-8").split("\n")
    if line.strip()
]
WRONG, REFUSED = "CONFIDENTLY WRONG", "REFUSED"


def _params() -> list[Any]:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


def _write(case: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / case["file_name"]
    if "content_b64" in case:
        path.write_bytes(base64.b64decode(case["content_b64"]))
    else:
        path.write_bytes(case["content"].encode("utf-8"))
    return path


def _resolve(value: Any) -> Any:
    return asyncio.run(value) if inspect.isawaitable(value) else value


def _lookup(model: Any, item_id: str) -> Generation:
    return _resolve(model.lookup(item_id))


def _ask(model: Any, prompt: str, system: bool = False) -> Generation:
    messages = [ChatMessage("user", prompt)]
    if system:
        messages.insert(0, ChatMessage("system", "你是一个占位助手。"))
    return asyncio.run(model.generate(messages, GenerationSettings()))


def _no_answer(call: str, ask: Any, part: str) -> list[str]:
    """What is wrong when ``ask()`` should raise a ModelError containing ``part`` (no answer)."""
    try:
        g = ask()
    except ModelError as exc:
        return [] if part in str(exc) else [f"{REFUSED}: {call} error lacks {part!r}: {exc}"]
    except Exception as exc:
        return [f"{REFUSED}: {call} raised {type(exc).__name__}, not ModelError: {exc}"]
    return [f"{WRONG}: {call} gave {g.text!r}, expected no answer"]


def _line_named(message: str, line: int) -> bool:
    return re.search(rf":{line}(?!\d)", message) is not None


@pytest.mark.parametrize("case", _params())
def test_replay_case(case: dict[str, Any], tmp_path: Path) -> None:
    path = _write(case, tmp_path)
    expect = case["expect"]
    spec = f"replay:{path}"
    if "error" in expect:
        want = expect["error"]
        try:
            model = load_model(spec, **case["options"])
        except ValueError as exc:
            msg = str(exc)
        except Exception as exc:
            pytest.fail(f"{REFUSED}: crashed with {type(exc).__name__}: {exc}")
        else:
            pytest.fail(f"{WRONG}: the file was accepted ({model!r}); expected a refusal {want}")
        assert case["file_name"] in msg, f"{REFUSED}: message does not name the file: {msg}"
        if want.get("line") is not None:
            assert _line_named(msg, want["line"]), f"{REFUSED}: message does not name :{want['line']}: {msg}"
        if want.get("field"):
            assert want["field"] in msg, f"{REFUSED}: message does not name field {want['field']!r}: {msg}"
        for part in want.get("contains", []):
            assert part.lower() in msg.lower(), f"{REFUSED}: message lacks {part!r}: {msg}"
        return

    try:
        model = load_model(spec, **case["options"])
    except Exception as exc:
        pytest.fail(f"{REFUSED}: load failed: {type(exc).__name__}: {exc}")

    problems: list[str] = []

    def answer(how: str, get: Any) -> Generation | None:
        try:
            return get()
        except Exception as exc:
            problems.append(f"{REFUSED}: {how}: {type(exc).__name__}: {exc}")
            return None

    for item_id, text in expect.get("answers", {}).items():
        g = answer(f"lookup({item_id!r})", lambda i=item_id: _lookup(model, i))
        if g is not None and g.text != text:
            problems.append(f"{WRONG}: lookup({item_id!r}) gave {g.text!r}, expected {text!r}")
        if g is not None and g.blocked:
            problems.append(f"{WRONG}: lookup({item_id!r}) is served as a block")
    for prompt, text in expect.get("prompts", {}).items():
        for system in (False, True):
            g = answer(f"generate({prompt!r}, system={system})", lambda p=prompt, s=system: _ask(model, p, s))
            if g is not None and g.text != text:
                problems.append(
                    f"{WRONG}: generate({prompt!r}, system={system}) gave {g.text!r}, expected {text!r}"
                )
    for item_id, part in expect.get("lookup_error", {}).items():
        problems += _no_answer(f"lookup({item_id!r})", lambda i=item_id: _lookup(model, i), part)
    for prompt, part in expect.get("prompt_error", {}).items():
        problems += _no_answer(f"generate({prompt!r})", lambda p=prompt: _ask(model, p), part)
    for item_id, reason in expect.get("finish_reason", {}).items():
        g = answer(f"lookup({item_id!r})", lambda i=item_id: _lookup(model, i))
        if g is not None and g.finish_reason != reason:
            problems.append(
                f"{WRONG}: lookup({item_id!r}).finish_reason is {g.finish_reason!r}, expected {reason!r}"
            )
    for prompt, reason in expect.get("prompt_finish_reason", {}).items():
        g = answer(f"generate({prompt!r})", lambda p=prompt: _ask(model, p))
        if g is not None and g.finish_reason != reason:
            problems.append(
                f"{WRONG}: generate({prompt!r}).finish_reason is {g.finish_reason!r}, expected {reason!r}"
            )
    for item_id in expect.get("not_blocked", []):
        g = answer(f"lookup({item_id!r})", lambda i=item_id: _lookup(model, i))
        if g is not None and g.blocked:
            problems.append(f"{WRONG}: lookup({item_id!r}) is served as a block ({g.finish_reason!r})")
    if "needs_item_id" in expect and getattr(model, "needs_item_id", None) is not expect["needs_item_id"]:
        problems.append(f"{WRONG}: needs_item_id is {getattr(model, 'needs_item_id', None)!r}")
    assert not problems, "\n".join(problems)


def test_cases_are_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    keys = {
        "answers",
        "prompts",
        "lookup_error",
        "prompt_error",
        "finish_reason",
        "prompt_finish_reason",
        "not_blocked",
        "needs_item_id",
        "error",
    }
    for c in CASES:
        assert ("content" in c) != ("content_b64" in c), c["id"]
        assert c["source"] and c["why"], c["id"]
        assert set(c["expect"]) <= keys, c["id"]
        assert c["expect"], c["id"]
