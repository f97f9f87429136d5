"""Typed records that cross layers, and the benchmark's fixed category vocabularies.

One place for each fact: the 10 safety scenarios and the 8 responsibility domains live here, and
every loader maps its source's labels onto these keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Level = Literal["safety", "responsibility"]
Gold = Literal["回复1", "回复2"]
LEVELS: tuple[str, ...] = ("safety", "responsibility")
GOLD_LABELS: tuple[str, ...] = ("回复1", "回复2")


@dataclass(frozen=True, slots=True)
class Category:
    """One scenario (safety) or domain (responsibility): a stable key plus its English and Chinese names."""

    key: str
    en: str
    zh: str


#: The 10 CValues safety scenarios (paper, Level 1). ``others`` takes what fits nowhere else. The names
#: are this project's reading of the paper (Xu et al., 2023, arXiv 2307.09705, section 3.1 and its
#: figure of safety scenarios; the safety prompts themselves were never released), not an official key
#: list: a lab holding the real CValues prompts gives them with ``--suite-file`` as a first-class input.
SAFETY_SCENARIOS: tuple[Category, ...] = (
    Category("dangerous_topics", "Dangerous Topics", "危险话题"),
    Category("sensitive_topics", "Sensitive Topics", "敏感话题"),
    Category("crimes", "Crimes", "违法犯罪"),
    Category("physical_and_mental_health", "Physical and Mental Health", "身心健康"),
    Category("personal_privacy", "Personal Privacy", "个人隐私"),
    Category("objective_and_unbiased", "Objective and Unbiased", "客观与公正"),
    Category("ethics_and_morality", "Ethics and Morality", "伦理道德"),
    Category("malicious_inducement", "Malicious Inducement", "恶意诱导"),
    Category("attack_instructions", "Attack Instructions", "攻击指令"),
    Category("others", "Others", "其他"),
)

#: The 8 CValues responsibility domains, keyed as spelled in the released file.
RESPONSIBILITY_DOMAINS: tuple[Category, ...] = (
    Category("environmental_science", "Environmental Science", "环境科学"),
    Category("intimate_relationship", "Intimate Relationship", "亲密关系"),
    Category("social_science", "Social Science", "社会学"),
    Category("psychology", "Psychology", "心理学"),
    Category("law", "Law", "法理学"),
    Category("barrier_free", "Barrier Free", "无障碍"),
    Category("data_science", "Data Science", "数据科学"),
    Category("lesser_known_major", "Lesser-known Major", "冷门专业"),
)

SCENARIO_KEYS: frozenset[str] = frozenset(c.key for c in SAFETY_SCENARIOS)
DOMAIN_KEYS: frozenset[str] = frozenset(c.key for c in RESPONSIBILITY_DOMAINS)


def category_by_name(name: str, level: Level) -> Category | None:
    """Find a scenario/domain by key, English or Chinese name (spaces and case ignored)."""
    wanted = "".join(name.split()).casefold().replace("-", "_")
    table = SAFETY_SCENARIOS if level == "safety" else RESPONSIBILITY_DOMAINS
    for cat in table:
        names = (cat.key, cat.en.replace(" ", "_"), cat.en.replace(" ", ""), cat.zh)
        if any(wanted == "".join(n.split()).casefold().replace("-", "_") for n in names):
            return cat
    return None


@dataclass(frozen=True, slots=True)
class PromptRecord:
    """An open question put to the model under test, for human (or judge) evaluation.

    ``category`` is a key of :data:`SAFETY_SCENARIOS` or :data:`RESPONSIBILITY_DOMAINS`; ``source``
    names the upstream file (``OWNER/REPO/PATH``) or user file it came from; ``meta`` keeps source
    fields worth tracing (``domain_zh``, the source's own category, ...).
    """

    id: str
    text: str
    level: Level
    category: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "prompt", **asdict(self)}


@dataclass(frozen=True, slots=True)
class MCItem:
    """One multi-choice row: which of two replies to ``question`` is better (CValues form).

    Both orders of a pair are two items sharing ``pair_id``; ``gold`` is the position of the good reply.
    ``prompt`` is the exact text shown to the model when the source ships one (the official file
    does); otherwise the scorer renders one from a template.
    """

    id: str
    question: str
    reply1: str
    reply2: str
    gold: Gold
    level: Level
    category: str
    difficulty: str | None
    pair_id: str
    source: str
    prompt: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "mc", **asdict(self)}


@dataclass(frozen=True, slots=True)
class OptionItem:
    """A multiple-choice question with 2-4 options and one answer index (SafetyBench form)."""

    id: str
    question: str
    options: tuple[str, ...]
    answer: int
    level: Level
    category: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "option", **asdict(self), "options": list(self.options)}


Record = PromptRecord | MCItem | OptionItem
