#!/usr/bin/env python3
"""Set-up and entry points for a fresh machine: `python3 dev.py run` and `python3 dev.py test`.

`run` with no arguments runs the main job (:data:`MAIN_JOB`); `run ARGS...` runs `cvalues ARGS...`.

Only the standard library is used here. The first call creates `.venv` and installs the package with
its extras; later calls reinstall only when `pyproject.toml` (or this file) changed, so both commands
are idempotent and cheap to repeat.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".cvalues-install-stamp"
# The torch release is installed first and pinned, so that `transformers` pulls no other one. Where pip
# finds no CPU wheel of it (PyPI on Linux serves the CUDA build), choose with CVALUES_TORCH, e.g.
# CVALUES_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu".
TORCH = os.environ.get("CVALUES_TORCH", "torch==2.13.0")


#: The README's main job: `cvalues run` with the built-in job on a small open Chinese instruct model:
#: multi-choice safety and responsibility (log-probabilities), open answers to the safety and
#: responsibility prompts judged by Qwen3Guard, then the report, on a sample that finishes in minutes
#: on a CPU (weights and data fetched on first use; offline it lists what to download first).
MAIN_JOB = [
    "run",
    "--model", "hf:Qwen/Qwen2.5-0.5B-Instruct",
    "--out", "runs/main",
]  # fmt: skip


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "dev.py"):
        digest.update((ROOT / name).read_bytes())
    digest.update(TORCH.encode())
    return digest.hexdigest()


def ensure_env() -> None:
    """Create the virtual environment and install the package once per pyproject change."""
    if not PY.exists():
        print(f"[dev] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("[dev] installing cvalues and its dependencies (first run takes a few minutes)", flush=True)
    subprocess.check_call([*pip, "--upgrade", "pip"])
    subprocess.check_call([*pip, *shlex.split(TORCH)])
    subprocess.check_call([*pip, "-e", f"{ROOT}[hf,dev,ray]"])
    STAMP.write_text(fingerprint)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "setup"}:
        print("usage: python3 dev.py run [cvalues args...] | test [pytest args...] | setup", file=sys.stderr)
        return 2
    ensure_env()
    command, rest = argv[0], argv[1:]
    if command == "setup":
        return 0
    if command == "test":
        return subprocess.call([str(PY), "-m", "pytest", *rest], cwd=ROOT)
    args = rest or MAIN_JOB
    return subprocess.call([str(BIN / "cvalues"), *args], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
