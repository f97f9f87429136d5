"""Model backends behind one small interface (see :mod:`cvalues.models.base`).

Build one from a spec string with :func:`load_model` (``openai:MODEL``, ``hf:PATH_OR_ID``,
``replay:FILE``); the backend modules themselves are imported only when their scheme is used.
"""

from cvalues.models.base import (
    CandidateLogprob,
    ChatMessage,
    Generation,
    GenerationSettings,
    LogprobsUnsupported,
    ModelBackend,
    ModelError,
    ProviderBlocked,
    is_exact_logprob,
)
from cvalues.models.registry import load_model

__all__ = [
    "CandidateLogprob",
    "ChatMessage",
    "Generation",
    "GenerationSettings",
    "LogprobsUnsupported",
    "ModelBackend",
    "ModelError",
    "ProviderBlocked",
    "is_exact_logprob",
    "load_model",
]
