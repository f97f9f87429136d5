"""The ``hf:`` backend's own greedy loop (``cvalues.models.hf.greedy_loop``) against ``model.generate``:
token for token on a tiny Llama and a tiny Qwen2-shaped model (padding, EOS mid-batch, stop strings,
one token), used where it applies, and ``generate`` kept where a checkpoint asks for more."""

from __future__ import annotations

import asyncio
import functools

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from cvalues.models.base import ChatMessage, GenerationSettings  # noqa: E402
from cvalues.models.hf import (  # noqa: E402
    NEUTRAL_DECODING,
    HFBackend,
    _make_stop_criteria,
    greedy_loop,
    greedy_loop_blocker,
)
from cvalues.models.registry import load_model  # noqa: E402
from tiny_model import build_tiny_model  # noqa: E402

PROMPTS = [
    [ChatMessage("user", "你好")],
    [ChatMessage("system", "你是一个助手。"), ChatMessage("user", "如何保护个人隐私？请详细回答，谢谢。")],
    [ChatMessage("user", "A")],
    [ChatMessage("user", "下面给你一个问题两个回复，你从安全和负责任角度来判断哪个回复更好。")],
    [ChatMessage("user", "The quick fox"), ChatMessage("assistant", "jumps"), ChatMessage("user", "yes")],
    [ChatMessage("user", "请问[回复1]和[回复2]哪个回复更好？")],
]


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def backend(request, tmp_path_factory) -> HFBackend:
    folder = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{request.param}"), arch=request.param)
    model = load_model(f"hf:{folder}", device="cpu", batch_size=8)
    assert isinstance(model, HFBackend)
    return model


def padded(backend: HFBackend, prompts):
    ids = [backend.encode(backend.render(p, continue_final=False)) for p in prompts]
    batch = backend.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


def both(backend: HFBackend, prompts, max_new_tokens: int, eos: list[int], stops=()):
    """(model.generate's output, greedy_loop's output) for the same batch and settings."""
    input_ids, mask = padded(backend, prompts)
    tok = backend.tokenizer
    lock = backend._tokenizer_lock
    criteria = [_make_stop_criteria(tok, list(stops), input_ids.shape[1], lock)] if stops else []
    with torch.inference_mode():
        reference = backend.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=eos or None,
            do_sample=False,
            **NEUTRAL_DECODING,
            **({"stopping_criteria": criteria} if criteria else {}),
        )
        ours = greedy_loop(
            backend.model,
            input_ids,
            mask,
            max_new_tokens=max_new_tokens,
            eos_token_ids=eos,
            pad_token_id=tok.pad_token_id,
            stopping=criteria,
        )
    return reference, ours


def test_the_tiny_models_take_the_loop(backend):
    assert greedy_loop_blocker(backend.model) is None


@pytest.mark.parametrize("max_new_tokens", [1, 24])
def test_loop_equals_generate_token_for_token(backend, max_new_tokens):
    for prompts in (PROMPTS, PROMPTS[1:2], [PROMPTS[2], PROMPTS[2]]):
        reference, ours = both(backend, prompts, max_new_tokens, backend.eos_token_ids)
        assert torch.equal(reference, ours)


def test_loop_equals_generate_when_rows_end_early(backend):
    """EOS ids that the model does produce mid-answer: rows end at different steps (pad after), and the
    batch stops once every row has ended."""
    free, _ = both(backend, PROMPTS, 20, [])
    prompt_len = padded(backend, PROMPTS)[0].shape[1]
    generated = free[:, prompt_len:]
    # the token each row makes at step 3 ends some rows there, others later or never
    eos = sorted({int(t) for t in generated[:3, 3]})
    reference, ours = both(backend, PROMPTS, 20, eos)
    assert torch.equal(reference, ours)
    assert reference.shape[1] - prompt_len <= 20
    rows = ours[:, prompt_len:].tolist()
    ended = [next((k for k, t in enumerate(r) if t in eos), None) for r in rows]
    assert any(e is not None for e in ended) and len(set(ended)) > 1
    # every row ended: no step after the last EOS
    everyone, _ = both(backend, PROMPTS, 20, sorted({int(t) for t in generated[:, 0]}))
    assert everyone.shape[1] == prompt_len + 1


