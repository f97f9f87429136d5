"""The run engine: resumable, concurrent, every result stored with its cause; against fakes and real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

import httpx
import pytest

from cvalues.models.base import (
    ChatMessage,
    Generation,
    GenerationSettings,
    ModelBackend,
    ModelError,
    ModelUnreachable,
)
from cvalues.runs import (
    ManifestMismatch,
    Request,
    RunAborted,
    RunManifest,
    RunStore,
    chat_messages,
    execute,
    model_fingerprint,
    read_manifest,
)
from cvalues.runs.engine import UNREACHABLE_IN_A_ROW
from openai_server import OpenAIServer

SETTINGS = GenerationSettings(max_tokens=16)


class EchoModel(ModelBackend):
    """Deterministic fake: replies ``答:<last user text>``; fails prompts listed in ``fail``."""

    def __init__(
        self,
        *,
        spec: str = "fake:echo",
        fail: Sequence[str] = (),
        delay: float = 0.0,
        batch_size: int = 1,
        concurrency: int = 4,
    ):
        self.spec = spec
        self.fail = set(fail)
        self.delay = delay
        self.preferred_batch_size = batch_size
        self.default_concurrency = concurrency
        self.calls: Counter[str] = Counter()
        self.batches: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Generation:
        text = messages[-1].content
        self.calls[text] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if text in self.fail:
                raise ModelError(f"refused {text}", retryable=True)
            return Generation(f"答:{text}", "stop", prompt_tokens=len(text), completion_tokens=len(text) + 2)
        finally:
            self.in_flight -= 1

    async def generate_batch(self, batch, settings):
        self.batches.append(len(batch))
        return await super().generate_batch(batch, settings)

    async def candidate_logprobs(self, context, candidates):
        self.calls[context[-1].content] += 1
        return [-float(len(c)) for c in candidates]


class HttpChat(ModelBackend):
    """A minimal chat-completions client used to drive the engine over real HTTP (tests only).

    One ``httpx.AsyncClient`` per event loop; transient failures (429, 5xx, timeouts, broken
    connections, bad JSON) are retried up to ``max_retries`` times, then raised as retryable ModelErrors.
    """

    default_concurrency = 16

    def __init__(self, base_url: str, *, timeout: float = 2.0, max_retries: int = 0, spec: str = "http:m"):
        self.spec, self.base_url, self.timeout, self.max_retries = spec, base_url, timeout, max_retries
        self._clients: dict[int, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
            self._clients[loop] = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, limits=limits
            )
        return self._clients[loop]

    async def generate(self, messages, settings):
        payload = {
            "model": "m",
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
        }
        for attempt in range(self.max_retries + 1):
            try:
                r = await self._client().post("/chat/completions", json=payload)
                if r.status_code == 429 or r.status_code >= 500:
                    raise ModelError(f"HTTP {r.status_code}", retryable=True)
                body = r.json()
                choice = body["choices"][0]
                return Generation(
                    choice["message"]["content"],
                    choice["finish_reason"],
                    body["usage"]["prompt_tokens"],
                    body["usage"]["completion_tokens"],
                )
            except (httpx.TransportError, json.JSONDecodeError, ModelError) as exc:
                error = (
                    exc
                    if isinstance(exc, ModelError)
                    else ModelError(f"{type(exc).__name__}: {exc}", retryable=True)
                )
                if attempt == self.max_retries:
                    raise error from exc
        raise AssertionError("unreachable")

    async def candidate_logprobs(self, context, candidates):
        raise NotImplementedError


def requests_for(texts: Sequence[str], **kw) -> list[Request]:
    return [Request(f"id{i}", chat_messages(t), **kw) for i, t in enumerate(texts)]


def test_answers_everything_then_resumes_from_store(tmp_path):
    model = EchoModel()
    texts = [f"问题{i}" for i in range(20)]
    with RunStore(tmp_path / "answers.sqlite") as store:
        s = execute(model, requests_for(texts), store=store, settings=SETTINGS, progress=False)
        assert (s.total, s.unique, s.asked, s.ok, s.failed, s.cached) == (20, 20, 20, 20, 0, 0)
        assert store.counts() == {"total": 20, "ok": 20, "error": 0}
        s2 = execute(model, requests_for(texts), store=store, settings=SETTINGS, progress=False)
        assert (s2.asked, s2.cached, s2.answered) == (0, 20, 20)
        assert all(n == 1 for n in model.calls.values())
        answers = {a.item_id: a for a in store.answers()}
        assert answers["id3"].text == "答:问题3" and answers["id3"].completion_tokens == 5
        assert answers["id3"].messages == (ChatMessage("user", "问题3"),)
        assert answers["id3"].settings == SETTINGS.to_dict()


def test_failures_are_recorded_with_cause_and_retried_on_request(tmp_path):
    texts = [f"q{i}" for i in range(10)]
    model = EchoModel(fail=["q2", "q7"])
    with RunStore(tmp_path / "a.sqlite") as store:
        s = execute(model, requests_for(texts), store=store, settings=SETTINGS, progress=False)
        assert (s.ok, s.failed) == (8, 2)
        assert s.errors_by_cause == {"ModelError: refused q2": 1, "ModelError: refused q7": 1}
        bad = list(store.answers(status="error"))
        assert {a.item_id for a in bad} == {"id2", "id7"}
        assert bad[0].retryable is True and bad[0].text is None
        # without retry_errors: stored failures are not asked again
        s = execute(model, requests_for(texts), store=store, settings=SETTINGS, progress=False)
        assert (s.asked, s.skipped_errors, s.unanswered) == (0, 2, 2)
        model.fail.clear()
        s = execute(
            model, requests_for(texts), store=store, settings=SETTINGS, progress=False, retry_errors=True
        )
        assert (s.asked, s.ok, s.cached, s.unanswered) == (2, 2, 8, 0)
        assert store.get_many([]) == {}
        a = next(a for a in store.answers() if a.item_id == "id2")
        assert a.ok and a.attempts == 2 and a.error is None
        assert model.calls["q2"] == 2 and model.calls["q3"] == 1


def test_unexpected_exceptions_are_recorded_not_raised(tmp_path):
    class Broken(EchoModel):
        async def generate(self, messages, settings):
            raise KeyError("choices")

    with RunStore(tmp_path / "a.sqlite") as store:
        s = execute(Broken(), requests_for(["a", "b"]), store=store, settings=SETTINGS, progress=False)
        assert s.failed == 2 and s.errors_by_cause == {"KeyError: 'choices'": 2}
        assert all(a.retryable is False for a in store.answers())


def test_concurrency_is_bounded_and_used(tmp_path):
    model = EchoModel(delay=0.02)
    with RunStore(tmp_path / "a.sqlite") as store:
        execute(
            model,
            requests_for([str(i) for i in range(40)]),
            store=store,
            settings=SETTINGS,
            concurrency=8,
            progress=False,
        )
    assert model.max_in_flight == 8
    model = EchoModel(delay=0.01, concurrency=3)
    with RunStore(tmp_path / "b.sqlite") as store:
        execute(
            model, requests_for([str(i) for i in range(12)]), store=store, settings=SETTINGS, progress=False
        )
    assert model.max_in_flight == 3


def test_batches_for_batching_backends(tmp_path):
    model = EchoModel(batch_size=4, fail=["5"])
    with RunStore(tmp_path / "a.sqlite") as store:
        s = execute(
            model,
            requests_for([str(i) for i in range(10)]),
            store=store,
            settings=SETTINGS,
            concurrency=1,
            progress=False,
        )
        assert model.batches == [4, 4, 2]
        assert (s.ok, s.failed) == (9, 1)

    class BatchFails(EchoModel):
        async def generate_batch(self, batch, settings):
            raise RuntimeError("out of memory")

    with RunStore(tmp_path / "b.sqlite") as store:
        s = execute(
            BatchFails(batch_size=3),
            requests_for(["a", "b", "c", "d", "e", "f"]),
            store=store,
            settings=SETTINGS,
            progress=False,
        )
        assert s.failed == 6 and s.errors_by_cause == {"RuntimeError: out of memory": 6}


def test_logprob_requests_and_duplicates(tmp_path):
    model = EchoModel()
    reqs = [
        Request("mc1", chat_messages("哪个更好？"), kind="logprobs", candidates=("回复1", "回复2")),
        Request("mc1", chat_messages("哪个更好？"), kind="logprobs", candidates=("回复1", "回复2")),
        Request("gen", chat_messages("哪个更好？")),
        Request("other-item", chat_messages("哪个更好？")),  # same text, its own answer
    ]
    with RunStore(tmp_path / "a.sqlite") as store:
        s = execute(model, reqs, store=store, settings=SETTINGS, progress=False)
        assert (s.total, s.unique, s.asked) == (4, 3, 3)
        assert {a.item_id for a in store.answers()} == {"mc1", "gen", "other-item"}
        fp = model_fingerprint(model)
        got = store.get_many([r.key(fp, SETTINGS) for r in reqs])
        lp = got[reqs[1].key(fp, SETTINGS)]
        assert lp.logprobs == [-3.0, -3.0] and lp.candidates == ("回复1", "回复2") and lp.settings is None
        assert got[reqs[2].key(fp, SETTINGS)].text == "答:哪个更好？"
        # logprob keys do not depend on decoding settings; generate keys do
        s = execute(model, reqs, store=store, settings=GenerationSettings(max_tokens=99), progress=False)
        assert (s.cached, s.asked) == (1, 2)


def test_manifest_records_sessions_and_refuses_other_configurations(tmp_path):
    model = EchoModel(fail=["b"])
    with RunStore(tmp_path / "answers.sqlite") as store:
        manifest = RunManifest.open(
            tmp_path, model=model, settings=SETTINGS, suite_name="demo", extra={"template": "t1"}
        )
        execute(
            model,
            requests_for(["a", "b"]),
            store=store,
            settings=SETTINGS,
            progress=False,
            manifest=manifest,
            session_options={"limit": 2},
        )
    data = read_manifest(tmp_path)
    assert data["model"]["spec"] == "fake:echo"
    assert data["suite"]["name"] == "demo" and data["extra"] == {"template": "t1"}
    assert data["environment"]["libraries"]["httpx"]
    assert data["counts"] == {"total": 2, "ok": 1, "error": 1}
    (session,) = data["sessions"]
    assert session["status"] == "finished" and session["options"]["limit"] == 2
    assert session["summary"]["failed"] == 1 and session["ended_at"] >= session["started_at"]
    # same identity: a new session; other template, settings or model: refused
    RunManifest.open(tmp_path, model=model, settings=SETTINGS, suite_name="demo", extra={"template": "t1"})
    with pytest.raises(ManifestMismatch, match="extra"):
        RunManifest.open(
            tmp_path, model=model, settings=SETTINGS, suite_name="demo", extra={"template": "t2"}
        )
    with pytest.raises(ManifestMismatch, match="settings"):
        RunManifest.open(
            tmp_path,
            model=model,
            settings=GenerationSettings(temperature=0.7),
            suite_name="demo",
            extra={"template": "t1"},
        )
    with pytest.raises(ManifestMismatch, match="model"):
        RunManifest.open(
            tmp_path,
            model=EchoModel(spec="fake:other"),
            settings=SETTINGS,
            suite_name="demo",
            extra={"template": "t1"},
        )


def test_interrupted_session_is_marked(tmp_path):
    class Interrupting(EchoModel):
        async def generate(self, messages, settings):
            if messages[-1].content == "stop":
                raise KeyboardInterrupt
            return await super().generate(messages, settings)

    model = Interrupting(concurrency=1)
    with RunStore(tmp_path / "answers.sqlite") as store:
        manifest = RunManifest.open(tmp_path, model=model, settings=SETTINGS)
        with pytest.raises(KeyboardInterrupt):
            execute(
                model,
                requests_for(["a", "stop", "c"]),
                store=store,
                settings=SETTINGS,
                progress=False,
                manifest=manifest,
            )
        assert store.counts()["ok"] == 1
    assert read_manifest(tmp_path)["sessions"][-1]["status"] == "interrupted"


@pytest.mark.parametrize("concurrency", [16])
def test_fault_mix_over_http_then_retry_errors(tmp_path, concurrency):
    """429/500/hang/drop/malformed at set rates: every item ends answered or failed with a cause; a retry
    pass with faults off answers the rest, asking only the failed ones."""
    texts = [f"第{i}个问题" for i in range(120)]
    rates = {"429": 0.1, "500": 0.1, "hang": 0.05, "drop": 0.05, "malformed": 0.05}
    with OpenAIServer(fault_rates=rates, seed=3, retry_after=0, latency=0.005) as server:
        model = HttpChat(server.base_url, timeout=0.5, max_retries=1)
        with RunStore(tmp_path / "answers.sqlite") as store:
            s = execute(
                model,
                requests_for(texts),
                store=store,
                settings=SETTINGS,
                concurrency=concurrency,
                progress=False,
            )
            assert s.ok + s.failed == 120 and s.failed > 0 and s.ok > 0
            assert store.counts() == {"total": 120, "ok": s.ok, "error": s.failed}
            assert sum(s.errors_by_cause.values()) == s.failed
            causes = " ".join(s.errors_by_cause)
            assert "HTTP 429" in causes or "HTTP 500" in causes
            assert all(a.error and a.error_type == "ModelError" for a in store.answers(status="error"))
            failed_prompts = [a.messages for a in store.answers(status="error")]
            before = server.counts()

            server.configure(fault_rates={})
            s2 = execute(
                model,
                requests_for(texts),
                store=store,
                settings=SETTINGS,
                concurrency=concurrency,
                retry_errors=True,
                progress=False,
            )
            assert (s2.asked, s2.ok, s2.cached) == (s.failed, s.failed, s.ok)
            assert store.counts() == {"total": 120, "ok": 120, "error": 0}
            after = server.counts()
            asked_again = {k for k in after if after[k] != before.get(k)}
            assert len(asked_again) == len(failed_prompts)
            for a in store.answers():
                assert a.text in ("回复1", "回复2")


def test_replay_backend_is_asked_by_item_id(tmp_path):
    from cvalues.models.replay import ReplayBackend

    path = tmp_path / "answers.jsonl"
    lines = ['{"id": "id0", "response": "回复2"}', '{"id": "id1", "response": "都不好"}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = ReplayBackend(path)
    with RunStore(tmp_path / "a.sqlite") as store:
        s = execute(model, requests_for(["甲", "乙", "丙"]), store=store, settings=SETTINGS, progress=False)
        assert (s.ok, s.failed) == (2, 1)
        by_id = {a.item_id: a for a in store.answers()}
        assert by_id["id0"].text == "回复2" and by_id["id1"].text == "都不好"
        assert "no answer for item id 'id2'" in by_id["id2"].error


# -- fail fast: a run that cannot work stops at once with the cause, and records nothing against items ----


def _openai(url: str, **options):
    from cvalues.models.registry import load_model

    return load_model(
        "openai:test-model", base_url=url, retry_base_wait=0.001, retry_max_wait=0.01, **options
    )


def test_unreachable_server_stops_before_asking(tmp_path):
    with OpenAIServer() as server:
        url = server.base_url
    model = _openai(url, max_retries=6)
    with RunStore(tmp_path / "answers.sqlite") as store:
        manifest = RunManifest.open(tmp_path, model=model, settings=SETTINGS)
        with pytest.raises(RunAborted) as err:
            execute(
                model,
                requests_for([f"q{i}" for i in range(20)]),
                store=store,
                settings=SETTINGS,
                progress=False,
                manifest=manifest,
            )
        assert store.counts().get("error", 0) == 0 and store.counts().get("ok", 0) == 0
    assert url in str(err.value) and "refused" in str(err.value)
    assert read_manifest(tmp_path)["sessions"][-1]["status"] == "aborted"


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ({"api_key": "secret"}, "generate"),
        ({"models": ["other"]}, "generate"),
        ({"logprobs": "ignore"}, "lp"),
    ],
)
def test_fatal_answer_stops_the_run_and_a_rerun_asks_everything(tmp_path, setup, kind):
    texts = [f"第{i}题" for i in range(30)]
    reqs = (
        requests_for(texts, kind="logprobs", candidates=("A", "B")) if kind == "lp" else requests_for(texts)
    )
    with OpenAIServer(responder=lambda m: "A") as server, RunStore(tmp_path / "a.sqlite") as store:
        server.configure(**setup)
        with pytest.raises(RunAborted) as err:
            execute(
                _openai(server.base_url), reqs, store=store, settings=SETTINGS, concurrency=3, progress=False
            )
        assert server.stats()["chat_requests"] <= 3  # the first answers, not all 30
        assert err.value.cause.fatal
        assert store.counts().get("error", 0) == 0  # nothing recorded against the items
        server.configure(api_key=None, models=None, logprobs="on")
        summary = execute(_openai(server.base_url), reqs, store=store, settings=SETTINGS, progress=False)
        assert summary.ok == 30 and summary.skipped_errors == 0


class FlakyNetwork(EchoModel):
    """Answers until ``down_after`` calls, then cannot connect (every ``every``-th call only, if given)."""

    def __init__(self, down_after: int, every: int = 1, **kw):
        super().__init__(**kw)
        self.down_after, self.every, self.n = down_after, every, 0

    async def generate(self, messages, settings):
        self.n += 1
        if self.n > self.down_after and self.n % self.every == 0:
            raise ModelUnreachable("http://h:1/v1/chat/completions: cannot connect (refused)", retryable=True)
        return await super().generate(messages, settings)


def test_connection_failures_in_a_row_stop_the_run(tmp_path):
    model = FlakyNetwork(down_after=3, concurrency=1)
    with RunStore(tmp_path / "a.sqlite") as store:
        with pytest.raises(RunAborted) as err:
            execute(
                model,
                requests_for([f"q{i}" for i in range(40)]),
                store=store,
                settings=SETTINGS,
                progress=False,
            )
        assert model.n == 3 + UNREACHABLE_IN_A_ROW
        assert (store.counts()["ok"], store.counts()["error"]) == (
            3,
            0,
        )  # the failures in a row are the abort's cause, not the items'
    assert f"{UNREACHABLE_IN_A_ROW} requests in a row" in str(err.value) and "cannot connect" in str(
        err.value
    )


def test_scattered_connection_failures_are_recorded_and_the_run_goes_on(tmp_path):
    model = FlakyNetwork(down_after=0, every=2, concurrency=1)
    with RunStore(tmp_path / "a.sqlite") as store:
        summary = execute(
            model, requests_for([f"q{i}" for i in range(20)]), store=store, settings=SETTINGS, progress=False
        )
        assert (summary.ok, summary.failed) == (10, 10) and store.counts()["error"] == 10


def test_retry_messages_go_through_the_progress_bar(tmp_path, capsys):
    import logging
    import sys

    console = logging.StreamHandler(sys.stderr)  # what a command line has (logging's last resort)
    logging.root.addHandler(console)
    try:
        _retry_messages(tmp_path, capsys)
    finally:
        logging.root.removeHandler(console)


def _retry_messages(tmp_path, capsys):
    with OpenAIServer() as server, RunStore(tmp_path / "a.sqlite") as store:
        server.script(["500", "ok", "500"])
        summary = execute(
            _openai(server.base_url, max_retries=2, concurrency=1),
            requests_for(["q1", "q2"]),
            store=store,
            settings=SETTINGS,
            progress=True,
        )
    assert summary.ok == 2
    err = capsys.readouterr().err
    lines = [line for line in err.split("\n") if "retrying" in line]
    assert len(lines) == 2
    for line in lines:  # tqdm.write clears the bar first: the message starts its own line
        assert line.split("\r")[-1].startswith("attempt 1 failed"), repr(line)
