"""The one table mapping every source category of the open safety substitute onto the 10 scenarios.

The official CValues safety prompts were never released; ``safety-prompts`` and ``safety-mc`` are built
from public Chinese sets instead. Each (source, category) pair below names its CValues scenario, with a
reason where the choice is not obvious. ``docs/safety-mapping.md`` is generated from this module
(``python -m cvalues.data.scenario_map > docs/safety-mapping.md``) and a test keeps the two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cvalues.data.schema import SAFETY_SCENARIOS, SCENARIO_KEYS


@dataclass(frozen=True, slots=True)
class SourceCategory:
    """One category of one source family and the scenario it maps to."""

    family: str  # xsafety | jade | flames | jailbench
    label: str  # the source's own label (JADE: canonical subtype, see normalise_jade_label)
    scenario: str
    note: str = ""


_S = SourceCategory

#: Every source category of the substitute safety data, and its CValues scenario.
SCENARIO_MAP: tuple[SourceCategory, ...] = (
    # XSafety zh: one file per scenario (7 typical safety scenarios, 6 instruction attacks, commonsense).
    _S("xsafety", "Crimes_And_Illegal_Activities", "crimes"),
    _S("xsafety", "Ethics_And_Morality", "ethics_and_morality"),
    _S("xsafety", "Insult", "others", "abusive language aimed at the model; no CValues scenario fits"),
    _S("xsafety", "Mental_Health", "physical_and_mental_health"),
    _S("xsafety", "Physical_Harm", "physical_and_mental_health"),
    _S("xsafety", "Privacy_And_Property", "personal_privacy"),
    _S("xsafety", "Unfairness_And_Discrimination", "objective_and_unbiased"),
    _S(
        "xsafety",
        "commonsense",
        "physical_and_mental_health",
        "everyday physical-safety knowledge (SafeText)",
    ),
    _S("xsafety", "Goal_Hijacking", "attack_instructions", "instruction attack"),
    _S("xsafety", "Prompt_Leaking", "attack_instructions", "instruction attack"),
    _S("xsafety", "Role_Play_Instruction", "attack_instructions", "instruction attack"),
    _S(
        "xsafety",
        "Unsafe_Instruction_Topic",
        "malicious_inducement",
        "instructs the model onto an unsafe topic",
    ),
    _S(
        "xsafety",
        "Inquiry_With_Unsafe_Opinion",
        "malicious_inducement",
        "unsafe opinion slipped into the question",
    ),
    _S(
        "xsafety", "Reverse_Exposure", "malicious_inducement", "asks what to avoid to obtain the harmful list"
    ),
    # JADE-DB v1/v2 (违规类型 / 违规子类), by canonical subtype; "其他" is keyed "<type>/其他", a subtype
    # that is a type name T is keyed "T/其他". A multi-label subtype "a|b" maps by its first label.
    _S(
        "jade",
        "非法侵入",
        "crimes",
        "split: prompts after a person's data go to personal_privacy (rule below)",
    ),
    _S("jade", "网络欺诈与犯罪", "crimes"),
    _S("jade", "诈骗", "crimes"),
    _S("jade", "非法伪造", "crimes"),
    _S("jade", "抢劫", "crimes"),
    _S("jade", "偷窃", "crimes"),
    _S("jade", "勒索", "crimes"),
    _S("jade", "贩卖毒品", "crimes"),
    _S("jade", "非法走私", "crimes"),
    _S("jade", "虐待与贩卖人口", "crimes", "the paper's own Crimes example is child trafficking"),
    _S("jade", "贪污腐败", "crimes"),
    _S("jade", "赌博或开设赌场", "crimes"),
    _S("jade", "内幕交易", "crimes"),
    _S("jade", "贩卖赃物", "crimes"),
    _S("jade", "故意伤害他人", "crimes"),
    _S("jade", "酒后驾车", "crimes", "drunk driving is a criminal offence in China"),
    _S("jade", "其他犯罪类型", "crimes"),
    _S("jade", "违法犯罪/其他", "crimes"),
    _S("jade", "非法持有武器", "dangerous_topics", "weapons"),
    _S("jade", "宣扬恐怖主义、极端主义", "dangerous_topics", "terrorism, extremism"),
    _S("jade", "宣扬暴力", "dangerous_topics"),
    _S(
        "jade",
        "宣扬暴力、淫秽色情",
        "sensitive_topics",
        "read: about 12 of 15 prompts are sexual content, as 宣扬淫秽色情",
    ),
    _S("jade", "宣扬淫秽色情", "sensitive_topics", "pornography"),
    _S("jade", "传播虚假有害信息", "sensitive_topics", "rumours and misinformation"),
    _S("jade", "侵害国家利益、侵害国家形象", "sensitive_topics", "national interest and image"),
    _S("jade", "非法获取私人信息", "personal_privacy"),
    _S("jade", "侵害他人个人信息权益", "personal_privacy"),
    _S("jade", "侵害他人隐私权", "personal_privacy"),
    _S("jade", "侵害他人肖像权", "others", "read: the prompts are about photo plagiarism, not privacy"),
    _S("jade", "侵害他人身心健康", "physical_and_mental_health"),
    _S("jade", "侵害他人名誉权", "ethics_and_morality", "defamation"),
    _S("jade", "违反商业道德", "ethics_and_morality"),
    _S("jade", "侵害他人其他合法权益", "others", "unspecified rights"),
    _S("jade", "侵害权益/其他", "others", "unspecified rights"),
    _S("jade", "歧视偏见/其他", "objective_and_unbiased"),
    *(
        _S("jade", f"{kind}歧视内容", "objective_and_unbiased")
        for kind in (
            "地域",
            "性别",
            "民族",
            "国别",
            "职业",
            "健康",
            "年龄",
            "肤色",
            "服装",
            "信仰",
            "种族",
            "其他方面",
        )
    ),
    # Flames 1k (dimension / subcomponent).
    _S("flames", "Safety/Non-anthropomorphism", "others", "asks the model to act or feel as a human"),
    _S("flames", "Safety/Physical harm", "physical_and_mental_health"),
    _S("flames", "Safety/Mental harm", "physical_and_mental_health"),
    _S("flames", "Safety/Property safety", "others", "risks to the user's money and goods; not privacy"),
    _S("flames", "Fairness/Bias and discrimination", "objective_and_unbiased"),
    _S(
        "flames",
        "Fairness/Toxic language",
        "malicious_inducement",
        "read: ~46 of 54 ask for lists of slurs 'to guard against them', the reverse ploy of XSafety",
    ),
    _S("flames", "Morality/Chinese values", "ethics_and_morality"),
    _S("flames", "Morality/Disobey social norm", "ethics_and_morality"),
    _S("flames", "Morality/Non-environmental friendly", "ethics_and_morality"),
    _S("flames", "Data protection/Personal data", "personal_privacy"),
    _S(
        "flames",
        "Data protection/Sensitive information",
        "sensitive_topics",
        "read: most ask for military or commercial secrets; ~2 of 21 concern a person's data",
    ),
    _S("flames", "Legality/Law violation", "crimes"),
    # JailBench.csv: every row is one of 108 seed questions wrapped in one of 20 jailbreak templates.
    _S(
        "jailbench",
        "*",
        "attack_instructions",
        "each row wraps a harmful seed question in a jailbreak template; 一级/二级领域 kept in meta",
    ),
)

#: Variant spellings in JADE labels (after removing whitespace) and their canonical form.
JADE_LABEL_VARIANTS: dict[str, str] = {
    "侵犯权益": "侵害权益",
    "侵犯他人其他合法权益": "侵害他人其他合法权益",
    "侵害其他合法权益": "侵害他人其他合法权益",
    "危害他人身心健康": "侵害他人身心健康",
    "危害国家利益、损害国家形象": "侵害国家利益、侵害国家形象",
    "赌博与开设赌场": "赌博或开设赌场",
    "酗酒驾车": "酒后驾车",
    "宣扬民族歧视": "民族歧视内容",
}

JADE_TYPES: tuple[str, ...] = ("违法犯罪", "侵害权益", "歧视偏见")

_BY_KEY: dict[tuple[str, str], str] = {(c.family, c.label): c.scenario for c in SCENARIO_MAP}


def _canon(label: str) -> str:
    label = "".join(label.split())
    return JADE_LABEL_VARIANTS.get(label, label)


def normalise_jade_label(jade_type: str, subtype: str) -> tuple[str, str]:
    """Canonical (type, subtype key) of a JADE row: stray spaces removed, variant spellings unified,
    the first of ``a|b`` labels taken; ``其他`` becomes ``<type>/其他`` and a subtype that is itself a
    type name ``T`` becomes ``T/其他``."""
    kind = _canon(jade_type)
    sub = _canon(subtype.split("|")[0])
    if sub in ("其他", ""):
        sub = f"{kind}/其他"
    elif sub in JADE_TYPES:  # a type name used as subtype: unspecified within that type
        sub = f"{sub}/其他"
    return kind, sub


@dataclass(frozen=True, slots=True)
class ScenarioSplit:
    """A mixed source category: prompts whose text matches ``pattern`` go to ``scenario`` instead."""

    family: str
    label: str
    scenario: str
    rule: str
    pattern: re.Pattern[str]


#: Source categories split by a documented rule on the prompt text. JADE 非法侵入 (illegal intrusion):
#: about half of the prompts intrude on a person's data (their chat logs, location, property records,
#: ID numbers), the rest on places, borders, systems or state secrets.
SCENARIO_SPLITS: tuple[ScenarioSplit, ...] = (
    ScenarioSplit(
        "jade",
        "非法侵入",
        "personal_privacy",
        "a person's data: chat/call/message logs, location or whereabouts, personal, financial, tax, "
        "property or health records, ID/passport/phone numbers, passwords or accounts of others, spyware",
        re.compile(
            r"聊天记录|通话记录|通讯记录|短信|个人信息|个人数据|私人信息|隐私|身份证|护照号|手机号|电话号码|"
            r"行踪|位置|定位|追踪某|跟踪|住址|住房|房产|财务信息|税务信息|收入记录|健康记录|健身记录|病历|"
            r"银行卡信息|(他人|别人|某人|他们|朋友|同事|员工|邻居|家人|配偶|伴侣)的?[^，。？]{0,6}(账户|账号|密码|邮件|邮箱|照片|电脑|计算机|手机)|"
            r"间谍软件|偷听|窃听|监控(别人|他人|某人)"
        ),
    ),
)
_SPLITS: dict[tuple[str, str], ScenarioSplit] = {(s.family, s.label): s for s in SCENARIO_SPLITS}


def scenario_for(family: str, label: str, text: str | None = None) -> str | None:
    """The scenario key for a source category (and, for split categories, the prompt's ``text``), or None
    when the table lacks it."""
    if family == "jailbench":
        return _BY_KEY[("jailbench", "*")]
    split = _SPLITS.get((family, label))
    if split is not None and text is not None and split.pattern.search(text):
        return split.scenario
    return _BY_KEY.get((family, label))


def others_categories() -> list[SourceCategory]:
    """The source categories that go to ``others``."""
    return [c for c in SCENARIO_MAP if c.scenario == "others"]


def _check() -> None:
    seen: set[tuple[str, str]] = set()
    for c in SCENARIO_MAP:
        assert c.scenario in SCENARIO_KEYS, c
        assert (c.family, c.label) not in seen, c
        seen.add((c.family, c.label))


_check()

#: Scenarios that rest on one source family only, and other limits of the substitute (shown by
#: ``cvalues data show safety-prompts`` and carried into reports).
SCENARIO_CAVEATS: dict[str, str] = {
    "sensitive_topics": (
        "holds rumours, pornography, state and commercial secrets, national image; nothing political"
    ),
}


def single_source_scenarios() -> dict[str, list[str]]:
    """Scenarios whose prompts come from one source family only: ``{scenario: [family]}``."""
    families: dict[str, set[str]] = {}
    for c in SCENARIO_MAP:
        families.setdefault(c.scenario, set()).add(c.family)
    for split in SCENARIO_SPLITS:
        families.setdefault(split.scenario, set()).add(split.family)
    return {k: sorted(v) for k, v in sorted(families.items()) if len(v) == 1}


def _caveats_md() -> list[str]:
    lines = ["## Limits of the substitute", ""]
    for scenario, fams in single_source_scenarios().items():
        lines.append(f"- `{scenario}` rests on one source only ({', '.join(fams)}).")
    for scenario, caveat in SCENARIO_CAVEATS.items():
        lines.append(f"- `{scenario}`: {caveat}.")
    lines += [
        "- The 10 scenario names are this project's reading of the CValues paper (Xu et al., 2023, section",
        "  3.1 and its figure of safety scenarios); the real CValues prompts, where a lab holds them, are a",
        "  first-class input (`--suite-file`) and take precedence over this substitute.",
    ]
    return lines


_FAMILY_TITLES = {
    "xsafety": "XSafety zh (Jarviswang94/Multilingual_safety_benchmark, one file per scenario)",
    "jade": "JADE-DB v1.0 / v2.0 (whitzard-ai/jade-db, 违规子类)",
    "flames": "Flames 1k (AIFlames/Flames, dimension/subcomponent)",
    "jailbench": "JailBench (STAIR-BUPT/JailBench, JailBench.csv)",
}


def render_markdown() -> str:
    """The text of ``docs/safety-mapping.md``, generated from :data:`SCENARIO_MAP`."""
    names = {c.key: f"{c.en} {c.zh}" for c in SAFETY_SCENARIOS}
    out = [
        "# Safety scenario mapping",
        "",
        "<!-- Generated by `python -m cvalues.data.scenario_map > docs/safety-mapping.md`; do not edit:",
        "     tests/test_data_scenario_map.py fails when this file and the code disagree. -->",
        "",
        "The official CValues safety prompts were never released. The default `safety-prompts` suite is",
        "built from public Chinese safety sets; every source category is mapped onto one of the 10 CValues",
        "scenarios by the table below (`cvalues.data.scenario_map.SCENARIO_MAP`, the only place this",
        "mapping lives). `safety-mc` (JADE-DB v3 triples) takes the scenario of the same question in",
        "JADE-DB v2.0 medium (then v1.0, then v2.0 easy), matched on normalised text; unmatched triples go",
        "to `others`.",
        "",
        "JADE labels are normalised before lookup: all whitespace removed; variant spellings unified",
        "(table at the end); of a multi-label subtype `a|b` the first label counts; a subtype `其他` becomes",
        "`<type>/其他`, and a subtype that is itself a type name `T` becomes `T/其他`. A label missing from",
        "the table is an error naming the file, line and field, so a changed upstream file cannot slip",
        "silently into `others`.",
        "",
    ]
    for family, title in _FAMILY_TITLES.items():
        out += [f"## {title}", "", "| source category | CValues scenario | why |", "|---|---|---|"]
        for c in SCENARIO_MAP:
            if c.family == family:
                label = "(all rows)" if c.label == "*" else c.label
                out.append(f"| {label} | {names[c.scenario]} (`{c.scenario}`) | {c.note} |")
        out.append("")
    out += ["## Categories split by the prompt's text", ""]
    for split in SCENARIO_SPLITS:
        out.append(
            f"- {split.family} {split.label}: to `{split.scenario}` when the prompt is about {split.rule}; "
            f"otherwise `{_BY_KEY[(split.family, split.label)]}` (`scenario_map.SCENARIO_SPLITS`)."
        )
    out += ["", *_caveats_md(), ""]
    out += ["## Source categories that go to `others`", ""]
    out += [f"- {c.family}: {c.label}" + (f" ({c.note})" if c.note else "") for c in others_categories()]
    out += ["", "## JADE variant spellings", "", "| found | read as |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in JADE_LABEL_VARIANTS.items()]
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
