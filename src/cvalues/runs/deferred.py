"""A local model that is loaded only when it is asked something.

Why: a rerun of a finished ``hf:`` run asks nothing (every answer is in the store), yet building the
backend imports torch and transformers and reads the weights, seconds that the rerun does not need.
What the run engine needs before asking (the model's identity for the request keys, the description
for the manifest, the batch size) is remembered from the last time the same model was loaded, in
``CVALUES_CACHE_DIR/models/``, keyed by the spec, the load options and the size and modification time of
every file of the model's folder. A change to any file is a new key, so the model is loaded again.

:func:`load_deferred` returns a :class:`DeferredBackend` when such a description is known, else None
(the caller loads the model, then :func:`remember` stores its description for the next time). The
backend is built on the first request (or the preflight that comes before any request); if what it
describes then differs from what was remembered (a change the file times did not show), the request
fails as fatal and the entry is forgotten, so that the next run loads the model from the start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cvalues.atomic import atomic_write_bytes
from cvalues.models.base import ChatMessage, Generation, GenerationSettings, ModelBackend, ModelError
from cvalues.runs.request import canonical_json, model_fingerprint

log = logging.getLogger(__name__)

#: Bumped when what is remembered changes.
ENTRY_VERSION = 1


def cache_dir() -> Path:
    """``CVALUES_CACHE_DIR/models`` (default ``~/.cache/cvalues/models``)."""
    return Path(os.environ.get("CVALUES_CACHE_DIR") or "~/.cache/cvalues").expanduser() / "models"


def model_folder(spec: str, options: dict[str, Any]) -> Path | None:
    """The local folder an ``hf:`` spec loads from, when that is known without loading anything: a
    folder path; a hub id only offline (online, from_pretrained may fetch a newer revision)."""
    from cvalues.models.hub import looks_like_path, offline_requested

    scheme, _, target = spec.partition(":")
    if scheme != "hf" or not target:
        return None
    if looks_like_path(target):
        folder = Path(target).expanduser()
        return folder if folder.is_dir() else None
    if not offline_requested():
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(target, revision=options.get("revision"), local_files_only=True))
    except Exception:  # not in the local cache, or no hub library: load as usual
        return None


def folder_signature(folder: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, modification time in ns) of every file under ``folder``, links followed."""
    out: list[tuple[str, int, int]] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    return out


def entry_key(spec: str, options: dict[str, Any], folder: Path) -> str:
    """The cache key of a model as loaded with ``options`` from ``folder`` as it is now."""
    given = {k: v for k, v in sorted(options.items()) if v is not None and k != "concurrency"}
    blob = canonical_json(
        {
            "version": ENTRY_VERSION,
            "spec": spec,
            "options": given,
            "folder": str(folder.resolve()),
            "files": folder_signature(folder),
        }
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _entry_path(key: str) -> Path:
    return cache_dir() / f"{key}.json"


def remember(model: ModelBackend, spec: str, options: dict[str, Any]) -> None:
    """Store what a freshly loaded model says of itself, for :func:`load_deferred` next time (best
    effort: a cache that cannot be written only costs the next rerun a load)."""
    folder = model_folder(spec, options)
    if folder is None:
        return
    try:
        entry = {
            "spec": model.spec,
            "describe": model.describe(),
            "fingerprint": model_fingerprint(model),
            "preferred_batch_size": model.preferred_batch_size,
            "default_concurrency": model.default_concurrency,
        }
        path = _entry_path(entry_key(spec, options, folder))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(entry, ensure_ascii=False, default=str).encode("utf-8"))
    except (OSError, TypeError, ValueError) as exc:
        log.debug("could not remember the description of %s: %s", spec, exc)


def load_deferred(
    spec: str, options: dict[str, Any], load: Callable[[], ModelBackend]
) -> DeferredBackend | None:
    """A :class:`DeferredBackend` built by ``load`` on first use, when this model's description is
    remembered for its files as they are now; else None."""
    folder = model_folder(spec, options)
    if folder is None:
        return None
    path = _entry_path(entry_key(spec, options, folder))
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(entry.get("describe"), dict) or not isinstance(entry.get("fingerprint"), str):
            return None
    except (OSError, ValueError):
        return None
    return DeferredBackend(entry, load, path)


class DeferredBackend(ModelBackend):
    """A backend whose description is known and whose model is built on the first request.

    Anything else asked of it (an attribute of the real backend: its tokenizer, ``render`` ...) builds
    the model too, so that it stands in for the real backend everywhere.
    """

    def __init__(self, entry: dict[str, Any], load: Callable[[], ModelBackend], entry_path: Path) -> None:
        self.spec = entry["spec"]
        self.preferred_batch_size = int(entry.get("preferred_batch_size") or 1)
        self.default_concurrency = int(entry.get("default_concurrency") or 1)
        self._describe: dict[str, Any] = entry["describe"]
        self._fingerprint: str = entry["fingerprint"]
        self._load = load
        self._entry_path = entry_path
        self._model: ModelBackend | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model has been built."""
        return self._model is not None

    def _real(self) -> ModelBackend:
        with self._lock:
            if self._model is None:
                try:
                    model = self._load()
                except (ValueError, OSError, ImportError) as exc:
                    raise ModelError(f"cannot load model {self.spec!r}: {exc}", fatal=True) from exc
                if model_fingerprint(model) != self._fingerprint:
                    self._entry_path.unlink(missing_ok=True)
                    self._model = model
                    raise ModelError(
                        f"{self.spec}: the model's files changed since its description was remembered "
                        "(the request keys were made with the old one); run the command again",
                        fatal=True,
                    )
                self._model = model
            return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def describe(self) -> dict[str, Any]:
        return dict(self._describe) if self._model is None else self._model.describe()

    async def preflight(self) -> None:
        await self._real().preflight()

    async def generate(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Generation:
        return await self._real().generate(messages, settings)

    async def generate_batch(
        self, batch: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[Generation | ModelError]:
        return await self._real().generate_batch(batch, settings)

    async def candidate_logprobs(
        self, context: Sequence[ChatMessage], candidates: Sequence[str]
    ) -> list[float]:
        return await self._real().candidate_logprobs(context, candidates)

    async def candidate_logprobs_batch(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]:
        return await self._real().candidate_logprobs_batch(items)

    async def aclose(self) -> None:
        if self._model is not None:
            await self._model.aclose()
