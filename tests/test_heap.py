"""The cyclic collector around model loads (cvalues.heap): paused, frozen in the command's own process,
released when a model closes, and frozen at the command's exit."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cvalues import heap
from cvalues.models.registry import load_model


@pytest.fixture
def collector():
    """Leave the collector as found: enabled, nothing frozen, this process not owned."""
    was = gc.isenabled()
    yield
    heap._owned = False
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_loading_pauses_the_collector_and_restores_it(collector):
    gc.enable()
    with heap.loading():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # a caller that runs without the collector keeps it off
    with heap.loading():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_loading_restores_the_collector_when_the_load_fails(collector):
    gc.enable()
    with pytest.raises(RuntimeError), heap.loading():
        raise RuntimeError("a checkpoint that cannot load")
    assert gc.isenabled()


def test_overlapping_loads_restore_the_collector_when_the_last_ends(collector):
    gc.enable()
    inside, release = threading.Event(), threading.Event()

    def other_load() -> None:
        with heap.loading():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_load)
    thread.start()
    inside.wait(5)
    with heap.loading():
        pass
    assert not gc.isenabled()  # the other thread's load is still going
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_library_caller_gets_nothing_frozen(collector, tmp_path):
    gc.unfreeze()
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps({"id": "a", "response": "好"}) + "\n", encoding="utf-8")
    load_model(f"replay:{path}")
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_the_command_freezes_what_a_load_leaves_and_thaws_it_when_a_model_closes(collector, tmp_path):
    gc.unfreeze()
    heap._owned = True
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps({"id": "a", "response": "好"}) + "\n", encoding="utf-8")
    model = load_model(f"replay:{path}")
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    heap.released()
    assert gc.get_freeze_count() == 0
    asyncio.run(model.aclose())


def test_a_closed_model_in_a_reference_cycle_is_collected_after_release(collector):
    import weakref

    class Model:
        pass

    heap._owned = True
    with heap.loading():
        model = Model()
        model.self = model  # a cycle: only the cyclic collector frees it
    probe = weakref.ref(model)
    del model
    gc.collect()
    assert probe() is not None  # frozen: no collection sees it
    heap.released()
    gc.collect()
    assert probe() is None


def test_the_console_entry_point_freezes_the_heap_before_the_teardown():
    # atexit runs handlers last-registered first: this one, registered before the entry point's,
    # runs after it and sees what it did
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0, flush=True))\n"
        "sys.argv = ['cvalues', '--help']\n"
        "from cvalues.entry import main\n"
        "main()\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert result.returncode == 0, result.stderr
    assert "frozen at exit: True" in result.stdout


def test_closing_an_hf_model_thaws_the_heap(collector, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_model import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "tiny")
    gc.unfreeze()
    heap._owned = True
    model = load_model(f"hf:{model_dir}", device="cpu", dtype="float32")
    assert gc.get_freeze_count() > 0 and gc.isenabled()
    asyncio.run(model.aclose())
    assert gc.get_freeze_count() == 0
