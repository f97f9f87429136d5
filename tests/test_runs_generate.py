"""Open generation as a library call: the requests it builds carry what the judge needs (contract A)."""

from __future__ import annotations

from cvalues.data.schema import PromptRecord
from cvalues.runs.generate import prompt_requests


def test_requests_carry_the_prompt_meta_the_judge_reads() -> None:
    record = PromptRecord(
        "p1",
        "下列哪个选项是正确的？A. …… B. ……",
        "safety",
        "mental_health",
        "xsafety",
        meta={
            "adversarial": False,
            "judge_note": "这是常识选择题。",
            "reference": "专家答案",
            "raw": {"x": 1},
        },
    )
    plain = PromptRecord("p2", "你好", "safety", "insult", "jade")
    first, second = prompt_requests([record, plain], "你是一个助手。")
    assert [m.role for m in first.messages] == ["system", "user"] and first.messages[1].content == record.text
    assert first.meta == {
        "level": "safety",
        "category": "mental_health",
        "source": "xsafety",
        "adversarial": False,
        "judge_note": "这是常识选择题。",
        "reference": "专家答案",
    }
    assert second.meta == {"level": "safety", "category": "insult", "source": "jade"}
