"""Python's cyclic garbage collector around loading a model: what it costs a short command.

Importing torch and transformers and building a model leaves ~380,000 objects tracked by the cyclic
collector (the tiny test model; a full collection walks them in ~0.2 s). While they are being created
the collector walks them again and again: 0.7 s of the 4 s that loading the tiny model takes. At exit
the interpreter's teardown walks them several more times: ~1 s after the command's work is done
(benchmarks/RESULTS.md, "Seventh pass"). Almost none of them is garbage: modules, classes and
functions live as long as the process, and the model as long as the run.

* :func:`loading` (every backend the registry builds) pauses the collector while a model loads and
  restores it afterwards: a library caller's process is otherwise left as it was.
* In the ``cvalues`` command itself, which owns its short process (:func:`own_process`, called by the
  console entry point), :func:`loading` also moves what exists after the load into the collector's
  permanent generation (:func:`gc.freeze`), so that no later collection walks it, and so does the
  exit, before the teardown. Closing a model (:func:`released`) takes them out again, so that a
  model dropped while part of a reference cycle is still collected before the next one loads.
"""

from __future__ import annotations

import atexit
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
#: Loads in progress (nested or on several threads): the collector is restored when the last ends.
_loads = 0
#: Whether the collector was enabled when the first of them began.
_was_enabled = True
#: Set by :func:`own_process`: this process runs the ``cvalues`` command and ends with it.
_owned = False


def own_process() -> None:
    """Mark this process as the ``cvalues`` command's: freeze after loads, and at exit."""
    global _owned
    with _lock:
        if _owned:
            return
        _owned = True
    # atexit runs its handlers last-registered first: registered this early, this one runs after the
    # others (which may still free things), just before the teardown's collections
    atexit.register(gc.freeze)


@contextmanager
def loading() -> Iterator[None]:
    """Load a model with the cyclic collector paused (and, in the command's own process, frozen after)."""
    global _loads, _was_enabled
    with _lock:
        if _loads == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _loads += 1
    try:
        yield
    finally:
        with _lock:
            _loads -= 1
            if _loads == 0:
                if _owned:
                    gc.freeze()
                if _was_enabled:
                    gc.enable()


def released() -> None:
    """A model was closed: in the command's process, let the collector see the frozen objects again."""
    if _owned:
        gc.unfreeze()
