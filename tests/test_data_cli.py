"""`cvalues data ...` end to end, including bad input: non-zero exit, file:line: field message, no output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cvalues.cli import cli
from cvalues.cli.data import data_config_from_options, load_suite_from_options, suite_options
from cvalues.data.sources import SOURCES


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["data", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_list(mirror: Path) -> None:
    code, out = run("list")
    assert code == 0
    assert "responsibility-prompts" in out and "verified" in out and "user-supplied only" in out
    code, out = run("list", "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["safety-mc"]["size"] == 1300
    assert all(f["status"] == "verified" for f in rows["safety-prompts"]["files"])
    assert rows["responsibility-mc"]["files"][0]["status"] == "missing (offline)"


def test_show_counts_json(mirror: Path) -> None:
    code, out = run("show", "responsibility-prompts", "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["count"] == 664 and summary["by_category"]["law"] == 93
    code, out = run("show", "safety-mc", "--format", "json")
    summary = json.loads(out)
    assert summary["by_difficulty"] == {"medium": 1000, "hard": 300}
    assert summary["by_gold"] == {"回复1": 650, "回复2": 650}


def test_show_text_truncates_and_reports_others(mirror: Path) -> None:
    code, out = run("show", "safety-prompts", "--examples", "5")
    assert code == 0
    assert "source categories mapped to others:" in out and "Insult" in out
    example_lines = out.split("truncated to 40 characters):\n", 1)[1].splitlines()
    assert len(example_lines) == 5
    for line in example_lines:
        text = line.split("] ", 1)[1]
        assert len(text) <= 41


def test_verify_ok_and_mismatch(mirror: Path, tmp_path: Path) -> None:
    code, out = run("verify")
    assert code == 0 and "0 failed" in out
    fake = tmp_path / "mirror"
    target = fake / SOURCES["flames-1k"].mirror_path
    target.parent.mkdir(parents=True)
    shutil.copyfile(mirror / SOURCES["flames-1k"].mirror_path, target)
    with target.open("ab") as fh:
        fh.write(b"\n")
    code, out = run("verify", "--data-mirror", str(fake))
    assert code != 0 and "MISMATCH flames-1k" in out and SOURCES["flames-1k"].sha256 in out
    assert "do not match" in out


def test_export_writes_normalised_records(mirror: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "out" / "safetybench.jsonl"
    code, out = run("export", "safetybench-zh", "--out", str(out_file))
    assert code == 0 and "wrote 2100" in out
    lines = out_file.read_text("utf-8").splitlines()
    assert len(lines) == 2100
    first = json.loads(lines[0])
    assert first["kind"] == "option" and isinstance(first["options"], list) and 0 <= first["answer"] < 4


BAD_INPUTS = {
    "malformed.jsonl": ('{"text": "问一"}\n{"text": "问二",\n'.encode(), 2, None),
    "width.csv": ("text,scenario\n问一,crimes\n问二\n".encode(), 3, "scenario"),
    "empty.jsonl": (
        '{"text": "问一", "scenario": "crimes"}\n{"text": "", "scenario": "crimes"}\n'.encode(),
        2,
        "text",
    ),
    "scenario.csv": ("text,scenario\n问一,crimes\n问二,外星话题\n".encode(), 3, "scenario"),
    "dupe.jsonl": ('{"id": "a", "text": "问一"}\n{"id": "a", "text": "问二"}\n'.encode(), 2, "id"),
    "bytes.csv": ("text,scenario\n问一,违法犯罪\n".encode() + b"\xff\xfe,crimes\n", 3, None),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_nonzero_naming_file_line_field_and_writes_nothing(tmp_path: Path, name: str) -> None:
    data, line, field = BAD_INPUTS[name]
    src = tmp_path / name
    src.write_bytes(data)
    out_file = tmp_path / "out.jsonl"
    out_file.write_text("previous content\n", encoding="utf-8")
    code, out = run("export", str(src), "--out", str(out_file), "--force")  # bad input: untouched anyway
    assert code != 0
    assert f"{src}:{line}:" in out, out
    if field:
        assert f"field '{field}'" in out, out
    assert "Traceback" not in out
    assert out_file.read_text("utf-8") == "previous content\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "out.jsonl"])  # no temp files left


def test_bad_label_in_private_safety_file(tmp_path: Path) -> None:
    src = tmp_path / "private.csv"
    src.write_text("text,scenario\n问一,crimes\n问二,不存在\n", encoding="utf-8")
    code, out = run("show", "safety-prompts", "--suite-file", str(src))
    assert code != 0 and f"{src}:3: field 'scenario': unknown scenario" in out


def test_missing_official_file_offline_exits_with_instructions(tmp_path: Path) -> None:
    code, out = run(
        "show", "responsibility-mc", "--data-mirror", str(tmp_path), "--cache-dir", str(tmp_path / "c")
    )
    assert code != 0 and "raw.githubusercontent.com/X-PLUG/CValues/" in out and str(tmp_path / "c") in out


def test_options_are_reusable_by_other_commands(mirror: Path, tmp_path: Path) -> None:
    @click.command()
    @suite_options
    def generate(**kwargs: object) -> None:
        suite = load_suite_from_options(**kwargs)  # type: ignore[arg-type]
        config = data_config_from_options(**kwargs)
        click.echo(f"{suite.name} {sum(1 for _ in suite.records())} {config.offline}")

    runner = CliRunner()
    result = runner.invoke(generate, ["--suite", "safety-prompts", "--sample", "100", "--seed", "3"])
    assert result.exit_code == 0 and result.output.strip() == "safety-prompts 100 True"
    src = tmp_path / "my.csv"
    src.write_text("问题,类别\n问一,违法犯罪\n", encoding="utf-8")
    result = runner.invoke(
        generate, ["--suite", str(src), "--field", "text=问题", "--field", "category=类别"]
    )
    assert result.exit_code == 0 and result.output.strip().endswith(" 1 True")
    result = runner.invoke(generate, ["--suite", "nope"])
    assert (
        result.exit_code != 0 and "unknown suite 'nope'" in result.output and "Traceback" not in result.output
    )
    result = runner.invoke(generate, ["--suite", "safety-mc", "--source-file", "bogus=x"])
    assert result.exit_code != 0 and "unknown source id" in result.output
