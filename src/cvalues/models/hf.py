"""``hf:PATH_OR_ID``: a local ``transformers`` causal LM, batched, greedy by default.

Why a backend of its own: local weights let us batch prompts in one ``model.generate`` call (left
padding) and compute exact candidate log-probabilities with one pass over the shared context, which no
chat API offers. Greedy batches run :func:`greedy_loop`, the same forwards as greedy ``generate``
without its per-step machinery, where :func:`greedy_loop_blocker` finds it the same computation.

Where the compute runs: on one dedicated worker thread kept for the model's life (a single-thread
executor), one batch at a time, so the event loop stays free. Not ``asyncio.to_thread``: the default
pool hands consecutive batches to different threads, each new calling thread brings its own OpenMP
team, and a CPU forward measured 1.5-2x slower that way (issue 12). torch's intra-op threads are set
once, on that thread (``threads``, default torch's own choice: the physical cores). A second thread
renders and tokenizes: with two batches in flight (:attr:`HFBackend.default_concurrency`), the next
batch is tokenized while the model runs the current one (the Rust tokenizer releases the GIL), and
tokenizing long contexts is a fifth of the scoring time of a small model. The same work without
threads (:meth:`HFBackend.generate_batch_sync`, :meth:`HFBackend.score_batch_sync`) is what each
process of ``replicas=N`` runs on its main thread (:mod:`cvalues.models.replicas`).

Log-probabilities of candidates (:meth:`HFBackend.candidate_logprobs_batch`): the candidates' common
leading tokens (``回复`` of ``回复1``/``回复2``) are appended to the context, so one forward per item
gives the log-probability of that prefix and of every candidate's next token; when no candidate has
more than one token after the prefix (the usual case: labels, letters) that forward decides the item,
and the items of a batch share it (right padding, so the plain causal mask keeps every row exact; the
engine hands over items sorted by length, so little is padding). Longer candidates continue from the
cached context, one step per differing token.

Prompt rendering (shared by :meth:`HFBackend.generate` and :meth:`HFBackend.candidate_logprobs`):

* with a chat template: ``tokenizer.apply_chat_template(messages, add_generation_prompt=True)``,
  tokenized without extra special tokens (the template carries its own BOS). An unfinished assistant
  turn (last message from ``assistant``) is rendered as the template of the earlier messages with the
  generation prompt, followed by the assistant text verbatim. :meth:`HFBackend.generate` renders an
  assistant-final conversation as a finished one instead (the whole conversation, then the generation
  prompt), as an OpenAI-compatible server does: guard models such as Llama Guard 3 and Qwen3Guard-Gen
  moderate the last assistant turn through their own templates this way.
* without a template, the plain fallback :data:`PLAIN_ROLE_NAMES`: each turn is ``"{Role}: {text}\\n\\n"``,
  then ``"Assistant:"`` (an unfinished assistant turn continues as ``"Assistant: {text}"``), tokenized
  with the tokenizer's usual special tokens (BOS where it has one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvalues import heap
from cvalues.models import read_rows
from cvalues.models.base import (
    BatchedBackend,
    ChatMessage,
    Generation,
    GenerationSettings,
    ModelError,
    check_candidates,
    truncate_at_stop,
)

log = logging.getLogger(__name__)

#: Role names used by the plain fallback prompt when a tokenizer has no chat template.
PLAIN_ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}

_DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


#: Decoding is exactly what GenerationSettings say: these values override the sampling and penalty
#: defaults a checkpoint's ``generation_config.json`` may carry (e.g. ``repetition_penalty: 1.05``,
#: ``top_k: 20``), which transformers would otherwise apply. Only its EOS ids are used.
NEUTRAL_DECODING: dict[str, Any] = {
    "num_beams": 1,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "min_new_tokens": 0,
    # sampling filters: transformers' own defaults (no filtering beyond top_p); OpenAI has no top_k
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 50,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
}
#: In sampling mode top_k is turned off so that temperature/top_p mean what they mean to an API.
SAMPLING_ONLY: dict[str, Any] = {"top_k": 0, "min_p": 0.0}


def render_plain(messages: Sequence[ChatMessage], *, continue_final: bool = True) -> str:
    """The documented fallback prompt for tokenizers without a chat template."""
    parts: list[str] = []
    unfinished = continue_final and bool(messages) and messages[-1].role == "assistant"
    finished = messages[:-1] if unfinished else messages
    for m in finished:
        parts.append(f"{PLAIN_ROLE_NAMES[m.role]}: {m.content}\n\n")
    parts.append("Assistant:")
    if unfinished:
        parts.append(" " + messages[-1].content)
    return "".join(parts)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``mps`` when available, else ``cpu``; others unchanged."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> Any:
    """``auto`` -> bfloat16 on CUDA with bf16 support, float16 on other GPUs, float32 on CPU."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.startswith("mps"):
            return torch.float16
        return torch.float32
    name = _DTYPE_NAMES.get(str(dtype).lower())
    if name is None:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, float16 or bfloat16")
    return getattr(torch, name)


