"""`cvalues run` with judges: the judge stage of each model over its open answers (contract B), resumable;
without the judge package, a clear error per stage instead of a crash."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.runs import RunStore, read_manifest
from openai_server import OpenAIServer

GUARD_UNSAFE = "Safety: Unsafe\nCategories: Violent\nRefusal: No"
GUARD_SAFE = "Safety: Safe\nCategories: None\nRefusal: Yes"


def answer_for(prompt: str) -> str:
    """The model under test: a harmful-looking answer to about half the prompts, a refusal otherwise."""
    return "危险的做法如下" if hashlib.sha256(prompt.encode()).digest()[0] % 2 else "抱歉，我不能提供帮助。"


def responder(messages: list[dict[str, str]]) -> str:
    last = messages[-1]
    if last["role"] == "assistant":  # a guard model moderating the last turn
        return GUARD_UNSAFE if "危险" in last["content"] else GUARD_SAFE
    if '"score"' in last["content"]:  # the responsibility rubric's instruction
        return (
            '{"reason": "危险" , "score": 2}'
            if "危险的做法" in last["content"]
            else '{"reason": "好", "score": 8}'
        )
    return answer_for(last["content"])


def config(tmp_path: Path, server: OpenAIServer, judge: dict[str, Any]) -> Path:
    def model(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "spec": f"openai:{name}",
            "base_url": server.base_url,
            "options": {"max_retries": 0},
        }

    data = {
        "models": [model("a")],
        "suites": {"safety-prompts": {"sample": 10}, "responsibility-prompts": {"sample": 4}},
        "judge": judge,
        "out": str(tmp_path / "out"),
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run(path: Path) -> Any:
    result = CliRunner().invoke(cli, ["run", "--config", str(path), "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.mark.slow
def test_judge_stages_judge_every_answer_once(mirror: Path, tmp_path: Path) -> None:
    pytest.importorskip("cvalues.judge")
    with OpenAIServer(responder=responder) as server:
        judges = {
            "safety": {"spec": "openai:guard", "base_url": server.base_url, "rubric": "qwen3guard"},
            "responsibility": {"spec": "openai:grader", "base_url": server.base_url},
        }
        path = config(tmp_path, server, judges)
        first = run(path)
        assert first.exit_code == 0, first.output
        asked = server.stats()["chat_requests"]
        assert asked == 2 * (10 + 4)  # every answer, then every answer judged once
        out = tmp_path / "out" / "a"
        with RunStore(out / "gen-safety" / "answers.sqlite", readonly=True) as store:
            answers = {a.item_id: a.text for a in store.answers()}
        verdicts = [
            json.loads(line) for line in (out / "judge-safety" / "verdicts.jsonl").read_text().splitlines()
        ]
        assert {v["item_id"]: v["label"] for v in verdicts} == {
            k: ("unsafe" if "危险" in t else "safe") for k, t in answers.items()
        }
        safe = sum("危险" not in t for t in answers.values())
        assert f"safe {safe / 10:.1%} ({safe}/10)" in first.output
        extra = read_manifest(out / "judge-safety")["extra"]["judge"]
        assert extra["rubric"] == "qwen3guard" and extra["judged_model"] == "openai:a"
        assert Path(extra["judged_run"]) == (out / "gen-safety").resolve()
        options = read_manifest(out / "judge-safety")["sessions"][-1]["options"]
        assert options["model_name"] == "a" and options["stage"] == "judge-safety"
        scores = [
            json.loads(line)["score"]
            for line in (out / "judge-responsibility" / "verdicts.jsonl").read_text().splitlines()
        ]
        assert len(scores) == 4 and set(scores) <= {2.0, 8.0}
        assert (
            read_manifest(out / "judge-responsibility")["extra"]["judge"]["rubric"]
            == "cvalues-responsibility"
        )

        # then the report, over the whole output folder (contract D), when the report is installed
        report = tmp_path / "out" / "report" / "report.html"
        if importlib.util.find_spec("cvalues.report") is not None:
            assert report.is_file() and f"report: {report}" in first.output
        else:
            assert "report: not part of this installation" in first.output

        again = run(path)
        assert again.exit_code == 0 and server.stats()["chat_requests"] == asked
        assert again.output.count("finished earlier") == 4 and f"safe {safe / 10:.1%}" in again.output


def test_without_the_judge_package_each_judge_stage_says_so(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cvalues.judge", None)  # import cvalues.judge now raises ImportError
    with OpenAIServer(responder=responder) as server:
        path = config(tmp_path, server, {"safety": {"spec": "openai:guard", "base_url": server.base_url}})
        result = run(path)
        assert result.exit_code == 1
        assert server.stats()["chat_requests"] == 14  # the other stages ran
        assert (
            "a judge-safety: failed: the judge (cvalues.judge) is not part of this installation"
            in result.output
        )
        assert "--no-judge" in result.output
