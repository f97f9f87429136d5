"""The openai backend against hostile servers and leaky secrets: a total deadline per request,
redirects only 307/308 to the same origin, a cap on the answer's size, deeply nested JSON, and keys
(in the environment or in a URL) masked everywhere, before any excerpt is cut."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.models.base import ChatMessage, GenerationSettings, ModelError
from cvalues.models.openai import OpenAIBackend
from cvalues.runs import Request, RunStore, execute, read_manifest
from hostile_server import HostileServer, Seen, completion, respond
from openai_server import OpenAIServer

KEY = "sk-proj-SECRETKEYVALUE0123456789"
ASK = (ChatMessage("user", "你好"),)
SETTINGS = GenerationSettings(max_tokens=8)


def ask(backend: OpenAIBackend):
    async def go():
        try:
            return await backend.generate(ASK, SETTINGS)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def backend(url: str, **kw) -> OpenAIBackend:
    return OpenAIBackend("m", base_url=url, max_retries=0, **kw)


# --- secrets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x1b", "\x7f"])
def test_control_character_in_key_is_refused_before_any_request(monkeypatch, tmp_path, bad):
    monkeypatch.setenv("OPENAI_API_KEY", KEY + bad)
    with pytest.raises(ValueError, match=r"OPENAI_API_KEY holds .* at position"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "text": "你好"}\n', encoding="utf-8")
    with OpenAIServer() as server:
        result = CliRunner().invoke(
            cli,
            ["generate", "--model", "openai:m", "--suite", str(prompts), "--run-dir", str(tmp_path / "r"),
             "--base-url", server.base_url, "--no-progress"],
        )  # fmt: skip
        assert result.exit_code == 1 and "OPENAI_API_KEY" in result.output
        assert KEY not in result.output
        assert server.stats()["chat_requests"] == 0


@pytest.mark.parametrize("offset", range(254, 282, 6))  # the key starts at offset + 18
def test_key_straddling_the_excerpt_cut_is_masked(monkeypatch, offset):
    """A server echoing the request's headers: the key never reaches the message, not even in part."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    async def echo(seen: Seen, writer):
        body = "x" * offset + seen.headers.get("authorization", "") + " and again " + KEY
        await respond(writer, 400, json.dumps({"error": body}).encode())

    with HostileServer(echo) as server, pytest.raises(ModelError) as err:
        ask(backend(server.base_url))
    message = str(err.value)
    assert "HTTP 400" in message
    for part in (KEY[:8], KEY[-8:], "SECRET", "KEYVALUE"):
        assert part not in message


def test_password_in_base_url_is_masked_in_manifest_store_and_messages(tmp_path, monkeypatch):
    async def echo(seen: Seen, writer):
        body = f"upstream http://user:pw-SECRET@127.0.0.1/ failed; basic {seen.headers.get('authorization')}"
        await respond(writer, 500, json.dumps({"error": body}).encode())

    with HostileServer(echo) as server:
        url = f"http://user:pw-SECRET@127.0.0.1:{server.port}/v1"
        model = backend(url)
        assert "pw-SECRET" not in json.dumps(model.describe()) + repr(model)
        prompts = tmp_path / "p.jsonl"
        prompts.write_text('{"id": "a", "text": "你好"}\n', encoding="utf-8")
        run_dir = tmp_path / "run"
        args = ["generate", "--model", "openai:m", "--suite", str(prompts), "--run-dir", str(run_dir),
                "--base-url", url, "--max-retries", "0", "--no-progress"]  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["cvalues", *args])
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "HTTP 500" in result.output
    assert server.seen and server.seen[0].headers["authorization"].startswith("Basic ")  # it was used
    assert "pw-SECRET" not in result.output
    assert "pw-SECRET" not in (run_dir / "manifest.json").read_text(encoding="utf-8")
    assert "user:***@" in json.dumps(read_manifest(run_dir)["sessions"][0]["options"]["argv"])
    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
        (answer,) = list(store)
    assert answer.status == "error" and "pw-SECRET" not in answer.error
    assert "dXNlcjpwdy1TRUNSRVQ" not in answer.error  # nor its base64 form in an echoed Basic header


# --- hostile servers ----------------------------------------------------------------------------------


