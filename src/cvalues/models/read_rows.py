"""Attention that, in a model's last layer, computes only the rows whose logits are read.

Scoring reads the logits of a few positions per row (an item's last tokens). Every layer but the last
must run on every position, since the next layer's keys and values come from it; the last layer's
attention needs every key and value but only the queries of the positions read. On a shallow model
that is a large share of a forward (a third of the test model's 2 layers at ~600 tokens); on a
24-layer model, a few percent. lm-evaluation-harness and ``generate`` compute every row.

The attention is installed through transformers' public ``AttentionInterface`` under its own name,
with sdpa's mask function, and hands every call it does not serve to sdpa unchanged: any layer but the
last, any forward not inside :func:`reading`, a continued cache, dropout, soft-capping or attention
sinks. :func:`install` keeps it only where a probe forward gives the model's own logits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

log = logging.getLogger(__name__)

#: The attention implementation's name, for transformers' ``AttentionInterface``.
NAME = "cvalues_read_rows"

#: Keyword arguments of an attention call whose meaning this attention does not reproduce.
_FOREIGN_KWARGS = ("softcap", "s_aux", "sinks", "position_bias", "sliding_window")

#: The rows to compute, per thread: the model runs on one worker thread per backend.
_reading = threading.local()

#: transformers' sdpa attention, which every call this attention does not serve goes to (set by
#: :func:`_register`, so that no call imports it).
_sdpa: Any = None


def _serves(
    module: Any, query: Any, key: Any, attention_mask: Any, dropout: float, call: dict[str, Any]
) -> bool:
    """Whether an attention call is one this attention reproduces: causal, no dropout, no cache
    continued, a 4D mask (or none) and no soft-capping, sinks or position bias."""
    rows = _reading.rows
    if module is not _reading.layer or dropout or rows.shape[0] != query.shape[0]:
        return False
    if call.get("is_causal") is False or not getattr(module, "is_causal", True):
        return False
    if any(call.get(name) is not None for name in _FOREIGN_KWARGS):
        return False
    if attention_mask is None:
        return key.shape[2] == query.shape[2]
    return attention_mask.dim() == 4 and attention_mask.shape[2] == query.shape[2]


def _attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """sdpa, except in :func:`reading`'s layer: there only the read rows' queries attend."""
    rows = getattr(_reading, "rows", None)
    if rows is None or not _serves(module, query, key, attention_mask, dropout, kwargs):
        return _sdpa(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    import torch

    batch, heads, length, dim = query.shape
    wanted = rows.shape[1]
    queries = query.gather(2, rows[:, None, :, None].expand(batch, heads, wanted, dim))
    groups = heads // key.shape[1]
    if groups > 1:  # grouped-query attention: each key/value head serves ``groups`` query heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    if attention_mask is None:  # the causal mask, row by row
        positions = torch.arange(key.shape[2], device=query.device)
        mask = (positions[None, :] <= rows[:, :, None])[:, None]
    else:  # the model's own mask (padding, sliding window), its read rows only
        full = attention_mask.expand(batch, -1, -1, -1)
        mask = full.gather(2, rows[:, None, :, None].expand(batch, full.shape[1], wanted, full.shape[3]))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    read = sdpa(queries, key, value, attn_mask=mask, scale=scaling)
    # The rows not read get zeros: they still pass the layer's projections, and no logit reads them.
    out = query.new_zeros(batch, length, heads, dim)
    out.scatter_(1, rows[:, :, None, None].expand(batch, wanted, heads, dim), read.transpose(1, 2))
    return out, None


def _register() -> bool:
    """Register the attention and its mask function once (False: this transformers has no interface)."""
    global _sdpa
    if _sdpa is not None:
        return True
    try:
        from transformers import AttentionInterface
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:
        return False
    AttentionInterface.register(NAME, _attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    _sdpa = sdpa_attention_forward
    return True


def last_attention(model: Any) -> Any | None:
    """The attention module of ``model``'s last decoder layer (None where the layout is another)."""
    get_decoder = getattr(model, "get_decoder", None)
    try:
        decoder = get_decoder() if callable(get_decoder) else None
    except (AttributeError, NotImplementedError, ValueError):
        decoder = None
    layers = getattr(decoder, "layers", None)
    if layers is None or not len(layers):
        return None
    return getattr(layers[-1], "self_attn", None)


@contextlib.contextmanager
def reading(layer: Any, rows: Any) -> Iterator[None]:
    """Within this block, forwards on this thread compute ``layer``'s attention only for ``rows``
    (a ``(batch, k)`` tensor of positions, a row's position repeated to fill it)."""
    before = getattr(_reading, "rows", None), getattr(_reading, "layer", None)
    _reading.rows, _reading.layer = rows, layer
    try:
        yield
    finally:
        _reading.rows, _reading.layer = before


def rows_tensor(positions: Sequence[Sequence[int]], device: Any) -> Any:
    """``(batch, k)`` positions from each row's list of positions (each padded by its last one)."""
    import torch

    width = max(len(p) for p in positions)
    return torch.tensor([list(p) + [p[-1]] * (width - len(p)) for p in positions], device=device)


def install(model: Any) -> Any | None:
    """Switch ``model`` from sdpa to this attention and return the layer to read (None: left as it was).

    Kept only where transformers offers the attention interface, the model uses sdpa and dispatches
    through the interface, and a probe (two right-padded rows) gives the model's own logits at the
    rows read, within float rounding."""
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return None
    if not hasattr(model, "set_attn_implementation"):
        return None
    layer = last_attention(model)
    if layer is None or not _register():
        return None
    try:
        model.set_attn_implementation(NAME)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        log.debug("reading rows only: the model refused the attention (%s)", exc)
        return None
    if getattr(model.config, "_attn_implementation", None) != NAME:
        return None
    try:
        agrees = _probe_agrees(model, layer)
    except Exception as exc:  # any failure of the probe keeps the model as it was
        log.debug("reading rows only: the probe failed (%s)", exc)
        agrees = False
    if not agrees:
        model.set_attn_implementation("sdpa")
        return None
    return layer


def _probe_agrees(model: Any, layer: Any) -> bool:
    """Whether reading rows gives the logits of the model's full forward on a small random batch."""
    import torch

    vocab = int(getattr(model.config.get_text_config(decoder=True), "vocab_size", 0) or 0)
    if vocab < 2:
        return False
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (2, 12), generator=generator).to(device)
    positions = [[10, 11], [5, 6]]  # rows read at different places, as in a right-padded batch
    rows = rows_tensor(positions, device)
    with torch.inference_mode():
        full = model(input_ids=ids, use_cache=False).logits.float()
        with reading(layer, rows):
            part = model(input_ids=ids, use_cache=False).logits.float()
    for j, wanted in enumerate(positions):
        theirs, ours = full[j, wanted], part[j, wanted]
        if not bool(torch.isfinite(ours).all()):
            return False
        scale = float(theirs.abs().max()) or 1.0
        tolerance = (1e-4 if next(model.parameters()).dtype == torch.float32 else 3e-2) * max(scale, 1.0)
        difference = float((theirs - ours).abs().max())
        if difference > tolerance:
            log.debug("reading rows only: the probe differs by %.3g (tolerance %.3g)", difference, tolerance)
            return False
    return True
