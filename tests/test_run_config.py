"""`cvalues run` configuration: validation errors name the file, the line and the field; defaults; names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.pipeline.config import (
    DEFAULT_SAFETY_JUDGE,
    ConfigError,
    default_config,
    default_rubric,
    load_config,
    model_name_from_spec,
)
from cvalues.pipeline.stages import mc_modes, stage_name

GOOD = """\
# two models, each its own endpoint
models:
  - name: qwen-7b
    spec: openai:qwen2.5-7b-instruct
    base_url: http://127.0.0.1:8000/v1
    settings: {max_tokens: 256}
  - name: 本地模型
    spec: hf:/models/local
suites:
  safety-mc: {sample: 20, mode: both, seed: 3}
  safety-prompts: {sample: 30}
judge:
  safety: {spec: "openai:judge", base_url: "http://127.0.0.1:9000/v1"}
  responsibility: {spec: "openai:judge", rubric: cvalues-responsibility}
out: runs/eval
concurrency: 8
"""


def write(tmp_path: Path, text: str, name: str = "eval.yaml", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_good_config_validates_with_its_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert [m.name for m in config.models] == ["qwen-7b", "本地模型"]
    assert config.models[0].backend_options() == {"base_url": "http://127.0.0.1:8000/v1"}
    assert config.models[0].settings.to_settings().max_tokens == 256
    assert config.suites["safety-mc"].mode == "both" and config.suites["safety-mc"].seed == 3
    assert list(config.suites) == ["safety-mc", "safety-prompts"]
    assert config.judges()["safety"].spec == "openai:judge" and config.concurrency == 8
    assert str(config.out) == "runs/eval"


def test_gb18030_config_file_reads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD, encoding="gb18030"))
    assert config.models[1].name == "本地模型"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # line of the bad value, dotted path with list indices, pydantic's reason
        (GOOD.replace("{max_tokens: 256}", "{max_tokens: 0}"), ":6: models[0].settings.max_tokens: "),
        (GOOD.replace("spec: hf:/models/local", "spec: vllm:x"), ":8: models[1].spec: unknown model spec"),
        (GOOD.replace("{sample: 30}", "{sampel: 30}"), ":11: suites.safety-prompts.sampel: unknown key"),
        (GOOD.replace("mode: both", "mode: fast"), ":10: suites.safety-mc.mode: Input should be"),
        (GOOD.replace("{sample: 30}", "{sample: 30, mode: logprob}"), ":11: suites.safety-prompts.mode: "),
        (GOOD.replace("name: 本地模型", "name: a/b"), ":7: models[1].name: a model name is a folder"),
        (GOOD.replace("name: 本地模型", "name: QWEN-7B"), ":7: models[1].name: 'QWEN-7B' is already"),
        (
            GOOD.replace("rubric: cvalues-responsibility", "rubric: qwen3guard"),
            ":14: judge.responsibility.rubric: 'qwen3guard' judges safety answers",
        ),
        (
            GOOD.replace("concurrency: 8", "concurrency: many"),
            ":16: concurrency: Input should be a valid integer",
        ),
        (GOOD.replace("  - name: qwen-7b\n", "  -\n"), ":4: models[0].name: Field required"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(p.startswith(str(path)) and expected in p for p in info.value.problems), info.value.problems


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("{max_tokens: 256}", "{max_tokens: -1, tempreature: 1}").replace(
        "sample: 20", "sample: 0"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    fields = [p.split(": ")[1] for p in info.value.problems]
    assert fields == [
        "models[0].settings.max_tokens",
        "models[0].settings.tempreature",
        "suites.safety-mc.sample",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [a, b\n", "not valid YAML"),
        ("", "the file is empty"),
        ("- just\n- a list\n", "expected a mapping"),
        ("suites: {}\n", "models: Field required"),
        ("models: []\n", "models: List should have at least 1 item"),
        ("models: [{name: a, spec: 'openai:m'}]\nsuites: {}\n", "suites: name at least one suite"),
    ],
)
def test_unreadable_or_empty_configs(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text))


def test_binary_file_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    path.write_bytes(b"models:\n  - name: \xff\xfe\x00\x81\x00\n")
    with pytest.raises(ConfigError, match="not UTF-8 or GB18030"):
        load_config(path)


def test_cli_prints_the_problems_and_creates_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace("{max_tokens: 256}", "{max_tokens: 0}").replace("runs/eval", str(tmp_path / "o")),
    )
    result = CliRunner().invoke(cli, ["run", "--config", str(path)])
    assert result.exit_code == 1
    assert f"{path}:6: models[0].settings.max_tokens" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_needs_exactly_one_of_config_and_model(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["run", "--out", str(tmp_path)]).exit_code == 2
    path = write(tmp_path, GOOD)
    both = CliRunner().invoke(cli, ["run", "--config", str(path), "--model", "openai:x"])
    assert both.exit_code == 2 and "either --config" in both.output
    no_out = CliRunner().invoke(cli, ["run", "--model", "openai:x"])
    assert no_out.exit_code == 2 and "--out" in no_out.output


def test_default_config_is_the_built_in_job() -> None:
    config = default_config(["hf:Qwen/Qwen2.5-0.5B-Instruct", "openai:qwen2.5-7b"], out="o")
    assert [m.name for m in config.models] == ["qwen2.5-0.5b-instruct", "qwen2.5-7b"]
    assert list(config.suites) == [
        "safety-mc",
        "responsibility-mc",
        "safety-prompts",
        "responsibility-prompts",
    ]
    assert all(s.sample is not None and s.sample <= 50 for s in config.suites.values())  # minutes on a CPU
    assert config.judges() == {"safety": config.judge["safety"]}
    assert (
        config.judge["safety"].spec == DEFAULT_SAFETY_JUDGE and config.judge["safety"].rubric == "qwen3guard"
    )
    # multi-choice: log-probabilities on a local model, free text against a server
    assert mc_modes("auto", "hf:Qwen/Qwen2.5-0.5B-Instruct") == ("logprob",)
    assert mc_modes("auto", "openai:qwen2.5-7b") == ("generate",)
    assert mc_modes("both", "openai:x") == ("generate", "logprob")


def test_model_names_from_specs_are_folder_names_and_unique() -> None:
    taken = {"qwen2.5-7b"}
    assert model_name_from_spec("openai:qwen2.5-7b", taken) == "qwen2.5-7b-2"
    assert model_name_from_spec("hf:/models/My Model/") == "my-model"
    assert model_name_from_spec("replay:answers.jsonl") == "answers.jsonl"


def test_default_rubrics_and_stage_names() -> None:
    assert default_rubric("safety", "hf:Qwen/Qwen3Guard-Gen-0.6B") == "qwen3guard"
    assert default_rubric("safety", "hf:thu-coai/ShieldLM-7B-internlm2") == "shieldlm"
    assert default_rubric("safety", "hf:meta-llama/Llama-Guard-3-8B") == "llamaguard"
    assert default_rubric("safety", "openai:qwen-max") == "cvalues-safety"
    assert default_rubric("responsibility", "openai:qwen-max") == "cvalues-responsibility"
    assert stage_name("safety-mc", "mc") == "mc-safety" and stage_name(
        "responsibility-prompts", "prompt"
    ) == ("gen-responsibility")
    assert stage_name("safetybench-zh", "option") == "mc-safetybench-zh"
    assert stage_name("/data/我的 提示.jsonl", "prompt") == "gen-我的-提示"


ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_example_config_validates() -> None:
    config = load_config(ROOT / "examples" / "two-models.yaml")
    assert len(config.models) == 2 and set(config.judges()) == {"safety", "responsibility"}
    assert config.models[1].backend_options()["api_key_env"] == "DEEPSEEK_API_KEY"


def test_the_readme_main_job_is_dev_py_main_job() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    assert dev.MAIN_JOB[0] == "run"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "cvalues " + " ".join(dev.MAIN_JOB) in readme
