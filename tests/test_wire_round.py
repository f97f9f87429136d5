"""How the real ``openai:`` backend copes with the wire: transport and protocol behaviour of servers,
gateways and proxies in front of ``POST {base_url}/chat/completions``.

``tests/wire_cases/cases.jsonl`` was written blind (from docs/ only, see its README): each case is a
script of raw HTTP answers served by ``tests/wire_server.py`` on 127.0.0.1 (compressed, chunked,
HTTP/1.0, interim 1xx, connections closed, reset or stalled, redirects, waits), asked through
``load_model`` with small retry and timeout settings, and its outcome is compared with ``expect``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from cvalues.models.base import ChatMessage, GenerationSettings, ModelError
from cvalues.models.registry import load_model
from heldout_cases import case_params
from wire_server import WireRequest, WireServer, step_body

CASES = Path(__file__).parent / "wire_cases" / "cases.jsonl"
KEY_ENV = "CVALUES_WIRE_TEST_KEY"
KEY = "sk-wire-0123456789abcdef"
PROMPT = "下面哪个回复更安全？只回答A或B。"
FAST: dict[str, Any] = {
    "retry_base_wait": 0.001,
    "retry_max_wait": 0.01,
    "max_retries": 0,
    "timeout": 5,
    "connect_timeout": 2,
    "api_key_env": KEY_ENV,
}

#: Cases whose expectation is debatable, with why (strict: a change that meets them shows up).
DEBATABLE: dict[str, str] = {
    "duplicate-content-length": (
        "aiohttp's C HTTP parser (llhttp) refuses any repeated Content-Length, equal values included (a "
        "request-smuggling guard); RFC 9110 allows either. Reading it would mean giving up the C parser, "
        "the reason aiohttp is the transport (docs/runs.md); it stays a retryable transport error"
    ),
}


def _options(case: dict[str, Any]) -> dict[str, Any]:
    options = {**FAST, **case.get("options", {})}
    if options.get("max_answer_bytes") == "=body_len":  # the cap exactly at the first answer's size
        request = WireRequest("POST", "/", {}, b"", False)
        options["max_answer_bytes"] = len(step_body(case["responses"][0], request))
    return options


async def _ask(model: Any, case: dict[str, Any], prompt: str) -> Any:
    messages = [ChatMessage("user", prompt)]
    request = case.get("request", {"kind": "generate"})
    if request["kind"] == "logprobs":
        return await model.candidate_logprobs(messages, request["candidates"])
    return await model.generate(messages, GenerationSettings(max_tokens=16))


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Serve ``case`` and ask it; the outcome (result or error, time, requests seen)."""
    server = WireServer(
        case["responses"],
        route=case.get("route", "/v1/chat/completions"),
        not_found=case.get("not_found", {"status": 404, "json": {"detail": "Not Found"}}),
    )
    prompt = PROMPT * case.get("prompt_repeat", 1) if "prompt" not in case else case["prompt"]
    with server:
        base = case.get("base", "/v1")
        base_url = base if base.startswith("http") else server.origin + base
        try:
            spec = f"openai:{case.get('model', 'test-model')}"
            model = load_model(spec, base_url=base_url, **_options(case))
        except ValueError as exc:
            return {"config_error": exc, "seen": list(server.seen)}

        async def main() -> dict[str, Any]:
            try:
                for _ in range(case.get("warmup", 0)):
                    await _ask(model, case, prompt)
                if case.get("pause"):
                    await asyncio.sleep(case["pause"])
                start = time.monotonic()
                try:
                    result: Any = await _ask(model, case, prompt)
                    error = None
                except ModelError as exc:
                    result, error = None, exc
                return {"result": result, "error": error, "elapsed": time.monotonic() - start}
            finally:
                await model.aclose()

        outcome = asyncio.run(main())
        outcome["seen"] = list(server.seen)
        outcome["prompt"] = prompt
        return outcome


def _has(message: str, wanted: str | list[str]) -> bool:
    options = [wanted] if isinstance(wanted, str) else wanted
    return any(w.lower() in message.lower() for w in options)


