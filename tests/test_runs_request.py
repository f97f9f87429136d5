"""Request keys change exactly when the answer could change; selection of items is deterministic."""

from __future__ import annotations

import pytest

from cvalues.models.base import ChatMessage, GenerationSettings, ModelBackend
from cvalues.runs.request import Request, chat_messages, model_fingerprint, select

S = GenerationSettings()


class Described(ModelBackend):
    def __init__(self, spec: str, **facts):
        self.spec, self.facts = spec, facts

    def describe(self):
        return {"spec": self.spec, **self.facts}

    async def generate(self, messages, settings):
        raise NotImplementedError

    async def candidate_logprobs(self, context, candidates):
        raise NotImplementedError


FP = model_fingerprint(Described("openai:m"))


def test_key_is_stable_and_ignores_bookkeeping():
    a = Request("1", chat_messages("你好"), meta={"x": 1})
    b = Request("1", (ChatMessage("user", "你好"),), meta={"y": 2})
    assert a.key(FP, S) == b.key(FP, S)
    # another item with the same text is another key: it keeps its own answer
    assert a.key(FP, S) != Request("other-id", chat_messages("你好")).key(FP, S)
    assert len(a.key(FP, S)) == 64
    assert a == b.__class__("1", b.messages)  # meta is not compared
    assert a.key(FP, S) == Request("1", [ChatMessage("user", "你好")]).key(FP, S)  # list -> tuple


@pytest.mark.parametrize(
    "changed",
    [
        lambda r, fp, s: (Request(r.item_id, chat_messages("你好！")), fp, s),  # prompt (full-width !)
        lambda r, fp, s: (Request(r.item_id, chat_messages("你好", "系统")), fp, s),  # system prompt
        lambda r, fp, s: (Request(r.item_id, (ChatMessage("assistant", "你好"),)), fp, s),  # role
        lambda r, fp, s: (r, model_fingerprint(Described("openai:m2")), s),  # model
        lambda r, fp, s: (r, model_fingerprint(Described("openai:m", revision="abc")), s),  # weights
        lambda r, fp, s: (r, fp, GenerationSettings(temperature=0.7)),  # setting
        lambda r, fp, s: (r, fp, GenerationSettings(max_tokens=100)),
        lambda r, fp, s: (r, fp, GenerationSettings(stop=("。",))),
    ],
)
def test_any_change_that_can_change_the_answer_is_a_new_key(changed):
    r = Request("1", chat_messages("你好"))
    other, fp, s = changed(r, FP, S)
    assert other.key(fp, s) != r.key(FP, S)


def test_serving_details_are_not_identity_but_declared_identity_is():
    base = Described("openai:m")
    served = Described("openai:m", base_url="http://elsewhere/v1", timeout=3, concurrency=64, device="cuda")
    assert model_fingerprint(base) == model_fingerprint(served)
    thinking = Described("openai:m", identity={"extra_body": {"enable_thinking": False}})
    assert model_fingerprint(thinking) != model_fingerprint(base)


def test_logprob_keys_depend_on_candidates_not_decoding_settings():
    r = Request("1", chat_messages("哪个更好？"), kind="logprobs", candidates=("回复1", "回复2"))
    assert r.key(FP, S) == r.key(FP, GenerationSettings(temperature=1.0, max_tokens=3))
    assert r.key(FP, S) != Request("1", r.messages, kind="logprobs", candidates=("回复2", "回复1")).key(FP, S)
    assert r.key(FP, S) != Request("1", r.messages).key(FP, S)


def test_invalid_requests_name_the_item():
    with pytest.raises(ValueError, match="item q7"):
        Request("q7", ())
    with pytest.raises(ValueError, match="distinct"):
        Request("q7", chat_messages("x"), kind="logprobs", candidates=("A", "A"))
    with pytest.raises(ValueError, match="non-empty"):
        Request("q7", chat_messages("x"), kind="logprobs", candidates=("A", ""))
    with pytest.raises(ValueError, match="only logprobs"):
        Request("q7", chat_messages("x"), candidates=("A",))
    with pytest.raises(ValueError, match="kind"):
        Request("q7", chat_messages("x"), kind="score")  # type: ignore[arg-type]


class Item:
    def __init__(self, id: str):
        self.id = id


def test_select_is_deterministic_nested_and_order_preserving():
    items = [Item(f"i{n}") for n in range(100)]
    ids = [x.id for x in items]
    s10 = [x.id for x in select(items, sample=10, seed=1)]
    assert s10 == [x.id for x in select(list(reversed(items)), sample=10, seed=1)][::-1]
    assert s10 == sorted(s10, key=ids.index)
    assert len(s10) == 10
    assert set(s10) < {x.id for x in select(items, sample=30, seed=1)}
    assert s10 != [x.id for x in select(items, sample=10, seed=2)]
    # adding items does not change which old ones are chosen, beyond those displaced
    more = [x.id for x in select([*items, *(Item(f"new{n}") for n in range(5))], sample=10, seed=1)]
    assert {i for i in more if not i.startswith("new")} <= set(s10)
    assert [x.id for x in select(items, limit=3)] == ["i0", "i1", "i2"]
    assert [x.id for x in select(items, sample=10, seed=1, limit=2)] == s10[:2]
    assert select(items, sample=500) == items
    with pytest.raises(ValueError):
        select(items, limit=-1)
    with pytest.raises(TypeError, match="id_of"):
        select([1, 2], sample=1)
    assert select([1, 2, 3], sample=3, id_of=str) == [1, 2, 3]


def test_equal_settings_give_equal_keys():
    r = Request("x", (ChatMessage("user", "hi"),))
    same = GenerationSettings(temperature=0, top_p=1, stop=["。"])  # ints and a list, as a Python caller may
    assert r.key(FP, same) == r.key(FP, GenerationSettings(temperature=0.0, top_p=1.0, stop=("。",)))
