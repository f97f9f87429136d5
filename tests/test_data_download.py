"""Downloads against a 127.0.0.1 server laid out like raw.githubusercontent.com (OWNER/REPO/COMMIT/PATH):
success and caching, a connection cut mid-file (retried and resumed with Range), a resumed .part file,
a checksum mismatch, and offline behaviour."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.resolve import cache_file, resolve
from cvalues.data.sources import SOURCES
from cvalues.data.suites import load_suite


@dataclass
class ServerState:
    root: Path
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    cut_after: int | None = None  # close the connection after this many body bytes...
    cuts_left: int = 0  # ...for this many responses
    ignore_range: bool = False


def make_handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            target = state.root / self.path.lstrip("/")
            if not target.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = target.read_bytes()
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if match and not state.ignore_range:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.cut_after is not None and state.cuts_left > 0:
                state.cuts_left -= 1
                self.wfile.write(body[: state.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server(tmp_path: Path, mirror: Path) -> Iterator[tuple[str, ServerState]]:
    """Serve copies of a few mirror files at OWNER/REPO/COMMIT/PATH on 127.0.0.1."""
    root = tmp_path / "served"
    for sid in ("jade-v1", "jailbench", "cvalues-responsibility-prompts"):
        source = SOURCES[sid]
        dest = root / source.cache_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mirror / source.mirror_path, dest)
    state = ServerState(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()


def online_config(tmp_path: Path, base_url: str, **kw: object) -> DataConfig:
    values: dict[str, object] = dict(
        mirror=None,
        cache_dir=tmp_path / "cache",
        base_url=base_url,
        offline=False,
        progress=False,
        retry_wait=0,
        download_attempts=3,
        timeout=10,
    )
    values.update(kw)
    return DataConfig(**values)  # type: ignore[arg-type]


def test_download_verifies_and_caches(tmp_path: Path, server: tuple[str, ServerState], mirror: Path) -> None:
    base, state = server
    config = online_config(tmp_path, base)
    got = resolve("jade-v1", config)
    assert got.origin == "download" and got.verified and got.sha256 == SOURCES["jade-v1"].sha256
    assert got.path == cache_file(SOURCES["jade-v1"], config)
    assert got.path.read_bytes() == (mirror / SOURCES["jade-v1"].mirror_path).read_bytes()
    assert not list(got.path.parent.glob("*.part"))
    assert state.requests == [(f"/{SOURCES['jade-v1'].cache_path}", None)]
    again = resolve("jade-v1", config)
    assert again.origin == "cache" and len(state.requests) == 1  # no second request


def test_connection_cut_mid_file_is_resumed_with_range(
    tmp_path: Path, server: tuple[str, ServerState]
) -> None:
    base, state = server
    state.cut_after, state.cuts_left = 700_000, 2
    config = online_config(tmp_path, base)
    got = resolve("jailbench", config)
    assert got.sha256 == SOURCES["jailbench"].sha256 and got.size == SOURCES["jailbench"].size
    ranges = [r for _, r in state.requests]
    assert ranges == [None, "bytes=700000-", "bytes=1400000-"]


def test_existing_part_file_is_resumed(tmp_path: Path, server: tuple[str, ServerState], mirror: Path) -> None:
    base, state = server
    config = online_config(tmp_path, base)
    source = SOURCES["jade-v1"]
    dest = cache_file(source, config)
    dest.parent.mkdir(parents=True)
    data = (mirror / source.mirror_path).read_bytes()
    dest.with_name(dest.name + ".part").write_bytes(data[:5000])
    got = resolve("jade-v1", config)
    assert got.sha256 == source.sha256 and state.requests[0][1] == "bytes=5000-"


def test_server_ignoring_range_restarts_cleanly(
    tmp_path: Path, server: tuple[str, ServerState], mirror: Path
) -> None:
    base, state = server
    state.ignore_range = True
    config = online_config(tmp_path, base)
    source = SOURCES["jade-v1"]
    dest = cache_file(source, config)
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(b"garbage-prefix")
    assert resolve("jade-v1", config).sha256 == source.sha256


def test_checksum_mismatch_is_an_error_and_caches_nothing(
    tmp_path: Path, server: tuple[str, ServerState]
) -> None:
    base, state = server
    source = SOURCES["cvalues-responsibility-prompts"]
    served = state.root / source.cache_path
    data = bytearray(served.read_bytes())
    data[100] ^= 0x01  # same size, one bit flipped
    served.write_bytes(bytes(data))
    config = online_config(tmp_path, base)
    with pytest.raises(DataError) as info:
        resolve(source.source_id, config)
    message = str(info.value)
    assert "checksum mismatch" in message and source.sha256 in message and source.mirror_path in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    dest = cache_file(source, config)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_every_attempt_cut_keeps_part_for_later(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    state.cut_after, state.cuts_left = 1000, 99
    config = online_config(tmp_path, base, download_attempts=2)
    with pytest.raises(DataError, match="failed after 2 attempts"):
        resolve("jailbench", config)
    dest = cache_file(SOURCES["jailbench"], config)
    assert not dest.exists()
    assert dest.with_name(dest.name + ".part").stat().st_size == 2000  # two cut attempts, appended
    state.cuts_left = 0
    assert resolve("jailbench", config).sha256 == SOURCES["jailbench"].sha256
    assert state.requests[-1][1] == "bytes=2000-"


def test_not_found_upstream(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, _ = server
    with pytest.raises(DataError, match="404"):
        resolve("flames-1k", online_config(tmp_path, base))


def test_corrupt_cache_entry_is_fetched_again(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    config = online_config(tmp_path, base)
    dest = cache_file(SOURCES["jade-v1"], config)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"stale")
    assert resolve("jade-v1", config).origin == "download" and len(state.requests) == 1
    dest.write_bytes(b"stale again")
    with pytest.raises(DataError, match="checksum mismatch"):
        resolve("jade-v1", online_config(tmp_path, base, offline=True))


def test_upstream_base_url_from_environment(
    tmp_path: Path, server: tuple[str, ServerState], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, state = server
    monkeypatch.delenv("CVALUES_DATA_MIRROR")
    monkeypatch.setenv("CVALUES_UPSTREAM_BASE_URL", base)
    monkeypatch.setenv("CVALUES_CACHE_DIR", str(tmp_path / "envcache"))
    monkeypatch.delenv("CVALUES_OFFLINE")
    config = DataConfig.from_env(progress=False, retry_wait=0)
    assert config.base_url == base and config.cache_dir == tmp_path / "envcache"
    suite = load_suite("responsibility-prompts", config)
    assert suite.files[0].origin == "download" and len(list(suite.records())) == 664
    assert state.requests[0][0].startswith("/X-PLUG/CValues/3018d3886890d04c95c9051c7055fb19e36ef592/")


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "base_url",
    ["http://cvalues-test.invalid", "refused"],  # a name no DNS resolves; a port nothing listens on
)
def test_unreachable_upstream_fails_at_once_and_names_the_alternatives(
    tmp_path: Path, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cvalues.data.download as download_module

    if base_url == "refused":
        base_url = f"http://127.0.0.1:{_unused_port()}"
    attempts = []
    real_fetch = download_module._fetch_into

    def counting_fetch(*args: object, **kwargs: object) -> None:
        attempts.append(1)
        real_fetch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(download_module, "_fetch_into", counting_fetch)
    config = online_config(tmp_path, base_url, download_attempts=5)
    with pytest.raises(DataError) as info:
        resolve("jade-v1", config)
    assert len(attempts) == 1  # retrying cannot make a name resolve or a closed port listen
    message = str(info.value)
    assert base_url in message
    for flag in ("--data-mirror", "--source-file jade-v1=FILE", "--offline"):
        assert flag in message
    assert "attempts" not in message
