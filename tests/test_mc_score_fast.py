"""`mc score`'s fast way (UTF-8 lines read by orjson, written as their own bytes with pred appended)
writes and counts exactly what the exact way (:func:`json.loads` of the decoded line) does, sends every
line orjson reads differently to the exact way, and still names file:line:field for a bad line, leaving
nothing behind; on 2 cores a large file whose answers keep needing the extractor goes to a pool."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvalues.mc import official
from cvalues.mc.metrics import MetricsAccumulator, compute_metrics
from test_mc_official import line
from test_mc_score_stream import big_file, in_memory

CN = "回复1更好，因为它更负责任。"


def _raw(obj: dict, **dumps) -> str:
    return json.dumps(obj, ensure_ascii=False, **dumps)


#: Lines that orjson and json.loads read alike, and lines where they differ (each must take the exact
#: way): numbers beyond 64 bits (orjson makes them floats), NaN and Infinity (orjson refuses them), a
#: lone surrogate, a float or a list in a field made text, a line that has a pred already.
EDGE_LINES = [
    _raw(line(0, CN, "回复1")),
    json.dumps(line(1, "综上所述，回复2更好。", "回复2")),  # \u escapes everywhere
    '  {"id":2,"response":"回复2更好。","label":"回复2" , "n": 1.50, "z": -0.0, "e": 1E+2}  \t',
    '{"id": 3, "response": "我选择【回复２】。", "label": "回复2", "x": "\\u2028\\ud83d\\ude00", '
    '"y": "\u2028"}\r',
    '{"id": 123456789012345678901234567890, "response": "回复1较好", "label": "回复1"}',
    '{"id": "big", "response": "回复1较好", "label": "回复1", "n": 18446744073709551616}',
    '{"id": "nan", "response": "两个回复都不好。", "label": "回复2", "score": NaN, "s2": -Infinity}',
    '{"id": "inf", "response": "两个回复都不好。", "label": "回复1", "score": 1e400}',
    '{"id": "sur", "response": "回复1更好\\ud800", "label": "回复1"}',
    '{"id": 1.5, "response": "回复1更好", "label": "回复1", "meta_info": {"difficulty_level": 2.0}}',
    '{"id": [1, 2.5], "response": "回复2更好", "label": "回复2", "pair_id": 99999999999999999999999}',
    '{"response": "回复2更好", "label": "回复2", "meta_info": {"id": 7.0, "difficulty_level": 1e3}}',
    '{"id": "dup", "response": "x", "response": "回复1更好", "label": "回复1"}',
    _raw({"id": "pred", "response": "回复2更好", "label": "回复2", "pred": "回复1", "pred_rule": "old"}),
    _raw({"id": "deep", "response": "回复1更好", "label": "回复1", "d": json.loads("[" * 300 + "]" * 300)}),
    _raw(line(15, "=SUM(A1)", "回复2"), separators=(",", ":")),
    "",
    "   ",
    "\u3000",  # a line of a full-width space: blank
    _raw(line(16, "作为AI语言模型，我不能回答这个问题。", "回复1", question=" 问题 ")) + " ",
    '{"id": 123456789012345678901234567891, "response": "回复1较好", "label": "回复2"}',  # one float apart
]


@pytest.fixture(params=["one process", "pool of 2", "switch to a pool"])
def workers(request, monkeypatch) -> int | None:
    """The three ways of running: one process, a pool from the start, a pool after the first chunk
    (2 cores, a large file: here any file, switching at once)."""
    if request.param == "switch to a pool":
        monkeypatch.setattr(official, "POOL_MIN_BYTES", 0)
        monkeypatch.setattr(official, "CHUNK_BYTES", 512)
        monkeypatch.setattr(official, "EXTRACTOR_CHUNKS", 1)
        monkeypatch.setattr(official, "EXTRACTOR_BOUND", 0)
        monkeypatch.setattr(official.os, "cpu_count", lambda: 2)
        return None
    return 1 if request.param == "one process" else 2


@pytest.fixture
def exact(monkeypatch):
    """Runs a function with every line going the exact way (as without orjson)."""

    def run(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(official, "_orjson", None)
            return fn(*args, **kwargs)

    return run


def _both_ways(tmp_path: Path, exact, src: Path, **kwargs) -> tuple[bytes, dict]:
    fast = official.score_file(src, tmp_path / "fast.jsonl", **kwargs)
    slow = exact(official.score_file, src, tmp_path / "exact.jsonl", **kwargs)
    assert (tmp_path / "fast.jsonl").read_bytes() == (tmp_path / "exact.jsonl").read_bytes()
    metrics = fast.metrics(resamples=50, seed=1).to_dict()
    assert metrics == slow.metrics(resamples=50, seed=1).to_dict()
    assert (fast.rows, fast.need_check) == (slow.rows, slow.need_check)
    return (tmp_path / "fast.jsonl").read_bytes(), metrics


def test_edge_lines_are_written_and_counted_alike_both_ways_and_as_in_memory(tmp_path, exact, workers):
    src = tmp_path / "edge.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + "\n".join(EDGE_LINES).encode("utf-8", "surrogatepass") + b"\n")
    out, metrics = _both_ways(tmp_path, exact, src, workers=workers)
    in_memory(src, tmp_path / "reference.jsonl")
    assert out == (tmp_path / "reference.jsonl").read_bytes()
    written = out.decode("utf-8").split("\n")
    assert len(written) == 19 and written[-1] == "" and metrics["total"] == 18  # 3 blank lines
    # numbers are copied as written, never re-spelled: the 30-digit id, 1.50, -0.0, 1E+2, NaN, 1e400
    for text in ("123456789012345678901234567890", '"n": 1.50, "z": -0.0, "e": 1E+2', "NaN", "1e400"):
        assert text in out.decode("utf-8")
    again = json.loads(written[13])  # the line that had a pred is re-serialized with it replaced
    assert again["pred"] == "回复2" and list(again)[-2:] == ["pred", "pred_rule"]


def test_lines_orjson_reads_differently_take_the_exact_way():
    fast = [official._fast_object(x.encode("utf-8", "surrogatepass")) for x in EDGE_LINES]
    taken = [i for i, data in enumerate(fast) if data is not None]
    assert taken == [0, 1, 2, 3, 5, 12, 14, 15, 19]  # 5: a big number in a field never made text
    assert fast[12]["response"] == "回复1更好"  # the last of two equal keys, as json.loads


def test_without_orjson_every_line_takes_the_exact_way(monkeypatch):
    monkeypatch.setattr(official, "_orjson", None)
    assert official._fast_object(EDGE_LINES[0].encode()) is None


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "response": st.sampled_from([CN, "回复2更好", "都不好", "我不能回答"]) | _text,
                "label": st.sampled_from(["回复1", "回复2"]),
            },
            optional={
                "id": _value,
                "pair_id": _value,
                "meta_info": st.fixed_dictionaries(
                    {}, optional={"domain_en": _value, "difficulty_level": _value, "question": _value}
                ),
                "extra": _value,
            },
        ),
        min_size=1,
        max_size=12,
    ),
    ascii_only=st.booleans(),
    compact=st.booleans(),
)
def test_any_valid_file_is_written_alike_both_ways(tmp_path, exact, rows, ascii_only, compact):
    src = tmp_path / "h.jsonl"
    seps = (",", ":") if compact else None
    src.write_text("".join(json.dumps(r, ensure_ascii=ascii_only, separators=seps) + "\n" for r in rows))
    for name in ("fast.jsonl", "exact.jsonl"):
        (tmp_path / name).unlink(missing_ok=True)
    _both_ways(tmp_path, exact, src)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"response": "回复1", "label": "回复1"', r"bad\.jsonl:3: line: malformed JSON"),
        ('{"label": "回复1"}', r"bad\.jsonl:3: response: missing"),
        ('{"response": 5, "label": "回复1"}', r"bad\.jsonl:3: response: must be a string"),
        ('{"response": "回复1"}', r"bad\.jsonl:3: label: missing"),
        ('{"response": "回复1", "label": "回复3"}', r"bad\.jsonl:3: label: '回复3' is not 回复1 or 回复2"),
        (
            '{"response": "x", "label": "回复1", "meta_info": [1]}',
            r"bad\.jsonl:3: meta_info: must be an object",
        ),
        ("[1, 2]", r"bad\.jsonl:3: line: expected a JSON object"),
        ('{"response": "x", "label": 100000000000000000000000}', r"label: 100000000000000000000000 is not"),
        ("[" * 5000 + "]" * 5000, r"bad\.jsonl:3: line: (JSON nested too deeply|malformed JSON)"),
    ],
)
def test_a_bad_line_names_file_line_and_field_and_nothing_is_written(tmp_path, workers, text, expected):
    good = [_raw(line(i, CN, "回复1")) for i in range(2)]
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join([*good, text, *good]) + "\n", encoding="utf-8")
    (tmp_path / "kept.jsonl").write_bytes(b"old\n")
    for target in ("out.jsonl", "kept.jsonl"):
        with pytest.raises(official.OfficialFormatError, match=expected):
            official.score_file(
                src, tmp_path / target, review_out=tmp_path / "r.csv", force=True, workers=workers
            )
    assert (tmp_path / "kept.jsonl").read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "kept.jsonl"]


def test_gb18030_bytes_in_a_utf8_file_name_their_line(tmp_path, workers):
    lines = [_raw(line(i, CN, "回复1")).encode("utf-8") for i in range(30)]
    lines[25] = _raw(line(25, "我认为回复2更好。", "回复2")).encode("gb18030")
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(official.OfficialFormatError, match=r"mixed\.jsonl:26: not UTF-8 or GB18030"):
        official.score_file(src, tmp_path / "out.jsonl", workers=workers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.jsonl"]
    whole = tmp_path / "gb.jsonl"  # a whole GB18030 file is read (the exact way), written as UTF-8
    whole.write_bytes(b"\n".join(_raw(line(i, CN, "回复1")).encode("gb18030") for i in range(30)))
    in_memory(whole, tmp_path / "reference.jsonl")
    assert official.score_file(whole, tmp_path / "gb.out.jsonl", workers=workers).rows == 30
    assert (tmp_path / "gb.out.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()


def test_add_rows_counts_what_add_row_counts():
    rng = random.Random(5)
    rows = [
        (
            f"i{n}-{gold}",
            f"p{n}" if n % 5 else None,  # a fifth without a pair id: clusters of their own
            gold,
            rng.choice(["回复1", "回复2", "Other", "Refuse", "Need_Check"]),
            rng.choice([None, "law", "环境"]),
            rng.choice([None, "easy", "hard"]),
        )
        for n in range(250)
        for gold in ("回复1", "回复2")
    ]
    rng.shuffle(rows)
    one, many = MetricsAccumulator(), MetricsAccumulator()
    for row in rows:
        one.add_row(*row)
    many.add_rows(rows[:123])
    many.add_rows(iter(rows[123:]))
    assert one.report(resamples=100, seed=2) == many.report(resamples=100, seed=2)
    report = many.report(resamples=0)
    assert report.pairs.pairs > 0 and set(report.by_category) == {"law", "环境"}


def _counting_pool(monkeypatch) -> list[int]:
    made: list[int] = []
    real = official.ProcessPoolExecutor

    def counting(workers):
        made.append(workers)
        return real(workers)

    monkeypatch.setattr(official, "ProcessPoolExecutor", counting)
    return made


def test_on_two_cores_a_pool_takes_over_once_the_extractor_is_the_work(tmp_path, monkeypatch):
    monkeypatch.setattr(official, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(official, "POOL_MIN_BYTES", 10_000)
    monkeypatch.setattr(official.os, "cpu_count", lambda: 2)
    made = _counting_pool(monkeypatch)
    rows = [
        line(i, f"第{i}个回答：我认为回复{1 + i % 2}更好。", "回复1" if i % 3 else "回复2")
        for i in range(240)
    ]
    distinct = tmp_path / "distinct.jsonl"
    distinct.write_text("".join(_raw(r) + "\n" for r in rows), encoding="utf-8")
    reference = compute_metrics([r.to_scored() for r in in_memory(distinct, tmp_path / "reference.jsonl")])
    official._extract_short.cache_clear()  # every answer new to this process too
    result = official.score_file(distinct, tmp_path / "out.jsonl", review_out=tmp_path / "r.csv")
    assert made == [2]  # every answer new: after 8 chunks the rest went to 2 processes
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "reference.jsonl").read_bytes()
    assert result.metrics().to_dict() == reference.to_dict()
    # answers that repeat are new only at first: no pool (the cache filled in the first chunks)
    repeated = big_file(tmp_path / "repeated.jsonl", 240)
    official._extract_short.cache_clear()
    official.score_file(repeated, tmp_path / "out2.jsonl")
    assert made == [2]
    # small files and an explicit workers=1 stay in this process
    monkeypatch.setattr(official, "POOL_MIN_BYTES", 10**9)
    official._extract_short.cache_clear()
    official.score_file(distinct, tmp_path / "out3.jsonl")
    monkeypatch.setattr(official, "POOL_MIN_BYTES", 10_000)
    official._extract_short.cache_clear()
    official.score_file(distinct, tmp_path / "out4.jsonl", workers=1)
    assert made == [2] and (tmp_path / "out4.jsonl").read_bytes() == (tmp_path / "out.jsonl").read_bytes()


def test_pair_identity_is_the_same_in_either_order_and_remembered():
    official._pair_digest.cache_clear()
    a = official._pair_key({}, {"question": " 问 ", "pos_resp": "好 ", "neg_resp": "坏"})
    b = official._pair_key({"prompt": "[问题]：问\n[回复1]：坏[回复1结束]\n[回复2]：好[回复2结束]"}, {})
    assert a == b and len(a) == 16
    assert official._pair_key({}, {"question": "问", "pos_resp": "好", "neg_resp": "坏坏"}) != a
    assert official._pair_digest.cache_info().hits == 0
    official._pair_key({}, {"question": " 问 ", "pos_resp": "好 ", "neg_resp": "坏"})
    assert official._pair_digest.cache_info().hits == 1
