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
from workbooks import write_workbook

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


# -- files other tools write: JSON arrays, CSV/TSV sheets, other field names ----------------------


def test_a_json_array_is_read_and_its_errors_name_the_line_of_the_element(tmp_path):
    rows = [{"id": "a", "response": "回复1更好"}, {"id": "b", "response": "回复2"}]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    model = load_model(f"replay:{path}")
    assert model.lookup("a").text == "回复1更好" and model.lookup("b").raw["replay_line"] == 6
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([rows[0], {"id": "c"}], indent=2), encoding="utf-8")
    with pytest.raises(ReplayFileError, match=r"bad\.json:6: field 'response' \(the answer\) is missing"):
        load_model(f"replay:{bad}")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_sheet_is_read_in_any_of_the_data_encodings(tmp_path, encoding):
    path = tmp_path / "answers.csv"
    text = 'id,prompt,response\n7,问题一,"回复1更好，\n因为……"\n8,问题二,\'=1+1\n'
    path.write_bytes(text.encode(encoding))
    model = load_model(f"replay:{path}")
    assert model.lookup(7).text == "回复1更好，\n因为……"
    assert model.lookup("8").text == "=1+1"  # the quote cvalues puts before a formula-like cell
    assert model.lookup("8").raw["replay_line"] == 4  # the line where the row starts
    assert asyncio.run(model.generate([ChatMessage("user", "问题一")], SETTINGS)).text.startswith("回复1")


def test_a_tsv_sheet_with_empty_ids_finds_those_answers_by_prompt(tmp_path):
    path = tmp_path / "answers.tsv"
    path.write_text("id\tquestion\tresponse\n\t问题一\t甲\n9\t问题二\t乙\n", encoding="utf-8")
    model = load_model(f"replay:{path}")
    assert ask(model, "问题一").text == "甲" and model.lookup(9).text == "乙"
    assert "" not in model.answers


def test_a_csv_row_of_the_wrong_width_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,response\n1,好\n2\n", encoding="utf-8")
    with pytest.raises(ReplayFileError, match=r"bad\.csv:3: field 'response': expected 2 fields"):
        load_model(f"replay:{path}")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"id": 1, "prediction": "甲", "gold": "乙"}, "prediction"),  # OpenCompass
        ({"id": 1, "output": "甲"}, "output"),
        ({"id": 1, "completion": "甲"}, "completion"),
        ({"id": 1, "generated_text": "甲"}, "generated_text"),
        ({"id": 1, "text": "乙", "response": "甲"}, "response"),  # the first of the list wins
    ],
)
def test_the_answer_field_is_found_under_the_names_other_tools_use(tmp_path, row, field):
    model = load_model(f"replay:{write_jsonl(tmp_path / 'a.jsonl', [row])}")
    assert model.lookup(1).text == "甲" and model.describe()["response_field"] == field


def test_an_answer_field_no_line_names_lists_where_it_looked(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "output": "甲"}, {"id": 2, "answer": "乙"}])
    with pytest.raises(ReplayFileError, match=r"a\.jsonl:1: field 'response' .*looked for response, pred"):
        load_model(f"replay:{path}")
    with pytest.raises(ReplayFileError, match=r"a\.jsonl:2: field 'output' \(the answer\) is missing$"):
        load_model(f"replay:{path}", response_field="output")  # named: no list


def test_a_cvalues_export_replays_by_item_id(tmp_path):
    rows = [{"item_id": "jade-1", "kind": "generate", "text": "我不能帮助你。"}]
    model = load_model(f"replay:{write_jsonl(tmp_path / 'export.jsonl', rows)}")
    assert model.id_field == "item_id" and model.lookup("jade-1").text == "我不能帮助你。"


