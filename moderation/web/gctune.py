"""Garbage-collector set-up for a long-running server process (``serve.py`` only).

Why: after start-up a server process holds some 200,000 container objects that live as long
as it does (the model bundle, the imported libraries, SQLAlchemy's and FastAPI's caches).
CPython's full (generation 2) collection walks every one of them: 110-170 ms on the 2-core
test machine, during which the process answers nothing. Such a collection comes once enough
objects have survived into the old generation (the scorer's token cache filling up with new
words does that). ``gc.freeze()`` moves everything alive at start-up into a permanent
generation that collections skip, so a full collection walks only what was made since.
What requests allocate is collected as before: reference counting frees most of it, and
the young collections (a few per 100 requests, at most a few ms each, measured) the cycles;
a higher young-generation threshold measured no gain, so CPython's default stays.

Tests and tools that build apps in-process do not call this: freezing there would keep the
cyclic garbage of every app they build alive until the process ends.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("moderation.web")


def freeze() -> None:
    """Freeze what is alive now (after start-up: bundle loaded, database migrated).

    A full collection first, so the start-up garbage is freed rather than frozen.
    """
    gc.collect()
    gc.freeze()
    log.info("gc: %d start-up objects frozen", gc.get_freeze_count())


def refreeze() -> None:
    """After a model reload: let the collector see the old model's cycles, then freeze again.

    One full collection (a pause like the ones freezing avoids) per reload, so that reloads
    do not pile up frozen, unreachable bundles.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
