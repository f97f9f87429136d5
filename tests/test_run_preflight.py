"""Before any work: data files and model weights checked together, one list of what is missing; offline
puts the Hugging Face libraries offline too; a data download that fails on DNS is not retried."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.resolve import resolve
from cvalues.models.hub import hf_weights_status, looks_like_path
from cvalues.pipeline.preflight import check_model, check_suite, preflight
from tiny_model import build_tiny_model


@pytest.fixture
def hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty Hugging Face cache, and the offline switches restored after the test."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    return tmp_path / "hf" / "hub"


def test_local_paths_and_hub_ids_are_told_apart(tmp_path: Path) -> None:
    assert looks_like_path("/models/qwen") and looks_like_path("./qwen") and looks_like_path("~/qwen")
    assert looks_like_path("C:\\models\\qwen") and looks_like_path("a/b/c")
    assert looks_like_path(str(tmp_path))  # exists
    assert not looks_like_path("Qwen/Qwen2.5-0.5B-Instruct") and not looks_like_path("gpt2")


def test_weights_status(tmp_path: Path, hf_env: Path) -> None:
    tiny = build_tiny_model(tmp_path / "tiny")
    assert hf_weights_status(str(tiny), offline=True).state == "folder"
    gone = hf_weights_status(str(tmp_path / "nope"), offline=True)
    assert (
        gone.state == "missing"
        and "local model folder" in (gone.problem or "")
        and "does not exist" in (gone.problem or "")
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no config.json" in (hf_weights_status(str(empty), offline=False).problem or "")
    # a hub id: downloaded on first use online, missing offline with the `hf download` command
    assert hf_weights_status("Qwen/Qwen2.5-0.5B-Instruct", offline=False).state == "download"
    offline = hf_weights_status("Qwen/Qwen2.5-0.5B-Instruct", offline=True)
    assert offline.state == "missing" and "`hf download Qwen/Qwen2.5-0.5B-Instruct`" in (offline.how or "")
    assert "huggingface-cli" not in (offline.how or "")


def test_a_cached_hub_model_is_found_offline(tmp_path: Path, hf_env: Path) -> None:
    snapshot = hf_env / "models--org--tiny" / "snapshots" / ("0" * 40)
    build_tiny_model(snapshot)
    (hf_env / "models--org--tiny" / "refs").mkdir(parents=True)
    (hf_env / "models--org--tiny" / "refs" / "main").write_text("0" * 40)
    assert hf_weights_status("org/tiny", offline=True).state == "cached"


def test_missing_folder_model_is_named_by_the_backend(tmp_path: Path) -> None:
    from cvalues.models.registry import load_model

    with pytest.raises(ValueError, match=r"local model folder .*nope does not exist"):
        load_model(f"hf:{tmp_path / 'nope'}")


def test_suite_checks(mirror: Path, tmp_path: Path) -> None:
    online = DataConfig(mirror=mirror, cache_dir=tmp_path / "c")
    offline = DataConfig(mirror=mirror, cache_dir=tmp_path / "c", offline=True)
    assert check_suite("safety-mc", {}, offline) == []  # all in the mirror
    assert check_suite("responsibility-mc", {}, online) == []  # not in the mirror: downloaded on first use
    [gap] = check_suite("responsibility-mc", {}, offline)
    assert (
        "cvalues-responsibility-mc" in gap.what and "--source-file cvalues-responsibility-mc=FILE" in gap.how
    )
    [gap] = check_suite("poison-mpts", {}, online)
    assert "ModelScope" in gap.problem
    [gap] = check_suite("safety-prompts", {"file": tmp_path / "mine.jsonl"}, offline)
    assert "mine.jsonl does not exist" in gap.problem
    assert check_suite(str(tmp_path / "x.csv"), {}, online)[0].problem == "does not exist"
    empty_mirror = DataConfig(mirror=tmp_path / "m", cache_dir=tmp_path / "c", offline=True)
    gaps = check_suite("safety-prompts", {}, empty_mirror)
    assert len(gaps) > 5 and all("suite safety-prompts" in g.what for g in gaps)


def test_model_checks(tmp_path: Path, hf_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    [gap] = check_model("openai:m", {"api_key_env": "MY_KEY"}, offline=False)
    assert "MY_KEY" in gap.problem and "export MY_KEY" in gap.how
    assert check_model("openai:m", {}, offline=True) == []
    [gap] = check_model(f"replay:{tmp_path / 'a.jsonl'}", {}, offline=False)
    assert "replay file" in gap.problem
    [gap] = check_model("nope:m", {}, offline=False)
    assert "unknown model spec" in gap.problem


def test_offline_puts_the_hf_libraries_offline(mirror: Path, tmp_path: Path, hf_env: Path) -> None:
    from huggingface_hub import constants

    assert os.environ["HF_HUB_OFFLINE"] == "0"
    preflight([], [("openai:m", {}, "model")], DataConfig(mirror=mirror, cache_dir=tmp_path, offline=True))
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert constants.HF_HUB_OFFLINE is True


def test_run_offline_lists_everything_missing_at_once(mirror: Path, tmp_path: Path, hf_env: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--model", "hf:Qwen/Qwen2.5-0.5B-Instruct", "--model", f"hf:{tmp_path / 'mine'}"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--offline"])
    assert result.exit_code == 1, result.output
    text = result.output
    assert "4 things are missing; nothing was asked yet" in text
    assert "data file cvalues-responsibility-mc (suite responsibility-mc)" in text and "--source-file" in text
    assert "`hf download Qwen/Qwen2.5-0.5B-Instruct`" in text
    assert (
        "safety judge hf:Qwen/Qwen3Guard-Gen-0.6B" in text
        and "`hf download Qwen/Qwen3Guard-Gen-0.6B`" in text
    )
    assert f"local model folder {tmp_path / 'mine'} does not exist" in text
    assert "Traceback" not in text and not out.exists()  # nothing written before the check
    # the same command with the weights of one model on disk and without the judge: only what is left
    build_tiny_model(tmp_path / "mine")
    again = CliRunner().invoke(
        cli, ["run", "--model", f"hf:{tmp_path / 'mine'}", "--out", str(out), "--offline", "--no-judge"]
    )
    assert (
        again.exit_code == 1 and "1 thing is missing" in again.output and "responsibility-mc" in again.output
    )


def test_generate_and_mc_run_check_first(mirror: Path, tmp_path: Path, hf_env: Path) -> None:
    for command in (["generate", "--suite", "safety-prompts"], ["mc", "run", "--suite", "responsibility-mc"]):
        result = CliRunner().invoke(
            cli, [*command, "--model", "hf:org/absent", "--run-dir", str(tmp_path / "r"), "--offline"]
        )
        assert result.exit_code == 1 and "`hf download org/absent`" in result.output, result.output
        assert not (tmp_path / "r").exists()
    both = CliRunner().invoke(
        cli,
        ["mc", "run", "--suite", "responsibility-mc", "--model", "hf:org/absent", "--run-dir", str(tmp_path)],
    )
    assert "2 things are missing" in both.output and "cvalues-responsibility-mc" in both.output


def test_dns_failure_is_not_retried_and_names_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def no_dns(host: str, *args: object, **kwargs: object) -> object:
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    config = DataConfig(
        cache_dir=tmp_path, base_url="http://upstream.example", download_attempts=5, retry_wait=0.01
    )
    with pytest.raises(DataError) as info:
        resolve("cvalues-responsibility-prompts", config)
    message = str(info.value)
    assert len(calls) == 1  # not five attempts
    assert "cannot connect" in message
    assert "--data-mirror" in message and "--source-file" in message and "--offline" in message


def test_main_job_offline_says_what_to_download(mirror: Path, tmp_path: Path, hf_env: Path) -> None:
    """`python3 dev.py run` offline on a fresh machine: the list, not a traceback or a retrying download."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dev", Path(__file__).resolve().parents[1] / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    args = [a if a != "runs/main" else str(tmp_path / "main") for a in dev.MAIN_JOB]
    result = CliRunner().invoke(cli, [*args, "--offline"])
    assert result.exit_code == 1 and "nothing was asked yet" in result.output
    assert "`hf download Qwen/Qwen2.5-0.5B-Instruct`" in result.output


