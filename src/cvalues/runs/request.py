"""What is asked of a model, and the key that says whether it was asked already.

A :class:`Request` is one question (a conversation, and for ``kind="logprobs"`` the candidate
continuations). Its :meth:`Request.key` hashes everything that can change the answer: the model's
identity, the decoding settings, the exact messages, the kind and the candidates. Anything else
(``item_id``, ``meta``) is bookkeeping. A changed prompt, template, model or setting is therefore a
different key and is asked anew; an unchanged one is never asked twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from cvalues.models.base import ChatMessage, GenerationSettings, ModelBackend

Kind = Literal["generate", "logprobs"]
KINDS: tuple[str, ...] = ("generate", "logprobs")
#: Bumped when the key's recipe changes, so that old stores are never matched by accident.
KEY_VERSION = 2
#: Fields of ``model.describe()`` that identify the weights (or replay file), not how they are served.
IDENTITY_FIELDS: tuple[str, ...] = (
    "revision",
    "commit",
    "commit_hash",
    "model_sha",
    "weights_sha256",
    "dtype",
    "quantization",
    "chat_template_sha256",
    "sha256",
)

T = TypeVar("T")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces and unescaped Chinese: the one form that is hashed."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def model_fingerprint(model: ModelBackend) -> str:
    """The model's identity as canonical JSON: its spec plus identity facts from ``describe()``.

    A backend may put an ``"identity"`` dict in ``describe()`` to say exactly what identifies it;
    otherwise the :data:`IDENTITY_FIELDS` it reports are used. Serving details (base URL, timeout,
    concurrency, device) are not part of it: they do not change what the model answers.
    """
    described = model.describe()
    identity = described.get("identity")
    if not isinstance(identity, dict):
        identity = {k: described[k] for k in IDENTITY_FIELDS if described.get(k) is not None}
    return canonical_json({"spec": model.spec, "identity": identity})


@dataclass(frozen=True)
class Request:
    """One thing to ask a model.

    ``kind="generate"``: reply to ``messages``. ``kind="logprobs"``: ``log P(candidate | messages)``
    for each of ``candidates`` (see :meth:`ModelBackend.candidate_logprobs`). ``item_id`` names the
    dataset item (several requests may share it, e.g. the two orders of a pair are two items);
    ``meta`` travels to the store for tracing and is not part of the key.
    """

    item_id: str
    messages: tuple[ChatMessage, ...]
    kind: Kind = "generate"
    candidates: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"item {self.item_id}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.messages:
            raise ValueError(f"item {self.item_id}: a request needs at least one message")
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))
        if not isinstance(self.candidates, tuple):
            object.__setattr__(self, "candidates", tuple(self.candidates))
        if self.kind == "logprobs":
            if not self.candidates or any(not c for c in self.candidates):
                raise ValueError(f"item {self.item_id}: logprobs requests need non-empty candidates")
            if len(set(self.candidates)) != len(self.candidates):
                raise ValueError(f"item {self.item_id}: candidates must be distinct: {self.candidates}")
        elif self.candidates:
            raise ValueError(f"item {self.item_id}: only logprobs requests take candidates")

    def key_material(self, model_fingerprint: str, settings: GenerationSettings) -> dict[str, Any]:
        """What :meth:`key` hashes. Decoding settings count for ``generate`` only: log-probabilities
        of fixed candidates do not depend on temperature or length limits. The item id counts too:
        two items with the same text each get (and keep, and export) their own answer; a replay
        backend answers by item id, so sharing one answer between them would be wrong there."""
        return {
            "v": KEY_VERSION,
            "item": self.item_id,
            "model": model_fingerprint,
            "kind": self.kind,
            "settings": settings.to_dict() if self.kind == "generate" else None,
            "messages": [[m.role, m.content] for m in self.messages],
            "candidates": list(self.candidates),
        }

    def key(self, model_fingerprint: str, settings: GenerationSettings) -> str:
        """sha256 (hex) of the canonical JSON of :meth:`key_material`."""
        material = canonical_json(self.key_material(model_fingerprint, settings))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()


def chat_messages(text: str, system_prompt: str | None = None) -> tuple[ChatMessage, ...]:
    """One user turn with ``text``, preceded by a system turn when ``system_prompt`` is set."""
    user = ChatMessage("user", text)
    return (ChatMessage("system", system_prompt), user) if system_prompt else (user,)


def select(
    items: Iterable[T],
    *,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    id_of: Any = None,
) -> list[T]:
    """Choose items deterministically: ``sample`` picks N by a seeded hash of each item's id (so a
    sample of 10 is contained in the sample of 20 with the same seed, and adding items to a suite
    changes no choice among the old ones), then ``limit`` keeps the first N. Order is preserved.

    ``id_of(item) -> str`` gives the id (default: ``item.id``, else ``item.item_id``).
    """
    chosen: Sequence[T] = list(items)
    if sample is not None:
        if sample < 0:
            raise ValueError(f"sample must be >= 0, got {sample}")
        get_id = id_of or _default_id
        ranked = sorted(
            range(len(chosen)),
            key=lambda i: hashlib.sha256(f"{seed}\x00{get_id(chosen[i])}".encode()).digest(),
        )
        keep = set(ranked[:sample])
        chosen = [x for i, x in enumerate(chosen) if i in keep]
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        chosen = chosen[:limit]
    return list(chosen)


def _default_id(item: Any) -> str:
    for name in ("id", "item_id"):
        value = getattr(item, name, None)
        if value is not None:
            return str(value)
    raise TypeError(f"cannot find an id on {type(item).__name__}; pass id_of=")