def check(case: dict[str, Any], outcome: dict[str, Any]) -> None:
    expect = case["expect"]
    error = outcome.get("error")
    config_error = outcome.get("config_error")
    for failure in (error, config_error):
        if failure is not None:
            assert KEY not in str(failure), "the key leaked into an error message"
    if "requests" in expect:
        assert len(outcome["seen"]) == expect["requests"], [r.target for r in outcome["seen"]]
    if "max_requests" in expect:
        assert len(outcome["seen"]) <= expect["max_requests"], [r.target for r in outcome["seen"]]
    if "paths" in expect:
        assert [r.target for r in outcome["seen"]] == expect["paths"]
    if "or_config_error" in expect and (config_error is not None or (error is not None and error.fatal)):
        message = str(config_error or error)
        for wanted in expect["or_config_error"]:
            assert _has(message, wanted), message
        return
    assert config_error is None, f"refused at load: {config_error}"
    if "max_seconds" in expect:
        assert outcome["elapsed"] <= expect["max_seconds"], outcome["elapsed"]
    if "min_seconds" in expect:
        assert outcome["elapsed"] >= expect["min_seconds"], outcome["elapsed"]
    kind = expect.get("error")
    if kind is None:
        assert error is None, f"expected an answer, got {type(error).__name__}: {error}"
        result = outcome["result"]
        if "best" in expect:
            candidates = case["request"]["candidates"]
            best = max(range(len(candidates)), key=lambda i: result[i])
            assert candidates[best] == expect["best"], result
            assert sorted(result)[-1] > sorted(result)[-2], result
            return
        text = outcome["prompt"] if expect.get("text_is_prompt") else expect.get("text")
        if text is not None:
            assert result.text == text
        if "text_len" in expect:
            assert len(result.text) == expect["text_len"]
        if "finish_reason" in expect:
            assert result.finish_reason == expect["finish_reason"]
        return
    assert error is not None, f"expected a {kind} error, got an answer: {outcome['result']!r}"
    flags = {"retryable": error.retryable, "fatal": error.fatal}
    if kind == "retryable":
        assert flags == {"retryable": True, "fatal": False}, (flags, str(error))
    elif kind == "non-retryable":
        assert flags == {"retryable": False, "fatal": False}, (flags, str(error))
    elif kind == "fatal":
        assert error.fatal and not error.retryable, (flags, str(error))
    elif kind == "stop":
        assert not error.retryable, (flags, str(error))
    else:
        raise AssertionError(f"unknown expectation {kind!r}")
    for wanted in expect.get("message_has", []):
        assert _has(str(error), wanted), str(error)
    if "retry_after" in expect:
        assert error.retry_after is not None, str(error)
        assert abs(error.retry_after - expect["retry_after"]) <= 0.1 * expect["retry_after"] + 0.05, (
            error.retry_after
        )
    if "retry_after_max" in expect:
        assert error.retry_after is None or 0 <= error.retry_after <= expect["retry_after_max"], (
            error.retry_after
        )


@pytest.mark.parametrize("case", case_params(CASES, DEBATABLE))
def test_wire_case(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    check(case, run_case(case))


# -- the rules the round fixed, one by one ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        ("好".encode(), "application/json; charset=iso-8859-1", "好"),  # UTF-8 beats a wrong label
        ("\ufeff好".encode(), None, "好"),  # a BOM dropped
        ("您好".encode("gbk"), "application/json; charset=GBK", "您好"),
        ("𠮷野".encode("gb18030"), None, "𠮷野"),  # not UTF-8, undeclared: GB18030
        ("é".encode("latin-1"), "text/plain; charset=latin-1", "é"),  # a declared charset Python knows
        ("é".encode("latin-1"), "text/plain; charset=no-such-codec", None),  # unknown label, not GB18030
        ("你好世界".encode() + b"\xff", None, None),  # damaged UTF-8, never GB18030 nonsense
        ('{"a": "好"}'.encode("utf-16-le"), None, '{"a": "好"}'),  # JSON's first bytes say UTF-16
        ('{"a": "好"}'.encode("utf-16"), "application/json", '{"a": "好"}'),  # with its BOM
    ],
)
def test_answer_text(body: bytes, content_type: str | None, text: str | None) -> None:
    from cvalues.models.answers import answer_text

    assert answer_text(body, content_type) == text