def test_loop_equals_generate_with_stop_strings(backend):
    tok = backend.tokenizer
    free, _ = both(backend, PROMPTS, 20, backend.eos_token_ids)
    prompt_len = padded(backend, PROMPTS)[0].shape[1]
    text = tok.decode(free[1, prompt_len:].tolist(), skip_special_tokens=True)
    stop = text[5:7] if len(text) > 7 else text[-1:]
    reference, ours = both(backend, PROMPTS, 20, backend.eos_token_ids, stops=(stop,))
    assert torch.equal(reference, ours)
    alone, ours = both(backend, PROMPTS[1:2], 20, backend.eos_token_ids, stops=(stop,))
    assert torch.equal(alone, ours)
    own_len = padded(backend, PROMPTS[1:2])[0].shape[1]
    cut = tok.decode(alone[0, own_len:].tolist(), skip_special_tokens=True)
    assert cut.endswith(stop) and len(cut) < len(text)  # the row stopped at the stop string


def test_backend_generates_without_model_generate(backend, monkeypatch):
    """Greedy batches go through the loop, and give what ``generate`` gave."""
    settings = GenerationSettings(max_tokens=16)
    expected = []
    for prompts in (PROMPTS, PROMPTS[2:]):
        reference, _ = both(backend, prompts, 16, backend.eos_token_ids)
        prompt_len = padded(backend, prompts)[0].shape[1]
        for row in reference[:, prompt_len:].tolist():
            row = row[: next((k for k, t in enumerate(row) if t in backend.eos_token_ids), len(row))]
            expected.append(backend.tokenizer.decode(row, skip_special_tokens=True))

    def refuse(*args, **kwargs):
        raise AssertionError("model.generate called for greedy decoding")

    monkeypatch.setattr(backend.model, "generate", refuse)
    got = [g.text for b in (PROMPTS, PROMPTS[2:]) for g in backend.generate_batch_sync(b, settings)]
    assert got == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [("suppress_tokens", None), ("min_length", 40), ("cache_implementation", "static"), ("use_cache", False)],
)
def test_checkpoint_settings_the_loop_does_not_do_keep_generate(backend, monkeypatch, field, value):
    config = backend.model.generation_config
    if field == "suppress_tokens":  # the token greedy decoding would pick first
        input_ids, mask = padded(backend, PROMPTS[:1])
        with torch.inference_mode():
            value = [int(backend.model(input_ids=input_ids, attention_mask=mask).logits[0, -1].argmax())]
    monkeypatch.setattr(config, field, value)
    assert field in (greedy_loop_blocker(backend.model) or "")
    calls = []
    real = backend.model.generate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.model, "generate", counting)
    settings = GenerationSettings(max_tokens=12)
    got = backend.generate_batch_sync(PROMPTS[:2], settings)
    assert len(calls) == 1
    if field == "suppress_tokens":  # generate honoured it: the first token is another one
        assert not backend.tokenizer.decode(value).strip() or not got[0].text.startswith(
            backend.tokenizer.decode(value)
        )
    if field == "min_length":
        assert all(g.finish_reason == "length" for g in got)


def test_sampling_keeps_generate(backend, monkeypatch):
    calls = []
    real = backend.model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["do_sample"])
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.model, "generate", counting)
    hot = GenerationSettings(max_tokens=4, temperature=0.8, seed=1)
    asyncio.run(backend.generate_batch(PROMPTS[:2], hot))
    assert calls == [True]


