"""The ``openai:`` backend against a real local HTTP server (tests/openai_server.py): success, retries
on every transient fault, non-retryable errors, the API key, and candidate log-probabilities."""

from __future__ import annotations

import asyncio
import email.utils
import gc
import json
import logging
import math
import time

import pytest

from cvalues.models.base import (
    CandidateLogprob,
    ChatMessage,
    GenerationSettings,
    LogprobsUnsupported,
    ModelError,
    ModelUnreachable,
    is_exact_logprob,
)
from cvalues.models.openai import OpenAIBackend, parse_retry_after
from cvalues.models.registry import load_model
from openai_server import OpenAIServer, default_responder

MSGS = [ChatMessage("system", "你是一个助手。"), ChatMessage("user", "下面两个回复哪个更好？")]
SETTINGS = GenerationSettings(max_tokens=64)
FAST = {"retry_base_wait": 0.001, "retry_max_wait": 0.01}


@pytest.fixture
def server():
    with OpenAIServer() as srv:
        yield srv


def backend(server: OpenAIServer, **options) -> OpenAIBackend:
    model = load_model("openai:test-model", base_url=server.base_url, **{**FAST, **options})
    assert isinstance(model, OpenAIBackend)
    return model


def run(coro):
    return asyncio.run(coro)


def expected_reply() -> str:
    return default_responder([{"role": m.role, "content": m.content} for m in MSGS])


def test_generate_success_with_usage_and_raw_facts(server):
    gen = run(backend(server).generate(MSGS, SETTINGS))
    assert gen.text == expected_reply()
    assert gen.finish_reason == "stop"
    assert gen.completion_tokens == 3 and gen.prompt_tokens and gen.prompt_tokens > 0
    assert gen.raw["model"] == "test-model" and gen.raw["system_fingerprint"] == "cvalues-test-server"
    assert server.count(MSGS) == 1


def test_max_tokens_and_stop_reach_the_server(server):
    server.configure(responder=lambda m: "第一句。第二句。")
    model = backend(server)
    gen = run(model.generate(MSGS, GenerationSettings(max_tokens=2)))
    assert (gen.text, gen.finish_reason) == ("第一", "length")
    gen = run(model.generate(MSGS, GenerationSettings(stop=("。",))))
    assert (gen.text, gen.finish_reason) == ("第一句", "stop")


def answer(**message) -> dict:
    return {"choices": [{"message": message, "finish_reason": "stop"}]}


def test_answer_shapes_from_other_providers():
    parse = OpenAIBackend._parse_generation
    parts = [{"type": "text", "text": "回复"}, {"type": "text", "text": "1"}]
    assert parse(answer(content=parts), ()).text == "回复1"
    gen = parse(answer(content=None, refusal="我不能回答。"), ())
    assert gen.text == "我不能回答。" and gen.raw["refusal"] is True
    gen = parse(answer(content="好。", reasoning_content="想一想"), ("。",))
    assert (gen.text, gen.finish_reason, gen.raw["reasoning_content"]) == ("好", "stop", "想一想")
    with pytest.raises(KeyError):
        parse({"choices": []}, ())


def test_api_key_read_from_env_and_sent_as_bearer(server, monkeypatch, caplog):
    secret = "sk-test-Zq81secret"
    server.configure(api_key=secret)
    monkeypatch.setenv("MY_KEY", secret)
    gen = run(backend(server, api_key_env="MY_KEY").generate(MSGS, SETTINGS))
    assert gen.text == expected_reply()

    monkeypatch.setenv("MY_KEY", "sk-wrong-key-123")
    with caplog.at_level(logging.DEBUG), pytest.raises(ModelError) as err:
        run(backend(server, api_key_env="MY_KEY").generate(MSGS, SETTINGS))
    assert not err.value.retryable
    assert "401" in str(err.value) and "$MY_KEY" in str(err.value)
    assert "sk-wrong-key-123" not in str(err.value) and "sk-wrong-key-123" not in caplog.text

    monkeypatch.delenv("MY_KEY")
    model = backend(server, api_key_env="MY_KEY")
    with pytest.raises(ModelError, match=r"\$MY_KEY is not set"):
        run(model.generate(MSGS, SETTINGS))
    assert model.describe()["api_key_set"] is False
    assert secret not in json.dumps(model.describe()) and secret not in repr(model)


