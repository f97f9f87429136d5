"""Datasets: record schema, pinned upstream sources, file resolution and suites.

The lowest layer: it knows nothing of models, runs or scoring. Start with :func:`load_suite`.
"""

from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.resolve import ResolvedFile, resolve
from cvalues.data.schema import MCItem, OptionItem, PromptRecord, Record
from cvalues.data.suites import Suite, SuiteInfo, list_suites, load_suite

__all__ = [
    "DataConfig",
    "DataError",
    "MCItem",
    "OptionItem",
    "PromptRecord",
    "Record",
    "ResolvedFile",
    "Suite",
    "SuiteInfo",
    "list_suites",
    "load_suite",
    "resolve",
]