def test_timeout_is_a_total_deadline_not_an_idle_timeout():
    async def trickle(seen: Seen, writer):
        body = completion("慢" * 40)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for i in range(len(body)):
            writer.write(body[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0.1)

    with HostileServer(trickle) as server:
        t0 = time.monotonic()
        with pytest.raises(ModelError, match="no complete answer within 1s") as err:
            ask(backend(server.base_url, timeout=1.0))
        assert time.monotonic() - t0 < 4
        assert err.value.retryable


@pytest.mark.parametrize("status", [301, 302, 303])
def test_redirect_that_would_drop_the_body_is_an_error(status):
    async def redirect(seen: Seen, writer):
        if seen.method == "GET":
            await respond(writer, 200, completion("a GET's answer"))
        else:
            await respond(writer, status, b"", {"Location": "/v2/chat/completions"})

    with HostileServer(redirect) as server, pytest.raises(ModelError) as err:
        ask(backend(server.base_url))
    assert f"HTTP {status} redirect to {server.origin}/v2/chat/completions" in str(err.value)
    assert [s.method for s in server.seen] == ["POST"]


@pytest.mark.parametrize("status", [307, 308])
def test_307_308_same_origin_is_followed_with_the_body(status):
    async def redirect(seen: Seen, writer):
        if seen.path.startswith("/v1/"):
            await respond(writer, status, b"", {"Location": "/v2/chat/completions"})
        else:
            asked = json.loads(seen.body)["messages"][-1]["content"]
            await respond(writer, 200, completion(f"{seen.method} {asked}"))

    with HostileServer(redirect) as server:
        assert ask(backend(server.base_url)).text == "POST 你好"
    assert [(s.method, s.path) for s in server.seen] == [("POST", "/v1/chat/completions"),
                                                         ("POST", "/v2/chat/completions")]  # fmt: skip


def test_307_to_another_origin_is_not_followed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    async def elsewhere(seen: Seen, writer):
        await respond(writer, 200, completion("stolen"))

    with HostileServer(elsewhere) as other:

        async def redirect(seen: Seen, writer):
            await respond(writer, 307, b"", {"Location": f"{other.base_url}/chat/completions"})

        with HostileServer(redirect) as server, pytest.raises(ModelError, match="another origin"):
            ask(backend(server.base_url))
    assert other.seen == []  # the key never left for the other server


@pytest.mark.parametrize("declared", [True, False])
def test_answer_over_the_size_cap_is_recorded_as_an_error_with_its_size(tmp_path, declared):
    big = completion("长" * 400_000)  # 1.2 MB

    async def huge(seen: Seen, writer):
        await respond(writer, 200, big, length=declared)

    with HostileServer(huge) as server:
        model = backend(server.base_url, max_answer_bytes=1_000_000)
        with RunStore(tmp_path / "a.sqlite") as store:
            execute(model, [Request("big", ASK)], store=store, settings=SETTINGS, progress=False)
            (answer,) = list(store)
        assert answer.status == "error" and not answer.retryable
        assert "1,000,000 bytes" in answer.error
        if declared:
            assert f"{len(big):,} bytes" in answer.error
        assert ask(backend(server.base_url)).text.startswith("长")  # the default cap (4 MiB) lets it in


def test_deeply_nested_json_is_an_error_not_a_crash():
    async def nested(seen: Seen, writer):
        await respond(writer, 200, b"[" * 200_000 + b"]" * 200_000)

    with HostileServer(nested) as server, pytest.raises(ModelError, match="nested too deeply"):
        ask(backend(server.base_url))


def test_a_proxy_named_by_the_environment_carries_requests_to_remote_servers(monkeypatch):
    from cvalues.models.openai import uses_env_proxy

    async def proxy(seen: Seen, writer) -> None:  # an HTTP proxy that answers for the server itself
        await respond(writer, 200, completion(f"via proxy {seen.path}"))

    with HostileServer(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.origin)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        remote = "http://api.example.invalid/v1"  # never resolved: the proxy is asked for it
        answer = ask(OpenAIBackend("m", base_url=remote, max_retries=0))
        assert answer.text == "via proxy http://api.example.invalid/v1/chat/completions"
        assert [s.path for s in server.seen] == ["http://api.example.invalid/v1/chat/completions"]

        monkeypatch.setenv("NO_PROXY", "api.example.invalid")  # past the proxy: the name does not resolve
        with pytest.raises(ModelError):
            ask(OpenAIBackend("m", base_url=remote, max_retries=0))
        assert len(server.seen) == 1
    assert uses_env_proxy("https://dashscope.aliyuncs.com/compatible-mode/v1")
    for local in (
        "http://127.0.0.1:8000/v1",
        "http://localhost:8000/v1",
        "http://[::1]:8000/v1",
        "http://127.1.2.3/v1",
    ):
        assert not uses_env_proxy(local)


def test_a_server_on_this_machine_is_asked_directly_whatever_the_proxy(monkeypatch):
    with OpenAIServer() as server:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: a proxy would fail
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
        assert ask(OpenAIBackend("m", base_url=server.base_url, max_retries=0)).text
