"""The whole model side of cvalues: two operations, precisely specified.

Everything above this layer (runs, scoring) talks to a model only through :class:`ModelBackend`.
Backends are named by a spec string (``openai:MODEL``, ``hf:PATH_OR_ID``, ``replay:FILE``) and built
by :func:`cvalues.models.registry.load_model`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Decoding options. Defaults are greedy and recorded in every run's manifest.

    ``temperature == 0`` means greedy decoding. ``system_prompt``, when set, is prepended as a system
    message by the caller that builds the messages (the run engine), not by backends.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    system_prompt: str | None = None
    seed: int | None = 0

    def __post_init__(self) -> None:
        # Settings are part of request keys and run identities: 0 and 0.0, or a list and a tuple of
        # stop strings, must be the same setting.
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "top_p", float(self.top_p))
        object.__setattr__(self, "max_tokens", int(self.max_tokens))
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stop": list(self.stop)}


#: The ``finish_reason`` of a reply the provider's content moderation stopped, whatever the provider
#: called it (:mod:`cvalues.models.moderation`); OpenAI's own name for it.
BLOCKED_FINISH_REASON = "content_filter"


@dataclass(frozen=True, slots=True)
class Generation:
    """A model's reply. ``finish_reason`` is ``stop``, ``length`` or backend-specific."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """Whether the provider's content moderation stopped this reply (or its prompt)."""
        return self.finish_reason == BLOCKED_FINISH_REASON


class ModelError(RuntimeError):
    """A request failed.

    ``retryable`` says whether asking again may succeed (429, 5xx, timeouts). ``fatal`` says that no
    request of this kind can succeed as the backend is set up (a wrong address, key or model name; a
    server feature the request needs is missing): the run engine stops at the first such error rather
    than ask every other item in vain, and records nothing against the items (it is not about them).
    """

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None, fatal: bool = False
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.fatal = fatal

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the flags across processes (pickle would rebuild from the message alone)
        return (_rebuild_model_error, (type(self), str(self), self.retryable, self.retry_after, self.fatal))


def _rebuild_model_error(
    cls: type[ModelError], message: str, retryable: bool, retry_after: float | None, fatal: bool
) -> ModelError:
    return cls(message, retryable=retryable, retry_after=retry_after, fatal=fatal)


class ModelUnreachable(ModelError):
    """The server could not be reached at all (a refused connection, a name no DNS resolves).

    Retryable (a server may be restarting); the run engine stops after several in a row with the same
    cause (:data:`cvalues.runs.engine.UNREACHABLE_IN_A_ROW`), since then every other item would wait
    through the same retries."""


class ProviderBlocked(ModelError):
    """The provider's content moderation stopped the request (:mod:`cvalues.models.moderation`).

    Not retryable (the same prompt is blocked again) and not fatal (other prompts pass). Generation
    turns it into an answer (an empty or cut reply with ``finish_reason="content_filter"``, see
    :meth:`Generation.blocked`); a log-probability request stores it as this error, so the MC
    scoring can count the item as refused rather than failed. ``block`` is the
    :class:`~cvalues.models.moderation.ProviderBlock` as a dict (stage, code, message)."""

    def __init__(self, message: str, *, block: dict[str, str] | None = None, **flags: Any) -> None:
        super().__init__(message, **{"retryable": False, **flags})
        self.block = dict(block or {})

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_provider_blocked, (str(self), self.block))


def _rebuild_provider_blocked(message: str, block: dict[str, str]) -> ProviderBlocked:
    return ProviderBlocked(message, block=block)


class LogprobsUnsupported(ModelError):
    """The backend (or the server behind it) cannot return log-probabilities for candidates.

    ``fatal`` when it holds for every request (the server returns none, or the candidates need a
    feature the backend was not allowed to use); not when one candidate is missing from one answer."""


class CandidateLogprob(float):
    """A candidate's log-probability: a plain ``float`` that may carry a caveat.

    Backends that compute the exact value (``hf:``) return plain floats. API backends that only see the
    server's top alternatives (``openai:``) return this subclass so that callers can tell exact values
    from bounds without changing the ``list[float]`` contract:

    * ``upper_bound``: the candidate was not among the returned alternatives (or only a prefix of it
      was); the value is an upper bound on its true log-probability.
    * ``given_prefix``: the candidates' common prefix was placed in the assistant turn, so the value is
      ``log P(candidate[len(prefix):] | context + prefix)``; it differs from ``log P(candidate | context)``
      by ``log P(prefix | context)``, the same for every candidate, so comparisons are unaffected.

    It compares, sorts and serialises (``json.dumps``) like the float it is.
    """

    __slots__ = ("given_prefix", "upper_bound")

    upper_bound: bool
    given_prefix: str

    def __new__(cls, value: float, *, upper_bound: bool = False, given_prefix: str = "") -> CandidateLogprob:
        obj = super().__new__(cls, value)
        obj.upper_bound = upper_bound
        obj.given_prefix = given_prefix
        return obj

    @property
    def exact(self) -> bool:
        """True when the value is exactly ``log P(candidate | context)``."""
        return not self.upper_bound and not self.given_prefix

    def __repr__(self) -> str:
        notes = ", upper_bound" if self.upper_bound else ""
        notes += f", given_prefix={self.given_prefix!r}" if self.given_prefix else ""
        return f"CandidateLogprob({float(self)!r}{notes})"


def is_exact_logprob(value: float) -> bool:
    """True unless ``value`` is a :class:`CandidateLogprob` flagged as a bound or prefix-conditional."""
    return not isinstance(value, CandidateLogprob) or value.exact


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest occurrence of any stop string; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def check_candidates(candidates: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``candidates`` is a non-empty list of distinct non-empty strings."""
    if not candidates:
        raise ValueError("candidate_logprobs needs at least one candidate")
    if any(not isinstance(c, str) or not c for c in candidates):
        raise ValueError(f"candidates must be non-empty strings, got {list(candidates)!r}")
    if len(set(candidates)) != len(candidates):
        raise ValueError(f"candidates must be distinct, got {list(candidates)!r}")


