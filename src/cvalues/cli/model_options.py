"""Click options that name and configure a model, shared by every command that asks one.

``@model_options`` adds ``--model`` and the backend options; :func:`load_model_from_options` builds
the backend and turns a load failure (missing weights offline, unknown scheme, no key) into one line
that says what to do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the backends are imported when a model is loaded, not at start-up
    from cvalues.models.base import GenerationSettings, ModelBackend

MODEL_OPTION_NAMES = (
    "model_spec",
    "base_url",
    "api_key_env",
    "concurrency",
    "timeout",
    "max_answer_bytes",
    "max_retries",
    "batch_size",
    "device",
    "dtype",
    "replicas",
    "score_workers",
    "continue_final_message",
)
SETTINGS_OPTION_NAMES = ("temperature", "max_tokens", "system_prompt", "stop")
RAY_REPLICAS = (
    "--replicas and --executor ray do not combine: Ray runs its own pool of model copies "
    "(--concurrency actors, one per GPU or CPU slot); drop --replicas"
)


def model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--model SPEC`` and the backend options; they reach ``func`` under the names above."""
    options = [
        click.option(
            "--model",
            "model_spec",
            required=True,
            metavar="SPEC",
            help="openai:MODEL, hf:PATH_OR_ID or replay:FILE.",
        ),
        click.option(
            "--base-url", default=None, help="openai: server base URL, e.g. http://127.0.0.1:8000/v1."
        ),
        click.option("--api-key-env", default=None, help="openai: environment variable holding the API key."),
        click.option(
            "--concurrency", type=click.IntRange(min=1), default=None, help="Requests (or batches) in flight."
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="openai: seconds a request may take in all (connecting, sending, the whole answer).",
        ),
        click.option(
            "--max-answer-bytes",
            type=click.IntRange(min=1),
            default=None,
            help="openai: the largest answer read (default 4 MiB); a larger one is recorded as an error.",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(min=0),
            default=None,
            help="openai: retries of transient failures.",
        ),
        click.option("--batch-size", type=click.IntRange(min=1), default=None, help="hf: prompts per batch."),
        click.option("--device", default=None, help="hf: cpu, cuda, cuda:1, mps or auto."),
        click.option("--dtype", default=None, help="hf: auto, float32, float16 or bfloat16."),
        click.option(
            "--replicas",
            type=click.IntRange(min=1),
            default=None,
            help="hf: model copies in separate processes (one per GPU; on CPU the cores are split).",
        ),
        click.option(
            "--score-workers",
            type=click.IntRange(min=1),
            default=None,
            help="hf on CPU: log-prob batches scored side by side on this many threads of one process "
            "(the cores split between them; one copy of the weights).",
        ),
        click.option(
            "--continue-final-message",
            is_flag=True,
            help="openai: the server accepts vLLM/SGLang's continue_final_message (needed for logprob mode, "
            "whose candidates 回复1/回复2 share the prefix 回复).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_dir_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--run-dir`` (required), ``--retry-errors`` and ``--no-progress``: where a run is kept."""
    options = [
        click.option(
            "--run-dir",
            required=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Folder of this run (answers.sqlite, manifest.json, results); rerun the same command to "
            "resume, or to rescore without asking again.",
        ),
        click.option(
            "--retry-errors", is_flag=True, help="Ask again the items whose stored result is a failure."
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option(
            "--executor",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            expose_value=False,
            callback=_use_executor,
            help="Who asks the model: this process, or a Ray Data job over model-holding actors "
            "(hf: models; RAY_ADDRESS picks a cluster; --concurrency actors).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _use_executor(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Set the run engine's executor for this command only (reset when the command ends)."""
    from cvalues.runs.engine import EXECUTOR

    token = EXECUTOR.set(value)
    ctx.call_on_close(lambda: EXECUTOR.reset(token))
    return value


def settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the decoding settings (``--temperature``, ``--max-tokens``, ``--system-prompt``, ``--stop``)."""
    options = [
        click.option("--temperature", type=click.FloatRange(min=0), default=0.0, show_default=True),
        click.option("--max-tokens", type=click.IntRange(min=1), default=512, show_default=True),
        click.option("--system-prompt", default=None, help="A system message put before every prompt."),
        click.option("--stop", multiple=True, help="A stop string (repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from_options(
    temperature: float, max_tokens: int, system_prompt: str | None, stop: tuple[str, ...]
) -> GenerationSettings:
    from cvalues.models.base import GenerationSettings

    return GenerationSettings(
        temperature=temperature, max_tokens=max_tokens, stop=tuple(stop), system_prompt=system_prompt
    )


def pop_options(kwargs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Remove and return ``names`` from a command's keyword arguments."""
    return {name: kwargs.pop(name) for name in names if name in kwargs}


def load_model_from_options(model_spec: str, **options: Any) -> ModelBackend:
    """Build the backend; a failure a person can fix becomes a :class:`click.ClickException`."""
    from cvalues.models.registry import load_model
    from cvalues.runs.engine import EXECUTOR

    if EXECUTOR.get() == "ray" and not model_spec.startswith("hf:"):
        raise click.ClickException(
            f"--executor ray runs local models (hf:...), not {model_spec!r}; for a served model use "
            "openai: with a high --concurrency (docs/scale.md)"
        )
    if EXECUTOR.get() == "ray" and (options.get("replicas") or 1) > 1:
        raise click.ClickException(RAY_REPLICAS)
    options = {k: (None if v is False else v) for k, v in options.items()}  # unset flags: backend default
    try:
        if not model_spec.startswith("hf:") or EXECUTOR.get() == "ray":
            return load_model(model_spec, **options)
        # a local model is built when first asked: a rerun that asks nothing does not load it
        from cvalues.runs.deferred import load_deferred, remember

        deferred = load_deferred(model_spec, options, lambda: load_model(model_spec, **options))
        if deferred is not None:
            return deferred
        model = load_model(model_spec, **options)
        remember(model, model_spec, options)
        return model
    except (ValueError, OSError, ImportError) as exc:
        hint = "" if "hf download" in str(exc) else _load_hint(model_spec)
        raise click.ClickException(f"cannot load model {model_spec!r}: {exc}{hint}") from exc


def _load_hint(model_spec: str) -> str:
    """What to do when a model cannot be loaded: download the weights, or point at an endpoint."""
    if not model_spec.startswith("hf:"):
        return ""
    from cvalues.models.hub import download_hint, looks_like_path

    target = model_spec[3:]
    if looks_like_path(target):
        return ""
    return (
        f"\nTo evaluate this model, either download it once: {download_hint(target)}; "
        "or serve it with vLLM/SGLang/Ollama and pass --model openai:NAME --base-url http://HOST:PORT/v1."
    )


def with_model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``@model_options`` + ``@settings_options``, passing ``model_kwargs`` and ``settings`` instead."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        model_kwargs = pop_options(kwargs, MODEL_OPTION_NAMES)
        settings = settings_from_options(**pop_options(kwargs, SETTINGS_OPTION_NAMES))
        return func(model_kwargs=model_kwargs, settings=settings, **kwargs)

    return model_options(settings_options(wrapper))
