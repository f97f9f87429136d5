"""The ``hf:`` backend on a tiny random Llama built on disk (tests/tiny_model.py): batched generation
matches one-by-one generation, the chat template is applied, stop strings cut, and candidate
log-probabilities match a slow full-forward reference while computing the context once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from cvalues.models.base import ChatMessage, Generation, GenerationSettings, ModelError  # noqa: E402
from cvalues.models.hf import HFBackend, render_plain  # noqa: E402
from cvalues.models.registry import load_model  # noqa: E402
from tiny_model import CHATML_TEMPLATE, build_tiny_model  # noqa: E402

GREEDY = GenerationSettings(max_tokens=12)
PROMPTS = [
    [ChatMessage("user", "你好")],
    [ChatMessage("system", "你是一个助手。"), ChatMessage("user", "如何保护个人隐私？请详细回答，谢谢。")],
    [ChatMessage("user", "A")],
    [ChatMessage("user", "下面给你一个问题两个回复，你从安全和负责任角度来判断哪个回复更好。")],
    [ChatMessage("user", "The quick fox"), ChatMessage("assistant", "jumps"), ChatMessage("user", "yes")],
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chatml"))


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-plain"), chat_template=False, seed=1)


@pytest.fixture(scope="module")
def hf(model_dir) -> HFBackend:
    model = load_model(f"hf:{model_dir}", device="cpu", batch_size=4)
    assert isinstance(model, HFBackend)
    return model


def run(coro):
    return asyncio.run(coro)


def reference_generate(backend: HFBackend, messages, max_new_tokens: int) -> list[int]:
    """Greedy generation for one prompt by hand: argmax, full forward each step, no cache, no padding."""
    ids = backend.encode(backend.render(messages))
    out: list[int] = []
    for _ in range(max_new_tokens):
        with torch.inference_mode():
            logits = backend.model(input_ids=torch.tensor([ids + out])).logits[0, -1]
        nxt = int(logits.argmax())
        if nxt in backend.eos_token_ids:
            break
        out.append(nxt)
    return out


# -- generation ----------------------------------------------------------------------------------


def test_batched_generation_equals_one_by_one_greedy(hf):
    lengths = {len(hf.encode(hf.render(p))) for p in PROMPTS}
    assert len(lengths) >= 4  # different lengths: left padding is exercised
    batched = run(hf.generate_batch(PROMPTS, GREEDY))
    single = [run(hf.generate(p, GREEDY)) for p in PROMPTS]
    assert all(isinstance(g, Generation) for g in batched)
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
    assert [g.prompt_tokens for g in batched] == [len(hf.encode(hf.render(p))) for p in PROMPTS]
    assert len({g.text for g in batched}) > 1  # the prompts matter


def test_generation_matches_a_hand_written_greedy_loop(hf):
    for messages in PROMPTS[:3]:
        ref = reference_generate(hf, messages, 10)
        gen = run(hf.generate(messages, GenerationSettings(max_tokens=10)))
        assert gen.text == hf.tokenizer.decode(ref, skip_special_tokens=True)
        assert gen.finish_reason == ("length" if len(ref) == 10 else "stop")


def test_checkpoint_sampling_defaults_do_not_leak_into_greedy(hf, monkeypatch):
    config = hf.model.generation_config
    for name, value in {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
                        "repetition_penalty": 1.3, "no_repeat_ngram_size": 2}.items():  # fmt: skip
        monkeypatch.setattr(config, name, value)
    for messages in PROMPTS[:2]:
        ref = reference_generate(hf, messages, 10)
        gen = run(hf.generate(messages, GenerationSettings(max_tokens=10)))
        assert gen.text == hf.tokenizer.decode(ref, skip_special_tokens=True)


def test_batch_is_one_decoding_call(hf, monkeypatch):
    calls = []
    real = hf._decode

    def counting(input_ids, *args):
        calls.append(input_ids.shape)
        return real(input_ids, *args)

    monkeypatch.setattr(hf, "_decode", counting)
    run(hf.generate_batch(PROMPTS, GREEDY))
    assert len(calls) == 1 and calls[0][0] == len(PROMPTS)


def test_chat_template_applied(hf):
    messages = PROMPTS[1]
    text = hf.render(messages)
    assert text == hf.tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>system\n你是一个助手。<|im_end|>\n")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    unfinished = hf.render([*messages, ChatMessage("assistant", "答：")])
    assert unfinished == text + "答："
    assert hf.describe()["chat_template"] == "model"


def test_plain_fallback_without_template(plain_dir):
    model = load_model(f"hf:{plain_dir}", device="cpu")
    messages = [ChatMessage("system", "S"), ChatMessage("user", "你好")]
    assert model.render(messages) == "System: S\n\nUser: 你好\n\nAssistant:"
    assert model.render([*messages, ChatMessage("assistant", "好")]).endswith("Assistant: 好")
    assert render_plain(messages) == model.render(messages)
    facts = model.describe()
    assert facts["chat_template"] == "plain-fallback" and facts["chat_template_sha256"] is None
    gen = run(model.generate(messages, GenerationSettings(max_tokens=5)))
    assert gen.prompt_tokens == len(model.encode(model.render(messages)))


def test_stop_strings_truncate_and_stop_early(hf):
    messages = PROMPTS[3]
    full = run(hf.generate(messages, GenerationSettings(max_tokens=30)))
    assert len(full.text) > 12
    stop = full.text[8:10]
    first = full.text.find(stop)
    cut = run(hf.generate(messages, GenerationSettings(max_tokens=30, stop=("never-there", stop))))
    assert cut.text == full.text[:first]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens  # generation itself stopped
    # in a batch, only the row containing the stop string stops early
    batch = run(hf.generate_batch([messages, PROMPTS[0]], GenerationSettings(max_tokens=30, stop=(stop,))))
    assert batch[0].text == cut.text
    other = run(hf.generate(PROMPTS[0], GenerationSettings(max_tokens=30, stop=(stop,))))
    assert batch[1].text == other.text


def test_eos_ends_a_reply_with_finish_stop(hf, monkeypatch):
    messages = PROMPTS[0]
    ref = reference_generate(hf, messages, 8)
    eos = ref[3]
    monkeypatch.setattr(hf, "eos_token_ids", [eos])
    gen = run(hf.generate(messages, GenerationSettings(max_tokens=8)))
    upto = ref[: ref.index(eos)]
    assert gen.finish_reason == "stop"
    assert gen.text == hf.tokenizer.decode(upto, skip_special_tokens=True)
    assert gen.completion_tokens == len(upto)


def test_length_finish_reason(hf):
    gen = run(hf.generate(PROMPTS[2], GenerationSettings(max_tokens=3)))
    assert gen.finish_reason == "length" and gen.completion_tokens == 3


def test_sampling_is_seeded(hf):
    hot = GenerationSettings(max_tokens=10, temperature=1.5, seed=123)
    a = run(hf.generate(PROMPTS[0], hot))
    b = run(hf.generate(PROMPTS[0], hot))
    assert a.text == b.text


def test_overlong_prompt_fails_alone(hf, monkeypatch):
    monkeypatch.setattr(hf.model.config, "max_position_embeddings", 25)
    results = run(hf.generate_batch([PROMPTS[0], PROMPTS[3]], GREEDY))
    assert isinstance(results[0], Generation)
    assert isinstance(results[1], ModelError) and "positions" in str(results[1])


def test_out_of_memory_splits_the_batch(hf, monkeypatch):
    expected = [g.text for g in run(hf.generate_batch(PROMPTS, GREEDY))]
    real = hf._decode
    tried, done = [], []

    def small_memory(input_ids, *args):
        size = input_ids.shape[0]
        tried.append(size)
        if size > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        done.append(size)
        return real(input_ids, *args)

    monkeypatch.setattr(hf, "_decode", small_memory)
    results = run(hf.generate_batch(PROMPTS, GREEDY))
    assert [g.text for g in results] == expected
    assert tried[0] == 5 and sum(done) == 5 and max(done) <= 2


def test_only_one_batch_computes_at_a_time(hf, monkeypatch):
    real = hf._decode
    active, peak = [0], [0]
    guard = threading.Lock()

    def tracked(*args, **kwargs):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(hf, "_decode", tracked)

    async def main():
        return await asyncio.gather(*(hf.generate_batch(PROMPTS[:2], GREEDY) for _ in range(3)))

    results = run(main())
    assert peak[0] == 1 and all(isinstance(g, Generation) for r in results for g in r)


# -- candidate log-probabilities -----------------------------------------------------------------


def reference_logprob(backend: HFBackend, ctx_ids: list[int], cand_ids: list[int]) -> float:
    """Slow reference: one full forward of context + candidate, summing token log-softmax."""
    ids = torch.tensor([ctx_ids + cand_ids])
    with torch.inference_mode():
        logp = torch.log_softmax(backend.model(input_ids=ids).logits[0].double(), dim=-1)
    return sum(float(logp[len(ctx_ids) + i - 1, t]) for i, t in enumerate(cand_ids))


CONTEXT = [ChatMessage("user", "请问[回复1]和[回复2]哪个回复更好？")]
CANDIDATES = ["回复1", "回复2", "回复1更好", "A", "不要泄露身份证号。"]


def test_candidate_logprobs_match_full_forward_reference(hf):
    text = hf.render(CONTEXT)
    ctx = hf.encode(text)
    values = run(hf.candidate_logprobs(CONTEXT, CANDIDATES))
    for cand, value in zip(CANDIDATES, values, strict=True):
        joint = hf.encode(text + cand)
        assert joint[: len(ctx)] == ctx  # a clean boundary: the joint tokens extend the context
        assert value == pytest.approx(reference_logprob(hf, ctx, joint[len(ctx) :]), abs=1e-4)
        assert value < 0 and isinstance(value, float)
    assert len(set(values)) == len(values)


def test_candidate_logprobs_when_the_boundary_merges(hf):
    context = [ChatMessage("user", "哪个更好？"), ChatMessage("assistant", "[")]
    text = hf.render(context)
    ctx = hf.encode(text)
    merged = [c for c in CANDIDATES if hf.encode(text + c)[: len(ctx)] != ctx]
    assert merged  # the tiny tokenizer has the token "[回复1": "[" + "回复1" re-tokenizes
    values = run(hf.candidate_logprobs(context, CANDIDATES))
    for cand, value in zip(CANDIDATES, values, strict=True):
        joint = hf.encode(text + cand)
        if cand in merged:  # documented fallback: the candidate's own tokens after the context's
            cand_ids = list(hf.tokenizer(cand, add_special_tokens=False)["input_ids"])
        else:
            cand_ids = joint[len(ctx) :]
        assert value == pytest.approx(reference_logprob(hf, ctx, cand_ids), abs=1e-4)


def test_context_is_computed_once(hf):
    seen = []

    def hook(module, args, kwargs):
        seen.append(tuple(kwargs["input_ids"].shape))

    handle = hf.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        run(hf.candidate_logprobs(CONTEXT, CANDIDATES))
    finally:
        handle.remove()
    ctx_len = len(hf.encode(hf.render(CONTEXT)))
    _, cand_ids = hf.candidate_token_ids(hf.render(CONTEXT), CANDIDATES)
    longest = max(len(c) for c in cand_ids)
    longer = sum(len(c) > 1 for c in cand_ids)  # single-token candidates are read off the first forward
    assert 0 < longer < len(CANDIDATES)
    assert seen == [(1, ctx_len), (longer, longest - 1)]


#: Items of different lengths and candidate shapes: labels, letters, a shared multi-token prefix with
#: one differing token, longer continuations after a shared prefix, a boundary that merges.
BATCH_ITEMS = [
    (CONTEXT, ("回复1", "回复2")),
    (PROMPTS[1], ("A", "B", "C", "D")),
    ([ChatMessage("user", "哪个更好？")], ("回复1更好", "回复2更好")),
    ([ChatMessage("user", "你好")], ("回复1更好", "回复1更好。", "回复2")),
    ([ChatMessage("user", "哪个更好？"), ChatMessage("assistant", "[")], ("回复1", "回复2")),
    (PROMPTS[3], ("不要泄露身份证号。", "随便。")),
    (PROMPTS[4], ("yes",)),
]


def reference_item(backend: HFBackend, context, candidates) -> list[float]:
    """Each candidate by a plain full-sequence forward of context + candidate tokens."""
    ctx, cand_ids = backend.candidate_token_ids(backend.render(context), candidates)
    return [reference_logprob(backend, ctx, ids) for ids in cand_ids]


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_batched_scoring_matches_full_sequence_forwards(arch, tmp_path_factory):
    directory = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{arch}"), arch=arch, seed=5)
    model = load_model(f"hf:{directory}", device="cpu")
    batched = run(model.candidate_logprobs_batch(BATCH_ITEMS))
    for (context, candidates), values in zip(BATCH_ITEMS, batched, strict=True):
        assert values == pytest.approx(reference_item(model, context, candidates), abs=1e-4)
        assert values == pytest.approx(run(model.candidate_logprobs(context, candidates)), abs=1e-5)


def test_candidates_differing_in_one_token_cost_one_forward_per_batch(tmp_path_factory):
    # byte-level tokens: 回复1/回复2 share their leading tokens, which join the context's forward
    directory = build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2-one"), arch="qwen2", seed=3)
    model = load_model(f"hf:{directory}", device="cpu")
    items = [
        (CONTEXT, ("回复1", "回复2")),
        (PROMPTS[1], ("回复1", "回复2")),
        (PROMPTS[0], ("回复1", "回复2")),
    ]
    _, ids = model.candidate_token_ids(model.render(CONTEXT), ["回复1", "回复2"])
    assert len(ids[0]) > 1 and ids[0][:-1] == ids[1][:-1]  # a shared prefix, one differing token
    seen = []
    handle = model.model.register_forward_pre_hook(
        lambda m, a, k: seen.append(tuple(k["input_ids"].shape)), with_kwargs=True
    )
    try:
        values = run(model.candidate_logprobs_batch(items))
    finally:
        handle.remove()
    assert len(seen) == 1 and seen[0][0] == len(items)
    for (context, candidates), value in zip(items, values, strict=True):
        assert value == pytest.approx(reference_item(model, context, candidates), abs=1e-4)


def test_batch_reports_a_bad_item_in_its_slot(hf):
    values = run(hf.candidate_logprobs_batch([(CONTEXT, ("A", "A")), (CONTEXT, ("A", "B"))]))
    assert isinstance(values[0], ModelError) and "distinct" in str(values[0])
    assert values[1] == pytest.approx(run(hf.candidate_logprobs(CONTEXT, ["A", "B"])), abs=1e-6)


def test_model_runs_on_one_dedicated_thread(hf):
    threads = set()
    handle = hf.model.register_forward_pre_hook(lambda m, a, k: threads.add(threading.get_ident()),
                                                with_kwargs=True)  # fmt: skip
    try:
        for _ in range(3):
            run(hf.candidate_logprobs(CONTEXT, CANDIDATES))
            run(hf.generate_batch(PROMPTS[:2], GenerationSettings(max_tokens=2)))
    finally:
        handle.remove()
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert hf.describe()["threads"] == hf.threads >= 1


def test_next_batch_is_tokenized_while_the_model_runs(hf, monkeypatch):
    """Two batches in flight (the backend's default): the second is rendered and tokenized on the
    preparing thread while the first is on the model's worker, and the answers are those of one
    batch at a time."""
    alone = [run(hf.candidate_logprobs_batch([(CONTEXT, CANDIDATES)])) for _ in range(2)]
    events: list[tuple[str, str, float]] = []
    real_plan, real_score = hf._plan_scoring, hf._score_plans

    def plan(items):
        events.append(("plan", threading.current_thread().name, time.perf_counter()))
        return real_plan(items)

    def score(plans, results):
        events.append(("score start", threading.current_thread().name, time.perf_counter()))
        time.sleep(0.2)  # a slow forward: the next batch's plan must not wait for it
        real_score(plans, results)
        events.append(("score end", threading.current_thread().name, time.perf_counter()))

    monkeypatch.setattr(hf, "_plan_scoring", plan)
    monkeypatch.setattr(hf, "_score_plans", score)

    async def main():
        return await asyncio.gather(*(hf.candidate_logprobs_batch([(CONTEXT, CANDIDATES)]) for _ in range(2)))

    got = run(main())
    assert hf.default_concurrency == 2
    assert got[0][0] == pytest.approx(alone[0][0], abs=1e-6) and got[1][0] == pytest.approx(
        alone[1][0], abs=1e-6
    )
    plans = [e for e in events if e[0] == "plan"]
    first_end = next(e for e in events if e[0] == "score end")
    assert len(plans) == 2 and plans[1][2] < first_end[2]  # the second batch was prepared meanwhile
    assert {e[1] for e in plans} == {plans[0][1]} != {first_end[1]}  # two threads, one per role
    assert all(e[1].startswith("cvalues-hf-prep") for e in plans)


def test_single_token_candidates_need_one_forward(hf):
    seen = []
    handle = hf.model.register_forward_pre_hook(lambda m, a, k: seen.append(1), with_kwargs=True)
    try:
        values = run(hf.candidate_logprobs(CONTEXT, ["A", "B"]))
    finally:
        handle.remove()
    assert len(seen) == 1
    ctx = hf.encode(hf.render(CONTEXT))
    reference = reference_logprob(hf, ctx, hf.encode(hf.render(CONTEXT) + "A")[len(ctx) :])
    assert values[0] == pytest.approx(reference, abs=1e-4)


def test_candidates_are_validated(hf):
    with pytest.raises(ValueError, match="distinct"):
        run(hf.candidate_logprobs(CONTEXT, ["A", "A"]))
    with pytest.raises(ValueError, match="non-empty"):
        run(hf.candidate_logprobs(CONTEXT, ["A", ""]))


def test_qwen2_architecture_batches_and_scores_the_same_way(tmp_path_factory):
    directory = build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), arch="qwen2", seed=3)
    qwen = load_model(f"hf:{directory}", device="cpu")
    assert qwen.describe()["model_type"] == "qwen2"
    batched = run(qwen.generate_batch(PROMPTS, GREEDY))
    assert [g.text for g in batched] == [run(qwen.generate(p, GREEDY)).text for p in PROMPTS]
    # byte-level tokens: the stop string 回复 spans several tokens, and partial characters occur
    full = run(qwen.generate(PROMPTS[0], GenerationSettings(max_tokens=30)))
    assert "回复" in full.text
    cut = run(qwen.generate(PROMPTS[0], GenerationSettings(max_tokens=30, stop=("回复",))))
    assert cut.text == full.text[: full.text.find("回复")] and cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens
    text = qwen.render(CONTEXT)
    ctx = qwen.encode(text)
    values = run(qwen.candidate_logprobs(CONTEXT, CANDIDATES))
    for cand, value in zip(CANDIDATES, values, strict=True):
        expected = reference_logprob(qwen, ctx, qwen.encode(text + cand)[len(ctx) :])
        assert value == pytest.approx(expected, abs=1e-4)


# -- loading and facts ---------------------------------------------------------------------------


def test_describe_and_options(hf, model_dir):
    import hashlib

    facts = hf.describe()
    assert facts["backend"] == "hf" and facts["spec"] == f"hf:{model_dir}"
    assert facts["dtype"] == "float32" and facts["device"] == "cpu" and facts["model_type"] == "llama"
    assert facts["chat_template_sha256"] == hashlib.sha256(CHATML_TEMPLATE.encode()).hexdigest()
    assert hf.preferred_batch_size == 4 and hf.tokenizer.padding_side == "left"


def test_dtype_option(model_dir):
    model = load_model(f"hf:{model_dir}", device="cpu", dtype="bfloat16")
    assert model.describe()["dtype"] == "bfloat16"
    assert next(model.model.parameters()).dtype == torch.bfloat16
    assert isinstance(run(model.generate(PROMPTS[0], GenerationSettings(max_tokens=3))), Generation)
    with pytest.raises(ValueError, match="unknown dtype"):
        load_model(f"hf:{model_dir}", dtype="float8")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot load hf model"):
        load_model(f"hf:{tmp_path / 'nothing-here'}", device="cpu")
    with pytest.raises(ValueError, match=r"unknown option.*temperature"):
        load_model(f"hf:{tmp_path}", temperature=0.5)


# -- tokenizing ------------------------------------------------------------------------------------

ENCODE_TEXTS = [
    "",
    "你好",
    "<|im_start|>user\n如何保护个人隐私？<|im_end|>\n<|im_start|>assistant\n回复1",
    "全角ＡＢＣ１２３，标点：“引号”【括号】……——",
    "mixed English 与中文 with  double  spaces\tand tabs\n\n",
    "emoji 😀 and rare 𠀀 characters, 〇一二三 numerals",
    "<pad><unk>special tokens written as text<|endoftext|>",
]


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_fast_encoding_gives_the_tokenizer_s_own_ids(arch, tmp_path_factory):
    # char-level (llama) and byte-level (qwen2) tokenizers, special tokens written in the text
    directory = build_tiny_model(tmp_path_factory.mktemp(f"tiny-enc-{arch}"), arch=arch, seed=2)
    model = load_model(f"hf:{directory}", device="cpu")
    assert model._rust_encoder() is not None  # the fast path is the one taken here
    expected = [list(ids) for ids in model.tokenizer(ENCODE_TEXTS, add_special_tokens=False)["input_ids"]]
    assert model._encode_many(ENCODE_TEXTS) == expected


def test_fast_encoding_steps_aside_while_the_tokenizer_pads(hf):
    # a padded call may leave padding switched on in the Rust tokenizer; encoding then goes through
    # transformers, which switches it off again, so ids are never padded
    texts = ["你好", "如何保护个人隐私？请详细回答"]
    expected = [list(x) for x in hf.tokenizer(texts, add_special_tokens=False)["input_ids"]]
    hf.tokenizer._tokenizer.enable_padding(pad_id=hf.tokenizer.pad_token_id, pad_token="<pad>")
    assert hf._rust_encoder() is None
    assert hf._encode_many(texts) == expected
    assert hf.tokenizer._tokenizer.padding is None
    assert hf._rust_encoder() is not None
    assert hf._encode_many(texts) == expected
