"""Atomic writes: the target holds the old content or the new one, never a part, and no temporary is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvalues.atomic import atomic_open, atomic_write_bytes


def test_success_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.jsonl"
    with atomic_open(target) as fh:
        fh.write("新内容\n")
    assert target.read_text(encoding="utf-8") == "新内容\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.jsonl"]


def test_failure_half_way_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("旧内容\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="bad line"), atomic_open(target) as fh:
        fh.write("half of the new ")
        raise RuntimeError("bad line")
    assert target.read_text(encoding="utf-8") == "旧内容\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_no_overwrite_refuses_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "scored.jsonl"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="--force"):
        atomic_write_bytes(target, b"new", overwrite=False)
    assert target.read_bytes() == b"keep"
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"


def test_only_whole_file_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"), atomic_open(tmp_path / "x", "a"):
        pass


def test_written_files_get_the_usual_mode(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "manifest.json", b"{}")
        assert stat.S_IMODE((tmp_path / "manifest.json").stat().st_mode) == 0o644
    finally:
        os.umask(old)
