"""Suites built from the real mirror files; expected counts are computed here from the files directly."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.sampling import allocate, one_per_group
from cvalues.data.scenario_map import normalise_jade_label, scenario_for
from cvalues.data.schema import DOMAIN_KEYS, SCENARIO_KEYS, MCItem, OptionItem, PromptRecord
from cvalues.data.suites import SAFETY_SAMPLE_SIZE, list_suites, load_suite

JADE = "whitzard-ai/jade-db"
XSAFETY = "Jarviswang94/Multilingual_safety_benchmark/zh"


#: The scenario of every source category, pinned here by hand (not read from cvalues.data.scenario_map),
#: so that a changed mapping fails these tests instead of moving their expected counts along with it.
XSAFETY_SCENARIOS = {
    "Crimes_And_Illegal_Activities": "crimes",
    "Ethics_And_Morality": "ethics_and_morality",
    "Insult": "others",
    "Mental_Health": "physical_and_mental_health",
    "Physical_Harm": "physical_and_mental_health",
    "Privacy_And_Property": "personal_privacy",
    "Unfairness_And_Discrimination": "objective_and_unbiased",
    "commonsense": "physical_and_mental_health",
    "Goal_Hijacking": "attack_instructions",
    "Prompt_Leaking": "attack_instructions",
    "Role_Play_Instruction": "attack_instructions",
    "Unsafe_Instruction_Topic": "malicious_inducement",
    "Inquiry_With_Unsafe_Opinion": "malicious_inducement",
    "Reverse_Exposure": "malicious_inducement",
}
_CRIMES = (
    "非法侵入 网络欺诈与犯罪 诈骗 非法伪造 抢劫 偷窃 勒索 贩卖毒品 非法走私 虐待与贩卖人口 贪污腐败 "
    "赌博或开设赌场 内幕交易 贩卖赃物 故意伤害他人 酒后驾车 其他犯罪类型 违法犯罪/其他"
)
_BIAS = "地域 性别 民族 国别 职业 健康 年龄 肤色 服装 信仰 种族 其他方面"
JADE_SCENARIOS = {
    **dict.fromkeys(_CRIMES.split(), "crimes"),
    "非法持有武器": "dangerous_topics",
    "宣扬恐怖主义、极端主义": "dangerous_topics",
    "宣扬暴力": "dangerous_topics",
    "宣扬暴力、淫秽色情": "sensitive_topics",
    "宣扬淫秽色情": "sensitive_topics",
    "传播虚假有害信息": "sensitive_topics",
    "侵害国家利益、侵害国家形象": "sensitive_topics",
    "非法获取私人信息": "personal_privacy",
    "侵害他人个人信息权益": "personal_privacy",
    "侵害他人隐私权": "personal_privacy",
    "侵害他人肖像权": "others",
    "侵害他人身心健康": "physical_and_mental_health",
    "侵害他人名誉权": "ethics_and_morality",
    "违反商业道德": "ethics_and_morality",
    "侵害他人其他合法权益": "others",
    "侵害权益/其他": "others",
    "歧视偏见/其他": "objective_and_unbiased",
    **{f"{kind}歧视内容": "objective_and_unbiased" for kind in _BIAS.split()},
}
FLAMES_SCENARIOS = {
    "Safety/Non-anthropomorphism": "others",
    "Safety/Physical harm": "physical_and_mental_health",
    "Safety/Mental harm": "physical_and_mental_health",
    "Safety/Property safety": "others",
    "Fairness/Bias and discrimination": "objective_and_unbiased",
    "Fairness/Toxic language": "malicious_inducement",
    "Morality/Chinese values": "ethics_and_morality",
    "Morality/Disobey social norm": "ethics_and_morality",
    "Morality/Non-environmental friendly": "ethics_and_morality",
    "Data protection/Personal data": "personal_privacy",
    "Data protection/Sensitive information": "sensitive_topics",
    "Legality/Law violation": "crimes",
}
PINNED_SCENARIOS = {"xsafety": XSAFETY_SCENARIOS, "jade": JADE_SCENARIOS, "flames": FLAMES_SCENARIOS}


def pinned_scenario(family: str, label: str, text: str | None = None) -> str | None:
    """The hand-pinned scenario; JADE 非法侵入 is split by its documented rule on the text (tested on
    its own in test_data_adversarial.py)."""
    if (family, label) == ("jade", "非法侵入") and text is not None:
        return scenario_for(family, label, text)
    return PINNED_SCENARIOS[family].get(label)


@pytest.mark.parametrize("family", sorted(PINNED_SCENARIOS))
def test_scenario_mapping_matches_the_hand_pinned_table(family: str) -> None:
    for label, scenario in PINNED_SCENARIOS[family].items():
        assert scenario_for(family, label) == scenario, (family, label)
    assert scenario_for("jailbench", "任何类别") == "attack_instructions"


@pytest.fixture
def config(mirror: Path, tmp_path: Path) -> DataConfig:
    return DataConfig(mirror=mirror, cache_dir=tmp_path / "cache", offline=True, progress=False)


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def csv_rows(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding))))


def test_responsibility_prompts_match_the_file(config: DataConfig, mirror: Path) -> None:
    suite = load_suite("responsibility-prompts", config)
    records = list(suite.records())
    lines = (
        (mirror / "X-PLUG/CValues/dataset/cvalues_responsibility_prompts.jsonl")
        .read_text("utf-8")
        .splitlines()
    )
    rows = [json.loads(line) for line in lines if line.strip()]
    assert len(records) == len(rows) == 664
    assert (
        Counter(r.category for r in records)
        == Counter(row["domain_en"] for row in rows)
        == {
            "environmental_science": 100,
            "psychology": 100,
            "barrier_free": 100,
            "social_science": 96,
            "data_science": 95,
            "law": 93,
            "intimate_relationship": 70,
            "lesser_known_major": 10,
        }
    )
    assert all(isinstance(r, PromptRecord) and r.level == "responsibility" for r in records)
    assert [r.text for r in records] == [row["prompt"].strip() for row in rows]
    assert [r.meta["domain_zh"] for r in records] == [row["domain_zh"] for row in rows]
    assert records[0].id == f"rp-{rows[0]['id_']}"
    assert len({r.id for r in records}) == 664
    assert suite.kind == "prompt" and suite.files[0].origin == "mirror" and suite.files[0].verified


def test_safety_mc_from_jade_v3(config: DataConfig, mirror: Path) -> None:
    medium = csv_rows(mirror / JADE / "jade-db-v3.0/jade_alignment_medium_zh.csv", "gb18030")[1:]
    hard = csv_rows(mirror / JADE / "jade-db-v3.0/jade_alignment_hard_zh.csv", "gb18030")[1:]
    lookup: dict[str, str] = {}
    for rel in (
        "jade-db-v2.0/jade_benchmark_medium_zh.csv",
        "jade-db-v1.0/jade_benchmark_zh.csv",
        "jade-db-v2.0/jade_benchmark_easy_zh.csv",
    ):
        for row in csv_rows(mirror / JADE / rel)[1:]:
            scenario = pinned_scenario("jade", normalise_jade_label(row[2], row[3])[1], row[1])
            assert scenario is not None
            lookup.setdefault(norm(row[1]), scenario)
    expected = Counter()
    for rows, difficulty in ((medium, "medium"), (hard, "hard")):
        for row in rows:
            expected[(difficulty, lookup.get(norm(row[1]), "others"))] += 2
    assert sum(norm(r[1]) in lookup for r in medium) == 500  # every medium question has a v2 medium twin

    items = list(load_suite("safety-mc", config).records())
    assert len(items) == 2 * (len(medium) + len(hard)) == 1300
    assert Counter((i.difficulty, i.category) for i in items) == expected
    assert {k: v for k, v in expected.items() if k[0] == "hard"} == {  # pinned by hand
        ("hard", "crimes"): 100, ("hard", "dangerous_topics"): 26, ("hard", "ethics_and_morality"): 14,
        ("hard", "objective_and_unbiased"): 58, ("hard", "others"): 4, ("hard", "personal_privacy"): 70,
        ("hard", "physical_and_mental_health"): 10, ("hard", "sensitive_topics"): 18,
    }  # fmt: skip
    assert len({i.id for i in items}) == 1300
    pairs: dict[str, list[MCItem]] = {}
    for item in items:
        assert isinstance(item, MCItem) and item.prompt is None and item.level == "safety"
        pairs.setdefault(item.pair_id, []).append(item)
    assert len(pairs) == 650
    for a, b in pairs.values():
        assert (a.gold, b.gold) == ("回复1", "回复2")
        assert (a.reply1, a.reply2) == (b.reply2, b.reply1) and a.question == b.question
    first = pairs["jade3-medium-1"][0]
    assert (first.question, first.reply1, first.reply2) == (
        medium[0][1].strip(),
        medium[0][3].strip(),
        medium[0][2].strip(),
    )


def test_safetybench_zh(config: DataConfig, mirror: Path) -> None:
    base = mirror / "thu-coai/SafetyBench/opensource_data"
    questions = json.loads((base / "test_zh_subset.json").read_text("utf-8"))
    answers = json.loads((base / "test_answers_zh_subset.json").read_text("utf-8"))
    items = list(load_suite("safetybench-zh", config).records())
    assert len(items) == len(questions) == 2100
    by_category = Counter(q["category"].lower().replace(" ", "_") for q in questions)
    assert Counter(i.category for i in items) == by_category and len(by_category) == 7
    for item, q in zip(items, questions, strict=True):
        assert isinstance(item, OptionItem)
        assert item.answer == answers[str(q["id"])]["answer"] and len(item.options) == len(q["options"])
    assert Counter(len(i.options) for i in items) == Counter(len(q["options"]) for q in questions)


def _independent_pool(mirror: Path) -> tuple[dict[str, str], int]:
    """normalised text -> scenario over the substitute sources in pool order, and rows read."""
    texts: list[tuple[str, str]] = []
    for rel in (
        "jade-db-v2.0/jade_benchmark_medium_zh.csv",
        "jade-db-v1.0/jade_benchmark_zh.csv",
        "jade-db-v2.0/jade_benchmark_easy_zh.csv",
    ):
        for row in csv_rows(mirror / JADE / rel)[1:]:
            label = normalise_jade_label(row[2], row[3])[1]
            texts.append((row[1], pinned_scenario("jade", label, row[1]) or "?"))
    for path in sorted((mirror / XSAFETY).glob("*.csv")):  # code point order, as pinned
        for row in csv_rows(path):
            texts.append((row[0], pinned_scenario("xsafety", path.stem) or "?"))
    for line in (mirror / "AIFlames/Flames/Flames_1k_Chinese.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        texts.append(
            (row["prompt"], pinned_scenario("flames", f"{row['dimension']}/{row['subcomponent']}") or "?")
        )
    for row in csv_rows(mirror / "STAIR-BUPT/JailBench/JailBench.csv")[1:]:
        texts.append((row[1], "attack_instructions"))
    pool: dict[str, str] = {}
    for text, scenario in texts:
        pool.setdefault(norm(text), scenario)
    return pool, len(texts)


def test_safety_prompts_full_pool_matches_sources(config: DataConfig, mirror: Path) -> None:
    pool, read = _independent_pool(mirror)
    assert read == 1000 + 150 + 1000 + 14 * 200 + 1000 + 2160
    suite = load_suite("safety-prompts", config, full=True, include_benign=True)
    records = list(suite.records())
    notes = suite.notes()
    # Near-duplicates (character-bigram Jaccard >= 0.7) are kept once; each dropped text has its keeper.
    by_id = {r.id: r for r in records}
    near = {d for r in records for d in r.meta.get("near_duplicates", ())}
    assert len(records) + len(near) == len(pool) and notes["near_duplicates_dropped"] == len(near) > 0
    kept_texts = {norm(r.text) for r in records}
    dropped_texts = set(pool) - kept_texts
    assert len(dropped_texts) == len(near)

    def grams(text: str) -> set[str]:
        return {text[i : i + 2] for i in range(len(text) - 1)}

    for record in by_id.values():
        for _ in record.meta.get("near_duplicates", ()):
            assert any(
                len(grams(norm(record.text)) & grams(t)) / len(grams(norm(record.text)) | grams(t)) >= 0.7
                for t in dropped_texts
            )
    assert Counter(r.category for r in records) == Counter(pool[t] for t in kept_texts)
    assert Counter(r.category for r in records) == {  # pinned: a changed mapping or pool order shows up here
        "attack_instructions": 2760, "crimes": 968, "dangerous_topics": 170, "ethics_and_morality": 436,
        "malicious_inducement": 653, "objective_and_unbiased": 582, "others": 558, "personal_privacy": 788,
        "physical_and_mental_health": 856, "sensitive_topics": 115,
    }  # fmt: skip
    assert set(Counter(pool.values())) == SCENARIO_KEYS and "?" not in pool.values()
    assert len({norm(r.text) for r in records}) == len(records)  # deduplicated
    assert notes["records_read"] == read and notes["duplicates_dropped"] == read - len(pool)
    assert "Insult" in notes["others_from"]
    # Without --include-benign the pool holds only adversarial prompts.
    adversarial = list(load_suite("safety-prompts", config, full=True).records())
    assert len(adversarial) == sum(1 for r in records if r.meta["adversarial"]) < len(records)


def test_safety_prompts_default_sample(config: DataConfig, mirror: Path) -> None:
    eligible = one_per_group(list(load_suite("safety-prompts", config, full=True).records()))
    sizes = Counter(r.category for r in eligible)
    records = list(load_suite("safety-prompts", config).records())
    assert all(r.meta["adversarial"] for r in records)
    seeds = [r.meta["seed"] for r in records if "seed" in r.meta]
    assert seeds and len(seeds) == len(set(seeds))  # at most one jailbreak template per seed
    assert len(records) == SAFETY_SAMPLE_SIZE
    counts = Counter(r.category for r in records)
    # equal allocation: a scenario short of its share gives all it has, the others differ by at most one
    short = {k for k, n in sizes.items() if n < SAFETY_SAMPLE_SIZE // 10}
    assert all(counts[k] == sizes[k] for k in short)
    rest = [counts[k] for k in sizes if k not in short]
    assert max(rest) - min(rest) <= 1 and sum(counts.values()) == SAFETY_SAMPLE_SIZE
    again = [r.id for r in load_suite("safety-prompts", config).records()]
    assert again == [r.id for r in records]  # deterministic
    other_seed = {r.id for r in load_suite("safety-prompts", config, seed=1).records()}
    assert other_seed != set(again) and len(other_seed) == SAFETY_SAMPLE_SIZE
    proportional = list(load_suite("safety-prompts", config, allocation="proportional").records())
    assert Counter(r.category for r in proportional) == allocate(
        dict(sizes), SAFETY_SAMPLE_SIZE, "proportional"
    )


def test_allocation_rules() -> None:
    assert allocate({"a": 10, "b": 10}, 30) == {"a": 10, "b": 10}
    assert allocate({"a": 100, "b": 3, "c": 50}, 30) == {"a": 14, "b": 3, "c": 13}
    assert allocate({"a": 5, "b": 5, "c": 5}, 7) == {"a": 3, "b": 2, "c": 2}
    prop = allocate({"a": 50, "b": 30, "c": 20}, 11, "proportional")  # exact 5.5, 3.3, 2.2
    assert prop == {"a": 6, "b": 3, "c": 2}
    with pytest.raises(ValueError):
        allocate({"a": 1}, 1, "random")  # type: ignore[arg-type]


def test_multijail_as_bring_your_own(config: DataConfig, mirror: Path) -> None:
    path = mirror / "DAMO-NLP-SG/multilingual-safety-for-LLMs/data/MultiJail.csv"
    suite = load_suite(str(path), config, fields=["text=zh"])
    records = list(suite.records())
    rows = csv_rows(path)
    assert len(records) == len(rows) - 1 == 315
    assert [r.text for r in records] == [row[4].strip() for row in rows[1:]]
    assert [r.id for r in records] == [row[0] for row in rows[1:]]
    assert {r.category for r in records} == {"others"} and suite.files[0].origin == "user"
    assert suite.files[0].source_id == "multijail" and suite.files[0].verified  # the pinned file, recognised


def test_records_are_restartable_and_describe_is_json(config: DataConfig) -> None:
    suite = load_suite("responsibility-prompts", config)
    assert [r.id for r in suite.records()] == [r.id for r in suite.records()]
    described = json.loads(json.dumps(suite.describe()))
    assert described["name"] == "responsibility-prompts" and described["kind"] == "prompt"
    assert (
        described["files"][0]["sha256"] == "ee99050d4a8933829697c796e279b83795838feacefc84cdd06856bad01bfff4"
    )
    assert {r.category for r in suite.records()} <= DOMAIN_KEYS


def test_list_suites_and_unknown_names(config: DataConfig) -> None:
    names = {s.name for s in list_suites()}
    assert names == {
        "responsibility-prompts",
        "responsibility-mc",
        "safety-prompts",
        "safety-mc",
        "safetybench-zh",
        "cvalues-comparison",
        "poison-mpts",
    }
    with pytest.raises(DataError, match="unknown suite"):
        load_suite("no-such-suite", config)
    with pytest.raises(DataError, match="do not apply"):
        load_suite("safety-mc", config, full=True)
    with pytest.raises(DataError, match="not downloadable from GitHub"):
        load_suite("cvalues-comparison", config)
    with pytest.raises(DataError, match="not downloadable from GitHub"):
        load_suite("poison-mpts", config)


def test_missing_offline_file_says_where_to_get_it(tmp_path: Path) -> None:
    config = DataConfig(mirror=tmp_path / "empty", cache_dir=tmp_path / "cache", offline=True)
    with pytest.raises(DataError) as info:
        load_suite("responsibility-mc", config)
    message = str(info.value)
    assert (
        "https://raw.githubusercontent.com/X-PLUG/CValues/3018d3886890d04c95c9051c7055fb19e36ef592/"
        in message
    )
    assert str(tmp_path / "cache" / "X-PLUG/CValues") in message and "not available offline" in message
