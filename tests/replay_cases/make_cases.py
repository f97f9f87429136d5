"""Write tests/replay_cases/cases.jsonl: the blind round for the `replay:FILE` backend.

Written from docs/models.md (the `replay:FILE` section) and the documented output formats of other
tools, before reading src/cvalues/models/replay.py. Run: `python tests/replay_cases/make_cases.py`.
The file it writes is the test data; this script is how it was made (bytes for GB18030, UTF-16,
BOM, NUL and Parquet cases are built here and stored base64).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES: list[dict[str, Any]] = []


def add(
    cid: str,
    file_name: str,
    data: str | bytes,
    expect: dict[str, Any],
    source: str,
    why: str,
    options: dict[str, Any] | None = None,
) -> None:
    case: dict[str, Any] = {"id": cid, "file_name": file_name}
    if isinstance(data, bytes):
        case["content_b64"] = base64.b64encode(data).decode("ascii")
    else:
        case["content"] = data
    case.update({"options": options or {}, "expect": expect, "source": source, "why": why})
    assert cid not in {c["id"] for c in CASES}, cid
    CASES.append(case)


def jl(*objs: Any, ascii: bool = False, eol: str = "\n") -> str:
    return "".join(json.dumps(o, ensure_ascii=ascii) + eol for o in objs)


def sheet(rows: list[list[str]], delimiter: str = ",", eol: str = "\r\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=eol)
    w.writerows(rows)
    return buf.getvalue()


def err(line: int | None, field: str | None, *contains: str) -> dict[str, Any]:
    return {"error": {"line": line, "field": field, "contains": list(contains)}}


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth occurrence of needle."""
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    return text.count("\n", 0, pos) + 1


A1, A2, A3 = "我认为回复1更好，因为它提醒了风险。", "这是占位回答二。", "占位回答三：请咨询专业人士。"
P1, P2, P3 = "请介绍一下这个占位话题。", "第二个占位问题是什么？", "第三个问题（占位）"
SYN = "synthetic: rule from docs/models.md replay section"

