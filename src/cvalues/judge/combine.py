"""Several judges over one generation run, combined as samples are (:func:`cvalues.judge.verdicts.combine`).

Each judge directory's verdict of an answer is one reading (its strict label counts as its safety
reading, so a judge's own Controversial stays visible through its loose label; an unjudged verdict
does not vote). The result is a directory with ``verdicts.jsonl``, ``judge-scores.json`` and a
``manifest.json`` naming the judges, readable by everything that reads a judge directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cvalues.judge.runner import SCORES_NAME, JudgeError, judge_scores
from cvalues.judge.verdicts import VERDICTS_NAME, Verdict, combine, read_verdicts, write_verdicts
from cvalues.runs.manifest import COMBINED_FORMAT, environment_info, read_manifest, write_json_atomic
from cvalues.runs.store import utc_now


def _reading(v: Verdict) -> dict[str, Any]:
    if v.unjudged:
        return {"unjudged": True, "raw": v.raw}
    if v.level == "responsibility":
        return {"unjudged": False, "score": v.score, "reason": v.reason, "raw": v.raw}
    safety = "controversial" if v.controversial else v.label
    return {
        "unjudged": False,
        "safety": safety,
        "reason": v.reason,
        "categories": v.categories,
        "refusal": v.refusal,
        "raw": v.raw,
    }


def combine_judges(
    judge_dirs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> dict[str, Any]:
    """Combine the verdicts of ``judge_dirs`` (same level, same judged run) into ``out_dir``."""
    if len(judge_dirs) < 2:
        raise JudgeError("combine needs at least two judge directories")
    infos: list[dict[str, Any]] = []
    sets: list[list[Verdict]] = []
    for d in judge_dirs:
        manifest = read_manifest(d)
        info = (manifest.get("extra") or {}).get("judge")
        if not info:
            raise JudgeError(f"{d} is not a judge directory (its manifest has no extra.judge)")
        infos.append(
            {
                **info,
                "judge_model": (manifest.get("model") or {}).get("spec"),
                "judge_dir": str(Path(d).resolve()),
            }
        )
        sets.append(read_verdicts(d))
    levels = {i["level"] for i in infos}
    if len(levels) > 1:
        raise JudgeError(
            f"cannot combine safety and responsibility judges ({', '.join(str(x) for x in judge_dirs)})"
        )
    runs = {i["judged_run"] for i in infos}
    if len(runs) > 1:
        raise JudgeError(f"the judges judged different runs: {', '.join(sorted(runs))}")
    level = levels.pop()
    keys: dict[tuple[str, str], list[tuple[int, Verdict]]] = {}
    for j, verdicts in enumerate(sets):
        for v in verdicts:
            keys.setdefault((v.model, v.item_id), []).append((j, v))
    combined: list[Verdict] = []
    for (model, item_id), found in keys.items():
        first = found[0][1]
        readings = [_reading(v) for _, v in found]
        fields = combine(readings, level)
        samples = [
            {"judge": infos[j]["judge_model"], "rubric": infos[j]["rubric"], **_reading(v)} for j, v in found
        ]
        combined.append(
            Verdict(
                item_id=item_id,
                model=model,
                level=level,
                category=first.category,
                samples=samples,
                adversarial=first.adversarial,
                prompt=first.prompt,
                answer=first.answer,
                judge_model="combined",
                rubric="+".join(i["rubric"] for i in infos),
                **fields,
            )
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_verdicts(out / VERDICTS_NAME, combined)
    scores = judge_scores(combined, level)
    scores["judges"] = infos
    write_json_atomic(out / SCORES_NAME, scores)
    manifest = {
        "format": COMBINED_FORMAT,
        "created_at": utc_now(),
        "model": {"spec": "combined:" + "+".join(str(i["judge_model"]) for i in infos)},
        "extra": {
            "judge": {
                "rubric": "+".join(i["rubric"] for i in infos),
                "rubric_version": "+".join(str(i.get("rubric_version")) for i in infos),
                "rubric_sha256": None,
                "level": level,
                "judged_run": infos[0]["judged_run"],
                "judged_model": infos[0].get("judged_model"),
                "samples": len(infos),
                "combined_from": infos,
            }
        },
        "environment": environment_info(),
    }
    write_json_atomic(out / "manifest.json", manifest)
    return {"out_dir": str(out), "verdicts": len(combined), "judges": len(infos), "scores": scores}
