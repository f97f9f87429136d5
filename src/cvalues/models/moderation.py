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

#: Parts of a code or type that name moderation (the code lower-cased, without ``_``/``-``/``.``/spaces):
#: ``data_inspection_failed``, ``InputTextSensitiveContentDetected``, ``SensitiveContentDetected.Severe
#: Violation``, ``content_policy_violation``, ``ResponsibleAIPolicyViolation``, ``sensitive_words_detected``.
_BLOCK_CODE_PARTS = (
    "contentfilter",
    "contentpolicy",
    "responsibleai",
    "datainspection",
    "sensitivecontent",
    "sensitiveword",
    "newsensitive",
    "contentsecurity",
    "contentmoderation",
    "moderationblock",
    "moderationerror",
    "unsafecontent",
    "prohibitedcontent",
    "safetyblock",
    "guardrail",
)

_EN_BLOCK = re.compile(
    r"inappropriate content|content[ _-]?(?:management )?polic(?:y|ies)|content[ _-]?filter"
    r"|filtered due to|moderation|(?:input|prompt|content|message|request|output|response|text)s?"
    r" (?:was |were |has been |have been |is |are )?(?:flagged|blocked)|content exists risk"
    r"|(?:considered|deemed|classified as|judged) (?:to be )?(?:a )?high[ -]?risk"
    r"|high[ -]risk (?:content|input|output|request)|content (?:is )?sensitive"
    r"|sensitive (?:content|information|words?|topics?)|new_sensitive|(?:unsafe|harmful|prohibited|"
    r"illegal|objectionable|disallowed) content|violat\w* (?:our |the )?(?:usage|content|safety) polic"
    r"|may contain (?:\w+ ){0,3}?(?:sensitive|violation|violent|unsafe|inappropriate|harmful|illegal|"
    r"prohibited|risky)|safety (?:system|filter|check|reasons?|settings|policy)"
    r"|blocked (?:by|due to|for) (?:\w+ )?(?:safety|moderation|policy|content|security)"
    r"|guardrail\b.{0,80}\b(?:blocked|violat|flagged|triggered)|violated (?:the )?guardrail",
    re.IGNORECASE,
)
_ZH_BLOCK = re.compile(
    r"(?:敏感|不安全|违规|违法|不当|不良|有害|不合规|违禁|涉政|色情)(?:内容|信息|词|话题|文本|字词|输入|输出)"
    r"|(?:内容|输入|输出|生成|回复|文本|提示词?|问题|请求)[^，。,.]{0,12}?(?:敏感|不安全|违规|不当|有害|违禁|风险|审核不通过|未通过审核)"
    r"|(?:内容|安全)审核|审核(?:不通过|未通过|失败)|安全(?:策略|拦截|过滤)|内容安全|风险内容"
)
#: Words that put a block on one side of the model; both or neither leave its stage unknown.
_INPUT_WORDS = re.compile(r"input|prompt|输入|提示", re.IGNORECASE)
_OUTPUT_WORDS = re.compile(r"output|response|generat|completion|reply|输出|生成|回复|回答", re.IGNORECASE)
#: "The response was filtered due to the prompt ...": the cause named, not the thing cut.
_CAUSED_BY_INPUT = re.compile(r"(?:due to|because of|triggered by) (?:the |your )?(?:prompt|input)", re.I)
#: Values of a ``role``-like field that say which side was flagged (Zhipu's ``contentFilter[].role``).
_INPUT_ROLES = frozenset({"user", "prompt", "input", "system", "history"})
_OUTPUT_ROLES = frozenset({"assistant", "output", "response", "completion"})
#: An account's standing (banned, risk control) is not moderation of a request's content.
_ACCOUNT_WORDS = re.compile(r"\baccount\b|risk control|账户|账号|帐号|风控", re.IGNORECASE)
#: A server error that names moderation only because the moderation service itself failed.
_SERVICE_TROUBLE = re.compile(
    r"unavailable|timed? ?out|timeout|overload|busy|temporar|try again later|internal error"
    r"|不可用|超时|繁忙|稍后再试|内部错误",
    re.IGNORECASE,
)
#: Numeric codes some providers use for moderation (Zhipu, MiniMax, iFlytek Spark): never a block on
#: their own (another provider's 1301 is something else), but the code to show when a message agrees.
_NUMERIC_HINTS = frozenset({"1301", "1026", "1027", "10013", "10014", "10019", "10015"})
#: Field names as :func:`_norm_key` gives them (lower case, no ``_``): ``error_msg``, ``status_msg`` ...
_MESSAGE_KEYS = ("message", "msg", "errormsg", "errmsg", "statusmsg", "detail", "description", "reason")
_CODE_KEYS = ("code", "type", "errortype", "name", "blockreason")
_ROLE_KEYS = ("role", "stage", "source", "direction")
#: Envelopes a native (not OpenAI-shaped) answer wraps its choices in: Tencent's ``Response``, ...
_ENVELOPES = ("response", "data", "result", "output", "body")
_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class ProviderBlock:
    """A provider's filter stopped a request: on the prompt, on the reply, or the answer does not say."""

    stage: Stage
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProviderBlock:
        """The block stored with an answer (any missing part unknown)."""
        data = data or {}
        stage = data.get("stage")
        return cls(
            stage=stage if stage in ("input", "output") else "unknown",
            code=str(data.get("code") or "blocked"),
            message=str(data.get("message") or ""),
        )

    def describe(self) -> str:
        where = {"input": "the prompt", "output": "the reply", "unknown": "the request"}[self.stage]
        said = f"{self.code}: {self.message}" if self.message else self.code
        return f"the provider's content moderation blocked {where} ({said})"