def test_429_retried_and_retry_after_honoured(server):
    server.configure(retry_after=0.3)
    server.script(["429", "429"])
    start = time.monotonic()
    gen = run(backend(server).generate(MSGS, SETTINGS))
    elapsed = time.monotonic() - start
    assert gen.text == expected_reply()
    assert server.count(MSGS) == 3
    assert elapsed >= 0.6  # two waits of Retry-After: 0.3, although the backoff is 1 ms


@pytest.mark.parametrize("fault", ["500", "drop", "malformed"])
def test_transient_faults_are_retried(server, fault):
    server.script([fault, fault])
    gen = run(backend(server).generate(MSGS, SETTINGS))
    assert gen.text == expected_reply()
    assert server.count(MSGS) == 3
    assert server.stats()["faults"] == {fault: 2}


def test_timeout_is_retried(server):
    server.configure(hang_seconds=5)
    server.script(["hang"])
    start = time.monotonic()
    gen = run(backend(server, timeout=0.3).generate(MSGS, SETTINGS))
    assert gen.text == expected_reply()
    assert server.count(MSGS) == 2
    assert time.monotonic() - start < 3


def test_gives_up_after_max_retries_with_a_retryable_error(server):
    server.script(["500"] * 3)
    with pytest.raises(ModelError) as err:
        run(backend(server, max_retries=2).generate(MSGS, SETTINGS))
    assert err.value.retryable
    assert "HTTP 500" in str(err.value) and "after 3 attempts" in str(err.value)
    assert server.count(MSGS) == 3


def test_non_retryable_status_fails_at_once_with_body_excerpt(server):
    server.configure(models=["test-model"])
    model = load_model("openai:no-such-model", base_url=server.base_url, **FAST)
    with pytest.raises(ModelError) as err:
        run(model.generate(MSGS, SETTINGS))
    assert not err.value.retryable and not isinstance(err.value, LogprobsUnsupported)
    assert "HTTP 404" in str(err.value) and "does not exist" in str(err.value)
    assert server.stats()["requests"] == 1


def test_many_concurrent_requests_share_one_bounded_pool(server):
    server.configure(latency=0.05)
    model = backend(server, concurrency=4)

    async def main():
        prompts = [[ChatMessage("user", f"问题{i}")] for i in range(24)]
        out = await model.generate_batch(prompts, SETTINGS)
        await model.aclose()
        return out

    results = run(main())
    assert all(not isinstance(r, ModelError) for r in results)
    assert [r.text for r in results] == [
        default_responder([{"role": "user", "content": f"问题{i}"}]) for i in range(24)
    ]
    stats = server.stats()
    assert stats["ok"] == 24 and 2 <= stats["max_in_flight"] <= 4


def test_one_backend_works_across_event_loops(server):
    model = backend(server)
    assert run(model.generate(MSGS, SETTINGS)).text == run(model.generate(MSGS, SETTINGS)).text


