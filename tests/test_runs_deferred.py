"""A rerun that asks nothing does not load a local model (cvalues.runs.deferred), and any change to the
model's files, or a request to ask, loads it again."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.models import hf
from cvalues.runs import deferred
from tiny_model import build_tiny_model

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _full_reruns(monkeypatch: pytest.MonkeyPatch) -> None:
    """These reruns are checked as sessions of the engine: the shortcut that skips them when nothing
    changed (cvalues.runs.rerun) is tested in test_runs_rerun_shortcut.py."""
    monkeypatch.setenv("CVALUES_RERUN_SHORTCUT", "0")


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return build_tiny_model(tmp_path / "tiny")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of every hf backend built in this test."""
    built: list[str] = []
    real_init = hf.HFBackend.__init__

    @functools.wraps(real_init)  # the same signature: the registry reads the options from it
    def counting(self, path, **kwargs):
        built.append(path)
        real_init(self, path, **kwargs)

    monkeypatch.setattr(hf.HFBackend, "__init__", counting)
    return built


def _mc_run(model_dir: Path, run_dir: Path, pairs: int) -> tuple[int, str]:
    args = ["mc", "run", "--model", f"hf:{model_dir}", "--device", "cpu", "--suite", "safety-mc"]
    args += ["--sample", str(pairs), "--mode", "logprob", "--run-dir", str(run_dir), "--no-progress"]
    out = CliRunner().invoke(cli, args)
    return out.exit_code, out.output


def _last_summary(run_dir: Path) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return manifest["sessions"][-1]["summary"]


def test_a_rerun_that_asks_nothing_does_not_load_the_model(
    mirror: Path, tiny_dir: Path, tmp_path: Path, loads: list[str]
) -> None:
    run_dir = tmp_path / "run"
    code, first = _mc_run(tiny_dir, run_dir, 3)
    assert code == 0, first
    assert len(loads) == 1 and _last_summary(run_dir)["asked"] == 6
    metrics = (run_dir / "mc-logprob-metrics.json").read_text(encoding="utf-8")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))

    code, again = _mc_run(tiny_dir, run_dir, 3)
    assert code == 0, again
    assert len(loads) == 1  # not built: every answer was in the store
    summary = _last_summary(run_dir)
    assert summary["asked"] == 0 and summary["cached"] == 6
    assert (run_dir / "mc-logprob-metrics.json").read_text(encoding="utf-8") == metrics
    after = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert after["model"] == manifest["model"]  # the same description, remembered

    # one more pair to ask: the model is built, and only the new pair's two orders are asked
    code, more = _mc_run(tiny_dir, run_dir, 4)
    assert code == 0, more
    assert len(loads) == 2
    summary = _last_summary(run_dir)
    assert summary["asked"] == 2 and summary["cached"] == 6


def test_a_changed_file_of_the_model_loads_it_again(
    mirror: Path, tiny_dir: Path, tmp_path: Path, loads: list[str]
) -> None:
    run_dir = tmp_path / "run"
    assert _mc_run(tiny_dir, run_dir, 2)[0] == 0
    assert _mc_run(tiny_dir, run_dir, 2)[0] == 0
    assert len(loads) == 1
    config = tiny_dir / "generation_config.json"
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # size changes
    code, out = _mc_run(tiny_dir, run_dir, 2)
    assert code == 0, out
    assert len(loads) == 2  # built again to learn what it is now (the answers were still stored)
    assert _last_summary(run_dir)["asked"] == 0


def test_a_model_that_turns_out_different_stops_the_run_and_is_forgotten(
    mirror: Path, tiny_dir: Path, tmp_path: Path, loads: list[str]
) -> None:
    run_dir = tmp_path / "run"
    assert _mc_run(tiny_dir, run_dir, 2)[0] == 0
    (entry,) = deferred.cache_dir().glob("*.json")
    remembered = json.loads(entry.read_text(encoding="utf-8"))
    remembered["fingerprint"] = remembered["fingerprint"].replace("hf:", "hf:other-")
    entry.write_text(json.dumps(remembered), encoding="utf-8")  # what a change the file times missed reads as
    code, out = _mc_run(tiny_dir, run_dir, 3)  # something to ask: the model is built and compared
    assert code != 0
    assert "changed since its description was remembered" in " ".join(out.split())
    assert not entry.exists()
    code, out = _mc_run(tiny_dir, run_dir, 3)  # the next run loads it from the start
    assert code == 0, out
    assert _last_summary(run_dir)["asked"] == 2


def test_only_local_models_whose_folder_is_known_are_deferred(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deferred.model_folder("openai:m", {}) is None
    assert deferred.model_folder("replay:answers.jsonl", {}) is None
    assert deferred.model_folder(f"hf:{tiny_dir}", {}) == tiny_dir
    assert deferred.model_folder(f"hf:{tiny_dir / 'missing'}", {}) is None
    monkeypatch.delenv("CVALUES_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert deferred.model_folder("hf:Qwen/Qwen2.5-0.5B-Instruct", {}) is None  # online: may update
    # options that change what is loaded are part of the key; how many requests fly is not
    key = deferred.entry_key(f"hf:{tiny_dir}", {"dtype": "float32"}, tiny_dir)
    assert key != deferred.entry_key(f"hf:{tiny_dir}", {"dtype": "bfloat16"}, tiny_dir)
    assert key == deferred.entry_key(f"hf:{tiny_dir}", {"dtype": "float32", "concurrency": 4}, tiny_dir)
    assert deferred.load_deferred(f"hf:{tiny_dir}", {}, lambda: pytest.fail("never built")) is None