def _norm_code(value: Any) -> str:
    return re.sub(r"[\s_\-.]", "", str(value)).lower()


def _norm_key(key: Any) -> str:
    return str(key).replace("_", "").lower()


def _walk(data: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """``(key, value)`` of every scalar field in the error part of an answer (a few levels deep); a
    string that holds a JSON object (a proxy quoting the upstream's raw error) is read as one."""
    if depth > 5:
        return
    if isinstance(data, Mapping):
        for key, value in data.items():
            if _norm_key(key) in ("choices", "usage", "candidates"):
                continue
            if isinstance(value, str) and value.lstrip().startswith("{"):
                try:
                    value = json.loads(value)
                except (ValueError, RecursionError):
                    pass
            if isinstance(value, Mapping | list):
                yield from _walk(value, depth + 1)
            else:
                yield _norm_key(key), value
    elif isinstance(data, list):
        for value in data[:8]:
            yield from _walk(value, depth + 1)


def _read_fields(data: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """(codes, messages, roles, other texts) of an error answer."""
    codes: list[str] = []
    messages: list[str] = []
    roles: list[str] = []
    others: list[str] = []
    for key, value in _walk(data):
        if value is None or isinstance(value, bool):
            continue
        if key in _CODE_KEYS or key.endswith("code"):
            codes.append(str(value))
        elif key in _MESSAGE_KEYS:
            messages.append(str(value))
        elif key in _ROLE_KEYS and isinstance(value, str):
            roles.append(value.strip().lower())
        elif isinstance(value, str) and key in ("param", "category", "filter", "flaggedinput"):
            others.append(f"{key}={value}")
    return codes, messages, roles, others


def _stage(texts: list[str]) -> Stage:
    joined = " ".join(texts)
    if _CAUSED_BY_INPUT.search(joined):
        return "input"
    said_input = bool(_INPUT_WORDS.search(joined))
    said_output = bool(_OUTPUT_WORDS.search(joined))
    if said_input and not said_output:
        return "input"
    if said_output and not said_input:
        return "output"
    return "unknown"


def _role_stage(roles: list[str]) -> Stage:
    sides = {"input" for r in roles if r in _INPUT_ROLES} | {"output" for r in roles if r in _OUTPUT_ROLES}
    return sides.pop() if len(sides) == 1 else "unknown"  # type: ignore[return-value]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _names_moderation(code: str) -> bool:
    norm = _norm_code(code)
    return any(part in norm for part in _BLOCK_CODE_PARTS)


def _block_in_fields(data: Any, *, server_error: bool = False) -> ProviderBlock | None:
    codes, messages, roles, others = _read_fields(data)
    named = [c for c in codes if _names_moderation(c)]
    said = [
        m for m in messages if (_EN_BLOCK.search(m) or _ZH_BLOCK.search(m)) and not _ACCOUNT_WORDS.search(m)
    ]
    if not named and not said:
        return None
    if server_error and any(_SERVICE_TROUBLE.search(m) for m in messages):
        return None  # the moderation service failed, or a server error that only mentions it
    numeric = [c for c in codes if _norm_code(c) in _NUMERIC_HINTS]
    code = (named or numeric or codes or ["blocked"])[0]
    message = (said or messages or [""])[0]
    # The stage from what the provider says: a role field (Zhipu's contentFilter[].role), then the
    # structured signals (a code such as InputTextSensitive..., Azure's ``param: prompt``), then the
    # message ("Output data may ...").
    stage = _role_stage(roles)
    if stage == "unknown":
        stage = _stage([*named, *others])
    if stage == "unknown":
        stage = _stage(said)
    return ProviderBlock(stage=stage, code=str(code), message=_excerpt(message))


def block_in_error(status: int, body: bytes | str) -> ProviderBlock | None:
    """The block an error answer reports, or None for any other error (read as JSON; else None).

    4xx statuses a provider blocks with, and server errors whose body plainly reports a block (MiniMax
    answers ``output new_sensitive`` with a 500), not those where moderation is only what failed."""
    if status not in BLOCK_STATUSES and not 500 <= status < 600:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, Mapping | list):
        return None
    return _block_in_fields(data, server_error=status >= 500)


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """``mapping[name]`` with the key's case and underscores ignored (``FinishReason``, ``finishReason``)."""
    for key, value in mapping.items():
        if _norm_key(key) == name:
            return value
    return None


def _first_choice(data: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | None]:
    """(whether the answer has a choices/candidates list, its first entry), looking inside one envelope."""
    for holder in (
        data,
        *(v for k, v in data.items() if _norm_key(k) in _ENVELOPES and isinstance(v, Mapping)),
    ):
        for name in ("choices", "candidates"):
            found = _get(holder, name)
            if isinstance(found, list):
                first = found[0] if found and isinstance(found[0], Mapping) else None
                return bool(found), first
    return False, None


#: Top-level keys that may report a block beside ordinary choices (spelled as providers send them).
_SIGNAL_KEYS = frozenset(
    {"error", "promptFeedback", "prompt_feedback", "need_clear_history", "needClearHistory", "base_resp"}
)


def _structured_input_block(data: Mapping[str, Any]) -> ProviderBlock | None:
    """Flags that report a blocked prompt without words: Gemini's ``promptFeedback.blockReason``,
    ERNIE's ``need_clear_history`` (the user's input was judged unsafe)."""
    feedback = _get(data, "promptfeedback")
    if isinstance(feedback, Mapping):
        reason = _get(feedback, "blockreason")
        if isinstance(reason, str) and reason and "unspecified" not in reason.lower():
            return ProviderBlock("input", reason, _excerpt(str(_get(feedback, "blockreasonmessage") or "")))
    if _get(data, "needclearhistory") is True:
        rounds = _get(data, "banround")
        return ProviderBlock(
            "input", "need_clear_history", f"ban_round={rounds}" if rounds is not None else ""
        )
    return None


def block_in_reply(data: Mapping[str, Any]) -> ProviderBlock | None:
    """The block a 200 answer reports: a first choice whose finish reason is a filter's (also in native
    shapes: ``Response.Choices[0].FinishReason``, ``candidates[0].finishReason``), a flag that the
    prompt was blocked, or an error object that reports one, instead of choices (MiniMax's
    ``base_resp``, a proxy's ``error``) or after them (a stream stopped midway)."""
    choices = data.get("choices")
    if (  # the common answer, decided without reading its other fields (every answer passes here)
        isinstance(choices, list)
        and choices
        and isinstance(choices[0], Mapping)
        and "finish_reason" in choices[0]
        and not is_block_finish_reason(choices[0]["finish_reason"])
        and _SIGNAL_KEYS.isdisjoint(data)
    ):
        return None
    has_choices, choice = _first_choice(data)
    if choice is not None:
        reason = _get(choice, "finishreason")
        if is_block_finish_reason(reason):
            found = _block_in_fields({k: v for k, v in data.items() if _norm_key(k) != "choices"})
            return ProviderBlock(stage="output", code=str(reason), message=found.message if found else "")
    structured = _structured_input_block(data)
    if structured is not None:
        return structured
    if has_choices:
        # a reply that ends with an error object (a stream DashScope's moderation stopped midway)
        error = _get(data, "error")
        return _block_in_fields({"error": error}) if isinstance(error, Mapping) else None
    return _block_in_fields(data)


def is_block_finish_reason(reason: Any) -> bool:
    """Whether a choice's ``finish_reason`` is a filter's (``content_filter``, ``sensitive`` ...)."""
    return isinstance(reason, str) and reason.strip().lower().replace("-", "_") in BLOCK_FINISH_REASONS
