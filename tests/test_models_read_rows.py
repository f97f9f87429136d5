"""Reading rows only (``cvalues.models.read_rows``): in the last layer only the positions whose
logits are read attend, and their logits are the model's own; every other forward is sdpa's."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from cvalues.models import read_rows  # noqa: E402
from cvalues.models.hf import HFBackend  # noqa: E402
from cvalues.models.registry import load_model  # noqa: E402
from tiny_model import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def model(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    directory = build_tiny_model(tmp_path_factory.mktemp(f"rows-{request.param}"), arch=request.param, seed=7)
    return AutoModelForCausalLM.from_pretrained(directory).eval()


@pytest.fixture(scope="module")
def installed(model):
    layer = read_rows.install(model)
    assert layer is model.get_decoder().layers[-1].self_attn
    assert model.config._attn_implementation == read_rows.NAME
    return model, layer


def random_ids(model, rows: int, length: int, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.vocab_size, (rows, length), generator=generator)


def test_read_rows_are_the_full_forward_s_and_the_others_are_skipped(installed):
    model, layer = installed
    ids = random_ids(model, 3, 40)
    positions = [[38, 39], [20, 21], [4]]  # right padding after each row's read positions
    with torch.inference_mode():
        full = model(input_ids=ids, use_cache=False).logits
        with read_rows.reading(layer, read_rows.rows_tensor(positions, "cpu")):
            part = model(input_ids=ids, use_cache=False).logits
    for j, wanted in enumerate(positions):
        torch.testing.assert_close(part[j, wanted], full[j, wanted], rtol=1e-5, atol=1e-5)
    # a position nobody reads did not attend in the last layer: its logits are not the model's
    assert not torch.allclose(part[0, 10], full[0, 10], atol=1e-3)


def test_a_padding_mask_is_honoured_row_by_row(installed):
    model, layer = installed
    ids = random_ids(model, 2, 16, seed=2)
    mask = torch.ones_like(ids)
    mask[1, :6] = 0  # left padding: the second row starts at its seventh position
    with torch.inference_mode():
        full = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        with read_rows.reading(layer, read_rows.rows_tensor([[15], [15]], "cpu")):
            part = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    torch.testing.assert_close(part[:, 15], full[:, 15], rtol=1e-5, atol=1e-5)


def test_outside_a_reading_block_and_on_other_threads_it_is_sdpa(installed):
    model, layer = installed
    ids = random_ids(model, 2, 24, seed=3)
    with torch.inference_mode():
        model.set_attn_implementation("sdpa")
        try:
            plain = model(input_ids=ids, use_cache=False).logits
        finally:
            model.set_attn_implementation(read_rows.NAME)
        ours = model(input_ids=ids, use_cache=False).logits
        seen = {}
        with read_rows.reading(layer, read_rows.rows_tensor([[23], [23]], "cpu")):
            worker = threading.Thread(target=lambda: seen.update(logits=model(input_ids=ids).logits))
            worker.start()
            worker.join()
    assert torch.equal(ours, plain)
    assert torch.equal(seen["logits"], plain)


def test_calls_it_cannot_reproduce_go_to_sdpa(installed):
    _, layer = installed
    query = torch.zeros(1, 4, 5, 8)
    key = torch.zeros(1, 2, 5, 8)
    with read_rows.reading(layer, torch.tensor([[4]])):
        assert read_rows._serves(layer, query, key, None, 0.0, {})
        assert not read_rows._serves(layer, query, key, None, 0.1, {})  # dropout
        assert not read_rows._serves(layer, query, key, None, 0.0, {"sliding_window": 4})
        assert not read_rows._serves(layer, query, key, None, 0.0, {"softcap": 30.0})
        assert not read_rows._serves(layer, query, key, None, 0.0, {"is_causal": False})
        continued = torch.zeros(1, 2, 9, 8)  # keys of a cache continued: more than the queries
        assert not read_rows._serves(layer, query, continued, None, 0.0, {})
        assert not read_rows._serves(object(), query, key, None, 0.0, {})  # another layer
        assert not read_rows._serves(layer, torch.zeros(2, 4, 5, 8), key, None, 0.0, {})  # another batch


def test_models_it_cannot_serve_are_left_as_they_were(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    directory = build_tiny_model(tmp_path / "m", seed=8)
    eager = AutoModelForCausalLM.from_pretrained(directory, attn_implementation="eager").eval()
    assert read_rows.install(eager) is None
    assert eager.config._attn_implementation == "eager"

    monkeypatch.setattr(read_rows, "_probe_agrees", lambda model, layer: False)
    sdpa = AutoModelForCausalLM.from_pretrained(directory).eval()
    assert read_rows.install(sdpa) is None
    assert sdpa.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_the_backend_scores_the_same_with_and_without_reading_rows(arch, tmp_path_factory):
    from test_models_hf import BATCH_ITEMS, run

    directory = build_tiny_model(tmp_path_factory.mktemp(f"rows-backend-{arch}"), arch=arch, seed=9)
    backend = load_model(f"hf:{directory}", device="cpu", batch_size=8)
    assert isinstance(backend, HFBackend) and backend._read_layer is not None
    calls = []
    original = read_rows._attention

    def counting(module, query, *args, **kwargs):
        if getattr(read_rows._reading, "rows", None) is not None and module is backend._read_layer:
            calls.append(query.shape[2])
        return original(module, query, *args, **kwargs)

    from transformers import AttentionInterface

    AttentionInterface.register(read_rows.NAME, counting)
    try:
        ours = run(backend.candidate_logprobs_batch(BATCH_ITEMS))
    finally:
        AttentionInterface.register(read_rows.NAME, original)
    assert calls  # the scoring forwards went through the reading path
    backend._read_layer = None
    backend.model.set_attn_implementation("sdpa")
    theirs = run(backend.candidate_logprobs_batch(BATCH_ITEMS))
    for a, b in zip(ours, theirs, strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_score_workers_score_batches_side_by_side_with_the_same_values(tmp_path_factory, monkeypatch):
    from test_models_hf import BATCH_ITEMS, run

    directory = build_tiny_model(tmp_path_factory.mktemp("rows-workers"), seed=11)
    one = load_model(f"hf:{directory}", device="cpu", threads=2)
    two = load_model(f"hf:{directory}", device="cpu", threads=2, score_workers=2)
    assert two.default_concurrency == 3 and two.describe()["score_workers"] == 2
    assert "score_workers" not in one.describe()
    active, peak, threads = [0], [0], set()
    guard = threading.Lock()
    real = two._score_plans

    def tracked(plans, results):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            threads.add((threading.current_thread().name, torch.get_num_threads()))
        try:
            time.sleep(0.05)  # long enough for the other worker to start its batch
            return real(plans, results)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(two, "_score_plans", tracked)

    async def both(backend):
        return await asyncio.gather(*(backend.candidate_logprobs_batch(BATCH_ITEMS) for _ in range(2)))

    ours = run(both(two))
    theirs = run(one.candidate_logprobs_batch(BATCH_ITEMS))
    assert peak[0] == 2  # two batches computed at once
    assert all(name.startswith("cvalues-hf-score") and n == 1 for name, n in threads)
    for batch in ours:
        for a, b in zip(batch, theirs, strict=True):
            assert a == pytest.approx(b, abs=1e-5)
    with pytest.raises(ValueError, match="score_workers"):
        load_model(f"hf:{directory}", device="cpu", score_workers=0)
