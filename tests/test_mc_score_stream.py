"""`mc score` streams: chunked (and, on large files, pooled) scoring writes exactly what scoring the
whole file in memory writes, computes the same metrics, and on a bad line names file:line:field and
leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvalues.mc import official
from cvalues.mc.metrics import compute_metrics
from test_mc_official import line

ANSWERS = [
    "回复1更好，因为它更负责任。",
    "综上所述，回复2更好。",
    "两个回复都不好。",
    "作为AI语言模型，我不能回答这个问题。",
    "回复1提到了法律，回复2提到了道德。",
    "我选择【回复２】。",
    "第一段\u2028第二段：回复1较好",  # a Unicode line separator inside an answer is not a line end
    "=SUM(A1)",  # a Need_Check answer that a spreadsheet would run
]


def big_file(path: Path, n: int, *, encoding: str = "utf-8", bom: bool = False) -> Path:
    """``n`` lines over several domains, with blank lines and CRLF endings mixed in."""
    parts = []
    for i in range(n):
        row = line(i, ANSWERS[i % len(ANSWERS)], "回复1" if i % 2 == 0 else "回复2",
                   domain=["law", "psychology", "环境"][i % 3], level=["easy", "hard"][i % 2])  # fmt: skip
        parts.append(json.dumps(row, ensure_ascii=False) + ("\r\n" if i % 7 == 0 else "\n"))
        if i % 11 == 0:
            parts.append("\n")
    text = ("\ufeff" if bom else "") + "".join(parts)
    path.write_bytes(text.encode(encoding))
    return path


def in_memory(path: Path, output: Path) -> list:
    """The reference: the whole file parsed, scored and written at once."""
    rows = official.score_rows(official.parse_official(path))
    official.write_rows(output, rows)
    return rows


@pytest.mark.parametrize("workers", [1, 2])
def test_streamed_output_and_metrics_equal_scoring_in_memory(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(official, "CHUNK_BYTES", 4096)  # many chunks, several in flight in the pool
    src = big_file(tmp_path / "answers.jsonl", 600, bom=True)
    rows = in_memory(src, tmp_path / "reference.jsonl")
    result = official.score_file(src, tmp_path / "out.jsonl", review_out=tmp_path / "r.csv", workers=workers)
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    expected = compute_metrics([r.to_scored() for r in rows], resamples=200, seed=3).to_dict()
    assert result.metrics(resamples=200, seed=3).to_dict() == expected
    assert expected["pairs"]["pairs"] > 0 and expected["need_check"] > 0
    sheet, n = official.review_sheet(rows, ".csv")
    assert (tmp_path / "r.csv").read_bytes() == sheet and result.review_rows == n > 0


def test_large_files_use_the_pool_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(official, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(official, "POOL_MIN_BYTES", 10_000)
    monkeypatch.setattr(official.os, "cpu_count", lambda: 3)  # two extractors, a core for the writer
    made = []
    real = official.ProcessPoolExecutor

    def counting(workers):
        made.append(workers)
        return real(workers)

    monkeypatch.setattr(official, "ProcessPoolExecutor", counting)
    src = big_file(tmp_path / "a.jsonl", 200)
    assert src.stat().st_size > 10_000
    in_memory(src, tmp_path / "reference.jsonl")
    official.score_file(src, tmp_path / "out.jsonl")
    assert made == [2]
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    monkeypatch.setattr(official.os, "cpu_count", lambda: 2)  # two cores: no pool, one process
    official.score_file(src, tmp_path / "out2.jsonl")
    assert (
        made == [2] and (tmp_path / "out2.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_line_late_in_the_file_names_it_and_leaves_nothing(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(official, "CHUNK_BYTES", 2048)
    src = big_file(tmp_path / "a.jsonl", 300)
    lines = src.read_text(encoding="utf-8").split("\n")
    bad = json.loads(lines[250])
    bad["label"] = "回复3"
    lines[250] = json.dumps(bad, ensure_ascii=False)
    src.write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "out.jsonl").write_text("old\n", encoding="utf-8")
    with pytest.raises(official.OfficialFormatError, match=r"a\.jsonl:251: label: '回复3'"):
        official.score_file(src, tmp_path / "out.jsonl", review_out=tmp_path / "r.csv", force=True,
                            workers=workers)  # fmt: skip
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == "old\n"  # kept as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "out.jsonl"]  # no temporary left


def test_gb18030_late_in_the_file_reads_the_whole_file_as_gb18030(tmp_path, monkeypatch):
    monkeypatch.setattr(official, "CHUNK_BYTES", 1024)  # the first chunks decode as UTF-8 (ASCII only)
    ascii_rows = [line(i, "Response 1 is better.", "回复1") for i in range(40)]
    rows = [*ascii_rows, line(40, "我认为回复2更好。", "回复2")]
    src = tmp_path / "gb.jsonl"
    src.write_bytes("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("gb18030"))
    in_memory(src, tmp_path / "reference.jsonl")
    result = official.score_file(src, tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    assert (
        result.rows == 41
        and json.loads((tmp_path / "out.jsonl").read_text("utf-8").splitlines()[-1])["pred"] == "回复2"
    )
    assert result.metrics(resamples=0).overall.picked_2 == 1
    undecodable = tmp_path / "bin.jsonl"
    undecodable.write_bytes(b'{"response": "\xff\xff", "label": "\xe5\x9b\x9e\xe5\xa4\x8d1"}\n')
    with pytest.raises(official.OfficialFormatError, match="not UTF-8 or GB18030"):
        official.score_file(undecodable, tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()


def test_existing_output_needs_force_and_empty_files_are_errors(tmp_path):
    src = big_file(tmp_path / "a.jsonl", 4)
    (tmp_path / "out.jsonl").write_text("keep\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="--force"):
        official.score_file(src, tmp_path / "out.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(official.OfficialFormatError, match="no lines to score"):
        official.score_file(empty, tmp_path / "e.out.jsonl")
    assert not (tmp_path / "e.out.jsonl").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_scored_lines_keep_the_original_text_and_only_append(tmp_path, workers):
    """Each line is copied as read (its escapes, spacing and number spellings) with pred/pred_rule
    appended; a line that already has a pred (a rescored file) is re-serialized with it replaced."""
    plain = '{"id": 1, "response": "\\u56de\\u590d1\\u66f4\\u597d", "label": "回复1", "score": 1.50}'
    spaced = '  {"id":2,"response":"回复2更好。","label":"回复2" }  \r'
    has_pred = json.dumps(
        {"id": 3, "response": "两个都不好", "label": "回复1", "pred": "回复1"}, ensure_ascii=False
    )
    src = tmp_path / "a.jsonl"
    src.write_text("\n".join([plain, spaced, has_pred]) + "\n", encoding="utf-8")
    official.score_file(src, tmp_path / "out.jsonl", workers=workers)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").split("\n")
    assert (
        lines[0]
        == plain[:-1]
        + ', "pred": "回复1", "pred_rule": '
        + json.dumps(official.extract_label("回复1更好")[1])
        + "}"
    )
    assert lines[1].startswith('  {"id":2,"response":"回复2更好。","label":"回复2" , "pred": "回复2"')
    third = json.loads(lines[2])
    assert list(third) == ["id", "response", "label", "pred", "pred_rule"] and third["pred"] == "Other"
    assert [json.loads(x)["pred"] for x in lines[:2]] == ["回复1", "回复2"] and lines[3:] == [""]


def test_short_answers_are_extracted_once_per_process(monkeypatch):
    from cvalues.mc import extract

    official._extract_short.cache_clear()
    calls = []
    real = extract.extract_choice

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(official, "_extract_choice", counting)
    long_answer = "回复1更好。" + "理由很多。" * 60  # over CACHE_MAX_CHARS: not remembered
    assert len(long_answer) > official.CACHE_MAX_CHARS
    for _ in range(3):
        assert official.extract_label("我认为回复2更好。") == (
            real("我认为回复2更好。").label,
            real("我认为回复2更好。").rule,
        )
        assert official.extract_label(long_answer)[0] == "回复1"
    assert calls.count("我认为回复2更好。") == 1 and calls.count(long_answer) == 3
    official._extract_short.cache_clear()


@pytest.mark.parametrize("workers", [1, 2])
def test_utf8_damaged_by_one_byte_is_an_error_at_its_line_not_read_as_gb18030(tmp_path, monkeypatch, workers):
    """GB18030 decodes most UTF-8 bytes (into nonsense): a UTF-8 file with Chinese text and one bad byte
    is reported at that line, and nothing is written."""
    monkeypatch.setattr(official, "CHUNK_BYTES", 512)
    good = [
        json.dumps(line(i, "我认为回复1更好。", "回复1"), ensure_ascii=False).encode("utf-8")
        for i in range(30)
    ]
    good[20] = good[20].replace("更好".encode(), "更好".encode()[:-1] + b"\xff", 1)
    src = tmp_path / "damaged.jsonl"
    src.write_bytes(b"\n".join(good) + b"\n")
    with pytest.raises(
        official.OfficialFormatError, match=r"damaged\.jsonl:21: not UTF-8 or GB18030 text.*otherwise UTF-8"
    ):
        official.score_file(src, tmp_path / "out.jsonl", workers=workers)
    assert not (tmp_path / "out.jsonl").exists()
    gb = tmp_path / "gb.jsonl"  # a real GB18030 file is still read as one
    gb.write_bytes(
        "\n".join(
            json.dumps(line(i, "我认为回复2更好。", "回复2"), ensure_ascii=False) for i in range(30)
        ).encode("gb18030")
    )
    assert (
        official.score_file(gb, tmp_path / "gb.out.jsonl", workers=workers)
        .metrics(resamples=0)
        .overall.picked_2
        == 30
    )
