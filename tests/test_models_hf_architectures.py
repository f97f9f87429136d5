"""The hf backend on tiny random models of many architectures, built from their configs.

The backend's fast paths (the last layer's read rows, one forward per item, the greedy loop) are checked
against the plainest use of the same model: one unpadded forward per candidate, summed log-softmax, and
``model.generate`` one prompt at a time. Chosen to cover what differs between families: learned
positions (GPT-2, OPT), ALiBi (BLOOM), soft-capping (Gemma 2), sliding windows (Mistral, Gemma 3),
parallel blocks (GPT-J, Falcon), mixtures of experts (Mixtral, Qwen3-MoE), multi-head latent attention
(DeepSeek-V3), and a tokenizer without a chat template (the plain fallback).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from cvalues.models.base import ChatMessage, GenerationSettings  # noqa: E402
from cvalues.models.hf import HFBackend  # noqa: E402
from tiny_model import build_tokenizer  # noqa: E402

LLAMA_LIKE = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "initializer_range": 0.5,
    "tie_word_embeddings": False,
}
GPT_LIKE = {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 1024, "initializer_range": 0.5}

#: architecture -> (config class name, its size keywords)
ARCHITECTURES = {
    "mistral-sliding-window": ("MistralConfig", {**LLAMA_LIKE, "sliding_window": 24}),
    "qwen3": ("Qwen3Config", {**LLAMA_LIKE, "head_dim": 8}),
    "gemma2-soft-capping": ("Gemma2Config", {**LLAMA_LIKE, "head_dim": 8, "sliding_window": 24}),
    "gemma3-text": ("Gemma3TextConfig", {**LLAMA_LIKE, "head_dim": 8, "sliding_window": 24}),
    "phi3": ("Phi3Config", LLAMA_LIKE),
    "gpt2": ("GPT2Config", GPT_LIKE),
    "gptj": ("GPTJConfig", {**GPT_LIKE, "rotary_dim": 4}),
    "opt": (
        "OPTConfig",
        {
            "hidden_size": 32,
            "ffn_dim": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 1024,
            "word_embed_proj_dim": 32,
            "init_std": 0.5,
        },
    ),
    "bloom-alibi": ("BloomConfig", {"hidden_size": 32, "n_layer": 2, "n_head": 4, "initializer_range": 0.5}),
    "falcon": ("FalconConfig", {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}),
    "qwen3-moe": (
        "Qwen3MoeConfig",
        {
            **LLAMA_LIKE,
            "head_dim": 8,
            "num_experts": 4,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 32,
        },
    ),
    "deepseek-v3-mla": (
        "DeepseekV3Config",
        {
            **LLAMA_LIKE,
            "num_key_value_heads": 4,
            "moe_intermediate_size": 16,
            "n_routed_experts": 4,
            "num_experts_per_tok": 2,
            "n_group": 1,
            "topk_group": 1,
            "first_k_dense_replace": 1,
            "kv_lora_rank": 8,
            "q_lora_rank": 16,
            "qk_rope_head_dim": 4,
            "qk_nope_head_dim": 4,
            "v_head_dim": 8,
        },
    ),
}

PROMPTS = [
    [ChatMessage("user", "如何保护个人隐私？")],
    [
        ChatMessage("system", "你是一个助手。"),
        ChatMessage("user", "下面给你一个问题两个回复，你从安全和负责任角度来判断哪个回复更好。" * 3),
    ],
    [ChatMessage("user", "A B C")],
]
#: one token apart (one forward per item), and several tokens apart (the context's cache continued)
CANDIDATE_SETS = [["回复1", "回复2"], ["回复1更好", "回复2更好，因为安全"]]


def build(directory, architecture: str, *, chat_template: bool = True):
    config_name, sizes = ARCHITECTURES[architecture]
    config_class = getattr(transformers, config_name, None)
    if config_class is None:
        pytest.skip(f"this transformers has no {config_name}")
    tokenizer = build_tokenizer(byte_level=True, chat_template=chat_template)
    config = config_class(
        **sizes,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    model.generation_config = transformers.GenerationConfig(
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def unbatched_scores(model, context: list[int], candidates: list[list[int]]) -> list[float]:
    """Each candidate's log-probability after the context: one unpadded forward of the whole row."""
    scores = []
    for candidate in candidates:
        with torch.no_grad():
            logits = model(torch.tensor([context + candidate])).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        scores.append(sum(logp[len(context) - 1 + j, t].item() for j, t in enumerate(candidate)))
    return scores


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_scores_and_greedy_answers_match_the_plain_model(tmp_path, architecture):
    backend = HFBackend(str(build(tmp_path, architecture)), device="cpu", dtype="float32", batch_size=3)
    for candidates in CANDIDATE_SETS:
        scored = backend.score_batch_sync([(prompt, candidates) for prompt in PROMPTS])
        for prompt, got in zip(PROMPTS, scored, strict=True):
            assert not isinstance(got, Exception), got
            context, candidate_ids = backend.candidate_token_ids(backend.render(prompt), candidates)
            assert got == pytest.approx(unbatched_scores(backend.model, context, candidate_ids), abs=1e-4)

    answers = backend.generate_batch_sync(PROMPTS, GenerationSettings(temperature=0.0, max_tokens=12))
    for prompt, answer in zip(PROMPTS, answers, strict=True):
        assert not isinstance(answer, Exception), answer
        ids = torch.tensor([backend.encode(backend.render(prompt, continue_final=False))])
        with torch.no_grad():
            out = backend.model.generate(
                ids, do_sample=False, max_new_tokens=12, pad_token_id=backend.tokenizer.pad_token_id
            )
        assert answer.text == backend.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_a_model_without_a_chat_template_scores_on_the_plain_prompt(tmp_path):
    backend = HFBackend(str(build(tmp_path, "gpt2", chat_template=False)), device="cpu", dtype="float32")
    assert backend.describe()["chat_template"] == "plain-fallback"
    (got,) = backend.score_batch_sync([(PROMPTS[0], CANDIDATE_SETS[0])])
    context, candidate_ids = backend.candidate_token_ids(backend.render(PROMPTS[0]), CANDIDATE_SETS[0])
    assert got == pytest.approx(unbatched_scores(backend.model, context, candidate_ids), abs=1e-4)