def test_chats_and_list_indices(tmp_path):
    rows = [
        {
            "id": 1,
            "messages": [{"role": "system", "content": "助手"}, {"role": "user", "content": "问题一"}],
            "choices": [{"message": {"role": "assistant", "content": "甲"}}],
        }
    ]
    model = load_model(
        f"replay:{write_jsonl(tmp_path / 'chat.jsonl', rows)}", response_field="choices.0.message.content"
    )
    assert model.prompt_field == "messages" and ask(model, "问题一").text == "甲"
    lm_eval = [{"doc_id": 3, "filtered_resps": ["回复2"], "resps": [["回复2"]]}]
    path = write_jsonl(tmp_path / "samples.jsonl", lm_eval)
    model = load_model(f"replay:{path}", id_field="doc_id", response_field="filtered_resps.0")
    assert model.lookup(3).text == "回复2"
    with pytest.raises(ReplayFileError, match=r"field 'resps\.1' \(the answer\) is missing"):
        load_model(f"replay:{path}", id_field="doc_id", response_field="resps.1")


def test_an_excel_workbook_is_read_from_the_sheet_that_names_the_answers(tmp_path):
    path = write_workbook(
        tmp_path / "导出.xlsx",
        {
            "说明": [["本表由控制台导出"], ["第二行说明"]],
            "结果": [[], ["id", "prompt", "response"], [1001, "问题一", "回复1更好"], [1002, "问题二", 2]],
        },
    )
    model = load_model(f"replay:{path}")
    assert model.lookup("1001").text == "回复1更好"  # an id typed as a number is 1001, not 1001.0
    assert model.lookup(1002).text == "2"  # a number typed as the answer is its text
    assert model.lookup(1002).raw["replay_line"] == 4  # the sheet's own row number
    assert ask(model, "问题一").text == "回复1更好"


def test_a_workbook_with_two_answer_sheets_or_none_readable_is_refused(tmp_path):
    two = write_workbook(
        tmp_path / "two.xlsx", {"a": [["id", "response"], [1, "甲"]], "b": [["id", "response"]]}
    )
    with pytest.raises(ReplayFileError, match=r"two\.xlsx: several sheets hold answers \('a', 'b'\)"):
        load_model(f"replay:{two}")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ReplayFileError, match=r"broken\.xlsx: not a readable xlsx workbook"):
        load_model(f"replay:{broken}")
    missing = write_workbook(tmp_path / "missing.xlsx", {"a": [["id", "answer"], [1, "甲"]]})
    with pytest.raises(ReplayFileError, match=r"missing\.xlsx:2: field 'response' \(the answer\) is missing"):
        load_model(f"replay:{missing}")


def test_a_sheet_with_chinese_column_names(tmp_path):
    path = tmp_path / "控制台导出.csv"
    path.write_bytes("id,问题,参考答案,模型回答\n1,问题一,参考,回复2更好\n".encode("gb18030"))
    model = load_model(f"replay:{path}")
    assert model.response_field == "模型回答" and model.prompt_field == "问题"
    assert model.lookup(1).text == "回复2更好" and ask(model, "问题一").text == "回复2更好"
    only_reference = tmp_path / "reference.csv"
    only_reference.write_text("id,问题,答案\n1,问题一,参考\n", encoding="utf-8")
    with pytest.raises(
        ReplayFileError, match=r"reference\.csv:2: field 'response' \(the answer\) is missing"
    ):
        load_model(f"replay:{only_reference}")  # a reference answer is never taken for the model's


def test_a_batch_apis_output_file_is_read_by_custom_id(tmp_path):
    def line(custom_id, body=None, error=None, status=200):
        response = None if body is None else {"status_code": status, "request_id": "r", "body": body}
        return {"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": response, "error": error}

    def reply(content, finish="stop"):
        return {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
            ]
        }

    rows = [
        line("jade-1", reply("回复1更好")),
        line("jade-2", reply(None, "content_filter")),  # the provider's filter withheld the reply
        line(
            "jade-3", {"error": {"message": "Invalid request", "type": "invalid_request_error"}}, status=400
        ),
        line("jade-4", error={"code": "batch_expired", "message": "not run in time"}),
    ]
    model = load_model(f"replay:{write_jsonl(tmp_path / 'batch_output.jsonl', rows)}")
    assert model.id_field == "custom_id"
    assert model.lookup("jade-1").text == "回复1更好"
    blocked = model.lookup("jade-2")
    assert blocked.finish_reason == "content_filter" and blocked.text == ""
    for failed in ("jade-3", "jade-4"):
        with pytest.raises(ModelError, match=f"no answer for item id '{failed}'.*failed request"):
            model.lookup(failed)
