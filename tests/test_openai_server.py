"""The local OpenAI test server speaks the protocol the backends rely on, and injects faults as told."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from openai_server import OpenAIServer, default_responder, prompt_key, tokenize

MSGS = [{"role": "user", "content": "你好，请问回复1和回复2哪个更好？"}]


def chat(client: httpx.Client, messages=MSGS, **extra):
    return client.post("/chat/completions", json={"model": "m", "messages": messages, **extra})


def test_chat_completion_shape_and_determinism():
    with OpenAIServer() as server, httpx.Client(base_url=server.base_url) as client:
        a = chat(client).json()
        b = chat(client).json()
        assert a["choices"][0]["message"] == {"role": "assistant", "content": default_responder(MSGS)}
        assert a["choices"][0]["message"]["content"] in ("回复1", "回复2")
        assert a["choices"][0]["message"] == b["choices"][0]["message"]
        assert a["choices"][0]["finish_reason"] == "stop"
        assert a["choices"][0]["logprobs"] is None
        assert a["usage"]["completion_tokens"] == 3
        assert a["usage"]["total_tokens"] == a["usage"]["prompt_tokens"] + 3
        models = client.get("/models").json()
        assert models["data"][0]["id"] == "test-model"
        assert server.count(MSGS) == 2
        assert server.counts() == {prompt_key(MSGS): 2}
        assert server.stats()["ok"] == 2


def test_responder_max_tokens_and_stop():
    with (
        OpenAIServer(responder=lambda m: "第一句。第二句。") as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        r = chat(client, max_tokens=2).json()["choices"][0]
        assert (r["message"]["content"], r["finish_reason"]) == ("第一", "length")
        r = chat(client, stop=["。"]).json()["choices"][0]
        assert (r["message"]["content"], r["finish_reason"]) == ("第一句", "stop")


def test_logprobs_modes_and_continue_final_message():
    with OpenAIServer() as server, httpx.Client(base_url=server.base_url) as client:
        body = chat(client, logprobs=True, top_logprobs=3).json()["choices"][0]
        tokens = body["logprobs"]["content"]
        assert [t["token"] for t in tokens] == tokenize(body["message"]["content"])
        assert math.isclose(tokens[0]["logprob"], math.log(0.8))
        assert len(tokens[0]["top_logprobs"]) == 3
        # continue an unfinished assistant turn: only the digit is generated
        prefix = [*MSGS, {"role": "assistant", "content": "回复"}]
        body = chat(
            client, prefix, logprobs=True, top_logprobs=5, max_tokens=1, continue_final_message=True
        ).json()["choices"][0]
        digit = default_responder(MSGS)[-1]
        assert body["message"]["content"] == digit
        top = body["logprobs"]["content"][0]["top_logprobs"]
        assert top[0]["token"] == digit and {t["token"] for t in top} == {"1", "2", "3", "4"}
        assert sum(math.exp(t["logprob"]) for t in top) < 1
        bad = chat(client, MSGS, continue_final_message=True)
        assert bad.status_code == 400
        server.configure(logprobs="ignore")
        assert chat(client, logprobs=True).json()["choices"][0]["logprobs"] is None
        server.configure(logprobs="reject")
        r = chat(client, logprobs=True)
        assert r.status_code == 400 and "logprobs" in r.json()["error"]["message"]


def test_scripted_faults():
    with (
        OpenAIServer(retry_after=0.5, hang_seconds=5) as server,
        httpx.Client(base_url=server.base_url, timeout=1.0) as client,
    ):
        server.script(["429", "500", "malformed", "drop", "hang", "ok"])
        r = chat(client)
        assert r.status_code == 429 and r.headers["retry-after"] == "0.5"
        assert chat(client).status_code == 500
        r = chat(client)
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            r.json()
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            chat(client)
        with pytest.raises(httpx.ReadTimeout):
            chat(client)
        assert chat(client).status_code == 200
        assert server.count(MSGS) == 6
        assert server.stats()["faults"] == {"429": 1, "500": 1, "malformed": 1, "drop": 1, "hang": 1}


def test_script_prompt_only_affects_that_prompt():
    other = [{"role": "user", "content": "另一个问题"}]
    with OpenAIServer() as server, httpx.Client(base_url=server.base_url) as client:
        server.script_prompt(other, ["500", "500"])
        assert chat(client).status_code == 200
        assert chat(client, other).status_code == 500
        assert chat(client, other).status_code == 500
        assert chat(client, other).status_code == 200
        assert server.count(other) == 3 and server.count(MSGS) == 1


def test_fault_rates_are_seeded():
    def run() -> list[int]:
        with (
            OpenAIServer(fault_rates={"429": 0.3, "500": 0.2}, retry_after=0, seed=7) as server,
            httpx.Client(base_url=server.base_url) as client,
        ):
            return [chat(client).status_code for _ in range(40)]

    first = run()
    assert first == run()
    assert {200, 429, 500} == set(first)
    with pytest.raises(ValueError):
        OpenAIServer(fault_rates={"teapot": 0.1})
    with pytest.raises(ValueError):
        OpenAIServer(fault_rates={"429": 0.7, "500": 0.7})


def test_auth_and_bad_requests():
    with OpenAIServer(api_key="sk-test", models=["m"]) as server:
        with httpx.Client(base_url=server.base_url) as client:
            assert chat(client).status_code == 401
        headers = {"Authorization": "Bearer sk-test"}
        with httpx.Client(base_url=server.base_url, headers=headers) as client:
            assert chat(client).status_code == 200
            assert client.post("/chat/completions", json={"model": "x", "messages": MSGS}).status_code == 404
            assert client.post("/chat/completions", json={"model": "m", "messages": []}).status_code == 400
            assert client.post("/chat/completions", content=b"{nope").status_code == 400
            assert client.get("/chat/completions").status_code == 405
            assert client.get("/nowhere").status_code == 404
        assert server.stats()["chat_requests"] == 1


def test_streaming():
    with OpenAIServer() as server, httpx.Client(base_url=server.base_url) as client:
        payload = {"model": "m", "messages": MSGS, "stream": True, "stream_options": {"include_usage": True}}
        with client.stream("POST", "/chat/completions", json=payload) as r:
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        assert text == default_responder(MSGS)
        assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_many_concurrent_slow_requests_overlap():
    """64 requests with 200 ms latency finish in far less than 64 x 200 ms: the server does not serialize."""

    async def main(base_url: str) -> float:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base_url, limits=limits) as client:
            t0 = time.perf_counter()
            rs = await asyncio.gather(
                *(
                    client.post(
                        "/chat/completions",
                        json={"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]},
                    )
                    for i in range(64)
                )
            )
            assert all(r.status_code == 200 for r in rs)
            return time.perf_counter() - t0

    with OpenAIServer(latency=0.2) as server:
        elapsed = asyncio.run(main(server.base_url))
        assert server.stats()["max_in_flight"] >= 32
        assert server.stats()["prompts"] == 64
    assert elapsed < 2.0


def test_command_line_server():
    script = Path(__file__).with_name("openai_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--latency", "0.01"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        base_url = line.split()[-1]
        with httpx.Client(base_url=base_url) as client:
            assert chat(client).status_code == 200
            stats = client.get("/_stats").json()
            assert stats["chat_requests"] == 1 and stats["counts"] == {prompt_key(MSGS): 1}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
