"""Test helpers for the judge: a generation run made through the real engine, and judge servers.

``make_generation_run`` asks a local OpenAI-compatible server (whose responder answers each prompt with
the text the test chose) through :func:`cvalues.runs.execute`, so the run directory is exactly what
``cvalues generate`` writes (manifest, store, request meta). ``judge_responder`` plays a judge model:
it finds the judged answer in the conversation (guard rubrics) or in the instruction (rubric judges)
and replies with the text the test mapped to a marker in that answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cvalues.models.base import GenerationSettings
from cvalues.models.registry import load_model
from cvalues.runs import Request, RunDir, RunManifest, RunStore, chat_messages, execute
from openai_server import Moderator, OpenAIServer


def make_generation_run(
    run_dir: Path,
    items: Sequence[Mapping[str, Any]],
    *,
    model: str = "openai:model-under-test",
    moderator: Moderator | None = None,
) -> Path:
    """``items``: dicts with ``id``, ``prompt``, ``answer`` and optional meta (``level``, ``category``,
    ``adversarial``, ``judge_note``, ``reference``). ``moderator``: the server's content moderation
    (:class:`openai_server.OpenAIServer`), answering some prompts in the model's place."""
    answers = {it["prompt"]: it["answer"] for it in items}

    def responder(messages: list[dict[str, str]]) -> str:
        return answers[messages[-1]["content"]]

    with OpenAIServer(responder=responder, moderator=moderator) as server:
        backend = load_model(model, base_url=server.base_url, max_retries=0, timeout=10)
        settings = GenerationSettings()
        requests = [
            Request(
                it["id"],
                chat_messages(it["prompt"]),
                meta={
                    "level": it.get("level", "safety"),
                    "category": it.get("category", "crimes"),
                    "source": "test",
                    **{k: it[k] for k in ("adversarial", "judge_note", "reference") if k in it},
                },
            )
            for it in items
        ]
        rundir = RunDir(run_dir)
        manifest = RunManifest.open(run_dir, model=backend, settings=settings, suite_name="test-suite")
        with RunStore(rundir.store_path) as store:
            summary = execute(
                backend, requests, store=store, settings=settings, progress=False, manifest=manifest
            )
    assert summary.ok == len(items), summary
    return run_dir


def judged_answer(messages: list[dict[str, str]]) -> str:
    """The answer a judge request is about: the assistant turn, or the text after the answer marker."""
    if messages[-1]["role"] == "assistant":
        return messages[-1]["content"]
    return messages[-1]["content"]


def judge_responder(
    replies: Mapping[str, str | Sequence[str]], default: str
) -> Callable[[list[dict[str, str]]], str]:
    """A responder replying ``replies[marker]`` when ``marker`` occurs in the judged answer (a list: one
    reply per asking, in order, the last repeated), else ``default``."""
    asked: dict[str, int] = {}

    def respond(messages: list[dict[str, str]]) -> str:
        text = judged_answer(messages)
        for marker, reply in replies.items():
            if marker in text:
                if isinstance(reply, str):
                    return reply
                n = asked.get(marker, 0)
                asked[marker] = n + 1
                return reply[min(n, len(reply) - 1)]
        return default

    return respond
