"""Where ``hf:`` weights come from, checked before any work: a local folder, or the Hugging Face cache.

``hf:TARGET`` is either a folder on disk or a hub repository id (``Qwen/Qwen2.5-0.5B-Instruct``).
:func:`hf_weights_status` says which, and whether the weights are there, without loading anything:
a folder that does not exist is named as such (not reported as a bad repo id), and a repo id
offline is looked up in the local cache only. :func:`go_offline` puts the Hugging Face libraries
offline too when cvalues is (``CVALUES_OFFLINE=1`` or ``--offline``), so nothing retries a download
that cannot happen.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_TRUE = {"1", "true", "yes", "on"}
#: A hub repository id: ``name`` or ``owner/name`` of letters, digits, ``-``, ``_``, ``.``.
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
#: Files whose presence says a folder holds weights (any one suffices).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")  # fmt: skip


def offline_requested() -> bool:
    """True when cvalues or the Hugging Face libraries were told to stay offline by the environment."""
    return any(
        os.environ.get(name, "").strip().casefold() in _TRUE
        for name in ("CVALUES_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def go_offline() -> None:
    """Set ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` (and the already imported hub's switch)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # read once at import: update the live value as well
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]


def sync_offline_env() -> bool:
    """Call :func:`go_offline` when ``CVALUES_OFFLINE`` asks for it; return whether cvalues is offline."""
    if os.environ.get("CVALUES_OFFLINE", "").strip().casefold() in _TRUE:
        go_offline()
        return True
    return False


def looks_like_path(target: str) -> bool:
    """True when ``target`` can only be a folder (absolute, ``./``, ``~``, backslashes, two slashes, or
    it exists); False for something shaped like a hub repository id."""
    if Path(target).expanduser().exists():
        return True
    if target.startswith(("/", ".", "~")) or "\\" in target or ":" in target:
        return True
    return not _REPO_ID.match(target)


@dataclass(frozen=True)
class WeightsStatus:
    """Whether ``hf:TARGET`` can be loaded now. ``state``: ``folder`` (a local folder with weights),
    ``cached`` (hub id in the local cache), ``download`` (hub id, not cached, will be downloaded),
    ``missing`` (cannot be loaded: ``problem`` says why and ``how`` what to do)."""

    target: str
    state: Literal["folder", "cached", "download", "missing"]
    path: Path | None = None
    problem: str | None = None
    how: str | None = None


def download_hint(repo_id: str) -> str:
    """How to fetch a hub model once, where the hub is reachable."""
    return (
        f"`hf download {repo_id}` where the Hugging Face hub is reachable (the `hf` command comes with "
        "huggingface_hub; it fills the cache at $HF_HOME, default ~/.cache/huggingface), or copy the "
        "model folder here and use hf:/path/to/folder"
    )


def hf_weights_status(target: str, *, offline: bool, revision: str | None = None) -> WeightsStatus:
    """Check ``hf:target`` without loading it (see :class:`WeightsStatus`)."""
    if looks_like_path(target):
        folder = Path(target).expanduser()
        if not folder.is_dir():
            return WeightsStatus(
                target,
                "missing",
                problem=f"local model folder {target} does not exist ({folder.absolute()})",
                how="check the path (a folder holding config.json, the weights and the tokenizer)",
            )
        if not (folder / "config.json").is_file():
            return WeightsStatus(
                target,
                "missing",
                folder,
                problem=f"{folder} holds no config.json: not a transformers model folder",
                how="point hf: at the folder that holds config.json and the weights",
            )
        return WeightsStatus(target, "folder", folder)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # transformers absent: the load itself will say what to install
        return WeightsStatus(target, "download")
    try:
        folder = Path(snapshot_download(target, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        folder = None
    if folder is not None and (folder / "config.json").is_file():
        if any((folder / name).is_file() for name in WEIGHT_FILES):
            return WeightsStatus(target, "cached", folder)
    if not offline:
        return WeightsStatus(target, "download")
    partly = " (only partly: no weights file)" if folder is not None else ""
    parent = Path(target).parent
    folder_note = (
        f"; if you meant the local folder ./{target}, it does not exist"
        if parent != Path(".") and parent.is_dir()
        else ""
    )
    return WeightsStatus(
        target,
        "missing",
        problem=f"model {target} is not in the local Hugging Face cache{partly} and cvalues is offline"
        f"{folder_note}",
        how=download_hint(target),
    )
