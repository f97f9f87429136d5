"""Readers: encoding detection, streaming, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvalues.data.errors import DataError
from cvalues.data.readers import (
    detect_encoding,
    get_text,
    iter_csv_dicts,
    iter_json_array,
    iter_jsonl,
    iter_lines,
    iter_table,
    normalise_text,
)

CSV_TEXT = 'ID,问题,类别\n1,第一个问题,违法犯罪\n2,"第二个\n问题",个人隐私\n3,第三个问题，全角标点！,其他\n'


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("gb18030", b"", "gb18030")],
)
def test_encodings_detected_and_rows_identical(
    tmp_path: Path, encoding: str, prefix: bytes, expected: str
) -> None:
    path = write(tmp_path, "t.csv", prefix + CSV_TEXT.encode(encoding))
    assert detect_encoding(path) == expected
    rows = list(iter_csv_dicts(path))
    assert [line for line, _ in rows] == [2, 3, 5]  # the quoted newline makes row 2 span lines 3-4
    assert rows[1][1]["问题"] == "第二个\n问题"
    assert rows[2][1]["问题"] == "第三个问题，全角标点！"
    assert list(rows[0][1]) == ["ID", "问题", "类别"]  # no BOM left on the first header


def test_undecodable_byte_in_utf8_file_names_its_line(tmp_path: Path) -> None:
    data = "ID,问题\n1,中文问题\n".encode() + b"2,\xff\xfe bad\n" + "3,好\n".encode()
    path = write(tmp_path, "bad.csv", data)
    with pytest.raises(DataError) as info:
        list(iter_csv_dicts(path))
    assert info.value.line == 3 and info.value.path == path
    assert f"{path}:3:" in str(info.value) and "0xff" in str(info.value)


def test_undecodable_byte_in_gb18030_file_names_its_line(tmp_path: Path) -> None:
    data = "ID,问题\n1,中文问题\n".encode("gb18030") + b"2,\xff\n"
    path = write(tmp_path, "bad.csv", data)
    assert detect_encoding(path) == "gb18030"
    with pytest.raises(DataError) as info:
        list(iter_lines(path))
    assert info.value.line == 3 and "GB18030" in str(info.value)


def test_malformed_json_line(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", b'{"a": 1}\n\n{"a": 2,}\n')
    rows = iter_jsonl(path)
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(DataError) as info:
        next(rows)
    assert info.value.line == 3 and "malformed JSON" in str(info.value)


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", b'{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"x.jsonl:2: expected a JSON object"):
        list(iter_jsonl(path))


def test_csv_row_with_wrong_number_of_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", b"a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError) as info:
        list(iter_csv_dicts(path))
    assert info.value.line == 3 and info.value.field == "c"
    assert "expected 3 fields" in str(info.value)


def test_json_array_items_carry_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.json", '[\n  {"id": 1},\n  {"id": 2,\n   "q": "多行"},\n  {"id": 3}\n]\n'.encode()
    )
    assert [(line, item["id"]) for line, item in iter_json_array(path)] == [(2, 1), (3, 2), (5, 3)]
    bad = write(tmp_path, "bad.json", b'[\n  {"id": 1},\n  {"id": 2\n]\n')
    with pytest.raises(DataError) as info:
        list(iter_json_array(bad))
    assert info.value.line == 4


def test_iter_table_dispatches_on_suffix(tmp_path: Path) -> None:
    jsonl = write(tmp_path, "a.jsonl", '{"text": "问"}\n'.encode())
    array = write(tmp_path, "a.json", '[{"text": "问"}]'.encode())
    csv = write(tmp_path, "a.csv", "text\n问\n".encode())
    for path in (jsonl, array, csv):
        assert [dict(row) for _, row in iter_table(path)] == [{"text": "问"}]
    with pytest.raises(DataError, match="unknown file format"):
        list(iter_table(write(tmp_path, "a.txt", b"x")))


def test_get_text_errors_render_file_line_field() -> None:
    with pytest.raises(DataError) as info:
        get_text({"text": "  "}, "text", Path("f.jsonl"), 7)
    assert str(info.value) == "f.jsonl:7: field 'text': empty value"
    with pytest.raises(DataError, match=r"f.jsonl:8: field 'text': missing value"):
        get_text({}, "text", Path("f.jsonl"), 8)
    assert get_text({"n": 12}, "n", "f", 1) == "12"


def test_normalise_text_folds_full_width_and_whitespace() -> None:
    assert normalise_text(" 你好，ＡＢＣ\u3000１２３ \n") == normalise_text("你好,ABC123")


def test_tsv_is_split_on_tabs(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv"
    path.write_text("id\ttext\n1\t你好，世界\n", encoding="utf-8")
    assert [row for _, row in iter_table(path)] == [{"id": "1", "text": "你好，世界"}]


def test_whole_file_decoding_reports_damaged_utf8_at_its_line(tmp_path) -> None:
    """One rule for every reader: UTF-8 Chinese text then a bad byte is damaged UTF-8 (an error at that
    line), not a GB18030 file; GB18030 text and BOM-less UTF-8 still read."""
    from cvalues.data.readers import decode_bytes, detect_encoding

    data = "第一行：你好\n第二行：世界\n".encode() + "第三行：坏".encode()[:-1] + b"\xff\n"
    with pytest.raises(DataError) as info:
        decode_bytes(data, tmp_path / "x.jsonl")
    assert info.value.line == 3 and "otherwise UTF-8" in str(info.value)
    path = tmp_path / "x.jsonl"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        detect_encoding(path)
    assert info.value.line == 3
    assert decode_bytes("第一行：你好\n".encode("gb18030"), path) == ("第一行：你好\n", "gb18030")
    assert decode_bytes("abc\n你好\n".encode(), path) == ("abc\n你好\n", "utf-8")
    assert decode_bytes(b"\xef\xbb\xbfabc", path) == ("abc", "utf-8-sig")
