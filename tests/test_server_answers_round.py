"""The answers real OpenAI-compatible servers send, read by the real ``openai:`` backend.

``tests/server_answers/heldout.jsonl`` was written blind from server docs, source code and issue
threads (see its README): each case is served as-is (status, headers, body) by the local test server
(``tests/openai_server.py``) and the backend's result is compared with what a careful user needs.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from cvalues.models.base import ChatMessage, GenerationSettings, ModelError
from cvalues.models.registry import load_model
from openai_server import OpenAIServer

CORPUS = Path(__file__).parent / "server_answers" / "heldout.jsonl"
MSGS = [ChatMessage("user", "下面哪个回复更安全？只回答A或B。")]
FAST = {"retry_base_wait": 0.001, "retry_max_wait": 0.01, "max_retries": 0, "timeout": 10}

#: Cases whose expectation is debatable, with why (strict: a change that meets them shows up).
DEBATABLE: dict[str, str] = {}


def _corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _params() -> list[Any]:
    out = []
    for case in _corpus():
        marks = []
        if case["id"] in DEBATABLE:
            marks.append(pytest.mark.xfail(strict=True, reason=DEBATABLE[case["id"]]))
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


@pytest.fixture(scope="module")
def served():
    current: dict[str, Any] = {}

    def answer(messages: list[dict[str, str]]):
        case = current["case"]
        return case["status"], case["body"], case["headers"]

    with OpenAIServer(moderator=answer) as server:
        yield server, current


def _error_kind(exc: ModelError) -> str:
    return "fatal" if exc.fatal else "retryable" if exc.retryable else "non-retryable"


def outcome(case: dict[str, Any], base_url: str) -> dict[str, Any]:
    """What the backend made of the case, in the terms of ``expect``."""
    model = load_model("openai:m", base_url=base_url, **FAST)
    request = case["request"]
    try:
        if request["kind"] == "generate":
            gen = asyncio.run(model.generate(MSGS, GenerationSettings()))
            return {"text": gen.text, "finish_reason": gen.finish_reason}
        values = asyncio.run(model.candidate_logprobs(MSGS, request["candidates"]))
    except ModelError as exc:
        return {"error": _error_kind(exc), "retry_after": exc.retry_after, "message": str(exc)}
    cands = request["candidates"]
    top = max(values)
    best = [c for c, v in zip(cands, values, strict=True) if v == top]
    return {
        "values": [float(v) for v in values],
        "best": best[0] if len(best) == 1 and not math.isnan(top) else None,
        "bounded": sorted(c for c, v in zip(cands, values, strict=True) if getattr(v, "upper_bound", False)),
    }


def matches(expect: dict[str, Any], got: dict[str, Any]) -> bool:
    if "error" in expect:
        if got.get("error") != expect["error"]:
            return False
        if "retry_after" in expect:
            wait = got.get("retry_after")
            return (
                wait is not None and abs(wait - expect["retry_after"]) <= 0.1 * expect["retry_after"] + 0.05
            )
        return True
    if "error" in got:
        return False
    if "text" in expect:
        return got == {"text": expect["text"], "finish_reason": expect["finish_reason"]}
    ok = True
    if "best" in expect:
        ok &= got["best"] == expect["best"]
    if "bounded" in expect:
        ok &= got["bounded"] == sorted(expect["bounded"])
    return ok


@pytest.mark.parametrize("case", _params())
def test_server_answer(case: dict[str, Any], served) -> None:
    server, current = served
    current["case"] = case
    got = outcome(case, server.base_url)
    assert matches(case["expect"], got), f"{case['why']}\ngot: {got}"


def test_corpus_is_broad_and_well_formed() -> None:
    cases = _corpus()
    assert len(cases) >= 80 and len({c["id"] for c in cases}) == len(cases)
    kinds = {c["request"]["kind"] for c in cases}
    assert kinds == {"generate", "logprobs"}
    assert {c["expect"].get("error") for c in cases} >= {None, "retryable", "non-retryable", "fatal"}
    for c in cases:
        assert c["source"] and c["why"] and "content-type" in c["headers"]
        if "json" in c["headers"]["content-type"]:
            json.loads(c["body"])  # every JSON body parses (Python's json accepts NaN/-Infinity)


def test_the_test_server_sends_the_given_headers_and_content_type() -> None:
    page = "<html><body>502</body></html>"
    answer = (
        502,
        page,
        {"content-type": "text/html", "retry-after": "7", "x-ratelimit-reset-tokens": "6m0s"},
    )
    with OpenAIServer(moderator=lambda m: answer) as server:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        resp = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)
    assert resp.status_code == 502 and resp.text == page
    assert resp.headers.get_list("content-type") == ["text/html"]
    assert resp.headers["retry-after"] == "7" and resp.headers["x-ratelimit-reset-tokens"] == "6m0s"
