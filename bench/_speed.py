"""The measurements of ``bench/speed.py``, imported only after the process has been pinned.

Kept apart from the script so that nothing here (numpy, scikit-learn, the project) can be
imported before ``speed.pin`` has limited the thread pools: their size is read at import time.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import fmt, table, write_json

from moderation import config
from moderation.errors import ModerationError
from moderation.model.bundle import BUNDLE_FILE, MANIFEST_FILE
from moderation.scoring import Scorer


def rss_mb() -> float:
    """Resident set size of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def throughput(score: Callable[[Sequence[str]], object], texts: Sequence[str], batch: int) -> float:
    """Comments per second for one pass over ``texts`` in batches of ``batch``."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        score(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def latency(score: Callable[[Sequence[str]], object], texts: Sequence[str]) -> dict[str, float]:
    """Median and p99 (nearest rank) of one-comment calls, in milliseconds."""
    times: list[float] = []
    for text in texts:
        started = time.perf_counter()
        score([text])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, max(0, -(-99 * len(times) // 100) - 1))]
    median, mean = statistics.median(times), statistics.fmean(times)
    return {"median_ms": median, "p99_ms": p99, "mean_ms": mean}


def load_texts(root: Path, count: int) -> list[str]:
    """The first ``count`` BAN-PL comments in file order (cleaned, de-duplicated, all splits)."""
    from moderation.corpora.registry import load_all

    records = load_all(root, ["ban_pl"])["ban_pl"]
    return [r.text for r in records[:count]]


def measure_moderation(model: Path, texts: list[str], calls: int) -> dict[str, Any]:
    """Every figure for our scorer; a freshly loaded bundle for each cold measurement."""
    out: dict[str, Any] = {"rss_before_load_mb": rss_mb()}
    started = time.perf_counter()
    scorer = Scorer.load(model)
    out["load_s"] = time.perf_counter() - started
    out["rss_after_load_mb"] = rss_mb()
    # Cold = empty normaliser and feature caches and py3langid's model not yet read (it loads
    # on first use): what the first requests after a restart pay.
    out["batch1000_cold_per_s"] = throughput(scorer.score, texts, 1000)
    out["batch1000_warm_per_s"] = throughput(scorer.score, texts, 1000)
    # Measured here, on the first scorer: freed memory of a discarded scorer is not given back
    # to the OS, so later readings would count the bundle more than once.
    out["rss_after_scoring_mb"] = rss_mb()
    del scorer
    gc.collect()
    scorer = Scorer.load(model)
    out["batch_all_cold_per_s"] = throughput(scorer.score, texts, len(texts))
    out["batch_all_warm_per_s"] = throughput(scorer.score, texts, len(texts))
    del scorer
    gc.collect()
    # As serve.py runs it: everything alive after loading frozen out of the collector's
    # reach (moderation/web/gctune.py), so full collections skip the bundle and libraries.
    scorer = Scorer.load(model)
    gc.collect()
    gc.freeze()
    throughput(scorer.score, texts, 1000)
    out["batch1000_warm_frozen_per_s"] = throughput(scorer.score, texts, 1000)
    del scorer
    gc.unfreeze()
    gc.collect()
    # Latency as in a running service: caches warmed by earlier traffic (the other comments),
    # then timed on comments it has not seen yet.
    scorer = Scorer.load(model)
    scorer.score(texts[calls:])
    out.update(latency(scorer.score, texts[:calls]))
    out["bundle_mb"] = (model / BUNDLE_FILE).stat().st_size / 1e6
    out["manifest_kb"] = (model / MANIFEST_FILE).stat().st_size / 1e3
    return out


def measure_profanity_check(texts: list[str], calls: int) -> dict[str, Any] | None:
    """The same speed figures for alt-profanity-check, or None when it is not installed."""
    started = time.perf_counter()
    try:
        from profanity_check import predict_prob
    except ImportError:
        return None
    # No memory figure: it would be read in a process that already holds our bundle and numpy.
    out: dict[str, Any] = {"load_s": time.perf_counter() - started}

    def score(batch: Sequence[str]) -> object:
        return predict_prob(list(batch))

    out["batch1000_cold_per_s"] = throughput(score, texts, 1000)
    out["batch1000_warm_per_s"] = throughput(score, texts, 1000)
    out["batch_all_cold_per_s"] = throughput(score, texts, len(texts))
    out["batch_all_warm_per_s"] = throughput(score, texts, len(texts))
    out.update(latency(score, texts[:calls]))
    return out


ROWS: tuple[tuple[str, str, int], ...] = (
    ("load (s)", "load_s", 2),
    ("batches of 1,000, cold (comments/s)", "batch1000_cold_per_s", 0),
    ("batches of 1,000, warm (comments/s)", "batch1000_warm_per_s", 0),
    (
        "batches of 1,000, warm, gc.freeze() after load as serve.py (comments/s)",
        "batch1000_warm_frozen_per_s",
        0,
    ),
    ("one batch of all, cold (comments/s)", "batch_all_cold_per_s", 0),
    ("one batch of all, warm (comments/s)", "batch_all_warm_per_s", 0),
    ("one comment per call, median (ms)", "median_ms", 2),
    ("one comment per call, p99 (ms)", "p99_ms", 2),
    ("bundle size on disk (MB)", "bundle_mb", 1),
    ("RSS before load, texts in memory (MB)", "rss_before_load_mb", 0),
    ("RSS after load (MB)", "rss_after_load_mb", 0),
    ("RSS after 2 passes in batches of 1,000 (MB)", "rss_after_scoring_mb", 0),
)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    defaults = config.resolve()
    model = Path(args.model or defaults["model_dir"])
    root = Path(args.corpora or defaults["corpora"])
    try:
        texts = load_texts(root, args.comments)
    except ModerationError as exc:
        print(f"bench/speed.py: error: {exc}", file=sys.stderr)
        return 1
    calls = min(args.calls, len(texts))
    print(
        f"pinned to core(s) {sorted(os.sched_getaffinity(0))}; "
        f"OMP/OPENBLAS threads {os.environ['OMP_NUM_THREADS']}; numpy {np.__version__}"
    )
    print(
        f"{len(texts):,} BAN-PL comments (first in file order), mean "
        f"{statistics.fmean(len(t) for t in texts):.0f} characters; latency over {calls:,} calls"
    )
    try:
        ours = measure_moderation(model, texts, calls)
    except ModerationError as exc:
        print(f"bench/speed.py: error: {exc}", file=sys.stderr)
        return 1
    theirs = None if args.no_baseline else measure_profanity_check(texts, calls)
    headers = ["measure", f"moderation ({model.name})"]
    if theirs is not None:
        headers.append("alt-profanity-check")
    rows = []
    for label, key, digits in ROWS:
        if key not in ours and (theirs is None or key not in theirs):
            continue
        row = [label, fmt(ours.get(key), digits)]
        if theirs is not None:
            row.append(fmt(theirs.get(key), digits))
        rows.append(row)
    print()
    print(table(headers, rows))
    if theirs is None and not args.no_baseline:
        print("\n(alt-profanity-check not installed: pip install alt-profanity-check to compare)")
    print(
        "\ncold = first pass after loading (empty caches; py3langid's model read on first use);"
        " warm = second pass over the same comments. RSS is the whole process."
    )
    write_json(
        args.json,
        {
            "model": str(model),
            "comments": len(texts),
            "calls": calls,
            "core": sorted(os.sched_getaffinity(0)),
            "moderation": ours,
            "alt_profanity_check": theirs,
        },
    )
    return 0
