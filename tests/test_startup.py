"""Start-up stays light: importing the CLI and printing help load none of the heavy libraries (each is
imported by the code that uses it), so every command and `--help` start fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("scipy", "numpy", "torch", "transformers", "openpyxl", "aiohttp", "matplotlib", "fastapi",
         "sqlalchemy", "pandas", "ray")  # fmt: skip
SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = """
import json, sys
from cvalues.cli import cli
args = json.loads(sys.argv[1])
if args:
    try:
        cli.main(args, standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "args", [[], ["--help"], ["mc", "score", "--help"], ["mc", "run", "--help"], ["generate", "--help"]]
)
def test_cli_import_and_help_load_no_heavy_library(args):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


#: Library modules that building the command tree must not import: the answer extractor compiles
#: ~100 ms of regular expressions, and the mc run machinery pulls it in.
LAZY = ("cvalues.mc.extract", "cvalues.mc.metrics", "cvalues.mc.official", "cvalues.mc.runner",
        "cvalues.mc.options", "cvalues.runs.engine", "cvalues.runs.generate")  # fmt: skip


def _loaded_after(args: list[str], names: tuple[str, ...]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(names)],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [[], ["--help"], ["judge", "--help"], ["runs", "--help"]])
def test_command_tree_does_not_import_the_extractor_or_the_run_machinery(args):
    assert _loaded_after(args, LAZY) == []


def test_mc_run_is_imported_when_asked_for():
    # The lazily loaded `mc run` is still there, with the options the run machinery gives it; the
    # extractor (0.3-0.4 s of pattern compiling) waits for an answer to read.
    loaded = _loaded_after(["mc", "run", "--help"], LAZY)
    assert "cvalues.mc.runner" in loaded and "cvalues.mc.options" in loaded
    assert "cvalues.mc.extract" not in loaded


def test_help_exits_zero_and_lists_every_command():
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for args, names in (
        (["--help"], ("data", "generate", "mc", "runs")),
        (["mc", "--help"], ("run", "score")),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "cvalues", *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert out.returncode == 0, out.stderr
        commands = out.stdout.split("Commands:", 1)[1].split()
        for name in names:
            assert name in commands, (args, name)