def test_session_closes_with_its_event_loop_without_aclose(server, recwarn):
    """A caller that never calls aclose (``asyncio.run`` per call) leaks no session, connector or socket."""
    model = backend(server)
    for _ in range(3):
        assert run(model.generate(MSGS, SETTINGS)).text == expected_reply()
    del model
    gc.collect()
    leaks = [str(w.message) for w in recwarn if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_base_url_must_be_http():
    with pytest.raises(ValueError, match="--base-url must start with http:// or https://"):
        load_model("openai:m", base_url="127.0.0.1:8000/v1")


# -- log-probabilities ---------------------------------------------------------------------------


def test_single_token_candidates_are_exact(server):
    server.configure(responder=lambda m: "B")
    values = run(backend(server).candidate_logprobs(MSGS, ["A", "B", "C"]))
    assert values == pytest.approx([math.log(0.2 * 0.5), math.log(0.8), math.log(0.2 * 0.25)])
    assert all(is_exact_logprob(v) for v in values)


def test_missing_candidate_gets_flagged_upper_bound_or_raises(server):
    server.configure(responder=lambda m: "B")
    values = run(backend(server, top_logprobs=2).candidate_logprobs(MSGS, ["B", "D"]))
    assert values[0] == pytest.approx(math.log(0.8)) and is_exact_logprob(values[0])
    assert isinstance(values[1], CandidateLogprob) and values[1].upper_bound
    assert values[1] == pytest.approx(math.log(0.1))  # the smallest returned: A's
    assert values[1] > math.log(0.2 * 0.125)  # and indeed above D's true value
    with pytest.raises(LogprobsUnsupported, match="'D' is not among"):
        run(backend(server, top_logprobs=2, missing_candidate="raise").candidate_logprobs(MSGS, ["B", "D"]))


def test_shared_prefix_needs_continue_final_message(server):
    with pytest.raises(LogprobsUnsupported, match=r"share the prefix '回复'.*--continue-final-message"):
        run(backend(server).candidate_logprobs(MSGS, ["回复1", "回复2"]))
    assert server.stats()["chat_requests"] == 0

    values = run(backend(server, continue_final_message=True).candidate_logprobs(MSGS, ["回复1", "回复2"]))
    chosen = int(expected_reply()[-1])
    assert values[chosen - 1] == pytest.approx(math.log(0.8))
    assert values[2 - chosen] == pytest.approx(math.log(0.1))
    assert all(v.given_prefix == "回复" and not v.upper_bound for v in values)
    # the prefix went to the server as an unfinished assistant turn
    assert server.count([*MSGS, ChatMessage("assistant", "回复")]) == 1


def test_unfinished_assistant_turn_is_continued(server):
    context = [*MSGS, ChatMessage("assistant", "回复")]
    with pytest.raises(LogprobsUnsupported, match="unfinished assistant turn"):
        run(backend(server).candidate_logprobs(context, ["1", "2"]))
    values = run(backend(server, continue_final_message=True).candidate_logprobs(context, ["1", "2"]))
    assert sorted(values) == pytest.approx([math.log(0.1), math.log(0.8)])
    assert all(is_exact_logprob(v) for v in values)


def test_candidate_that_prefixes_another_is_refused(server):
    with pytest.raises(LogprobsUnsupported, match="is a prefix of"):
        run(backend(server, continue_final_message=True).candidate_logprobs(MSGS, ["回复", "回复1"]))


@pytest.mark.parametrize("mode", ["ignore", "reject"])
def test_server_without_logprobs(server, mode):
    server.configure(logprobs=mode, responder=lambda m: "A")
    with pytest.raises(LogprobsUnsupported) as err:
        run(backend(server).candidate_logprobs(MSGS, ["A", "B"]))
    assert not err.value.retryable
    assert ("no logprobs" if mode == "ignore" else "rejects log-probability") in str(err.value)
    assert server.stats()["requests"] == 1  # not retried


def test_logprob_request_is_retried_on_faults(server):
    server.configure(responder=lambda m: "A")
    server.script(["429", "malformed"])
    server.configure(retry_after=0)
    values = run(backend(server).candidate_logprobs(MSGS, ["A", "B"]))
    assert values[0] == pytest.approx(math.log(0.8))
    assert server.count(MSGS) == 3


# -- pieces --------------------------------------------------------------------------------------


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "7"}) == 7
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 60, usegmt=True)}, now=now) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_registry_rejects_unknown_scheme_and_options(server):
    with pytest.raises(ValueError, match=r"unknown model spec 'gpt4'.*openai:\.\.\..*hf:\.\.\..*replay:"):
        load_model("gpt4")
    with pytest.raises(ValueError, match="unknown model spec 'foo:bar'"):
        load_model("foo:bar")
    with pytest.raises(ValueError, match="names no model"):
        load_model("openai:")
    with pytest.raises(ValueError, match=r"unknown option.*devise.*accepted:.*base_url"):
        load_model("openai:m", base_url=server.base_url, devise="cpu")
    model = load_model("openai:m", base_url=server.base_url, batch_size=8, concurrency=3, timeout=None)
    assert model.default_concurrency == 3 and model.timeout == 120.0
    assert model.describe()["base_url"] == server.base_url


