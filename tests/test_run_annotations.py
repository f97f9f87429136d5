"""`cvalues run` with an annotation store (contract C): its labels exported to OUT/annotations.jsonl; a
store that does not exist is found before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cvalues.cli import cli
from openai_server import OpenAIServer


def write_config(tmp_path: Path, server: OpenAIServer, store: str) -> Path:
    data = {
        "models": [{"name": "a", "spec": "openai:a", "base_url": server.base_url}],
        "suites": {"safety-prompts": {"sample": 3}},
        "judge": {},
        "annotations": store,
        "out": str(tmp_path / "out"),
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_missing_sqlite_store_is_named_before_any_work(mirror: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'labels.db'}"
    with OpenAIServer() as server:
        result = CliRunner().invoke(cli, ["run", "--config", str(write_config(tmp_path, server, store))])
        assert result.exit_code == 1 and server.stats()["chat_requests"] == 0
    assert f"annotation store {store}" in result.output and "cvalues annotate init --db" in result.output
    assert not (tmp_path / "labels.db").exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_labels_of_the_store_are_exported_for_the_report(mirror: Path, tmp_path: Path) -> None:
    pytest.importorskip("cvalues.annotate")
    store = f"sqlite:///{tmp_path / 'labels.db'}"
    assert CliRunner().invoke(cli, ["annotate", "init", "--db", store]).exit_code == 0
    with OpenAIServer() as server:
        result = CliRunner().invoke(
            cli, ["run", "--config", str(write_config(tmp_path, server, store)), "--no-progress"]
        )
    assert result.exit_code == 0, result.output
    exported = tmp_path / "out" / "annotations.jsonl"
    assert exported.is_file() and exported.read_text(encoding="utf-8") == ""  # a new store holds no labels
    assert f"annotations: 0 labels exported to {exported}" in result.output
