"""Judges for open answers: rubrics, the judge run, calibration against known labels.

A judge is a run of its own (contract B in ``docs/judge.md``): it reads a generation run's answers,
asks a judge model through the run engine and writes verdicts into a store of its own. Importing this
package is cheap: the entry points below load their modules on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run_judge": "cvalues.judge.runner",
    "run_judge_async": "cvalues.judge.runner",
    "JudgeSummary": "cvalues.judge.runner",
    "JudgeError": "cvalues.judge.runner",
    "read_verdicts": "cvalues.judge.verdicts",
    "Verdict": "cvalues.judge.verdicts",
    "find_calibration": "cvalues.judge.calibration",
    "get_rubric": "cvalues.judge.rubrics",
    "RUBRICS": "cvalues.judge.rubrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cvalues.judge' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
