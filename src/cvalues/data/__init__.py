"""Datasets: record schema, pinned upstream sources, file resolution and suites.

The lowest layer: it knows nothing of models, runs or scoring.
"""
