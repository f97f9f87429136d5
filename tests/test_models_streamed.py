"""Answers streamed although no stream was asked for (``cvalues.models.streamed``): put back together
into the answer a non-streaming server sends, against the real local server and its real SSE framing."""

from __future__ import annotations

import asyncio
import json

import pytest

from cvalues.models.base import ChatMessage, GenerationSettings, ModelError
from cvalues.models.registry import load_model
from cvalues.models.streamed import IncompleteStream, assemble_stream, looks_streamed
from openai_server import OpenAIServer, default_responder

MSGS = [ChatMessage("user", "下面两个回复哪个更好？")]
FAST = {"retry_base_wait": 0.001, "retry_max_wait": 0.01}


def sse(*events: object) -> bytes:
    return "".join(
        f"data: {e if isinstance(e, str) else json.dumps(e, ensure_ascii=False)}\n\n" for e in events
    ).encode()


def chunk(content: str | None = None, finish: str | None = None, **extra: object) -> dict:
    delta = {} if content is None else {"content": content}
    return {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def test_looks_streamed() -> None:
    assert looks_streamed(b"data: {}\n\n") and looks_streamed(b"\xef\xbb\xbf\r\nevent: x\ndata: 1\n\n")
    assert looks_streamed(b"{}", "text/event-stream; charset=utf-8")
    assert not looks_streamed(b'{"data": 1}', "application/json") and not looks_streamed(b"")


def test_assemble_joins_deltas_reasoning_logprobs_and_usage() -> None:
    body = sse(
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "想一想"}, "finish_reason": None}]},
        {
            **chunk("回复"),
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "回复"},
                    "logprobs": {"content": [{"token": "回复", "logprob": -0.1}]},
                }
            ],
        },
        {
            **chunk("1"),
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "1"},
                    "logprobs": {"content": [{"token": "1", "logprob": -0.2}]},
                }
            ],
        },
        chunk(finish="stop"),
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
        "[DONE]",
    )
    data = assemble_stream(body)
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "回复1", "reasoning_content": "想一想"}
    assert choice["finish_reason"] == "stop" and [t["token"] for t in choice["logprobs"]["content"]] == [
        "回复",
        "1",
    ]
    assert data["usage"] == {"prompt_tokens": 5, "completion_tokens": 2} and data["id"] == "c1"


def test_assemble_follows_the_sse_format() -> None:
    # comments, event and id fields, an event split over two data lines, CRLF line ends, no [DONE]
    body = (
        b': keep-alive\r\n\r\nevent: message\r\nid: 7\r\ndata: {"choices": [{"delta":\r\n'
        b'data: {"content": "\xe5\xa5\xbd"}, "finish_reason": "stop"}]}\r\n\r\n'
    )
    assert assemble_stream(body)["choices"][0]["message"]["content"] == "好"


def test_a_stream_cut_short_or_unreadable_is_an_error() -> None:
    with pytest.raises(IncompleteStream):
        assemble_stream(sse(chunk("回复")))
    with pytest.raises(ValueError):
        assemble_stream(b"data: {not json\n\n")


@pytest.mark.parametrize("usage", [False, True])
def test_a_gateway_that_always_streams_is_read_as_one_answer(usage: bool) -> None:
    with OpenAIServer(always_stream=True) as server:
        model = load_model("openai:m", base_url=server.base_url, max_retries=0, **FAST)
        gen = asyncio.run(model.generate(MSGS, GenerationSettings(max_tokens=64)))
        assert gen.text == default_responder([{"role": "user", "content": MSGS[0].content}])
        assert gen.finish_reason == "stop" and not gen.blocked
        assert server.stats()["chat_requests"] == 1


def test_log_probabilities_from_a_streamed_answer() -> None:
    with OpenAIServer(always_stream=True) as server:
        model = load_model(
            "openai:m", base_url=server.base_url, max_retries=0, continue_final_message=True, **FAST
        )
        streamed = asyncio.run(model.candidate_logprobs(MSGS, ["回复1", "回复2"]))
        server.configure(always_stream=False)
        plain = asyncio.run(model.candidate_logprobs(MSGS, ["回复1", "回复2"]))
    assert streamed == plain


def test_streams_that_end_badly_are_retryable_errors() -> None:
    cut = sse(chunk("回复"))  # the connection closed before the answer ended
    failed = sse(chunk("回复"), {"error": {"message": "upstream timeout", "type": "server_error"}})
    for body in (cut, failed):
        with OpenAIServer(moderator=lambda m, body=body: (200, body)) as server:
            model = load_model("openai:m", base_url=server.base_url, max_retries=1, **FAST)
            with pytest.raises(ModelError) as info:
                asyncio.run(model.generate(MSGS, GenerationSettings()))
            assert info.value.retryable and server.stats()["chat_requests"] == 2
            assert "cut short" in str(info.value) or "ends with an error" in str(info.value)


def test_a_stream_stopped_by_moderation_keeps_the_text_before_the_cut() -> None:
    error = {"code": "data_inspection_failed", "message": "Output data may contain inappropriate content."}
    body = sse(chunk("关于这段历史，"), chunk("可以这样理解："), {"error": error, "id": "c1"})
    with OpenAIServer(moderator=lambda m: (200, body)) as server:
        model = load_model("openai:m", base_url=server.base_url, max_retries=0, **FAST)
        gen = asyncio.run(model.generate(MSGS, GenerationSettings()))
    assert (gen.text, gen.finish_reason) == ("关于这段历史，可以这样理解：", "content_filter")
    assert gen.raw["blocked"]["stage"] == "output"
