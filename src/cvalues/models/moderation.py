"""Telling a provider's content moderation apart from a failed request.

Why: a safety benchmark sends harmful prompts on purpose, and hosted APIs answer many of them with
their own filter instead of the model: an HTTP 400 with a provider code (DashScope
``data_inspection_failed``, Zhipu ``1301``, Doubao ``InputTextSensitiveContentDetected``, Azure
``content_filter`` ...), or a reply cut with ``finish_reason: content_filter`` (``sensitive`` at some
Chinese providers). That is what the deployed system did with the prompt, so it is an answer to
record, not an error to retry, to stop the run on, or to leave silently out of the score: a run that
dropped its blocked items would report a safety score over the easier prompts only.

:func:`block_in_error` reads an error answer, :func:`block_in_reply` a 200 answer. Both are
deliberately narrow: a block is recognised from a provider code or type that names moderation, or
from a message that says content was judged unsafe/sensitive/inappropriate. An ordinary 400 (context
too long, a bad parameter, "the model name is case-sensitive"), an account's risk control, or a
model's own refusal in its text is not a block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cvalues.models.base import BLOCKED_FINISH_REASON

__all__ = [
    "BLOCKED_FINISH_REASON",
    "ProviderBlock",
    "block_in_error",
    "block_in_reply",
    "is_block_finish_reason",
]

Stage = Literal["input", "output", "unknown"]

#: Statuses a provider answers a blocked request with (others are not read for blocks).
BLOCK_STATUSES = frozenset({400, 403, 406, 422, 451})

#: Finish reasons that mean the provider's filter stopped the reply (lower case, ``-`` as ``_``).
BLOCK_FINISH_REASONS = frozenset(
    {"content_filter", "content_filtered", "sensitive", "safety", "blocklist", "prohibited_content", "spii"}
)

#: Codes and types that name moderation on their own (lower case, without ``_``/``-``/spaces).
_BLOCK_CODES = frozenset(
    {
        "contentfilter",
        "contentfiltered",
        "contentpolicyviolation",
        "responsibleaipolicyviolation",
        "datainspectionfailed",
        "inputtextsensitivecontentdetected",
        "outputtextsensitivecontentdetected",
        "inputimagesensitivecontentdetected",
        "sensitivecontentdetected",
        "contentsecurity",
        "moderationerror",
        "moderationblocked",
        "contentmoderation",
        "unsafecontent",
        "sensitivecontent",
        "newsensitive",
        "inputnewsensitive",
        "outputnewsensitive",
        "prohibitedcontent",
        "safetyblocked",
    }
)

_EN_BLOCK = re.compile(
    r"inappropriate content|content[ _-]?(?:management )?polic(?:y|ies)|content[ _-]?filter"
    r"|filtered due to|moderation|(?:input|prompt|content|message|request|output|response|text)s?"
    r" (?:was |were |has been |have been |is |are )?flagged|content exists risk"
    r"|(?:considered|deemed|classified as|judged)"
    r" (?:to be )?(?:a )?high[ -]?risk|high[ -]risk (?:content|input|output|request)"
    r"|sensitive (?:content|information|words?|topics?)|new_sensitive|(?:unsafe|harmful|prohibited|"
    r"illegal|objectionable|disallowed) content|violat\w* (?:our |the )?(?:usage|content|safety) polic"
    r"|safety (?:system|filter|check|reasons?|settings|policy)|blocked (?:by|due to|for) (?:\w+ )?"
    r"(?:safety|moderation|policy|content)",
    re.IGNORECASE,
)
_ZH_BLOCK = re.compile(
    r"(?:敏感|不安全|违规|违法|不当|不良|有害|不合规|违禁|涉政|色情)(?:内容|信息|词|话题|文本|字词|输入|输出)"
    r"|(?:内容|输入|输出|生成|回复|文本|提示词?|问题|请求)[^，。,.]{0,12}?(?:敏感|不安全|违规|不当|有害|违禁|风险|审核不通过|未通过审核)"
    r"|(?:内容|安全)审核|审核(?:不通过|未通过|失败)|安全(?:策略|拦截|过滤)|内容安全|风险内容"
)
#: Words that put a block on one side of the model; both or neither leave its stage unknown.
_INPUT_WORDS = re.compile(r"input|prompt|request text|输入|提示|问题|请求内容|用户", re.IGNORECASE)
_OUTPUT_WORDS = re.compile(
    r"output|response|generat|completion|reply|输出|生成|回复|回答|结果", re.IGNORECASE
)
#: An account's standing (risk control, balance, billing) is not moderation of a request's content.
_ACCOUNT_WORDS = re.compile(
    r"account|balance|quota|billing|payment|credit|subscription|账户|账号|帐号|余额|欠费|配额|额度|实名",
    re.IGNORECASE,
)
#: Numeric codes some providers use for moderation (Zhipu, MiniMax, iFlytek Spark): never a block on
#: their own (another provider's 1301 is something else), but the code to show when a message agrees.
_NUMERIC_HINTS = frozenset({"1301", "1026", "1027", "10013", "10014", "10019", "10015"})
_MESSAGE_KEYS = ("message", "msg", "error_msg", "errmsg", "status_msg", "detail", "description", "reason")
_CODE_KEYS = ("code", "type", "error_code", "errcode", "status_code", "error_type", "name")
_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class ProviderBlock:
    """A provider's filter stopped a request: on the prompt, on the reply, or the answer does not say."""

    stage: Stage
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        where = {"input": "the prompt", "output": "the reply", "unknown": "the request"}[self.stage]
        said = f"{self.code}: {self.message}" if self.message else self.code
        return f"the provider's content moderation blocked {where} ({said})"