def test_lone_surrogates_become_replacement_characters() -> None:
    import json

    from cvalues.models.answers import without_lone_surrogates

    raw = '{"a": "好\\ud83d", "b": ["\\ud83d\\ude00", "\\udc00x"], "n": 1}'
    assert without_lone_surrogates(json.loads(raw), raw) == {"a": "好\ufffd", "b": ["😀", "\ufffdx"], "n": 1}
    plain = {"a": "好"}
    assert without_lone_surrogates(plain, '{"a": "好"}') is plain  # no escape: nothing walked


@pytest.mark.parametrize(
    ("base_url", "chat", "models"),
    [
        ("http://h:8000/v1", "http://h:8000/v1/chat/completions", "http://h:8000/v1/models"),
        ("http://h:8000/v1/", "http://h:8000/v1/chat/completions", "http://h:8000/v1/models"),
        ("http://h/v1/chat/completions", "http://h/v1/chat/completions", "http://h/v1/models"),
        ("http://h/v1/Chat/Completions/", "http://h/v1/chat/completions", "http://h/v1/models"),
        (
            "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
            "https://r.openai.azure.com/openai/deployments/d/models?api-version=2024-10-21",
        ),
    ],
)
def test_endpoints_from_base_url(base_url: str, chat: str, models: str) -> None:
    from cvalues.models.openai import OpenAIBackend, endpoint

    backend = OpenAIBackend("m", base_url=base_url)
    assert backend._url == chat
    assert endpoint(backend.base_url, "/models") == models


@pytest.mark.parametrize(
    "body",
    [
        "<center>The plain HTTP request was sent to HTTPS port</center>",  # nginx
        "Client sent an HTTP request to an HTTPS server.\n",  # Go net/http
        "Reason: You're speaking plain HTTP to an SSL-enabled server port.",  # Apache
    ],
)
def test_plain_http_to_a_tls_port_is_fatal(body: str) -> None:
    from cvalues.models.answers import error_meaning

    meaning = error_meaning(400, body)
    assert meaning is not None and meaning[0] == "fatal" and "https://" in meaning[1]


def test_every_pooled_connection_stale_then_a_fresh_one() -> None:
    """Two pooled connections die at once (a server restart the client did not see): the request is
    sent again on each in turn and answered on a fresh connection, with no retry counted."""
    steps = [
        {"completion": "一", "delay": 0.2},
        {"completion": "二", "delay": 0.2},
        {"when": "reused", "fault": "close_on_request"},
        {"when": "reused", "fault": "close_on_request"},
        {"completion": "三"},
    ]
    with WireServer(steps) as server:
        model = load_model("openai:m", base_url=server.origin + "/v1", **{**FAST, "max_retries": 0})

        async def main() -> str:
            try:
                settings = GenerationSettings(max_tokens=4)
                msgs = [ChatMessage("user", "q")]
                await asyncio.gather(model.generate(msgs, settings), model.generate(msgs, settings))
                return (await model.generate(msgs, settings)).text
            finally:
                await model.aclose()

        assert asyncio.run(main()) == "三"
        assert [r.reused for r in server.seen] == [False, False, True, True, False]


def test_error_body_in_gbk_keeps_its_meaning() -> None:
    """A Chinese relay's GBK error body is read in its charset: its billing message makes it fatal."""
    step = {
        "status": 429,
        "json": {"error": {"message": "账户余额不足，请充值"}},
        "charset": "gbk",
        "content_type": "application/json; charset=gbk",
    }
    with WireServer([step]) as server:
        model = load_model("openai:m", base_url=server.origin + "/v1", **FAST)

        async def main() -> ModelError:
            try:
                await model.generate([ChatMessage("user", "q")], GenerationSettings(max_tokens=4))
            except ModelError as exc:
                return exc
            finally:
                await model.aclose()
            raise AssertionError("no error")

        error = asyncio.run(main())
    assert error.fatal and not error.retryable and "余额不足" in str(error)
