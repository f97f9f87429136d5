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

from cvalues.models.answers import embedded_status, error_meaning, parse_duration, ratelimit_reset
from cvalues.models.base import ChatMessage, GenerationSettings, ModelError
from cvalues.models.registry import load_model
from heldout_cases import case_params, read_cases
from openai_server import OpenAIServer

CORPUS = Path(__file__).parent / "server_answers" / "heldout.jsonl"
MSGS = [ChatMessage("user", "下面哪个回复更安全？只回答A或B。")]
FAST = {"retry_base_wait": 0.001, "retry_max_wait": 0.01, "max_retries": 0, "timeout": 10}

#: Cases whose expectation is debatable, with why (strict: a change that meets them shows up).
DEBATABLE: dict[str, str] = {}


def _corpus() -> list[dict[str, Any]]:
    return read_cases(CORPUS)


def _params() -> list:
    return case_params(CORPUS, DEBATABLE)


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


# -- the rules behind the fixes, beyond the corpus's cases -------------------------------------------


def test_reset_durations_and_exhausted_limits() -> None:
    assert [parse_duration(v) for v in ("20s", "6m0s", "210ms", "1h2m3.5s", "1.5")] == pytest.approx(
        [20, 360, 0.21, 3723.5, 1.5]
    )
    assert parse_duration("soon") is None and parse_duration("") is None and parse_duration("5x") is None
    assert parse_duration("1700000030", now=1700000000) == pytest.approx(30)
    limits = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}
    assert ratelimit_reset(limits) == 2
    tokens = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m"}
    assert ratelimit_reset({**limits, **tokens}) == 60  # the longest of the exhausted ones
    assert ratelimit_reset({**limits, "x-ratelimit-remaining-requests": "12"}) is None  # not exhausted


NEAR_MISSES = [
    (
        429,
        {
            "error": {
                "code": "429",
                "message": "Requests have exceeded token rate limit of your pricing tier.",
            }
        },
    ),
    (400, {"object": "error", "message": "This model's maximum context length is 4096 tokens.", "code": 400}),
    (503, {"error": {"message": "当前分组 default 下对于模型 gpt-4o 无可用渠道", "type": "one_api_error"}}),
    (
        422,
        {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000"},
    ),
    (503, {"error": "Model meta-llama/Llama-2-70b-chat is currently loading", "estimated_time": 20.0}),
    (429, {"error": {"message": "The engine is currently overloaded", "type": "engine_overloaded_error"}}),
    (
        400,
        {
            "error": {
                "message": "Invalid 'messages[1].content': string too long.",
                "type": "invalid_request_error",
            }
        },
    ),
]


@pytest.mark.parametrize(("status", "body"), NEAR_MISSES)
def test_near_misses_keep_the_meaning_of_their_status(status: int, body: dict[str, Any]) -> None:
    """A rate limit, a long prompt, a gateway's outage or a loading model is not fatal."""
    assert error_meaning(status, json.dumps(body, ensure_ascii=False)) is None


def test_a_missing_model_is_fatal_whatever_its_status_and_name() -> None:
    for status in (400, 404, 500):
        body = {"error": {"message": "The model `Qwen/Qwen2.5-7B-Instruct` does not exist.", "code": None}}
        assert error_meaning(status, json.dumps(body))[0] == "fatal"
    xinference = {"detail": "Model not found in the model list, uid: q2.5"}
    assert error_meaning(400, json.dumps(xinference))[0] == "fatal"


def test_error_codes_inside_a_200() -> None:
    assert embedded_status({"object": "error", "message": "x", "code": 40301}) == 403
    assert embedded_status({"error": {"message": "x", "code": "429"}}) == 429
    assert embedded_status({"error": {"message": "x", "code": "invalid_request_error"}}) is None
    assert embedded_status({"choices": [{"index": 0}], "error": {"code": 500}}) is None  # an answer is there


def test_an_error_inside_a_200_is_not_asked_again_and_a_loading_wait_is_honoured() -> None:
    answers = [
        (
            200,
            json.dumps(
                {"object": "error", "message": "context too long", "type": "BadRequestError", "code": 400}
            ),
        ),
        (503, json.dumps({"error": "Model m is currently loading", "estimated_time": 0.05})),
        None,
    ]
    with OpenAIServer(moderator=lambda m: answers.pop(0), responder=lambda m: "A") as server:
        model = load_model("openai:m", base_url=server.base_url, max_retries=3, retry_base_wait=5, timeout=10)
        with pytest.raises(ModelError) as info:
            asyncio.run(model.generate(MSGS, GenerationSettings()))
        assert not info.value.retryable and "carrying an error with code 400" in str(info.value)
        assert server.stats()["chat_requests"] == 1
        # the 503 says 0.05 s: that wait is used instead of the 5 s backoff
        gen = asyncio.run(asyncio.wait_for(model.generate(MSGS, GenerationSettings()), 3))
        assert gen.text == "A" and server.stats()["chat_requests"] == 3


def test_a_fatal_answer_says_why() -> None:
    body = {
        "error": {"message": "Insufficient Balance", "type": "unknown_error", "code": "invalid_request_error"}
    }
    with OpenAIServer(moderator=lambda m: (402, json.dumps(body))) as server:
        model = load_model("openai:m", base_url=server.base_url, **FAST)
        with pytest.raises(ModelError, match="balance or quota") as info:
            asyncio.run(model.generate(MSGS, GenerationSettings()))
    assert info.value.fatal and not info.value.retryable


def test_the_servers_own_finish_reason_is_kept_in_raw() -> None:
    body = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "好"}, "finish_reason": "eos_token"}
        ]
    }
    with OpenAIServer(moderator=lambda m: (200, json.dumps(body))) as server:
        gen = asyncio.run(
            load_model("openai:m", base_url=server.base_url, **FAST).generate(MSGS, GenerationSettings())
        )
    assert (gen.text, gen.finish_reason, gen.raw["finish_reason"]) == ("好", "stop", "eos_token")


def test_space_marks_do_not_merge_candidates_that_differ_by_a_space() -> None:
    alts = [
        {"token": " A", "logprob": -0.5},
        {"token": "A", "logprob": -1.5},
        {"token": "ĠB", "logprob": -2.5},
    ]
    first = {"token": " A", "logprob": -0.5, "top_logprobs": alts}
    message = {"role": "assistant", "content": " A"}
    choice = {"index": 0, "message": message, "finish_reason": "length", "logprobs": {"content": [first]}}
    body = {"choices": [choice]}
    with OpenAIServer(moderator=lambda m: (200, json.dumps(body, ensure_ascii=False))) as server:
        model = load_model("openai:m", base_url=server.base_url, **FAST)
        exact = asyncio.run(model.candidate_logprobs(MSGS, ["A", " A"]))
        merged = asyncio.run(model.candidate_logprobs(MSGS, ["A", "B"]))
    assert exact == pytest.approx([-1.5, -0.5])  # two candidates, two texts: no merging
    assert merged[0] == pytest.approx(math.log(math.exp(-0.5) + math.exp(-1.5))) and merged[1] == -2.5
    assert all(not getattr(v, "upper_bound", False) for v in merged)
