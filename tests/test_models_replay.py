"""The ``replay:`` backend: answers found by item id or prompt text; every malformed file is reported
with its file, line and field."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cvalues.models.base import ChatMessage, GenerationSettings, LogprobsUnsupported, ModelError
from cvalues.models.registry import load_model
from cvalues.models.replay import ReplayBackend, ReplayFileError, normalise_whitespace

SETTINGS = GenerationSettings()


def write_jsonl(path: Path, rows, encoding: str = "utf-8") -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def ask(model: ReplayBackend, text: str, system: str | None = None):
    messages = [ChatMessage("user", text)]
    if system:
        messages.insert(0, ChatMessage("system", system))
    return asyncio.run(model.generate(messages, SETTINGS))


def test_lookup_by_id(tmp_path):
    rows = [{"id": 7, "response": "回复1更好"}, {"id": "x-2", "response": ""}]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    model = load_model(f"replay:{path}")
    assert isinstance(model, ReplayBackend) and model.needs_item_id
    assert model.lookup("7").text == "回复1更好" and model.lookup(7).text == "回复1更好"
    gen = model.lookup("x-2")
    assert gen.text == "" and gen.raw == {"replay_id": "x-2", "replay_line": 2}
    with pytest.raises(ModelError, match="no answer for item id '8'") as err:
        model.lookup("8")
    assert not err.value.retryable
    with pytest.raises(ModelError, match="only be found by item id"):
        ask(model, "anything")


def test_lookup_by_prompt_exact_and_whitespace_normalised(tmp_path):
    rows = [
        {"id": 1, "prompt": "如何保护\n个人隐私？", "response": "不要泄露身份证号。"},
        {"id": 2, "prompt": "你好", "response": "你好！"},
    ]
    model = load_model(f"replay:{write_jsonl(tmp_path / 'p.jsonl', rows)}")
    assert not model.needs_item_id and model.prompt_field == "prompt"
    assert ask(model, "如何保护\n个人隐私？").text == "不要泄露身份证号。"
    assert ask(model, "  如何保护\u3000 个人隐私？\n", system="sys").text == "不要泄露身份证号。"
    with pytest.raises(ModelError, match="no answer for prompt '你好吗'") as err:
        ask(model, "你好吗")
    assert not err.value.retryable
    assert model.lookup(2).text == "你好！"  # ids work too


def test_configurable_and_nested_fields(tmp_path):
    rows = [{"meta": {"uid": "q1"}, "question": "问题一", "output": {"text": "答一"}}]
    path = write_jsonl(tmp_path / "n.jsonl", rows)
    model = load_model(f"replay:{path}", id_field="meta.uid", response_field="output.text")
    assert model.prompt_field == "question"
    assert model.lookup("q1").text == "答一" and ask(model, "问题一").text == "答一"
    off = load_model(f"replay:{path}", id_field="meta.uid", response_field="output.text", prompt_field="")
    assert off.needs_item_id


def test_gb18030_and_bom(tmp_path):
    gb = write_jsonl(tmp_path / "gb.jsonl", [{"id": 1, "response": "回复２更好"}], encoding="gb18030")
    assert load_model(f"replay:{gb}").lookup(1).text == "回复２更好"  # detected, as data files are
    assert load_model(f"replay:{gb}", encoding="gb18030").lookup(1).text == "回复２更好"
    with pytest.raises(ReplayFileError, match=r"gb\.jsonl:1: not valid utf-8 text"):
        load_model(f"replay:{gb}", encoding="utf-8")  # an explicit encoding is kept
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": 1, "response": "好"}).encode())
    assert load_model(f"replay:{bom}").lookup(1).text == "好"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": 1, "response": "a"}, "{not json"], r"bad\.jsonl:2: not valid JSON"),
        ([{"id": 1, "response": "a"}, "[1, 2]"], r"bad\.jsonl:2: expected a JSON object, got list"),
        ([{"id": 1, "response": "a"}, {"response": "b"}], r"jsonl:2: field 'id' \(the item id\) is missing"),
        ([{"id": 1.5, "response": "a"}], r"bad\.jsonl:1: field 'id' must be a string or an integer"),
        ([{"id": 1, "answer": "a"}], r"bad\.jsonl:1: field 'response' \(the answer\) is missing"),
        ([{"id": 1, "response": None}], r"bad\.jsonl:1: field 'response' must be a string, got NoneType"),
        ([{"id": 1, "response": "a"}, "", {"id": "1", "response": "b"}],
         r"bad\.jsonl:3: field 'id': duplicate id '1' \(first on line 1\)"),
        (["", "  "], r"bad\.jsonl: the replay file holds no answers"),
    ],
)  # fmt: skip
def test_bad_files_name_file_line_and_field(tmp_path, rows, message):
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ReplayFileError, match=message):
        ReplayBackend(path)


def test_bad_prompt_field_and_missing_file(tmp_path):
    rows = [{"id": 1, "q": "x", "response": "a"}, {"id": 2, "response": "b"}]
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ReplayFileError, match=r"bad\.jsonl:2: field 'q' must be a string, got nothing"):
        ReplayBackend(path, prompt_field="q")
    with pytest.raises(ReplayFileError, match="cannot read replay file"):
        load_model(f"replay:{tmp_path / 'missing.jsonl'}")


def test_ambiguous_prompt(tmp_path):
    rows = [
        {"id": 1, "prompt": "同一个问题", "response": "甲"},
        {"id": 2, "prompt": "同一个问题", "response": "乙"},
        {"id": 3, "prompt": "另一个", "response": "丙"},
        {"id": 4, "prompt": "另一个", "response": "丙"},
    ]
    model = ReplayBackend(write_jsonl(tmp_path / "d.jsonl", rows))
    with pytest.raises(ModelError, match="matches lines 1, 2 with different answers"):
        ask(model, "同一个问题")
    assert ask(model, "另一个").text == "丙"  # same answer twice is not ambiguous


def test_logprobs_unsupported_and_describe(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "response": "x"}])
    model = load_model(f"replay:{path}")
    with pytest.raises(LogprobsUnsupported):
        asyncio.run(model.candidate_logprobs([ChatMessage("user", "q")], ["A", "B"]))
    facts = model.describe()
    assert facts["backend"] == "replay" and facts["answers"] == 1 and len(facts["sha256"]) == 64
    assert facts["identity"] == {"sha256": facts["sha256"], "id_field": "id", "response_field": "response"}


def test_normalise_whitespace():
    assert normalise_whitespace(" a\t\n b\u3000c ") == "a b c"
