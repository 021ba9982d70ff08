"""Pausing CPython's cyclic garbage collector while a batch is scored.

Why: scoring a batch of 1,000 comments leaves some 18,000 more container objects alive when it
returns (results, their lists and dicts, spans, NumPy's ``tolist`` rows), made along the way.
Each 700 allocations start a young collection that walks the young objects; every tenth of
those walks the middle generation; and once enough have survived, a full collection walks
every object of the process (the loaded model and the libraries: some 65,000, 23-39 ms each
time, measured). None of these collections can free anything a batch made: its objects form no
reference cycles (a full collection after a warm batch finds nothing to free) and are freed by
reference counting when the caller drops them. Pausing the collector for the batch measured
about 10% more comments per second (warm batches of 1,000, one process alternating with and
without; see BENCHMARKS.md). Results are unchanged: the collector never touches values.

The collector is one switch for the whole process, so the pause is shared: the first batch to
start records whether the collector was on and turns it off, the last one to finish turns it
back on only if it was (a lock and a depth count, so concurrent and nested batches are safe).
Cycles made meanwhile by other threads wait for the next collection, which comes at the first
allocation after the pause (their allocations were counted). So that overlapping batches on
busy threads cannot keep the collector off indefinitely, a batch that ends after the collector
has been off for ``MAX_PAUSE_S`` turns it back on even if others are still running.

A library does not freeze the collector (``gc.freeze()``) on its own: freezing is for the whole
process too, and would keep the caller's unreachable cycles, and every scorer it loads and
drops, alive until exit. ``serve.py`` does it after start-up (``moderation/web/gctune.py``).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

#: Longest continuous pause (seconds) before an ending batch turns the collector back on while
#: other batches still run; a single batch longer than this keeps it off until it ends.
MAX_PAUSE_S: Final = 1.0

_lock = threading.Lock()
_depth = 0  # batches now running with the pause
_restore = False  # whether the collector was on when the pause began
_since = 0.0  # time.monotonic() when the pause began


@contextmanager
def paused() -> Iterator[None]:
    """Run the body with the cyclic collector off, restoring its prior state afterwards.

    Thread-safe and re-entrant. A ``gc.disable()`` made by other code while a pause is in
    effect is undone when the pause ends (the collector is then turned back on if it was on
    when the pause began).
    """
    global _depth, _restore, _since
    with _lock:
        if _depth == 0:
            _restore = gc.isenabled()
            _since = time.monotonic()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _restore and (_depth == 0 or time.monotonic() - _since >= MAX_PAUSE_S):
                gc.enable()
                if _depth > 0:
                    _restore = False  # turned back on early: the last batch has nothing to do


def depth() -> int:
    """Batches now inside ``paused()`` (for tests and diagnostics)."""
    return _depth
