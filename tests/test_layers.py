"""Data flows one way: data -> models -> runs -> mc -> report -> cli; no layer imports a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cvalues"
#: Leaf utilities any layer may use (they import nothing of cvalues): atomic writes, message shortening,
#: text decoding, masking secrets, spreadsheet-safe cells, the garbage collector around model loads.
LEAVES = {"atomic", "textcut", "encoding", "hanzi", "heap", "redact", "spreadsheet", "statistics"}
#: What each layer may import from cvalues (itself included), besides the leaves.
ALLOWED = {
    "data": {"data", *LEAVES},
    "models": {"models", "data", *LEAVES},  # a replay file is read as data files are
    "runs": {"runs", "models", "data", *LEAVES},
    "mc": {"mc", "runs", "models", "data", *LEAVES},
    "judge": {"judge", "mc", "runs", "models", "data", *LEAVES},
    "annotate": {"annotate", "runs", "models", "data", *LEAVES},
    "pipeline": {"pipeline", "report", "judge", "annotate", "mc", "runs", "models", "data", *LEAVES},
    "report": {"report", "judge", "annotate", "mc", "runs", "models", "data", *LEAVES},
}


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_nothing_of_cvalues(leaf: str) -> None:
    assert _imported_layers(SRC / f"{leaf}.py") == set()


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "cvalues":  # `from cvalues import x`: x is a module, or __version__
                names += [f"cvalues.{a.name}" for a in node.names if a.name != "__version__"]
    return {n.split(".")[1] for n in names if n.startswith("cvalues.")}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_lower_layers(layer: str) -> None:
    files = sorted((SRC / layer).rglob("*.py"))
    assert files, f"no files in layer {layer}"
    bad = {
        str(f.relative_to(SRC)): sorted(_imported_layers(f) - ALLOWED[layer])
        for f in files
        if _imported_layers(f) - ALLOWED[layer]
    }
    assert not bad, f"{layer} imports higher layers: {bad}"
