"""Build a model backend from a spec string such as ``openai:qwen2.5-7b-instruct``.

Why a registry: commands, configs and run manifests name models by one string; this is the one place
that maps the scheme before the first colon to a backend class and checks the options it is given.
Backends are imported lazily, so ``openai:`` works without torch installed.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from cvalues import heap
from cvalues.models.base import ModelBackend

#: scheme -> (module, class). The part after ``scheme:`` is the backend's first argument.
BACKENDS: dict[str, tuple[str, str]] = {
    "openai": ("cvalues.models.openai", "OpenAIBackend"),
    "hf": ("cvalues.models.hf", "HFBackend"),
    "replay": ("cvalues.models.replay", "ReplayBackend"),
}

#: Options that apply to some backends only; others ignore them instead of failing, so that one set of
#: run options (``--concurrency``, ``--batch-size``) works whatever the model.
SHARED_OPTIONS = frozenset({"batch_size", "concurrency"})

#: scheme -> (module, class) of its ``replicas=N`` form (N > 1): N copies of the model in processes of
#: their own (:mod:`cvalues.models.replicas`). ``replicas`` is an option of these schemes only.
REPLICATED: dict[str, tuple[str, str]] = {"hf": ("cvalues.models.replicas", "ReplicatedBackend")}


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``scheme:target``; raise ValueError naming the known schemes when it is not one."""
    scheme, sep, target = spec.partition(":")
    scheme = scheme.strip().lower()
    if not sep or scheme not in BACKENDS:
        known = ", ".join(f"{s}:..." for s in BACKENDS)
        raise ValueError(f"unknown model spec {spec!r}: it must start with one of {known}")
    if not target.strip():
        raise ValueError(f"model spec {spec!r} names no model after {scheme!r}:")
    return scheme, target.strip()


def backend_options(scheme: str) -> dict[str, Any]:
    """The options a scheme accepts, with their defaults (for help texts and docs)."""
    module, name = BACKENDS[scheme]
    cls = getattr(importlib.import_module(module), name)
    params = list(inspect.signature(cls.__init__).parameters.values())[2:]  # self, target
    accepted = {p.name: p.default for p in params if p.name != "spec"}
    if scheme in REPLICATED:
        accepted["replicas"] = None  # None or 1: the backend itself, in this process
    return accepted


def load_model(spec: str, **options: Any) -> ModelBackend:
    """Build the backend for ``spec`` (``openai:MODEL``, ``hf:PATH_OR_ID``, ``replay:FILE``).

    ``options`` are the backend's keyword options (``base_url``, ``api_key_env``, ``timeout``,
    ``max_retries`` for openai; ``device``, ``dtype``, ``batch_size``, ``replicas`` for hf;
    ``id_field``, ``response_field`` for replay; see ``docs/models.md``). Options set to None are
    dropped; ``batch_size``/``concurrency`` are ignored by backends without them; any other unknown
    option is a ValueError naming the accepted ones. ``replicas`` above 1 builds the scheme's
    replicated form (:data:`REPLICATED`).
    """
    scheme, target = parse_spec(spec)
    accepted = backend_options(scheme)
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(k for k in given if k not in accepted and k not in SHARED_OPTIONS)
    if unknown:
        raise ValueError(
            f"{scheme}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}"
        )
    kwargs = {k: v for k, v in given.items() if k in accepted}
    module, name = BACKENDS[scheme]
    if kwargs.get("replicas") is None or (type(kwargs["replicas"]) is int and kwargs["replicas"] == 1):
        kwargs.pop("replicas", None)  # one copy: the backend itself, in this process
    else:  # the replicated form checks the number
        module, name = REPLICATED[scheme]
    with heap.loading():
        cls = getattr(importlib.import_module(module), name)
        return cls(target, spec=f"{scheme}:{target}", **kwargs)