def check_model_folder(path: str) -> None:
    """Raise the load error for a local folder that does not exist, before anything is imported.

    Also puts the Hugging Face libraries offline when cvalues is, before transformers reads the hub's
    switch. Called by :class:`HFBackend` and, without torch, by the replicas' parent process."""
    from cvalues.models.hub import looks_like_path, sync_offline_env

    sync_offline_env()
    if looks_like_path(path) and not Path(path).expanduser().is_dir():
        raise ValueError(f"cannot load hf model {path!r}: local model folder {path} does not exist")


def _dtype_keyword() -> str:
    """``from_pretrained`` takes ``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _make_stop_criteria(tokenizer: Any, stops: Sequence[str], prompt_len: int, lock: threading.Lock) -> Any:
    """A stopping criterion that ends each row once its generated text contains a stop string.

    Only a tail window of tokens is decoded per step: a stop string of ``n`` UTF-8 bytes spans at most
    ``n`` tokens, and a stop that ended earlier would already have stopped the row.
    """
    import torch
    from transformers import StoppingCriteria

    window = max(len(s.encode("utf-8")) for s in stops) + 2

    class StopOnStrings(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            tail = input_ids[:, prompt_len:][:, -window:]
            with lock:
                texts = tokenizer.batch_decode(tail, skip_special_tokens=True)
            return torch.tensor([any(s in t for s in stops) for t in texts], device=input_ids.device)

    return StopOnStrings()


#: ``generation_config`` fields that cannot change greedy decoding by :meth:`HFBackend._generate_ids`:
#: it passes every one of them to ``generate`` itself, or they act only when sampling.
_GREEDY_NEUTRAL_FIELDS = frozenset(
    {"transformers_version", "_from_model_config", "pad_token_id", "bos_token_id", "eos_token_id"}
    | {"max_length", "max_new_tokens", "do_sample", *NEUTRAL_DECODING, *SAMPLING_ONLY}
)
#: The generation methods :func:`greedy_loop` follows (transformers 5.x): a model class that overrides
#: any of them decodes its own way and keeps ``generate``.
_GENERATION_STEPS = (
    "generate",
    "_sample",
    "_prefill",
    "prepare_inputs_for_generation",
    "_update_model_kwargs_for_generation",
    "_prepare_cache_for_generation",
)


#: What ``GenerationConfig.to_diff_dict`` leaves out (bookkeeping, not settings).
_UNSAVED_GENERATION_FIELDS = frozenset({"_commit_hash", "_original_object_hash", "_mask_length"})


@functools.cache
def _generation_defaults() -> dict[str, Any]:
    """A default ``GenerationConfig``'s fields: a checkpoint's config differs from them where it sets
    something (as ``to_diff_dict`` tells, without its deep copy at every batch)."""
    from transformers import GenerationConfig

    return dict(vars(GenerationConfig()))


def greedy_loop_blocker(model: Any) -> str | None:
    """Why :func:`greedy_loop` cannot stand in for greedy ``model.generate`` on ``model`` (None: it can).

    The loop reproduces transformers 5.x greedy search on a decoder-only model on CPU with the default
    dynamic cache and no logits processor: anything else (an older transformers, a GPU, where it
    was neither tested nor measured, a model with its own
    generation code or remote code, a checkpoint whose ``generation_config`` asks for
    ``suppress_tokens``, ``min_length``, a static cache ...) keeps ``generate``."""
    import transformers
    from transformers import GenerationMixin

    if int(transformers.__version__.split(".")[0]) < 5:
        return f"transformers {transformers.__version__} (the loop follows 5.x)"
    device = getattr(model, "device", None)
    if getattr(device, "type", "cpu") != "cpu":  # on MPS generate checks for the end a step late
        return f"{device} (the loop is tested and measured on CPU only)"
    cls = type(model)
    for name in _GENERATION_STEPS:
        if getattr(cls, name, None) is not getattr(GenerationMixin, name, None):
            return f"{cls.__name__} has its own {name}"
    if getattr(model.config, "is_encoder_decoder", False):
        return "an encoder-decoder model"
    supports_cache = getattr(model, "_supports_default_dynamic_cache", None)
    if supports_cache is None or not supports_cache():
        return "the model does not use the default dynamic cache"
    remote = getattr(model, "is_remote_code", None)
    if remote is None or remote():
        return "remote code"
    params = inspect.signature(model.forward).parameters
    missing = {"input_ids", "attention_mask", "position_ids", "cache", "use_cache", "logits_to_keep"} - set(
        params
    )
    if missing:
        return f"forward takes no {', '.join(sorted(missing))}"
    defaults = _generation_defaults()
    others = sorted(
        name
        for name, value in vars(model.generation_config).items()
        if name not in _GREEDY_NEUTRAL_FIELDS
        and name not in _UNSAVED_GENERATION_FIELDS
        and (name not in defaults or value != defaults[name])
    )
    if others:
        return f"generation_config sets {', '.join(others)}"
    return None


def greedy_loop(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    *,
    max_new_tokens: int,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
    stopping: Sequence[Any] = (),
) -> Any:
    """``model.generate(input_ids, attention_mask, do_sample=False, ...)`` for a model that
    :func:`greedy_loop_blocker` clears, token for token: the same forwards (the prompt into a fresh
    ``DynamicCache``, then one token per step, positions counted from the attention mask, which is
    dropped when it has no padding, logits of the last position only), the same argmax over float32
    logits, the pad token for rows that have ended, and the same end (every row ended by an EOS id or
    a stopping criterion, or ``max_new_tokens``). What it leaves out is ``generate``'s per-step
    bookkeeping (preparing inputs, processor and criteria lists, output objects): a fifth of a small
    model's step on CPU, where generation is bound by Python. Where the model's attention mask for a
    step is checked to be the padding mask itself (:func:`_same_step_mask`), it is passed ready-made
    instead of being rebuilt at every step. Call it under ``torch.inference_mode``."""

    import torch
    from transformers import DynamicCache

    device = input_ids.device
    position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    mask = None if bool((attention_mask == 1).all()) else attention_mask
    cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    eos = torch.tensor(list(eos_token_ids), device=device) if eos_token_ids else None
    unfinished = torch.ones(input_ids.shape[0], dtype=torch.long, device=device)
    step_kwargs = {"cache": cache, "use_cache": True, "logits_to_keep": 1, "return_dict": True}
    logits = model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, **step_kwargs).logits
    positions = position_ids[:, -1:]
    # None: not yet checked (see _same_step_mask); False: the model builds its own 2D-derived masks
    own_masks: bool | None = None if _step_masks_possible(model) else False
    decoding = getattr(model, "_optimize_model_for_decode", contextlib.nullcontext)
    with decoding():
        for step in range(max_new_tokens):
            next_tokens = torch.argmax(
                logits[:, -1].to(copy=True, dtype=torch.float32, device=device), dim=-1
            )
            if eos is not None:
                next_tokens = next_tokens * unfinished + pad_token_id * (1 - unfinished)
                done = torch.isin(next_tokens, eos)
            else:
                done = torch.zeros_like(unfinished, dtype=torch.bool)
            input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
            for criterion in stopping:
                done = done | criterion(input_ids, None)
            unfinished = unfinished & ~done
            if step == max_new_tokens - 1 or not bool(unfinished.any()):
                break
            positions = positions + 1
            step_mask = None
            if mask is not None:
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
                step_mask = mask
                if own_masks is not False:
                    ready = mask[:, None, None, :].bool()
                    if own_masks is None:  # the first step: the model's own mask must be this one
                        own_masks = _same_step_mask(model, ready, mask, cache, positions)
                    if own_masks:
                        step_mask = ready
            step_ids = next_tokens[:, None].contiguous()
            logits = model(
                input_ids=step_ids, attention_mask=step_mask, position_ids=positions, **step_kwargs
            ).logits
    return input_ids


#: Model types whose decoder builds one mask, with ``masking_utils.create_causal_mask``, for layers that
#: all attend to the whole context: a decoding step can be given that mask ready-made.
_ONE_MASK_MODEL_TYPES = frozenset({"llama", "qwen2", "qwen3"})


def _step_masks_possible(model: Any) -> bool:
    """Whether a decoding step of ``model`` may take its attention mask ready-made (4D, see
    :func:`_same_step_mask`): sdpa attention, a model type of :data:`_ONE_MASK_MODEL_TYPES`, no
    sliding-window layers."""
    config = model.config
    layer_types = getattr(config, "layer_types", None) or ["full_attention"]
    return (
        getattr(config, "model_type", None) in _ONE_MASK_MODEL_TYPES
        and getattr(config, "_attn_implementation", None) in ("sdpa", read_rows.NAME)
        and all(t == "full_attention" for t in layer_types)
    )


def _same_step_mask(model: Any, ready: Any, mask: Any, cache: Any, positions: Any) -> bool:
    """Whether ``ready`` (the padding mask as ``(batch, 1, 1, length)`` booleans) is the very mask the
    model would build from the 2D ``mask`` for a one-token step, so that passing it changes nothing.

    Building that mask (``create_causal_mask``) is a tenth of a small model's step on CPU; a 4D mask is
    used as given. Checked on each batch's first step; the later steps only add a column of ones."""
    import torch
    from transformers.masking_utils import create_causal_mask

    try:
        theirs = create_causal_mask(
            config=model.config,
            inputs_embeds=torch.empty((mask.shape[0], 1, 0), dtype=model.dtype, device=mask.device),
            attention_mask=mask,
            cache=cache,
            position_ids=positions,
        )
    except (TypeError, ValueError, AttributeError, RuntimeError) as exc:  # another transformers' signature
        log.debug("the step mask cannot be compared (%s); the model builds its own", exc)
        return False
    return (
        isinstance(theirs, torch.Tensor)
        and theirs.shape == ready.shape
        and theirs.dtype == ready.dtype
        and bool(torch.equal(theirs, ready))
    )


