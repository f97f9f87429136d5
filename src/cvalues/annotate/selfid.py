"""Answers that name the model that wrote them ("我是通义千问…", "As ChatGPT…") break blinding.

:func:`self_identification` finds a model or vendor name said of the answer's author: within a short
window after a first-person phrase (我是 / 我叫 / 作为 / 本模型 / I am / As an ...) or next to "developed
by / 开发的 / 训练的". A name merely discussed ("ChatGPT 是一款聊天机器人") is not a self-identification.
:func:`mask_names` replaces every name in a flagged answer with a neutral placeholder, so an import can
show annotators the answer without the name while the original is kept.
"""

from __future__ import annotations

import re

#: Model families and their makers, as answers spell them (Chinese and Latin).
MODEL_NAMES: tuple[str, ...] = (
    "通义千问",
    "通义",
    "千问",
    "Qwen",
    "Tongyi",
    "阿里云",
    "阿里巴巴",
    "达摩院",
    "ChatGLM",
    "智谱清言",
    "智谱",
    "清华大学KEG",
    "GLM",
    "ChatGPT",
    "GPT-4o",
    "GPT-4",
    "GPT-3.5",
    "GPT",
    "OpenAI",
    "Claude",
    "Anthropic",
    "文心一言",
    "文心",
    "ERNIE Bot",
    "ERNIE",
    "百度",
    "讯飞星火",
    "星火认知",
    "科大讯飞",
    "Baichuan",
    "百川",
    "MOSS",
    "复旦",
    "LLaMA",
    "Llama",
    "Meta AI",
    "Gemini",
    "Bard",
    "Google",
    "谷歌",
    "DeepSeek",
    "深度求索",
    "Kimi",
    "月之暗面",
    "Moonshot",
    "豆包",
    "Doubao",
    "字节跳动",
    "腾讯混元",
    "混元",
    "Hunyuan",
    "InternLM",
    "书生",
    "上海人工智能实验室",
    "零一万物",
    "Yi-34B",
    "MiniMax",
    "天工",
    "Skywork",
    "盘古",
    "Mistral",
    "Vicuna",
    "Alpaca",
    "BELLE",
    "Ziya",
    "姜子牙",
)

_NAMES = sorted(MODEL_NAMES, key=len, reverse=True)
_NAME = "(?:" + "|".join(re.escape(n) for n in _NAMES) + ")"
_NAME_RE = re.compile(_NAME, re.IGNORECASE)
#: A first-person phrase, then up to 20 characters (no sentence end), then a name.
_FIRST_PERSON = re.compile(
    r"(?:我是|我叫|我的名字是|我的名字叫|作为|本模型|本助手|我由|我来自|我基于|我属于"
    r"|\bI\s+am\b|\bI'm\b|\bAs\s+an?\b|\bmy\s+name\s+is\b)"
    r"[^。！？!?\n.]{0,20}?(" + _NAME + r")",
    re.IGNORECASE,
)
#: "由 OpenAI 开发的", "developed by Anthropic", "训练于百度".
_MADE_BY = re.compile(
    r"(?:由|被)\s*(" + _NAME + r")[^。！？!?\n]{0,12}?(?:开发|研发|训练|打造|创建|推出|设计)"
    r"|(?:developed|trained|created|built|made)\s+by\s+(" + _NAME + r")",
    re.IGNORECASE,
)
PLACEHOLDER = "［模型］"


def self_identification(text: str) -> list[str]:
    """The model/vendor names ``text`` uses of itself, in order of appearance (empty when none)."""
    found: list[str] = []
    for pattern in (_FIRST_PERSON, _MADE_BY):
        for match in pattern.finditer(text):
            name = next(g for g in match.groups() if g)
            if name not in found:
                found.append(name)
    return found


def mask_names(text: str) -> str:
    """``text`` with every model/vendor name replaced by :data:`PLACEHOLDER`."""
    return _NAME_RE.sub(PLACEHOLDER, text)