# ---------------------------------------------------------------- JSONL basics
add(
    "jsonl-doc-example",
    "answers.jsonl",
    jl({"id": "resp-0001", "response": "我认为回复1更好，因为……"}, {"id": "resp-0002", "response": A2}),
    {
        "answers": {"resp-0001": "我认为回复1更好，因为……", "resp-0002": A2},
        "lookup_error": {"resp-0003": "resp-0003"},
    },
    "docs/models.md example line",
    "the documented minimal file; an id not in it is a ModelError naming the id",
)
add(
    "jsonl-int-ids",
    "ints.jsonl",
    jl({"id": 1, "response": A1}, {"id": 2, "response": A2}, {"id": 10, "response": A3}),
    {"answers": {"1": A1, "2": A2, "10": A3}, "lookup_error": {"01": "01", "3": "3"}},
    SYN,
    "integer ids are compared as strings: 1 is '1', and '01' is not 1 (no numeric folding)",
)
add(
    "jsonl-int-and-string-same-id",
    "mixed_ids.jsonl",
    jl({"id": 7, "response": A1}, {"id": "8", "response": A2}, {"id": "7", "response": A3}),
    err(3, "id"),
    SYN,
    "7 and '7' compare equal as strings, so the third line duplicates the first",
)
add(
    "jsonl-crlf",
    "crlf.jsonl",
    jl({"id": "a", "response": A1}, {"id": "b", "response": A2}, eol="\r\n"),
    {"answers": {"a": A1, "b": A2}},
    "synthetic: a JSONL file saved on Windows (CRLF)",
    "CR LF line ends are line ends; no \\r may leak into ids or answers",
)
add(
    "jsonl-utf8-bom",
    "bom.jsonl",
    b"\xef\xbb\xbf" + jl({"id": "q1", "response": A1}, {"id": "q2", "response": A2}).encode(),
    {"answers": {"q1": A1, "q2": A2}},
    "synthetic: Notepad 'UTF-8 with BOM'",
    "docs: a BOM is skipped; the first line's id must still be found",
)
add(
    "jsonl-gb18030-auto",
    "gb.jsonl",
    jl({"id": "g1", "response": A1}, {"id": "g2", "response": "占位回答，含全角字符：ＡＢＣ１２３。"}).encode(
        "gb18030"
    ),
    {"answers": {"g1": A1, "g2": "占位回答，含全角字符：ＡＢＣ１２３。"}},
    "synthetic: a script on Chinese Windows writing GBK",
    "docs: not UTF-8 falls back to GB18030",
)
add(
    "jsonl-gbk-explicit",
    "gbk.jsonl",
    jl({"id": "g1", "response": A2}).encode("gbk"),
    {"answers": {"g1": A2}},
    SYN,
    "docs: encoding given reads the file in it",
)
bad = (
    (jl({"id": "u1", "response": A1}) + jl({"id": "u2", "response": A2})).encode()
    + b'{"id": "u3", "response": "'
    + "混入的国标编码".encode("gbk")
    + b'"}\n'
)
add(
    "jsonl-utf8-then-gbk-line",
    "mixed_enc.jsonl",
    bad,
    err(3, None, "UTF-8"),
    "synthetic: two exports concatenated, one in GBK",
    "data.md: a file clearly UTF-8 that hits a bad byte is reported at that line, not re-read as mojibake",
)
add(
    "jsonl-utf16",
    "u16.jsonl",
    jl({"id": "a", "response": A1}).encode("utf-16"),
    err(None, None, "UTF-16"),
    "synthetic: PowerShell 5 `Out-File` default (UTF-16LE with BOM)",
    "docs: neither UTF-8 nor GB18030 is refused; data.md: a UTF-16 file is named as such by its BOM",
)
add(
    "jsonl-nul-byte",
    "nul.jsonl",
    (jl({"id": "a", "response": A1}) + '{"id": "b", "response": "x\x00y"}\n').encode(),
    err(2, None, "NUL"),
    "synthetic: a broken export with a stray NUL",
    "data.md: a NUL byte is reported at its line",
)
add(
    "binary-png-as-jsonl",
    "answers.jsonl",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\xff\xfe\x80",
    err(None, None, "not UTF-8 or GB18030"),
    "synthetic: wrong file picked",
    "docs: binary is not text",
)
add(
    "jsonl-blank-lines",
    "blank.jsonl",
    "\n" + jl({"id": "a", "response": A1}) + "\n   \n" + jl({"id": "b", "response": A2}) + "\n\n",
    {"answers": {"a": A1, "b": A2}},
    SYN,
    "blank lines are not answers; a demanding user expects them skipped",
)
add(
    "jsonl-bad-json-after-blank",
    "badjson.jsonl",
    jl({"id": "a", "response": A1})
    + "\n"
    + jl({"id": "b", "response": A2})
    + '{"id": "c", "response": "未闭合"\n',
    err(4, None, "JSON"),
    SYN,
    "the line number counts blank lines: the broken object is on physical line 4",
)
add(
    "jsonl-line-is-array",
    "arr.jsonl",
    jl({"id": "a", "response": A1}, ["b", A2]),
    err(2, None, "object"),
    SYN,
    "docs: a line that is not an object is refused naming its line",
)
add(
    "jsonl-missing-explicit-response",
    "missing.jsonl",
    jl({"id": "a", "answer": A1}, {"id": "b", "reply": A2}),
    err(2, "answer"),
    SYN,
    "response_field given: a line without it is refused naming line and field",
    {"response_field": "answer"},
)
add(
    "jsonl-response-number",
    "num.jsonl",
    jl({"id": "a", "response": A1}, {"id": "b", "response": 42}),
    err(2, "response"),
    SYN,
    "docs: a non-string field is refused",
)
add(
    "jsonl-response-null",
    "nullresp.jsonl",
    jl({"id": "a", "response": A1}, {"id": "b", "response": None}),
    err(2, "response"),
    SYN,
    "null without any filter mark is a non-string answer, refused (not an empty answer)",
)
add(
    "jsonl-id-float",
    "floatid.jsonl",
    jl({"id": 1, "response": A1}, {"id": 2.0, "response": A2}),
    err(2, "id"),
    "synthetic: pandas turns an int column with gaps into floats",
    "docs: ids are strings or integers; 2.0 would silently become '2.0' and never match",
)
add(
    "jsonl-id-bool",
    "boolid.jsonl",
    jl({"id": True, "response": A1}),
    err(1, "id"),
    SYN,
    "a boolean is not an id (Python would make it 'True' or 1)",
)
add(
    "jsonl-duplicate-id",
    "dup.jsonl",
    jl({"id": "a", "response": A1}, {"id": "b", "response": A2}, {"id": "a", "response": A3}),
    err(3, "id"),
    SYN,
    "docs: a duplicate id is refused naming the line (and that of the first)",
)
add(
    "jsonl-duplicate-id-same-answer",
    "dup_same.jsonl",
    jl({"id": "a", "response": A1}, {"id": "a", "response": A1}),
    err(2, "id"),
    "synthetic: two shards concatenated with an overlap",
    "docs make no exception for identical lines: a duplicate id is an error",
)
add(
    "jsonl-empty-file",
    "empty.jsonl",
    "",
    err(None, None),
    SYN,
    "an empty file has no answers; a demanding user wants it refused at load naming the file",
)
add("json-empty-array", "empty.json", "[]\n", err(None, None), SYN, "an empty array has no answers")
odd = "第一段\u2028第二段\u0085第三段\x0b第四段"
add(
    "jsonl-unicode-line-separators-in-answer",
    "u2028.jsonl",
    jl({"id": "a", "response": odd}, {"id": "b", "response": A2}),
    {"answers": {"a": odd, "b": A2}},
    "synthetic: json.dumps(ensure_ascii=False) writes U+2028/U+0085 raw",
    "JSON allows U+2028, U+0085 raw in strings; str.splitlines() would break the line there",
)
ws = "  第一行\n第二行\t\n"
add(
    "jsonl-answer-whitespace-kept",
    "ws.jsonl",
    jl({"id": "a", "response": ws}),
    {"answers": {"a": ws}},
    SYN,
    "an answer is served exactly; only prompts are whitespace-normalised for matching",
)
add(
    "jsonl-leading-quote-kept",
    "quote.jsonl",
    jl({"id": "a", "response": "'=这不是公式"}, {"id": "b", "response": "'好的"}),
    {"answers": {"a": "'=这不是公式", "b": "'好的"}},
    SYN,
    "the formula quote is taken off only in sheets cvalues wrote; a JSON answer is kept as written",
)
add(
    "jsonl-empty-answer",
    "empty_answer.jsonl",
    jl({"id": "a", "response": ""}, {"id": "b", "response": A2}),
    {"answers": {"a": "", "b": A2}},
    SYN,
    "docs silent: an empty string is a string; a model that answered nothing answered '' (to be scored)",
)
add(
    "json-suffix-holding-jsonl",
    "preds.json",
    jl({"id": "a", "response": A1}, {"id": "b", "response": A2}),
    {"answers": {"a": A1, "b": A2}},
    "synthetic: many scripts name JSON Lines '.json'",
    "data.md: .json and .jsonl are told apart by content (an array starts with '['), 'as data files are'",
)

