"""Pins in cvalues.data.sources agree with the mirror; checksum helpers agree with git."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from cvalues.data.checksums import git_blob_file, mismatch, sha256_file
from cvalues.data.sources import SOURCES, XSAFETY_SOURCE_IDS, SourceFile


def test_every_mirrored_pin_matches_the_mirror_bytes(mirror: Path) -> None:
    checked = 0
    for source in SOURCES.values():
        path = mirror / source.mirror_path
        if source.sha256 is None:
            assert source.git_blob and not path.exists(), source.source_id  # files we never held
            continue
        data = path.read_bytes()
        assert len(data) == source.size, source.source_id
        assert hashlib.sha256(data).hexdigest() == source.sha256, source.source_id
        assert mismatch(source, path) is None
        checked += 1
    assert checked == len(SOURCES) - 2


def test_xsafety_pins_cover_exactly_the_zh_folder(mirror: Path) -> None:
    on_disk = sorted(p.stem for p in (mirror / "Jarviswang94/Multilingual_safety_benchmark/zh").glob("*.csv"))
    assert sorted(sid.split("/", 1)[1] for sid in XSAFETY_SOURCE_IDS) == on_disk
    assert len(on_disk) == 14


def test_responsibility_mc_is_pinned_by_git_blob() -> None:
    source = SOURCES["cvalues-responsibility-mc"]
    assert source.git_blob == "28849571207225647cb9882d55ea4a4c38509f5d"
    assert source.sha256 is None
    assert source.url("http://h") == (
        "http://h/X-PLUG/CValues/3018d3886890d04c95c9051c7055fb19e36ef592/dataset/cvalues_responsibility_mc.jsonl"
    )


def test_git_blob_matches_known_value_and_git(tmp_path: Path) -> None:
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello\n")
    assert (
        git_blob_file(f) == "ce013625030ba8dba906f756967f9e9ca394464a"
    )  # `echo hello | git hash-object --stdin`
    g = tmp_path / "中文.jsonl"
    g.write_bytes('{"a": "回复1"}\n'.encode() * 1000)
    if shutil.which("git"):
        expected = subprocess.run(["git", "hash-object", str(g)], capture_output=True, text=True, check=True)
        assert git_blob_file(g) == expected.stdout.strip()
    assert sha256_file(g) == hashlib.sha256(g.read_bytes()).hexdigest()


def test_mismatch_names_the_file_and_both_sums(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_bytes(b"not the file\n")
    blob_source = SourceFile("t", "o/r", "c" * 40, "d/x.jsonl", None, None, git_blob="0" * 40)
    message = mismatch(blob_source, f)
    assert message is not None
    assert "o/r/d/x.jsonl" in message and "0" * 40 in message and git_blob_file(f) in message
    sha_source = SourceFile("t", "o/r", "c" * 40, "d/x.jsonl", 13, "1" * 64)
    message = mismatch(sha_source, f)
    assert message is not None and "1" * 64 in message and sha256_file(f) in message


def test_source_ids_are_unique_and_urls_are_pinned() -> None:
    assert len({s.source_id for s in SOURCES.values()}) == len(SOURCES)
    for s in SOURCES.values():
        assert len(s.commit) == 40
        assert s.url().startswith(f"https://raw.githubusercontent.com/{s.repo}/{s.commit}/")
        assert s.sha256 is not None or s.git_blob is not None


@pytest.mark.parametrize("sid", ["jade-v3-medium", "jade-v3-hard"])
def test_jade_v3_is_gb18030_not_utf8(mirror: Path, sid: str) -> None:
    data = (mirror / SOURCES[sid].mirror_path).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gb18030").startswith("ID,问题,违规回答,安全有用回答")