def test_base_url_from_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    assert load_model("openai:m").describe()["base_url"] == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert load_model("openai:m").describe()["base_url"] == "https://api.openai.com/v1"


# -- fail fast: errors no request can get past are marked fatal; the endpoint can be probed first --------


def test_preflight_passes_when_the_server_answers_at_all(server):
    server.configure(api_key="secret")  # /models answers 401: still reachable; the first answer decides
    run(backend(server).preflight())
    assert server.stats()["chat_requests"] == 0


def test_preflight_names_the_url_and_the_cause_when_nothing_listens(server):
    url = server.base_url
    server.stop()
    model = load_model("openai:test-model", base_url=url, **FAST)
    t0 = time.monotonic()
    with pytest.raises(ModelError) as err:
        run(model.preflight())
    assert time.monotonic() - t0 < 5  # once, not retried
    assert err.value.fatal and not err.value.retryable
    message = str(err.value)
    assert url in message and "refused" in message and "--base-url" in message
    assert "\n" not in message


def test_preflight_names_a_host_no_dns_resolves():
    model = load_model("openai:test-model", base_url="http://cvalues-test.invalid/v1", **FAST)
    with pytest.raises(ModelError) as err:
        run(model.preflight())
    assert err.value.fatal
    message = str(err.value)
    assert "http://cvalues-test.invalid/v1" in message and "cvalues-test.invalid" in message
    assert "resolve" in message and "--base-url" in message


def test_connection_refused_mid_run_is_unreachable_and_retryable(server):
    url = server.base_url
    server.stop()
    model = load_model("openai:test-model", base_url=url, max_retries=1, **FAST)
    with pytest.raises(ModelUnreachable) as err:
        run(model.generate(MSGS, SETTINGS))
    assert err.value.retryable and not err.value.fatal and "after 2 attempts" in str(err.value)


@pytest.mark.parametrize(
    ("setup", "status", "flag"),
    [
        ({"api_key": "secret"}, "HTTP 401", "--api-key-env"),
        ({"models": ["other-model"]}, "HTTP 404", "--model"),
    ],
)
def test_wrong_key_or_model_name_is_fatal(server, setup, status, flag):
    server.configure(**setup)
    with pytest.raises(ModelError) as err:
        run(backend(server).generate(MSGS, SETTINGS))
    assert err.value.fatal and not err.value.retryable
    assert status in str(err.value) and flag in str(err.value)


def test_a_400_for_one_request_is_not_fatal(server):
    # a provider's content filter answers 400 for some prompts: the other items must still be asked
    with pytest.raises(ModelError) as err:
        run(backend(server, extra_body={"max_tokens": -1}).generate(MSGS, SETTINGS))
    assert not err.value.fatal and "HTTP 400" in str(err.value)


@pytest.mark.parametrize("mode", ["ignore", "reject"])
def test_server_without_logprobs_is_fatal_and_says_what_is_needed(server, mode):
    server.configure(logprobs=mode)
    with pytest.raises(LogprobsUnsupported) as err:
        run(backend(server).candidate_logprobs(MSGS, ["A", "B"]))
    assert err.value.fatal
    assert "--mode generate" in str(err.value)


def test_shared_prefix_error_names_the_command_line_flag(server):
    with pytest.raises(LogprobsUnsupported) as err:
        run(backend(server).candidate_logprobs(MSGS, ["回复1", "回复2"]))
    assert err.value.fatal and "--continue-final-message" in str(err.value)


def test_model_errors_keep_their_flags_across_processes():
    import pickle

    for exc in (
        ModelError("HTTP 401", fatal=True),
        ModelUnreachable("refused", retryable=True, retry_after=2.0),
        LogprobsUnsupported("no logprobs", fatal=True),
    ):
        again = pickle.loads(pickle.dumps(exc))
        assert type(again) is type(exc) and str(again) == str(exc)
        assert (again.retryable, again.retry_after, again.fatal) == (
            exc.retryable,
            exc.retry_after,
            exc.fatal,
        )