def test_a_model_with_its_own_generation_code_keeps_generate(backend, monkeypatch):
    model_class = type(backend.model)

    class Custom(model_class):  # type: ignore[misc, valid-type]
        def prepare_inputs_for_generation(self, *args, **kwargs):
            return super().prepare_inputs_for_generation(*args, **kwargs)

    monkeypatch.setattr(backend.model, "__class__", Custom)
    assert "prepare_inputs_for_generation" in (greedy_loop_blocker(backend.model) or "")


def steps_masks(backend, monkeypatch, prompts, max_new_tokens=6):
    """(the loop's output, generate's, each decoding step's attention mask as the loop passed it, and
    the mask the model would have built itself from the 2D padding mask at that step)."""
    from transformers.masking_utils import create_causal_mask

    seen = []
    real = backend.model.forward

    @functools.wraps(real)  # generate reads the signature
    def spying(*args, **kwargs):
        mask, ids = kwargs.get("attention_mask"), kwargs["input_ids"]
        if ids.shape[1] == 1 and mask is not None:  # a decoding step with padding
            flat = mask if mask.ndim == 2 else mask[:, 0, 0, :].long()
            embeds = torch.empty((ids.shape[0], 1, 0), dtype=backend.model.dtype)
            own = create_causal_mask(
                config=backend.model.config,
                inputs_embeds=embeds,
                attention_mask=flat,
                cache=kwargs["cache"],
                position_ids=kwargs["position_ids"],
            )
            seen.append((mask, own))
        return real(*args, **kwargs)

    monkeypatch.setattr(backend.model, "forward", spying)
    reference, ours = both(backend, prompts, max_new_tokens, backend.eos_token_ids)
    monkeypatch.undo()
    return reference, ours, seen


def test_decoding_steps_take_the_models_own_mask_ready_made(backend, monkeypatch):
    reference, ours, seen = steps_masks(backend, monkeypatch, PROMPTS)
    assert torch.equal(reference, ours)
    loop_steps = seen[len(seen) // 2 :]  # generate's steps come first, then the loop's
    assert loop_steps and all(mask.ndim == 4 and torch.equal(mask, own) for mask, own in loop_steps)


def test_a_model_whose_mask_differs_keeps_building_its_own(backend, monkeypatch):
    import transformers.masking_utils as masking_utils

    real = masking_utils.create_causal_mask

    def different(*args, **kwargs):  # e.g. a sliding window: not the plain padding mask
        mask = real(*args, **kwargs)
        return mask if mask is None else ~mask

    monkeypatch.setattr(masking_utils, "create_causal_mask", different)  # what the check sees
    input_ids, mask = padded(backend, PROMPTS)
    calls = []
    forward = backend.model.forward

    @functools.wraps(forward)
    def recording(*args, **kwargs):
        calls.append(kwargs.get("attention_mask"))
        return forward(*args, **kwargs)

    monkeypatch.setattr(backend.model, "forward", recording)
    with torch.inference_mode():
        ours = greedy_loop(
            backend.model,
            input_ids,
            mask,
            max_new_tokens=6,
            eos_token_ids=backend.eos_token_ids,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
    monkeypatch.undo()
    assert all(m is not None and m.ndim == 2 for m in calls)
    reference, _ = both(backend, PROMPTS, 6, backend.eos_token_ids)
    assert torch.equal(reference, ours)


def test_a_mask_check_that_cannot_run_keeps_the_models_own_mask(backend, monkeypatch):
    import transformers.masking_utils as masking_utils

    def renamed(*args, **kwargs):  # another transformers release with another signature
        raise TypeError("create_causal_mask() got an unexpected keyword argument 'cache'")

    monkeypatch.setattr(masking_utils, "create_causal_mask", renamed)  # what the check sees
    reference, ours = both(backend, PROMPTS, 6, backend.eos_token_ids)
    assert torch.equal(reference, ours)


def test_gpus_keep_generate(backend, monkeypatch):
    monkeypatch.setattr(type(backend.model), "device", property(lambda self: torch.device("cuda", 0)))
    assert "cuda:0" in (greedy_loop_blocker(backend.model) or "")
