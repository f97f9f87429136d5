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