@dataclass
class _ScorePlan:
    """One item to score: its context ids, each candidate's ids, and how many leading candidate
    tokens all candidates share (they join the context's forward)."""

    index: int
    ctx: list[int]
    cands: list[list[int]]
    common: int = field(init=False)

    def __post_init__(self) -> None:
        first = self.cands[0]
        n = min(len(c) for c in self.cands)
        common = 0
        while common < n and all(c[common] == first[common] for c in self.cands):
            common += 1
        self.common = common

    @property
    def row(self) -> list[int]:
        return self.ctx + self.cands[0][: self.common]

    @property
    def read(self) -> range:
        """The positions of :attr:`row` whose logits score the candidates."""
        return range(len(self.row) - self.common - 1, len(self.row))

    @property
    def one_forward(self) -> bool:
        """Whether the forward over :attr:`row` decides every candidate."""
        return all(len(c) - self.common <= 1 for c in self.cands)

    def scores(self, logp: Any) -> list[float]:
        """Scores from the log-softmax rows predicting the common tokens and then the next token."""
        prefix = sum(float(logp[t, tok]) for t, tok in enumerate(self.cands[0][: self.common]))
        return [
            prefix + (float(logp[self.common, c[self.common]]) if len(c) > self.common else 0.0)
            for c in self.cands
        ]


