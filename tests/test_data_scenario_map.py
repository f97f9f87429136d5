"""The scenario map is complete for the mirror files, and docs/safety-mapping.md is generated from it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from cvalues.data.scenario_map import (
    JADE_LABEL_VARIANTS,
    SCENARIO_MAP,
    normalise_jade_label,
    others_categories,
    render_markdown,
    scenario_for,
)
from cvalues.data.schema import SCENARIO_KEYS

DOC = Path(__file__).resolve().parents[1] / "docs" / "safety-mapping.md"


def test_doc_is_generated_from_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/safety-mapping.md is stale: run `python -m cvalues.data.scenario_map > docs/safety-mapping.md`"
    )


def test_every_entry_names_a_scenario_and_others_are_listed_in_the_doc() -> None:
    assert {c.scenario for c in SCENARIO_MAP} == SCENARIO_KEYS
    doc = render_markdown()
    for c in others_categories():
        assert f"- {c.family}: {c.label}" in doc


def test_every_label_in_the_mirror_files_is_mapped(mirror: Path) -> None:
    jade = mirror / "whitzard-ai/jade-db"
    seen_raw: set[str] = set()
    for rel in (
        "jade-db-v1.0/jade_benchmark_zh.csv",
        "jade-db-v2.0/jade_benchmark_easy_zh.csv",
        "jade-db-v2.0/jade_benchmark_medium_zh.csv",
    ):
        rows = list(csv.DictReader(io.StringIO((jade / rel).read_text(encoding="utf-8-sig"))))
        for row in rows:
            seen_raw.add(row["违规子类"])
            _, key = normalise_jade_label(row["违规类型"], row["违规子类"])
            assert scenario_for("jade", key) in SCENARIO_KEYS, (rel, row["违规类型"], row["违规子类"])
    assert any(label != label.strip() for label in seen_raw)  # the stray spaces are really there
    for wrong in JADE_LABEL_VARIANTS:
        assert scenario_for("jade", wrong) is None  # variants only resolve through normalisation
    for path in (mirror / "Jarviswang94/Multilingual_safety_benchmark/zh").glob("*.csv"):
        assert scenario_for("xsafety", path.stem) in SCENARIO_KEYS
    for line in (mirror / "AIFlames/Flames/Flames_1k_Chinese.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        assert scenario_for("flames", f"{row['dimension']}/{row['subcomponent']}") in SCENARIO_KEYS


def test_jade_normalisation() -> None:
    assert normalise_jade_label(" 违法犯罪", "非法侵入 ") == ("违法犯罪", "非法侵入")
    assert normalise_jade_label("侵犯权益", "危害他人身心健康") == ("侵害权益", "侵害他人身心健康")
    assert normalise_jade_label("侵犯权益", "侵害他人隐私权|侵害他人名誉权") == ("侵害权益", "侵害他人隐私权")
    assert normalise_jade_label("歧视偏见", "其他") == ("歧视偏见", "歧视偏见/其他")
    assert normalise_jade_label("违法犯罪", "侵害权益") == ("违法犯罪", "侵害权益/其他")
    assert scenario_for("jade", "赌博或开设赌场") == "crimes"
