"""The served-model command documented in docs/scale.md runs as written against a local
OpenAI-compatible server (only its address, the run directory and a --limit changed)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from cvalues.cli import cli
from openai_server import OpenAIServer

DOC = Path(__file__).resolve().parents[1] / "docs" / "scale.md"


def documented_command() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"^cvalues generate --model openai:.*?(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert match, "docs/scale.md lost its served-model command"
    return shlex.split(match.group(0).replace("\\\n", " "))[1:]


def test_documented_served_model_command_runs(mirror, tmp_path):
    args = documented_command()
    assert args[:3] == ["generate", "--model", "openai:qwen2.5-72b-instruct"]
    assert args[args.index("--concurrency") + 1] == "128"
    with OpenAIServer(latency=0.01) as server:
        args[args.index("--base-url") + 1] = server.base_url
        args[args.index("--run-dir") + 1] = str(tmp_path / "run")
        result = CliRunner().invoke(cli, [*args, "--limit", "20", "--no-progress"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "20 items: 20 answered" in result.output
        assert server.stats()["chat_requests"] == 20


def test_ray_executor_refuses_a_served_model_before_anything_is_written(mirror, tmp_path):
    args = ["generate", "--model", "openai:x", "--base-url", "http://127.0.0.1:9/v1", "--suite",
            "responsibility-prompts", "--limit", "2", "--run-dir", str(tmp_path / "r"), "--executor",
            "ray"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "--executor ray runs local models" in result.output
    assert not (tmp_path / "r").exists()