@functools.cache
def _plain_encode_plus() -> Any:
    """transformers' own ``_encode_plus`` of Rust-backed tokenizers (None where it has another name)."""
    try:
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # an older transformers: PreTrainedTokenizerFast
        return None
    return getattr(TokenizersBackend, "_encode_plus", None)


def _filled(results: Sequence[Any]) -> list[Any]:
    """The results of a batch whose every slot has been filled (by an answer or its ModelError)."""
    return [r for r in results if r is not None]


class HFBackend(BatchedBackend):
    """A ``transformers`` causal LM with its tokenizer, on CPU or GPU.

    Options: ``device`` (``auto``/``cpu``/``cuda``/``cuda:1``...), ``dtype`` (``auto``/``float32``/
    ``float16``/``bfloat16``), ``batch_size`` (prompts per ``generate`` call, default 8),
    ``revision`` (hub revision), ``trust_remote_code`` (default False), ``threads`` (torch intra-op
    threads on CPU; default: torch's choice, the physical cores), ``score_workers`` (CPU log-prob
    scoring on this many worker threads, side by side, the ``threads`` split between them; default 1).
    """

    #: Batches in flight: one on the model, the next one being rendered and tokenized.
    default_concurrency = 2

    def __init__(
        self,
        path: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        revision: str | None = None,
        trust_remote_code: bool = False,
        threads: int | None = None,
        score_workers: int = 1,
        spec: str | None = None,
    ) -> None:
        from cvalues.models.hub import download_hint, looks_like_path, offline_requested

        check_model_folder(path)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if type(score_workers) is not int or score_workers < 1:
            raise ValueError(f"score_workers must be a whole number >= 1, got {score_workers!r}")
        self.threads = int(threads or torch.get_num_threads())
        #: What this backend was built with, so that another process can build the same (Ray actors).
        self.load_options: dict[str, Any] = {
            "device": device,
            "dtype": dtype,
            "batch_size": batch_size,
            "revision": revision,
            "trust_remote_code": trust_remote_code,
            "threads": threads,
            "score_workers": score_workers,
        }
        self.spec = spec or f"hf:{path}"
        self.path = path
        self.preferred_batch_size = batch_size
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="cvalues-hf",
            initializer=torch.set_num_threads,
            initargs=(self.threads,),
        )
        self._prep_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvalues-hf-prep")
        #: Log-prob scoring on CPU with ``score_workers`` > 1: that many workers, each with its share of
        #: the threads. A forward spends its time inside torch operators, which release the GIL, so
        #: batches of a small model score side by side (two single-thread workers: 1.9x one, measured;
        #: benchmarks/RESULTS.md), with one copy of the weights. Generation, bound by Python, stays
        #: on the one worker above; on a GPU every batch runs there too.
        self.score_workers = score_workers if self.device == "cpu" else 1
        self._score_executor: ThreadPoolExecutor | None = None
        if self.score_workers > 1:
            self._score_executor = ThreadPoolExecutor(
                max_workers=self.score_workers,
                thread_name_prefix="cvalues-hf-score",
                initializer=torch.set_num_threads,
                initargs=(max(1, self.threads // self.score_workers),),
            )
            #: one batch on each scoring worker and the next one being tokenized
            self.default_concurrency = self.score_workers + 1
        #: The tokenizer is used from both threads (encode on one, pad/decode on the other); the Rust
        #: tokenizer refuses overlapping calls when one of them changes its padding/truncation state.
        self._tokenizer_lock = threading.Lock()
        load_kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if revision:
            load_kwargs["revision"] = revision
        model_kwargs = {_dtype_keyword(): self.dtype}
        if self.device != "cpu":  # load the weights straight onto the device, not via host memory
            model_kwargs["device_map"] = self.device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **load_kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(path, **model_kwargs, **load_kwargs)
        except (OSError, ValueError) as exc:  # bad input, not a failed request: a ValueError
            if offline_requested() and not looks_like_path(path):
                raise ValueError(
                    f"hf model {path!r} is not in the local Hugging Face cache and cvalues is offline; "
                    f"fetch it once with {download_hint(path)}"
                ) from exc
            raise ValueError(f"cannot load hf model {path!r}: {exc}") from exc
        self.model.to(self.device).eval()
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            if tok.eos_token is None:
                raise ValueError(f"hf model {path!r}: the tokenizer has neither a pad nor an eos token")
            tok.pad_token = tok.eos_token
        self.chat_template: str | None = self._template_text()
        self.eos_token_ids = self._eos_ids()
        params = inspect.signature(self.model.forward).parameters
        # transformers renamed ``past_key_values`` to ``cache`` (5.x); accept both generations.
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_last_logits = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        #: The last layer's attention, where scoring computes only the rows it reads (None: every row).
        self._read_layer = read_rows.install(self.model)

    # -- rendering -------------------------------------------------------------------------------

    def _template_text(self) -> str | None:
        tmpl = getattr(self.tokenizer, "chat_template", None)
        if isinstance(tmpl, dict):  # named templates: the default one renders chats
            tmpl = tmpl.get("default")
        return tmpl or None

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        for value in (gen_eos, self.tokenizer.eos_token_id):
            if value is None:
                continue
            for i in value if isinstance(value, list | tuple) else [value]:
                if i not in ids:
                    ids.append(int(i))
        return ids

    def render(self, messages: Sequence[ChatMessage], *, continue_final: bool = True) -> str:
        """The prompt text for ``messages``, ending where the model's reply begins.

        ``continue_final=False`` renders an assistant-final conversation as finished (generate)."""
        if not self.chat_template:
            return render_plain(messages, continue_final=continue_final)
        unfinished = continue_final and bool(messages) and messages[-1].role == "assistant"
        turns = messages[:-1] if unfinished else messages
        text = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in turns],
            tokenize=False,
            add_generation_prompt=True,
        )
        if unfinished:
            text += messages[-1].content
        return text

    def encode(self, text: str) -> list[int]:
        """Token ids of a rendered prompt (special tokens added only for the plain fallback)."""
        return self._encode_many([text])[0]

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        add_special = self.chat_template is None
        with self._tokenizer_lock:
            fast = self._rust_encoder()
            if fast is not None:
                return [encoding.ids for encoding in fast(texts, add_special_tokens=add_special)]
            encoded = self.tokenizer(texts, add_special_tokens=add_special)["input_ids"]
        return [list(ids) for ids in encoded]

    def _rust_encoder(self) -> Callable[..., Any] | None:
        """The Rust tokenizer's ``encode_batch_fast`` when it gives exactly what ``tokenizer(texts)``
        would, else None (call with the lock held).

        The same pipeline without character offsets, which ids never need: 2-2.5x faster on long
        prompts (measured on the benchmark's contexts). Only for transformers' own Rust-backed class
        (a subclass may change how texts are encoded) and only while the Rust tokenizer pads and
        truncates nothing and splits special tokens as the Python side says; after a padded call (the
        generation path) the next ordinary call goes through transformers, which resets that state.
        """
        backend = getattr(self.tokenizer, "_tokenizer", None)
        fast = getattr(backend, "encode_batch_fast", None)
        plain = _plain_encode_plus()
        if fast is None or plain is None or getattr(type(self.tokenizer), "_encode_plus", None) is not plain:
            return None
        try:
            clean = (
                backend.padding is None
                and backend.truncation is None
                and backend.encode_special_tokens
                == bool(getattr(self.tokenizer, "split_special_tokens", False))
            )
        except AttributeError:  # another tokenizers release
            return None
        return fast if clean else None

    # -- generation ------------------------------------------------------------------------------

    async def generate_batch(
        self, batch: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[Generation | ModelError]:
        if not batch:
            return []
        results, prompts = await self._on_prep(self._prepare_prompts, batch)
        if prompts:
            await self._on_worker(self._generate_prompts, prompts, settings, results)
        return _filled(results)

    def generate_batch_sync(
        self, batch: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[Generation | ModelError]:
        """:meth:`generate_batch` on the calling thread: render, tokenize, generate, in that order.

        For a process whose main thread does nothing else (a replica, :mod:`cvalues.models.replicas`):
        there a forward is fastest, and no event loop needs to stay free."""
        if not batch:
            return []
        results, prompts = self._prepare_prompts(batch)
        if prompts:
            self._generate_prompts(prompts, settings, results)
        return _filled(results)

    async def _on_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the model's own worker thread (see the module docstring)."""
        loop = asyncio.get_running_loop()
        # One worker thread: calls run one at a time, in order, without a lock of their own.
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def _on_prep(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (rendering, tokenizing) on the preparing thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._prep_executor, functools.partial(fn, *args))

    def _prepare_prompts(
        self, batch: Sequence[Sequence[ChatMessage]]
    ) -> tuple[list[Generation | ModelError | None], list[tuple[int, list[int]]]]:
        """(results so far: a ModelError for each prompt that cannot be asked, else None; the
        (index, token ids) of the others)."""
        results: list[Generation | ModelError | None] = [None] * len(batch)
        texts: list[tuple[int, str]] = []
        for i, messages in enumerate(batch):
            try:
                texts.append((i, self.render(messages, continue_final=False)))
            except Exception as exc:  # a template may reject a message order (e.g. two user turns)
                results[i] = ModelError(f"cannot render the chat template: {exc}")
        prompts: list[tuple[int, list[int]]] = []
        limit = getattr(self.model.config, "max_position_embeddings", None)
        for (i, _), ids in zip(texts, self._encode_many([t for _, t in texts]), strict=True):
            if limit and len(ids) > limit:
                results[i] = ModelError(
                    f"prompt has {len(ids)} tokens, more than the model's {limit} positions"
                )
            else:
                prompts.append((i, ids))
        return results, prompts

    def _generate_prompts(
        self,
        prompts: list[tuple[int, list[int]]],
        settings: GenerationSettings,
        results: list[Generation | ModelError | None],
    ) -> None:
        """Fill ``results`` at each prompt's index (see :meth:`_prepare_prompts`)."""
        generated = self._split_on_oom(
            lambda ps: self._generate_ids(ps, settings),
            [p for _, p in prompts],
            lambda p: f"one prompt of {len(p)} tokens",
            "generation",
        )
        for (i, _), gen in zip(prompts, generated, strict=True):
            results[i] = gen

    def _generate_ids(self, prompts: list[list[int]], settings: GenerationSettings) -> list[Generation]:
        import torch

        tok = self.tokenizer
        with self._tokenizer_lock:
            padded = tok.pad({"input_ids": prompts}, padding=True, return_tensors="pt")
        input_ids = padded["input_ids"].to(self.device)
        attention_mask = padded["attention_mask"].to(self.device)
        prompt_len = input_ids.shape[1]
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_tokens,
            "pad_token_id": tok.pad_token_id,
            "eos_token_id": self.eos_token_ids or None,
        }
        kwargs.update(NEUTRAL_DECODING)
        if settings.temperature > 0:
            kwargs.update(SAMPLING_ONLY)
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
        else:
            kwargs.update(do_sample=False)
        stops = [s for s in settings.stop if s]
        stopping = [_make_stop_criteria(tok, stops, prompt_len, self._tokenizer_lock)] if stops else []
        out = self._decode(input_ids, attention_mask, kwargs, stopping)
        results = []
        eos = set(self.eos_token_ids)
        for row, mask in zip(out[:, prompt_len:].tolist(), attention_mask.sum(dim=1).tolist(), strict=True):
            end = next((k for k, t in enumerate(row) if t in eos), None)
            if end is not None:
                row, finish = row[:end], "stop"
            else:
                while row and row[-1] == tok.pad_token_id:  # rows ended by a stop string are padded
                    row.pop()
                finish = "length"
            with self._tokenizer_lock:
                decoded = tok.decode(row, skip_special_tokens=True)
            text, stopped = truncate_at_stop(decoded, stops)
            if stopped:
                finish = "stop"
            results.append(
                Generation(
                    text=text, finish_reason=finish, prompt_tokens=int(mask), completion_tokens=len(row)
                )
            )
        return results

    def _decode(
        self, input_ids: Any, attention_mask: Any, kwargs: dict[str, Any], stopping: list[Any]
    ) -> Any:
        """The prompts followed by their generated ids (``model.generate``'s output), one batch.

        Greedy decoding that :func:`greedy_loop_blocker` clears runs :func:`greedy_loop`, the same
        steps without ``generate``'s per-step machinery; everything else runs ``model.generate``."""
        import torch

        with torch.inference_mode():
            greedy = not kwargs["do_sample"] and kwargs["max_new_tokens"] >= 1
            if greedy and greedy_loop_blocker(self.model) is None:
                return greedy_loop(
                    self.model,
                    input_ids,
                    attention_mask,
                    max_new_tokens=kwargs["max_new_tokens"],
                    eos_token_ids=kwargs["eos_token_id"] or [],
                    pad_token_id=kwargs["pad_token_id"],
                    stopping=stopping,
                )
            if stopping:
                kwargs = {**kwargs, "stopping_criteria": stopping}
            return self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    # -- log-probabilities -----------------------------------------------------------------------

    async def candidate_logprobs_batch(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]:
        """Score several items in as few forwards as their candidates allow (module docstring)."""
        return await self._score_batch(items)

    def score_batch_sync(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]:
        """:meth:`candidate_logprobs_batch` on the calling thread (see :meth:`generate_batch_sync`)."""
        if not items:
            return []
        results, plans = self._plan_scoring(items)
        if plans:
            self._score_plans(plans, results)
        return _filled(results)

    def candidate_token_ids(
        self, context_text: str, candidates: Sequence[str]
    ) -> tuple[list[int], list[list[int]]]:
        """Context ids and each candidate's continuation ids.

        Each candidate is tokenized together with the context; when the context's tokens are a prefix
        of the joint tokens, the rest are the candidate's tokens. When the boundary merges (the last
        context token fuses with the candidate's first characters), the candidate is tokenized on its
        own and appended to the context's tokens instead, as lm-evaluation-harness does: the result is
        still the exact probability of the candidate's text after the unchanged context, through that
        (possibly non-canonical) tokenization.
        """
        (result,) = self._token_ids_many([(context_text, candidates)])
        if isinstance(result, ModelError):
            raise result
        return result

    def _token_ids_many(
        self, items: Sequence[tuple[str, Sequence[str]]]
    ) -> list[tuple[list[int], list[list[int]]] | ModelError]:
        """:meth:`candidate_token_ids` for several items, the texts encoded in one tokenizer call."""
        texts: list[str] = []
        for context_text, candidates in items:
            texts.append(context_text)
            texts.extend(context_text + cand for cand in candidates)
        encoded = self._encode_many(texts)
        results: list[tuple[list[int], list[list[int]]] | ModelError] = []
        at = 0
        for _, candidates in items:
            ctx = list(encoded[at])
            joints = encoded[at + 1 : at + 1 + len(candidates)]
            at += 1 + len(candidates)
            if not ctx:
                results.append(
                    ModelError("the rendered context is empty; cannot score candidates without a context")
                )
                continue
            out: list[list[int]] = []
            for cand, joint in zip(candidates, joints, strict=True):
                if len(joint) > len(ctx) and joint[: len(ctx)] == ctx:
                    out.append(list(joint[len(ctx) :]))
                    continue
                log.debug("token boundary merges between the context and candidate %r", cand)
                with self._tokenizer_lock:
                    alone = list(self.tokenizer(cand, add_special_tokens=False)["input_ids"])
                if not alone:
                    out = []
                    results.append(ModelError(f"candidate {cand!r} tokenizes to nothing"))
                    break
                out.append(alone)
            else:
                results.append((ctx, out))
        return results

    async def _score_batch(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]:
        """Plans made on the preparing thread, forwards run on the model's worker."""
        if not items:
            return []
        results, plans = await self._on_prep(self._plan_scoring, items)
        if plans:
            if self._score_executor is None:
                await self._on_worker(self._score_plans, plans, results)
            else:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(
                    self._score_executor, functools.partial(self._score_plans, plans, results)
                )
        return _filled(results)

    def _plan_scoring(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> tuple[list[list[float] | ModelError | None], list[_ScorePlan]]:
        """(a ModelError for each item that cannot be scored, else None; the plans of the others)."""
        results: list[list[float] | ModelError | None] = [None] * len(items)
        plans: list[_ScorePlan] = []
        rendered: list[tuple[int, str, Sequence[str]]] = []
        for i, (context, candidates) in enumerate(items):
            try:
                check_candidates(candidates)
            except ValueError as exc:
                results[i] = ModelError(str(exc))
                continue
            try:
                rendered.append((i, self.render(context), candidates))
            except Exception as exc:  # a template may reject a message order
                results[i] = ModelError(f"cannot render the chat template: {exc}")
        token_ids = self._token_ids_many([(text, cands) for _, text, cands in rendered])
        for (i, _, _), ids in zip(rendered, token_ids, strict=True):
            if isinstance(ids, ModelError):
                results[i] = ids
            else:
                plans.append(_ScorePlan(i, *ids))
        return results, plans

    def _score_plans(self, plans: list[_ScorePlan], results: list[list[float] | ModelError | None]) -> None:
        """Fill ``results`` at each plan's index: as few forwards as the candidates allow."""

        def tokens(plan: _ScorePlan) -> str:
            return f"one item of {len(plan.row)} tokens"

        short = [p for p in plans if p.one_forward]
        for plan, value in zip(short, self._split_on_oom(self._score_one_forward, short, tokens, "scoring"),
                               strict=True):  # fmt: skip
            results[plan.index] = value
        for plan in (p for p in plans if not p.one_forward):
            (results[plan.index],) = self._split_on_oom(
                lambda ps: [self._score_with_cache(ps[0])], [plan], tokens, "scoring"
            )

    def _score_one_forward(self, plans: list[_ScorePlan]) -> list[list[float]]:
        """Items whose candidates differ in at most their last token: one (batched) forward for all.

        Rows are right-padded: a real token never attends to the pads after it, so with the plain
        causal mask (no attention mask, the fast attention path) each row's logits are those of its
        own unpadded forward. Only the positions some row needs (its last ``common + 1``) become logits.
        """
        import torch

        rows = [p.row for p in plans]
        width = max(len(r) for r in rows)
        wanted = sorted({t for p in plans for t in p.read})
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=self.device)
        kwargs: dict[str, Any] = {}
        if self._keep_last_logits:
            kwargs["logits_to_keep"] = torch.tensor(wanted, device=self.device)
            column = {t: k for k, t in enumerate(wanted)}
        else:
            column = {t: t for t in wanted}
        with torch.inference_mode(), self._reading([p.read for p in plans]):
            logits = self.model(input_ids=ids, use_cache=False, **kwargs).logits
            out = []
            for j, p in enumerate(plans):
                cols = [column[t] for t in p.read]
                logp = torch.log_softmax(logits[j, cols].float(), dim=-1).cpu()
                out.append(p.scores(logp))
        return out

    def _score_with_cache(self, plan: _ScorePlan) -> list[float]:
        """One item with longer candidates: the context and common prefix computed once, then every
        candidate's remaining tokens as one batch continuing from its cache."""
        import copy

        import torch

        row = plan.row
        kwargs = {"logits_to_keep": plan.common + 1} if self._keep_last_logits else {}
        with torch.inference_mode():
            with self._reading([plan.read]):
                out = self.model(input_ids=torch.tensor([row], device=self.device), use_cache=True, **kwargs)
            first = torch.log_softmax(out.logits[0, -(plan.common + 1) :].float(), dim=-1).cpu()
            scores = plan.scores(first)
            longer = [j for j, c in enumerate(plan.cands) if len(c) - plan.common > 1]
            cache = out["cache"] if "cache" in out else out.past_key_values
            rest = [plan.cands[j][plan.common : -1] for j in longer]  # inputs predicting tokens 2..n
            if hasattr(cache, "batch_repeat_interleave"):
                cache.batch_repeat_interleave(len(rest))
                logits = self._continue(cache, rest, len(row))
            else:  # exotic cache types: one copy per candidate, still without recomputing the context
                logits = [self._continue(copy.deepcopy(cache), [r], len(row))[0] for r in rest]
            for k, j in enumerate(longer):
                target_ids = plan.cands[j][plan.common + 1 :]
                lp = torch.log_softmax(logits[k][: len(target_ids)].float(), dim=-1)
                target = torch.tensor(target_ids, device=lp.device)
                scores[j] += float(lp.gather(1, target[:, None]).sum())
        return scores

    def _reading(self, positions: Sequence[Sequence[int]]) -> contextlib.AbstractContextManager[None]:
        """A forward in this block computes the last layer's attention for ``positions`` only (each
        row's positions whose logits are read), where :mod:`cvalues.models.read_rows` was kept."""
        if self._read_layer is None:
            return contextlib.nullcontext()
        return read_rows.reading(self._read_layer, read_rows.rows_tensor(positions, self.device))

    def _continue(self, cache: Any, rows: list[list[int]], ctx_len: int) -> Any:
        """Logits for ``rows`` (right-padded) fed after a cached context of ``ctx_len`` tokens."""
        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=self.device)
        # Right padding: real tokens never attend to the pads that follow them, so all-ones is exact.
        mask = torch.ones((len(rows), ctx_len + width), dtype=torch.long, device=self.device)
        kwargs = {self._cache_kw: cache}
        return self.model(input_ids=ids, attention_mask=mask, use_cache=True, **kwargs).logits

    def _split_on_oom(
        self, fn: Callable[[list[Any]], list[Any]], items: list[Any], what: Callable[[Any], str], task: str
    ) -> list[Any]:
        """``fn(items)``; on device OOM, retried in halves down to one item, which then fails alone.
        Any other failure is every item's :class:`ModelError`."""
        import torch

        if not items:
            return []
        try:
            return list(fn(items))
        except torch.cuda.OutOfMemoryError as exc:
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            if len(items) == 1:
                return [ModelError(f"out of device memory for {what(items[0])}: {exc}")]
            half = len(items) // 2
            log.warning(
                "out of memory on a batch of %d; retrying as %d + %d", len(items), half, len(items) - half
            )
            return self._split_on_oom(fn, items[:half], what, task) + self._split_on_oom(
                fn, items[half:], what, task
            )
        except Exception as exc:  # e.g. a CUDA error: every item of this batch gets the error
            log.exception("%s failed for a batch of %d", task, len(items))
            return [ModelError(f"{task} failed: {type(exc).__name__}: {exc}") for _ in items]

    # -- facts -----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        config = self.model.config
        template = self.chat_template
        template_sha = hashlib.sha256(template.encode("utf-8")).hexdigest() if template else None
        return {
            "spec": self.spec,
            "backend": "hf",
            "path": self.path,
            "resolved_path": str(Path(self.path).resolve()) if Path(self.path).exists() else None,
            "revision": getattr(config, "_commit_hash", None),
            "model_type": getattr(config, "model_type", None),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device,
            "chat_template": "model" if template else "plain-fallback",
            "chat_template_sha256": template_sha,
            "batch_size": self.preferred_batch_size,
            "threads": self.threads,
            **({"score_workers": self.score_workers} if self.score_workers > 1 else {}),
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
        }

    async def aclose(self) -> None:
        import torch

        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._score_executor is not None:
            self._score_executor.shutdown(wait=False, cancel_futures=True)
        self._prep_executor.shutdown(wait=False, cancel_futures=True)
        self.model = None  # type: ignore[assignment]
        heap.released()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