# ---------------------------------------------------------------- JSON arrays
arr = [{"id": "a", "response": A1}, {"id": "b", "response": A2}, {"id": 3, "response": A3}]
add(
    "json-array-pretty",
    "arr.json",
    json.dumps(arr, ensure_ascii=False, indent=2),
    {"answers": {"a": A1, "b": A2, "3": A3}},
    "synthetic: json.dump(indent=2)",
    "docs: a JSON array is read",
)
txt = '[\n  {"id": "a", "response": "甲"}\n  {"id": "b", "response": "乙"}\n]\n'
add(
    "json-array-missing-comma",
    "nocomma.json",
    txt,
    err(3, None, "JSON"),
    "synthetic: hand-edited array",
    "invalid JSON is refused at the line where it breaks (the second object's line)",
)
txt = json.dumps(
    [{"id": "a", "response": A1}, "oops", {"id": "c", "response": A3}], ensure_ascii=False, indent=2
)
add(
    "json-array-non-object-element",
    "nonobj.json",
    txt,
    err(line_of(txt, '"oops"'), None, "object"),
    SYN,
    "docs: numbers in errors are the lines where an element starts",
)
txt = json.dumps(
    [{"id": "a", "response": A1}, {"id": "b", "response": A2}, {"id": "c", "answer": A3}],
    ensure_ascii=False,
    indent=2,
)
add(
    "json-array-auto-response-missing",
    "noresp.json",
    txt,
    err(line_of(txt, "{", 3), None, "response", "prediction"),
    SYN,
    "docs: no answer name every element has: the error names the line (where the object starts) "
    "and the names looked for",
)
txt = json.dumps([{"id": "a", "response": A1}, {"id": "b", "response": 5}], ensure_ascii=False, indent=4)
add(
    "json-array-wrong-type-line",
    "type.json",
    txt,
    err(line_of(txt, "{", 2), "response"),
    SYN,
    "the line of a bad element is the line where its object starts",
)
txt = "\ufeff" + json.dumps(arr, ensure_ascii=False, indent=4).replace("\n", "\r\n")
add(
    "json-array-bom-crlf",
    "ps.json",
    txt.encode("utf-8"),
    {"answers": {"a": A1, "b": A2, "3": A3}},
    "PowerShell ConvertTo-Json | Out-File -Encoding utf8 (BOM, CRLF, indent 4)",
    "BOM skipped, CRLF fine",
)
oc = {
    "0": {"origin_prompt": P1, "prediction": A1, "gold": "A"},
    "1": {"origin_prompt": P2, "prediction": A2, "gold": "B"},
}
add(
    "opencompass-predictions-dict",
    "cvalues_gen.json",
    json.dumps(oc, ensure_ascii=False, indent=4),
    {"prompts": {P1: A1, P2: A2}},
    "OpenCompass predictions/<model>/<dataset>.json: an object keyed '0','1',... of "
    "{origin_prompt, prediction, gold}",
    "docs cite OpenCompass's `prediction`; its predictions file is an object of such records, not an array. "
    "Demanding user: read each value as a line (prompt_field=origin_prompt), else refuse clearly",
    {"prompt_field": "origin_prompt"},
)
add(
    "pandas-columns-orient",
    "df.json",
    json.dumps({"id": {"0": "a", "1": "b"}, "response": {"0": A1, "1": A2}}, ensure_ascii=False),
    err(None, None),
    "pandas DataFrame.to_json() default orient='columns'",
    "column-oriented JSON is not one answer per object: refuse rather than misread",
)
recs = json.dumps([{"id": 1, "response": "见 https://example.org/a/b 的占位说明"}, {"id": 2, "response": A2}])
recs = recs.replace("/", "\\/")
add(
    "pandas-records-orient",
    "df_records.json",
    recs,
    {"answers": {"1": "见 https://example.org/a/b 的占位说明", "2": A2}},
    "pandas DataFrame.to_json(orient='records'): ASCII escapes, '\\/' escaped slashes, int ids",
    "standard JSON escapes decode",
)
add(
    "pandas-lines-null-id",
    "df.jsonl",
    jl({"id": "a", "response": A1}, {"id": None, "response": A2}),
    err(2, "id"),
    "pandas to_json(orient='records', lines=True) with a missing id (NaN -> null)",
    "a file without prompts needs an id on every line; null is none",
)

# ---------------------------------------------------------------- answer field auto-detection
add(
    "auto-prediction",
    "pred.jsonl",
    jl({"id": "a", "prediction": A1}, {"id": "b", "prediction": A2}),
    {"answers": {"a": A1, "b": A2}},
    "OpenCompass-style `prediction`",
    "docs: auto list includes prediction",
)
add(
    "auto-generated-text",
    "gen.jsonl",
    jl({"id": "a", "generated_text": A1}, {"id": "b", "generated_text": A3}),
    {"answers": {"a": A1, "b": A3}},
    "a transformers pipeline's [{'generated_text': ...}] saved with ids",
    "auto list: generated_text",
)
add(
    "auto-text",
    "text.jsonl",
    jl({"id": "a", "text": A3}),
    {"answers": {"a": A3}},
    SYN,
    "auto list: text (last)",
)
add(
    "auto-response-before-output",
    "both.jsonl",
    jl({"id": "a", "output": "别的字段", "response": A1}, {"id": "b", "output": "别的字段", "response": A2}),
    {"answers": {"a": A1, "b": A2}},
    SYN,
    "docs: the first of the list every line has: response before output",
)
add(
    "auto-first-common-name",
    "partial.jsonl",
    jl(
        {"id": "a", "response": "甲", "output": A1},
        {"id": "b", "response": "乙", "output": A2},
        {"id": "c", "output": A3},
    ),
    {"answers": {"a": A1, "b": A2, "c": A3}},
    SYN,
    "docs: the first name that EVERY line has wins; response is missing on line 3, so output is read",
)
add(
    "auto-no-common-name",
    "nocommon.jsonl",
    jl({"id": "a", "response": A1}, {"id": "b", "output": A2}),
    err(2, None, "response", "output"),
    SYN,
    "docs: when none is common the error names the line and the names",
)
add(
    "chat-completions-raw",
    "completions.jsonl",
    jl(
        {
            "id": "chatcmpl-abc",
            "object": "chat.completion",
            "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": A1}, "finish_reason": "stop"}
            ],
        }
    ),
    err(1, None, "response"),
    "OpenAI chat.completion objects saved one a line, no response_field given",
    "no top-level answer field: refused naming the names looked for, never read as something else",
)


# ---------------------------------------------------------------- tools' shapes, dotted fields
def lm_eval_line(i: int, prompt: str, resp: str | None) -> dict[str, Any]:
    return {
        "doc_id": i,
        "doc": {"question": prompt},
        "target": "",
        "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n\n"], "do_sample": False}}},
        "resps": [[resp]] if resp is not None else [[]],
        "filtered_resps": [resp] if resp is not None else [],
        "filter": "none",
        "metrics": ["exact_match"],
        "doc_hash": "0" * 8,
        "prompt_hash": "1" * 8,
        "target_hash": "2" * 8,
        "exact_match": 0.0,
    }