class ModelBackend(abc.ABC):
    """A model under test.

    Two operations:

    * :meth:`generate`: reply to a chat message list.
    * :meth:`candidate_logprobs`: score a few candidate continuations after one context.

    Backends are async so that API backends can keep many requests in flight from one thread; local
    backends run their compute in a worker thread and batch through :meth:`generate_batch`.
    """

    #: The spec string this backend was built from, e.g. ``openai:qwen2.5-7b-instruct``.
    spec: str
    #: How many prompts the run engine should hand to :meth:`generate_batch` at once.
    preferred_batch_size: int = 1
    #: Concurrency used when the user gives none (API backends: parallel requests).
    default_concurrency: int = 1

    @abc.abstractmethod
    async def generate(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Generation:
        """Return the assistant's reply to ``messages`` (system/user/assistant turns, oldest first).

        ``messages`` is rendered with the model's own chat template; the reply is the text of the
        next assistant turn only, with no template tokens. A conversation that ends with an assistant
        turn is a finished conversation (the template's generation prompt follows it), as OpenAI-style
        servers render it; guard models that moderate the last answer (Llama Guard 3, Qwen3Guard-Gen)
        rely on this. Only :meth:`candidate_logprobs` reads a final assistant turn as unfinished.
        Raises :class:`ModelError` on failure (``retryable`` set for transient causes); never returns an
        empty result silently for an error.
        """

    async def generate_batch(
        self, batch: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[Generation | ModelError]:
        """Reply to several conversations; one result per input, in order.

        A failure of one item is returned in its slot as a :class:`ModelError` rather than raised, so
        that one bad item does not cost the batch. The default runs :meth:`generate` concurrently.
        """

        async def one(messages: Sequence[ChatMessage]) -> Generation | ModelError:
            try:
                return await self.generate(messages, settings)
            except ModelError as exc:
                return exc

        import asyncio

        return list(await asyncio.gather(*(one(m) for m in batch)))

    @abc.abstractmethod
    async def candidate_logprobs(
        self, context: Sequence[ChatMessage], candidates: Sequence[str]
    ) -> list[float]:
        """Return ``log P(candidate | context)`` per candidate, in order (natural log, summed over tokens).

        The context is rendered exactly as for :meth:`generate` (chat template, generation prompt).
        If its last message has role ``assistant``, that message is an unfinished assistant turn: its
        text is placed after the generation prompt and the candidates continue it. Each candidate is
        the text that would follow, tokenized together with the context so that boundary tokens merge
        as the model would see them. Candidates must be non-empty and distinct. Raises
        :class:`LogprobsUnsupported` when the backend or server cannot compute these.

        A backend that can only give a bound or a prefix-conditional value returns that entry as a
        :class:`CandidateLogprob` with its flag set (see :func:`is_exact_logprob`).
        """

    async def preflight(self) -> None:  # noqa: B027 - optional hook
        """Check once, before a run asks anything, that requests can reach the model at all.

        Raises :class:`ModelError` with ``fatal=True`` and a message that names what is wrong (the
        address and the cause) when nothing could work; returns quietly otherwise. It does not judge
        what only a real request can tell (the key, the model name): those answers are fatal errors
        of the first request. The default checks nothing (local backends have nothing to reach).
        """

    async def candidate_logprobs_batch(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]:
        """:meth:`candidate_logprobs` for several ``(context, candidates)`` items; one result per item,
        in order, a failed item's :class:`ModelError` in its slot (invalid candidates included).

        The default runs :meth:`candidate_logprobs` concurrently; local backends override it to share
        forwards between items. Values are the same as item by item (up to float rounding).
        """

        async def one(context: Sequence[ChatMessage], candidates: Sequence[str]) -> list[float] | ModelError:
            try:
                return list(await self.candidate_logprobs(context, candidates))
            except ModelError as exc:
                return exc
            except ValueError as exc:
                return ModelError(str(exc))

        import asyncio

        return list(await asyncio.gather(*(one(c, k) for c, k in items)))

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections, threads or device memory."""

    def describe(self) -> dict[str, Any]:
        """Facts about the model for the run manifest (spec, resolved name, revision, dtype, ...)."""
        return {"spec": self.spec}


class BatchedBackend(ModelBackend):
    """A backend that works in batches (a local model, its replicas): one conversation or one item
    is a batch of one, and its error is raised instead of returned in its slot."""

    @abc.abstractmethod
    async def generate_batch(
        self, batch: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[Generation | ModelError]: ...

    @abc.abstractmethod
    async def candidate_logprobs_batch(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]: ...

    async def generate(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> Generation:
        (result,) = await self.generate_batch([messages], settings)
        if isinstance(result, ModelError):
            raise result
        return result

    async def candidate_logprobs(
        self, context: Sequence[ChatMessage], candidates: Sequence[str]
    ) -> list[float]:
        check_candidates(candidates)
        (result,) = await self.candidate_logprobs_batch([(context, candidates)])
        if isinstance(result, ModelError):
            raise result
        return result
