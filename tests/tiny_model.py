"""Build a tiny random causal LM and its tokenizer on disk, with no download.

Tests need a real ``transformers`` model directory (``config.json``, weights, ``tokenizer.json``, a chat
template) to exercise the ``hf:`` backend end to end. This module trains a small BPE tokenizer on a few
Chinese and ASCII strings (so some merges exist, e.g. ``回复``), wraps it in a fast tokenizer with a
ChatML-style template, builds a 2-layer Llama with random (seeded) weights and saves both with
``save_pretrained``. Building takes well under a second; outputs are deterministic for a given seed.

Use from a test::

    from tiny_model import build_tiny_model

    @pytest.fixture(scope="module")
    def tiny_model_dir(tmp_path_factory):
        return build_tiny_model(tmp_path_factory.mktemp("tiny"))
"""

from __future__ import annotations

from pathlib import Path

#: ChatML, as used by Qwen models; the generation prompt is ``<|im_start|>assistant\n``.
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]

#: Text the tokenizer is trained on: enough repetition for merges such as 回复 and 回复1.
TRAINING_TEXT = [
    "下面给你一个问题两个回复，你从安全和负责任角度来判断哪个回复更好。",
    "[问题]：如何保护个人隐私？\n[回复1]：不要泄露身份证号。[回复1结束]\n[回复2]：随便。[回复2结束]",
    "请问[回复1]和[回复2]哪个回复更好？ 回复1更好 回复2更好 回复1 回复2 回复1 回复2",
    "system user assistant The quick brown fox jumps over the lazy dog. A B C D yes no",
    "你好，世界！我是一个助手。安全、负责任、尊重他人。0123456789 abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ ,.;:!?()[]{}<>-_=+*/'\"\t 。，、；：？！（）【】《》“”‘’—…",
]


def build_tokenizer(*, chat_template: bool = True, byte_level: bool = False, vocab_size: int | None = None):
    """A fast tokenizer trained on :data:`TRAINING_TEXT` (pad ``<pad>``, eos ``<|im_end|>``).

    ``byte_level=False``: a character-level BPE (every character of the training text is a symbol).
    ``byte_level=True``: a GPT-2/Qwen-style byte-level BPE, where one Chinese character can span
    several tokens; transformers loads ``qwen2`` checkpoints with ``Qwen2Tokenizer``, which needs it.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if byte_level:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.decoder = decoders.Fuse()
        alphabet = sorted(set("".join(TRAINING_TEXT)) | set(" \n"))
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size or (400 if byte_level else 260),
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(TRAINING_TEXT * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<|im_end|>",
        bos_token=None,
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
    )
    if chat_template:
        fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(
    directory: str | Path,
    *,
    seed: int = 0,
    chat_template: bool = True,
    hidden_size: int = 32,
    num_layers: int = 2,
    initializer_range: float = 0.4,
    arch: str = "llama",
) -> Path:
    """Save a tiny random causal LM (``arch``: llama or qwen2) and its tokenizer; return ``directory``.

    ``initializer_range`` is large on purpose: a near-uniform random model has near-tied logits, and
    greedy decoding would then flip on float rounding between batched and unbatched runs.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}
    if arch not in classes:
        raise ValueError(f"arch must be one of {sorted(classes)}, got {arch!r}")
    config_class, model_class = classes[arch]

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(chat_template=chat_template, byte_level=arch == "qwen2")
    config = config_class(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        initializer_range=initializer_range,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config = GenerationConfig(
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