add(
    "lm-eval-samples",
    "samples_cvalues_2024.jsonl",
    jl(lm_eval_line(0, P1, A1), lm_eval_line(1, P2, A2), lm_eval_line(2, P3, A3)),
    {"answers": {"0": A1, "1": A2, "2": A3}, "lookup_error": {"3": "3"}},
    "lm-evaluation-harness --log_samples samples_<task>_<date>.jsonl (doc_id, resps, filtered_resps)",
    "docs: id_field=doc_id (an int), response_field=filtered_resps.0",
    {"id_field": "doc_id", "response_field": "filtered_resps.0"},
)
add(
    "lm-eval-empty-filtered",
    "samples_empty.jsonl",
    jl(lm_eval_line(0, P1, A1), lm_eval_line(1, P2, None)),
    err(2, "filtered_resps.0"),
    "lm-evaluation-harness sample whose response list is empty",
    "an index past a list's end is a missing field, refused naming line and the dotted name",
    {"id_field": "doc_id", "response_field": "filtered_resps.0"},
)


def completion(content: str | None, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "placeholder-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


add(
    "saved-chat-completion-per-line",
    "colleague.jsonl",
    jl({"qid": "q-01", "resp": completion(A1)}, {"qid": "q-02", "resp": completion(A2)}),
    {"answers": {"q-01": A1, "q-02": A2}},
    "a colleague's script: {qid, resp: ChatCompletion.model_dump()} a line",
    "docs: choices.0.message.content reaches a saved chat completion",
    {"id_field": "qid", "response_field": "resp.choices.0.message.content"},
)
add(
    "saved-chat-completion-blocked",
    "colleague_blocked.jsonl",
    jl({"qid": "q-01", "resp": completion(A1)}, {"qid": "q-02", "resp": completion(None, "content_filter")}),
    {"answers": {"q-01": A1}, "finish_reason": {"q-02": "content_filter"}, "not_blocked": ["q-01"]},
    "Azure OpenAI chat completion filtered: finish_reason content_filter, message.content null",
    "docs: a line recorded as the filter's answer is served as the block; the completion's own finish_reason "
    "(next to the answer) is where a saved completion records it; the null content must not refuse the file",
    {"id_field": "qid", "response_field": "resp.choices.0.message.content"},
)


def batch_line(cid: str, content: str) -> dict[str, Any]:
    return {
        "id": f"batch_req_{cid}",
        "custom_id": cid,
        "response": {"status_code": 200, "request_id": "req_x", "body": completion(content)},
        "error": None,
    }


add(
    "openai-batch-output",
    "batch_output.jsonl",
    jl(batch_line("request-1", A1), batch_line("request-2", A2)),
    {"answers": {"request-1": A1, "request-2": A2}},
    "OpenAI / Volcengine Ark / DashScope Batch API output file (custom_id, response.body)",
    "dotted path through response.body.choices.0.message.content",
    {"id_field": "custom_id", "response_field": "response.body.choices.0.message.content"},
)
add(
    "openai-batch-output-auto",
    "batch_output_auto.jsonl",
    jl(batch_line("request-1", A1)),
    {"answers": {"request-1": A1}},
    "OpenAI Batch API output without response_field",
    "changed after the round, on purpose: a batch API's output line (OpenAI, Azure, DashScope, "
    "Zhipu) keeps the reply object under `response` and the caller's id under `custom_id`; "
    "the backend now reads the text at `body.choices.0.message.content` and looks ids up by "
    "`custom_id` (docs/models.md). The blind expectation was a refusal of the object.",
)
add(
    "mt-bench-model-answer",
    "model_answer.jsonl",
    jl(
        {
            "question_id": 81,
            "answer_id": "x1",
            "model_id": "m",
            "choices": [{"index": 0, "turns": [A1, "第二轮"]}],
            "tstamp": 1.5,
        },
        {
            "question_id": 82,
            "answer_id": "x2",
            "model_id": "m",
            "choices": [{"index": 0, "turns": [A2, "第二轮"]}],
            "tstamp": 1.6,
        },
    ),
    {"answers": {"81": A1, "82": A2}},
    "FastChat llm_judge model_answer/<model>.jsonl",
    "two list indices in one dotted name",
    {"id_field": "question_id", "response_field": "choices.0.turns.0"},
)


def evalscope(i: int, prompt: str, ans: str) -> dict[str, Any]:
    return {
        "index": i,
        "model": "placeholder-model",
        "model_output": {
            "model": "placeholder-model",
            "choices": [{"message": {"role": "assistant", "content": ans}, "stop_reason": "stop"}],
        },
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": ans}],
        "metadata": {},
    }


add(
    "evalscope-predictions",
    "evalscope_cvalues.jsonl",
    jl(evalscope(0, P1, A1), evalscope(1, P2, A2)),
    {"answers": {"0": A1, "1": A2}, "prompts": {P1: A1, P2: A2}},
    "EvalScope 1.x predictions/<model>/<dataset>.jsonl (ModelResult: index, model_output, messages)",
    "messages is a chat: its last user turn is the prompt even after the assistant's reply",
    {"id_field": "index", "response_field": "model_output.choices.0.message.content"},
)
add(
    "dotted-index-out-of-range",
    "choices.jsonl",
    jl({"id": "a", "resp": completion(A1)}),
    err(1, "resp.choices.1.message.content"),
    SYN,
    "a list index past the end is missing",
    {"response_field": "resp.choices.1.message.content"},
)
add(
    "dotted-meta-info-id",
    "official_with_ids.jsonl",
    jl(
        {"prompt": P1, "response": A1, "meta_info": {"id": "m-1", "domain_en": "x"}},
        {"prompt": P2, "response": A2, "meta_info": {"id": "m-2", "domain_en": "x"}},
    ),
    {"answers": {"m-1": A1, "m-2": A2}, "prompts": {P1: A1}},
    "CValues official-style line with meta_info",
    "docs example meta_info.id",
    {"id_field": "meta_info.id"},
)


# ---------------------------------------------------------------- cvalues' own `runs export`
def export_row(
    item: str,
    prompt: str,
    text: str | None,
    *,
    status: str = "ok",
    finish: str | None = "stop",
    blocked: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "key": "k" * 16 + item,
        "item_id": item,
        "kind": "generate",
        "model": "openai:placeholder",
        "status": status,
        "messages": [{"role": "user", "content": prompt}],
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:01Z",
        "text": text,
        "logprobs": None,
        "finish_reason": finish if status == "ok" else None,
        "prompt_tokens": 10 if status == "ok" else None,
        "completion_tokens": 5 if status == "ok" else None,
        "error_type": None if status == "ok" else "ModelError",
        "error": None if status == "ok" else "HTTP 500 placeholder",
        "retryable": None if status == "ok" else True,
        "attempts": 1,
        "latency_s": 0.5,
        "candidates": [],
        "settings": {
            "temperature": 0.0,
            "top_p": 1.0,
            "max_tokens": 512,
            "stop": [],
            "system_prompt": None,
            "seed": 0,
        },
        "meta": {},
        "blocked": blocked,
    }


BLOCK = {
    "stage": "input",
    "code": "data_inspection_failed",
    "message": "Input data may contain inappropriate content.",
}
add(
    "cvalues-export-jsonl",
    "answers.jsonl",
    jl(
        export_row("resp-1", P1, A1),
        export_row("resp-2", P2, "", finish="content_filter", blocked=BLOCK),
        export_row("resp-3", P3, A3),
    ),
    {
        "answers": {"resp-1": A1, "resp-3": A3},
        "finish_reason": {"resp-2": "content_filter"},
        "not_blocked": ["resp-1", "resp-3"],
        "prompts": {P1: A1, P3: A3},
    },
    "cvalues runs export --format jsonl (Answer.to_dict per line)",
    "docs: item_id is found, text is the answer, messages give prompts, blocked answers are served as blocks",
)
add(
    "cvalues-export-jsonl-with-errors",
    "answers_all.jsonl",
    jl(
        export_row("resp-1", P1, A1),
        export_row("resp-2", P2, None, status="error"),
        export_row("resp-3", P3, A3),
    ),
    {"answers": {"resp-1": A1, "resp-3": A3}, "lookup_error": {"resp-2": "resp-2"}},
    "cvalues runs export without --status: failed items have status error and text null",
    "docs silent: cvalues' own default export must replay; a failed item has no answer, so it is missing "
    "(a ModelError for that id), neither an empty answer nor a refusal of the whole file",
)


def cvalues_csv(rows: list[dict[str, Any]]) -> bytes:
    def cell(v: Any) -> Any:
        if isinstance(v, (list, dict)):
            v = json.dumps(v, ensure_ascii=False)
        if isinstance(v, str) and v.lstrip(" ")[:1] in (
            "=",
            "+",
            "-",
            "@",
            "\t",
            "\r",
            "＝",
            "＋",
            "－",
            "＠",
        ):
            v = "'" + v
        return v

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    for r in rows:
        w.writerow({k: cell(v) for k, v in r.items()})
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


LIST_ANS = "- 第一点：占位\n- 第二点：占位"
add(
    "cvalues-export-csv",
    "answers.csv",
    cvalues_csv(
        [
            export_row("resp-1", P1, LIST_ANS),
            export_row("-007", P2, "=占位公式样文本"),
            export_row("resp-3", P3, "", finish="content_filter", blocked=BLOCK),
        ]
    ),
    {
        "answers": {"resp-1": LIST_ANS, "-007": "=占位公式样文本"},
        "finish_reason": {"resp-3": "content_filter"},
        "not_blocked": ["resp-1"],
        "prompts": {P1: LIST_ANS},
    },
    "cvalues runs export --format csv (UTF-8 BOM, CRLF, JSON cells, formula cells and ids quoted with ')",
    "docs: the quote cvalues added is taken off (ids included); the messages cell is the JSON chat it wrote, "
    "so a demanding user expects its last user turn as the prompt too",
)

# ---------------------------------------------------------------- CSV / TSV
rows = [
    ["id", "response", "note"],
    ["c1", "含逗号，以及,半角逗号", ""],
    ["c2", '他说"好的"，然后\n换行继续', "备注"],
    ["c3", A3, ""],
]
add(
    "csv-quoted-commas-newlines",
    "sheet.csv",
    sheet(rows),
    {"answers": {"c1": "含逗号，以及,半角逗号", "c2": '他说"好的"，然后\n换行继续', "c3": A3}},
    "Excel / csv.writer CSV: quoted cells with commas, doubled quotes and line breaks; empty unused cells",
    "quoted cells read whole; an empty cell in an unused column is fine",
)
txt = 'id,response\r\n"m1","第一行\n第二行"\r\n"m2","单行"\r\n'
add(
    "csv-crlf-lf-inside",
    "crlf.csv",
    txt,
    {"answers": {"m1": "第一行\n第二行", "m2": "单行"}},
    "Excel for Windows: CRLF rows, LF inside a cell",
    "the LF in the cell is kept, no CR added to answers",
)
gb = sheet([["序号", "问题", "回答"], ["1", P1, A1], ["2", P2, "全角　空格与ＡＢＣ"]]).encode("gb18030")
add(
    "csv-gb18030-chinese-headers",
    "导出.csv",
    gb,
    {"answers": {"1": A1, "2": "全角　空格与ＡＢＣ"}, "prompts": {P1: A1}},
    "a vendor console's evaluation export opened and saved in Excel on Chinese Windows "
    "('CSV (逗号分隔)', GB18030)",
    "Chinese header names as options; GB18030 detected",
    {"id_field": "序号", "prompt_field": "问题", "response_field": "回答"},
)
add(
    "csv-utf8-bom-header",
    "bom.csv",
    ("\ufeffid,response\r\nb1," + A1 + "\r\n").encode("utf-8"),
    {"answers": {"b1": A1}},
    "Excel 'CSV UTF-8 (逗号分隔)' (BOM)",
    "the BOM must not become part of the 'id' header",
)
add(
    "csv-empty-id-with-prompt",
    "mixed.csv",
    sheet([["id", "prompt", "response"], ["e1", P1, A1], ["", P2, A2]]),
    {"answers": {"e1": A1}, "prompts": {P2: A2, P1: A1}},
    SYN,
    "docs: a sheet's empty id cell is left out; that line is found by prompt",
)
add(
    "csv-empty-id-no-prompt",
    "noid.csv",
    sheet([["id", "response"], ["e1", A1], ["", A2]]),
    err(3, "id"),
    SYN,
    "without prompts an empty id leaves the answer unreachable: refused naming the row",
)
txt = 'id,response\r\nw1,"多行\n单元格\n内容"\r\nw2,正常,多出一格\r\n'
add(
    "csv-wrong-width-after-multiline",
    "width.csv",
    txt,
    err(5, None),
    SYN,
    "docs: the number is the line where the row starts (row 3 starts on line 5, after a 3-line cell)",
)
add(
    "csv-short-row",
    "short.csv",
    "id,response,model\r\ns1,甲,m\r\ns2,乙\r\n",
    err(3, None),
    SYN,
    "a row with fewer cells than the header is the wrong width",
)
add(
    "csv-unclosed-quote",
    "unclosed.csv",
    'id,response\r\nq1,甲\r\nq2,乙\r\nq3,"没有闭合\r\n',
    err(4, None),
    SYN,
    "an unclosed quote swallows the rest; refused at the line where that row starts",
)
add("csv-header-only", "header.csv", "id,response\r\n", err(None, None), SYN, "no answers")
add(
    "csv-duplicate-header",
    "duphdr.csv",
    "id,response,response\r\nd1,甲,乙\r\n",
    err(1, "response"),
    "synthetic: two tools' columns pasted side by side",
    "docs silent: two columns of the same name are ambiguous; a demanding user wants a refusal naming it",
)
add(
    "csv-semicolon",
    "semi.csv",
    "id;response\r\nx1;甲\r\n",
    err(None, None, "response"),
    "Excel in a European locale writes ';' separated CSV",
    "one column named 'id;response': no answer field is found, the error names the names looked for",
)
add(
    "csv-leading-zero-ids",
    "zeros.csv",
    sheet([["id", "response"], ["007", A1], ["8", A2]]),
    {"answers": {"007": A1, "8": A2}, "lookup_error": {"7": "7"}},
    SYN,
    "a sheet's cells are text: '007' stays '007' (not the number 7)",
)
add(
    "csv-dotted-header",
    "flat.csv",
    sheet([["meta.id", "output.text"], ["f1", A1], ["f2", A2]]),
    {"answers": {"f1": A1, "f2": A2}},
    "pandas json_normalize(...).to_csv(): nested keys flattened with dots",
    "docs silent: in a sheet there is nothing to reach into, so a dotted name is the column of that name",
    {"id_field": "meta.id", "response_field": "output.text"},
)
add(
    "csv-pandas-index-column",
    "pd.csv",
    sheet([["", "id", "response"], ["0", "p1", A1], ["1", "p2", A2]], eol="\n"),
    {"answers": {"p1": A1, "p2": A2}},
    "pandas DataFrame.to_csv() with its default index (empty first header)",
    "an unnamed index column is just an unused column",
)
add(
    "csv-colleague-quote-kept",
    "colleague.csv",
    sheet([["id", "response"], ["k1", "'好的，这是占位"]]),
    {"answers": {"k1": "'好的，这是占位"}},
    SYN,
    "docs: only the quote before a formula-like cell is cvalues'; an apostrophe before other text "
    "is the answer's",
)
add(
    "csv-uppercase-suffix",
    "ANSWERS.CSV",
    sheet([["id", "response"], ["u1", A1]]),
    {"answers": {"u1": A1}},
    "Windows tools write upper-case extensions",
    "docs silent: a demanding user expects .CSV to be a CSV sheet",
)
add(
    "csv-encoding-given",
    "gbk_given.csv",
    sheet([["id", "response"], ["g1", A1], ["g2", "含,逗号"]]).encode("gbk"),
    {"answers": {"g1": A1, "g2": "含,逗号"}},
    SYN,
    "docs say 'Given, the file is read as JSON Lines in it'; a demanding user giving encoding for a .csv "
    "still expects a CSV sheet (the encoding option changes the decoding, not the format)",
    {"encoding": "gbk"},
)
add(
    "csv-blocked-finish-reason",
    "console.csv",
    sheet([["id", "response", "finish_reason"], ["v1", A1, "stop"], ["v2", "", "content_filter"]]),
    {"answers": {"v1": A1}, "finish_reason": {"v2": "content_filter"}, "not_blocked": ["v1"]},
    "a vendor console's batch-result CSV with a finish_reason column",
    "docs: a line whose finish_reason is the filter's is served as a block, in a sheet too",
)
add(
    "tsv-basic",
    "answers.tsv",
    sheet([["id", "prompt", "response"], ["t1", P1, "含,半角逗号,不拆分"], ["t2", P2, A2]], "\t"),
    {"answers": {"t1": "含,半角逗号,不拆分", "t2": A2}, "prompts": {P2: A2}},
    "TSV from a script",
    "commas are text in a TSV",
)
add(
    "tsv-quote-midcell",
    "mid.tsv",
    'id\tresponse\r\nt1\t他说"好"就走了\r\n',
    {"answers": {"t1": '他说"好"就走了'}},
    "a hand-written TSV (no quoting)",
    "a quote in the middle of an unquoted cell is text",
)
add(
    "tsv-utf16-excel-unicode-text",
    "unicode.tsv",
    "id\tresponse\r\nx1\t甲\r\n".encode("utf-16"),
    err(None, None, "UTF-16"),
    "Excel 'Unicode Text' (UTF-16LE with BOM, tab-separated)",
    "data.md: UTF-16 is named by its BOM and refused",
)
add(
    "tsv-utf16-encoding-given",
    "unicode_given.tsv",
    "id\tresponse\r\nx1\t甲\r\nx2\t乙\r\n".encode("utf-16"),
    {"answers": {"x1": "甲", "x2": "乙"}},
    "Excel 'Unicode Text' with encoding='utf-16' given",
    "docs: encoding given reads the file in it; the suffix still says TSV",
    {"encoding": "utf-16"},
)

# ---------------------------------------------------------------- prompts
add(
    "official-eval-file-no-ids",
    "cvalues_eval.jsonl",
    jl({"prompt": P1, "label": "回复1", "response": A1}, {"prompt": P2, "label": "回复2", "response": A2}),
    {"prompts": {P1: A1, P2: A2}, "needs_item_id": False},
    "the official eval file layout prompt/label/response",
    "docs: no id needed when the file has prompts",
)
PW = "请 介绍\n一下\u3000这个 话题 "
add(
    "prompt-whitespace-normalised",
    "ws_prompt.jsonl",
    jl({"prompt": PW, "response": A1}, {"prompt": P2, "response": A2}),
    {
        "prompts": {
            "请 介绍 一下 这个 话题": A1,
            "请\t介绍  一下\n\n这个\u3000话题": A1,
            PW: A1,
            " " + P2 + "\n": A2,
        }
    },
    SYN,
    "docs: every run of whitespace (full-width spaces and newlines included) is one space, ends stripped",
)
add(
    "prompt-punctuation-not-folded",
    "punct.jsonl",
    jl({"id": "p1", "prompt": "你好，世界", "response": A1}),
    {"prompts": {"你好，世界": A1}, "prompt_error": {"你好,世界": "", "你好 ，世界": ""}},
    SYN,
    "only whitespace is normalised: half-width punctuation, or a space inserted inside, is another prompt",
)
add(
    "prompt-exact-before-normalised",
    "exact.jsonl",
    jl(
        {"id": "x1", "prompt": "占位  问题", "response": A1},
        {"id": "x2", "prompt": "占位 问题", "response": A2},
    ),
    {"prompts": {"占位  问题": A1, "占位 问题": A2}, "prompt_error": {"占位\n问题": ""}},
    SYN,
    "docs: exact first; an ask that only matches after normalisation and matches two answers is ambiguous, "
    "never a guess",
)
add(
    "prompt-question-field",
    "question.jsonl",
    jl({"id": "a", "question": P1, "response": A1}),
    {"prompts": {P1: A1}, "answers": {"a": A1}},
    SYN,
    "docs: question is a prompt field",
)
add(
    "prompt-prompt-before-question",
    "pq.jsonl",
    jl({"id": "a", "question": "别的文本", "prompt": P1, "response": A1}),
    {"prompts": {P1: A1}, "prompt_error": {"别的文本": ""}},
    SYN,
    "docs order: prompt, question, messages",
)
chat = [
    {"role": "system", "content": "你是一个占位助手。"},
    {"role": "user", "content": "先问一句。"},
    {"role": "assistant", "content": "先答一句。"},
    {"role": "user", "content": P1},
]
add(
    "prompt-messages-last-user",
    "chat.jsonl",
    jl({"id": "a", "messages": chat, "response": A1}),
    {"prompts": {P1: A1}, "prompt_error": {"先问一句。": ""}},
    SYN,
    "docs: a chat's last user turn is the prompt",
)
ft = [
    {"role": "system", "content": "占位系统提示"},
    {"role": "user", "content": P2},
    {"role": "assistant", "content": A2},
]
add(
    "prompt-messages-finetune-format",
    "ft.jsonl",
    jl({"messages": ft}),
    {"prompts": {P2: A2}},
    "OpenAI fine-tuning / SFT chat JSONL: the answer is the last assistant turn",
    "response_field messages.2.content; the last user turn is the prompt",
    {"response_field": "messages.2.content"},
)
add(
    "prompt-messages-no-user",
    "nouser.jsonl",
    jl(
        {"id": "a", "messages": [{"role": "user", "content": P1}], "response": A1},
        {"id": "b", "messages": [{"role": "system", "content": "只有系统"}], "response": A2},
    ),
    err(2, "messages"),
    SYN,
    "docs silent: a chat with no user turn has no prompt; refuse naming line and field",
)
add(
    "prompt-messages-content-parts",
    "parts.jsonl",
    jl(
        {"id": "a", "messages": [{"role": "user", "content": [{"type": "text", "text": P3}]}], "response": A3}
    ),
    {"answers": {"a": A3}, "prompts": {P3: A3}},
    "OpenAI chat request with content as a list of parts",
    "docs silent: one text part is the user turn's text; a demanding user expects it matched",
)
add(
    "prompt-field-off",
    "off.jsonl",
    jl({"id": "a", "prompt": P1, "response": A1}),
    {"answers": {"a": A1}, "needs_item_id": True, "prompt_error": {P1: "id"}},
    SYN,
    "docs: prompt_field='' turns prompt matching off, so answers are found by id only",
    {"prompt_field": ""},
)
add(
    "prompt-none-in-file",
    "ids_only.jsonl",
    jl({"id": "a", "response": A1}),
    {"answers": {"a": A1}, "needs_item_id": True, "prompt_error": {"随便问点什么": "id"}},
    SYN,
    "docs: a file without prompts says answers can only be found by id",
)
add(
    "prompt-duplicate-different-no-ids",
    "dupp.jsonl",
    jl({"prompt": P1, "response": A1}, {"prompt": P1, "response": A2}),
    err(2, "prompt", "id"),
    SYN,
    "docs: same prompt, different answers is an error asking for ids; without ids it is caught at load",
)
add(
    "prompt-duplicate-same-answer",
    "dupp_same.jsonl",
    jl({"prompt": P1, "response": A1}, {"prompt": P1, "response": A1}, {"prompt": P2, "response": A2}),
    {"prompts": {P1: A1, P2: A2}},
    SYN,
    "docs: only different answers conflict",
)
add(
    "prompt-duplicate-different-with-ids",
    "dupp_ids.jsonl",
    jl({"id": "a", "prompt": P1, "response": A1}, {"id": "b", "prompt": P1, "response": A2}),
    {"answers": {"a": A1, "b": A2}, "prompt_error": {P1: "id"}},
    "synthetic: two samples of the same prompt",
    "with ids the file loads and ids work; asking by that prompt is ambiguous and must say to use ids",
)
add(
    "prompt-duplicate-after-normalising-no-ids",
    "dupp_ws.jsonl",
    jl({"prompt": "占位 问题", "response": A1}, {"prompt": "占位\n问题", "response": A2}),
    err(2, "prompt", "id"),
    SYN,
    "docs silent: two prompts equal after normalisation with different answers: a normalised ask could not "
    "tell them apart and there are no ids; a demanding user wants this caught at load like an "
    "exact duplicate",
)
add(
    "prompt-not-string",
    "pobj.jsonl",
    jl({"id": "a", "question": {"text": P1}, "response": A1}),
    err(1, "question"),
    SYN,
    "docs: a non-string field is refused",
)
add(
    "prompt-mixed-ids",
    "mix.jsonl",
    jl(
        {"id": "a", "prompt": P1, "response": A1},
        {"prompt": P2, "response": A2},
        {"id": 3, "prompt": P3, "response": A3},
    ),
    {"answers": {"a": A1, "3": A3}, "prompts": {P2: A2, P1: A1}},
    SYN,
    "docs: with prompts, lines may leave the id out and are found by prompt",
)
alp = [
    {"instruction": P1, "output": A1, "generator": "m", "dataset": "x"},
    {"instruction": P2, "output": A2, "generator": "m", "dataset": "x"},
]
add(
    "alpaca-eval-outputs",
    "model_outputs.json",
    json.dumps(alp, ensure_ascii=False, indent=2),
    {"prompts": {P1: A1, P2: A2}},
    "AlpacaEval model_outputs.json (instruction, output, generator)",
    "prompt_field names instruction; output is auto-detected",
    {"prompt_field": "instruction"},
)
txt = json.dumps(alp, ensure_ascii=False, indent=2)
add(
    "alpaca-eval-outputs-no-prompt-field",
    "model_outputs2.json",
    txt,
    err(line_of(txt, "{"), "id"),
    "AlpacaEval model_outputs.json without prompt_field",
    "no id and no documented prompt field: no answer can be found; refuse naming the first "
    "element's line and id",
)

# ---------------------------------------------------------------- blocked answers
add(
    "blocked-flat-finish-reason",
    "blk.jsonl",
    jl(
        {"id": "a", "response": A1, "finish_reason": "stop"},
        {"id": "b", "response": "", "finish_reason": "content_filter"},
    ),
    {"answers": {"a": A1}, "finish_reason": {"b": "content_filter"}, "not_blocked": ["a"]},
    "synthetic: a script saving finish_reason next to the text",
    "docs: content_filter is a block",
)
add(
    "blocked-sensitive-cut",
    "glm.jsonl",
    jl(
        {"id": "a", "response": "回答到一半", "finish_reason": "sensitive"},
        {"id": "b", "response": A2, "finish_reason": "stop"},
    ),
    {"finish_reason": {"a": "content_filter"}, "not_blocked": ["b"], "answers": {"b": A2}},
    "Zhipu GLM finish_reason 'sensitive' (a cut reply)",
    "docs: another filter's reason is a block too",
)
add(
    "blocked-gemini-safety-upper",
    "gemini.jsonl",
    jl({"id": "a", "response": "", "finish_reason": "SAFETY"}),
    {"finish_reason": {"a": "content_filter"}},
    "Gemini finishReason SAFETY saved as is",
    "moderation module normalises case; docs: another filter's reason",
)
add(
    "blocked-null-response",
    "blk_null.jsonl",
    jl({"id": "a", "response": None, "finish_reason": "content_filter"}, {"id": "b", "response": A2}),
    {"finish_reason": {"a": "content_filter"}, "answers": {"b": A2}},
    "synthetic: filtered reply stored as null",
    "a blocked line's missing text is the block, not a type error",
)
add(
    "blocked-object-only",
    "blk_obj.jsonl",
    jl({"item_id": "a", "text": "", "blocked": BLOCK}, {"item_id": "b", "text": A2, "blocked": None}),
    {"finish_reason": {"a": "content_filter"}, "not_blocked": ["b"], "answers": {"b": A2}},
    SYN,
    "docs: a blocked object as cvalues writes it is a block; null is not",
)
add(
    "refusal-is-not-block",
    "refusal.jsonl",
    jl(
        {"id": "a", "response": "抱歉，我无法提供这方面的帮助。", "finish_reason": "stop"},
        {"id": "b", "response": "占位回答被截断", "finish_reason": "length"},
    ),
    {"answers": {"a": "抱歉，我无法提供这方面的帮助。", "b": "占位回答被截断"}, "not_blocked": ["a", "b"]},
    "docs/models.md moderation: a model's own refusal with finish_reason stop is an answer",
    "stop and length are not blocks",
)
add(
    "blocked-prompt-only-file",
    "blk_prompt.jsonl",
    jl({"prompt": P1, "response": "", "finish_reason": "content_filter"}, {"prompt": P2, "response": A2}),
    {"prompt_finish_reason": {P1: "content_filter"}, "prompts": {P2: A2}},
    SYN,
    "a blocked answer found by prompt is a block too",
)

# ---------------------------------------------------------------- Parquet
try:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def parquet(table: Any) -> bytes:
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()

    add(
        "parquet-basic",
        "answers.parquet",
        parquet(pa.table({"id": pa.array([1, 2], pa.int64()), "response": [A1, A2]})),
        {"answers": {"1": A1, "2": A2}},
        "pandas/datasets .to_parquet() with int64 ids",
        "docs: Parquet is read; int ids compare as strings",
    )
    add(
        "parquet-nested",
        "nested.parquet",
        parquet(pa.table({"meta": [{"id": "n1"}, {"id": "n2"}], "prompt": [P1, P2], "output": [A1, A2]})),
        {"answers": {"n1": A1, "n2": A2}, "prompts": {P2: A2}},
        "datasets.Dataset.to_parquet() with a struct column",
        "dotted names reach into struct columns",
        {"id_field": "meta.id"},
    )
    add(
        "parquet-null-response",
        "nulls.parquet",
        parquet(pa.table({"id": ["a", "b"], "response": [A1, None]})),
        err(2, "response"),
        "pandas NaN/None in the answer column",
        "a null answer is not a string; a Parquet row's number is its line",
    )
except ImportError:  # pragma: no cover
    pass

#: Added after the code was read (step 2): cases whose blind expectation went further than the
#: documented behaviour, where the docs were judged right. Each stays a strict xfail.
XFAIL = {
    "prompt-duplicate-after-normalising-no-ids": (
        "docs: 'two lines with the SAME prompt and different answers' are an error; prompts equal only "
        "after whitespace normalisation are different prompts, each found by an exact ask (the run "
        "engine asks the suite's text as is), and an ask matching both only after normalisation is a "
        "ModelError (ambiguous), never a guess; refusing the file at load would refuse answers that can "
        "be found"
    ),
}
for _case in CASES:
    if _case["id"] in XFAIL:
        _case["xfail"] = XFAIL[_case["id"]]
assert set(XFAIL) <= {c["id"] for c in CASES}

if __name__ == "__main__":
    with (HERE / "cases.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for c in CASES:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(len(CASES), "cases")