def test_dry_run_shows_the_plan_and_asks_nothing(mirror: Path, tmp_path: Path) -> None:
    tiny = build_tiny_model(tmp_path / "tiny")
    absent = f"cvalues-responsibility-mc={tmp_path / 'absent.jsonl'}"
    args = ["run", "--model", f"hf:{tiny}", "--out", str(tmp_path / "o"), "--offline", "--dry-run"]
    result = CliRunner().invoke(cli, [*args, "--source-file", absent, "--no-judge"])
    assert result.exit_code == 1 and "the file given for it does not exist" in result.output
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"models: [{{name: t, spec: 'hf:{tiny}'}}]\nsuites: {{safety-mc: {{}}, safety-prompts: {{}}}}\n"
        "judge: {safety: {spec: 'openai:guard'}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["run", "--config", str(config), "--out", str(tmp_path / "o"), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[1:4]] == [
        "mc-safety",
        "gen-safety",
        "judge-safety",
    ]
    assert not (tmp_path / "o").exists()


def test_offline_hf_load_names_the_download_command(hf_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded without the preflight (library use): CVALUES_OFFLINE puts transformers offline before it
    looks, and the error says what to fetch."""
    from cvalues.models.registry import load_model

    monkeypatch.setenv("CVALUES_OFFLINE", "1")
    with pytest.raises(ValueError) as info:
        load_model("hf:org/absent")
    assert "not in the local Hugging Face cache" in str(info.value) and "`hf download org/absent`" in str(
        info.value
    )
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_online_without_network_lists_everything_it_would_fetch_at_once(
    mirror: Path, tmp_path: Path, hf_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine that nobody told to stay offline, whose data host and model hub cannot be reached:
    one list of every file and model that would be fetched, not a failure at the first download."""
    for name in ("CVALUES_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    data_port, hub_port = _closed_port(), _closed_port()
    monkeypatch.setenv("CVALUES_UPSTREAM_BASE_URL", f"http://127.0.0.1:{data_port}")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{hub_port}")
    out = tmp_path / "out"
    args = ["run", "--model", "hf:Qwen/Qwen2.5-0.5B-Instruct", "--model", f"hf:{tmp_path / 'mine'}"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "4 things are missing; nothing was asked yet" in text
    assert (
        "data file cvalues-responsibility-mc (suite responsibility-mc): not on disk, "
        f"and 127.0.0.1:{data_port} cannot be reached" in text
    )
    assert (
        f"hf:Qwen/Qwen2.5-0.5B-Instruct: not on disk, and 127.0.0.1:{hub_port} cannot be reached "
        "(Connection refused)" in text
    )
    assert (
        "`hf download Qwen/Qwen2.5-0.5B-Instruct`" in text
        and "`hf download Qwen/Qwen3Guard-Gen-0.6B`" in text
    )
    assert "refused" in text.casefold()
    assert f"local model folder {tmp_path / 'mine'} does not exist" in text  # a gap online or not
    assert "Traceback" not in text and not out.exists()


def test_online_with_reachable_hosts_fetches_on_first_use(
    mirror: Path, tmp_path: Path, hf_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CVALUES_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        monkeypatch.setenv("HF_ENDPOINT", url)
        config = DataConfig(mirror=mirror, cache_dir=tmp_path / "cache", base_url=url)
        suites = [("responsibility-mc", {})]
        models = [("hf:Qwen/Qwen2.5-0.5B-Instruct", {}, "model")]
        assert preflight(suites, models, config) == []  # fetched on first use
        # behind a proxy a direct connection says nothing: no probe, nothing listed
        closed = f"http://127.0.0.1:{_closed_port()}"
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
        assert preflight(suites, models, DataConfig(mirror=mirror, cache_dir=tmp_path, base_url=closed)) == []
        monkeypatch.delenv("HTTPS_PROXY")
        gaps = preflight(suites, models, DataConfig(mirror=mirror, cache_dir=tmp_path, base_url=closed))
        assert [g.what for g in gaps] == ["data file cvalues-responsibility-mc (suite responsibility-mc)"]