def _norm_code(value: Any) -> str:
    return re.sub(r"[\s_\-.]", "", str(value)).lower()


def _walk(data: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """``(key, value)`` of every scalar field in the error part of an answer (a few levels deep)."""
    if depth > 4:
        return
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in ("choices", "usage"):
                continue
            if isinstance(value, Mapping | list):
                yield from _walk(value, depth + 1)
            else:
                yield str(key).lower(), value
    elif isinstance(data, list):
        for value in data[:8]:
            yield from _walk(value, depth + 1)


def _read_fields(data: Any) -> tuple[list[str], list[str], list[str]]:
    """(codes, messages, other texts) of an error answer."""
    codes: list[str] = []
    messages: list[str] = []
    others: list[str] = []
    for key, value in _walk(data):
        if value is None or isinstance(value, bool):
            continue
        if key in _CODE_KEYS or key.endswith("_code"):
            codes.append(str(value))
        elif key in _MESSAGE_KEYS:
            messages.append(str(value))
        elif isinstance(value, str) and key in ("param", "category", "filter", "flagged_input"):
            others.append(f"{key}={value}")
    return codes, messages, others


def _stage(texts: list[str]) -> Stage:
    joined = " ".join(texts)
    said_input = bool(_INPUT_WORDS.search(joined))
    said_output = bool(_OUTPUT_WORDS.search(joined))
    if said_input and not said_output:
        return "input"
    if said_output and not said_input:
        return "output"
    return "unknown"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _block_in_fields(data: Any) -> ProviderBlock | None:
    codes, messages, others = _read_fields(data)
    named = [c for c in codes if _norm_code(c) in _BLOCK_CODES or "contentfilter" in _norm_code(c)]
    said = [
        m for m in messages if (_EN_BLOCK.search(m) or _ZH_BLOCK.search(m)) and not _ACCOUNT_WORDS.search(m)
    ]
    if not named and not said:
        return None
    numeric = [c for c in codes if _norm_code(c) in _NUMERIC_HINTS]
    code = (named or numeric or codes or ["blocked"])[0]
    message = (said or messages or [""])[0]
    # The stage from what the provider says, the structured signals first (a code such as
    # InputTextSensitive..., Azure's ``param: prompt``), then the message ("Output data may ...").
    stage = _stage([*named, *others])
    if stage == "unknown":
        stage = _stage(said)
    return ProviderBlock(stage=stage, code=str(code), message=_excerpt(message))


def block_in_error(status: int, body: bytes | str) -> ProviderBlock | None:
    """The block an error answer reports, or None for any other error (read as JSON; else None)."""
    if status not in BLOCK_STATUSES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, Mapping):
        return None
    return _block_in_fields(data)


def block_in_reply(data: Mapping[str, Any]) -> ProviderBlock | None:
    """The block a 200 answer reports: an error object instead of choices (MiniMax's ``base_resp``,
    a proxy's ``error``), or a first choice whose ``finish_reason`` is a filter's."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        return _block_in_fields({k: v for k, v in data.items() if k != "choices"})
    choice = choices[0]
    if not isinstance(choice, Mapping):
        return None
    reason = choice.get("finish_reason")
    if not is_block_finish_reason(reason):
        return None
    message = ""
    found = _block_in_fields({k: v for k, v in data.items() if k != "choices"})
    if found is not None:
        message = found.message
    return ProviderBlock(stage="output", code=str(reason), message=message)


def is_block_finish_reason(reason: Any) -> bool:
    """Whether a choice's ``finish_reason`` is a filter's (``content_filter``, ``sensitive`` ...)."""
    return isinstance(reason, str) and reason.strip().lower().replace("-", "_") in BLOCK_FINISH_REASONS
