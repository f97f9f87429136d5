"""Fuzzing the parts that read what people and models write: arbitrary bytes and JSON through the data
readers and the official-format parser raise nothing but the project's own error types, and the answer
extractor never raises and stays linear in the answer's length."""

from __future__ import annotations

import json
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cvalues.data.errors import DataError
from cvalues.data.readers import iter_table
from cvalues.mc import official
from cvalues.mc.extract import OUTCOMES, extract_choice

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEEP = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
#: Bytes that look like the files: JSON punctuation, CSV quotes, Chinese in UTF-8 and GB18030, BOMs.
file_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.sampled_from(
            [
                b"{",
                b"}",
                b"[",
                b"]",
                b'"',
                b",",
                b":",
                b"\n",
                b"\r\n",
                b"\t",
                b"\xef\xbb\xbf",
                "回复1".encode(),
                "安全".encode("gb18030"),
                b"\xff",
                b"\x00",
                b"id",
                b"text",
                b"response",
                b"label",
                b"1e999",
                b"null",
            ]
        ),
        max_size=80,
    ).map(b"".join),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
    st.lists(json_values, max_size=5).map(lambda vs: "\n".join(json.dumps(v) for v in vs).encode()),
)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv", "tsv"])
@FUZZ
@given(data=file_bytes)
@example(data=DEEP)
@example(data=DEEP_OBJECT)
@example(data=b'{"id": ' + b"[" * 50_000 + b"}\n")
@example(data=b'"' + b"x" * 200_000 + b'"\n')
def test_readers_raise_only_data_errors(tmp_path, suffix, data):
    path = _write(tmp_path, f"f.{suffix}", data)
    try:
        for _ in iter_table(path):
            pass
    except DataError as exc:
        assert str(path) in str(exc)


@FUZZ
@given(data=file_bytes)
@example(data=DEEP + b"\n")
@example(data=b'{"id": "x", "response": ' + b"[" * 50_000 + b"}\n")
def test_official_parser_raises_only_its_error(tmp_path, data):
    path = _write(tmp_path, "scored.jsonl", data)
    try:
        rows = official.parse_official(path)
    except (official.OfficialFormatError, DataError) as exc:
        assert str(path) in str(exc)
    else:
        assert all(r.pred in OUTCOMES for r in official.score_rows(rows))


@FUZZ
@given(st.text(max_size=600))
@example("</think>" * 300)
@example("<think>" * 300 + "回复1")
@example("回复1" * 500 + "不是" * 500)
def test_extractor_never_raises(text):
    assert extract_choice(text).label in OUTCOMES


_PIECES = (
    "回复1 回复2 更好 不 </think> <think> 我认为 ， 。 但是 其实 "
    "Response_1 better [回复1] 都 没有问题 “ ” 1 2"
)
_PIECES_LIST = [*_PIECES.replace("_", " ").split(" "), "\n", " "]


@pytest.mark.parametrize("seed", range(4))
def test_extractor_is_linear_in_the_answer_length(seed):
    """Time on an answer 16x as long stays well under the 256x a quadratic reader would need (the
    measure is the fastest of three tries, so a busy machine does not decide it)."""
    import random

    rng = random.Random(seed)
    unit = "".join(rng.choice(_PIECES_LIST) for _ in range(300)) + rng.choice(string.ascii_letters)

    def fastest(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            extract_choice(text)
            best = min(best, time.perf_counter() - t0)
        return best

    short, long = unit * 4, unit * 64
    ratio = fastest(long) / max(fastest(short), 1e-4)
    assert ratio < 64, f"16x longer answer took {ratio:.0f}x as long"
