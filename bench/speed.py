#!/usr/bin/env python3
"""Speed and memory of a bundle on one CPU core, on 10,000 BAN-PL comments.

    python bench/speed.py --model models/ [--corpora ../shared/datasets] [--json s.json]

Pinned to one core (``--core``, default 0) with every BLAS/OpenMP pool at one thread, set before
numpy is imported, so figures compare across machines with different core counts and are not
flattered by a parallel BLAS. Measures batched throughput (batches of 1,000 and one batch of
all 10,000; a cold first pass on a freshly loaded bundle, whose token caches are empty, and a warm
second pass), one-comment-per-call latency (median and p99 over 2,000 calls), the bundle's size
on disk and the process's resident memory. When ``alt-profanity-check`` is installed, the same
speed figures are measured for ``profanity_check.predict_prob`` in the same process: it is an
English profanity detector, so this compares cost, not quality. Takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import sys

#: Thread-pool variables read once, when numpy/scipy load their BLAS: they must be set before.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def build_parser() -> argparse.ArgumentParser:
    # No project import here: moderation pulls in numpy, which must wait for the pinning.
    parser = argparse.ArgumentParser(
        prog="bench/speed.py",
        description=(
            "Throughput, latency and memory of the bundle on one pinned CPU core, on 10,000 "
            "BAN-PL comments (the first 10,000 of the corpus in file order); also "
            "alt-profanity-check's speed when it is installed."
        ),
    )
    parser.add_argument(
        "--model",
        metavar="DIR",
        default=None,
        help="bundle directory (default: MODERATION_MODEL_DIR, else models/ in the repository)",
    )
    parser.add_argument(
        "--corpora",
        metavar="DIR",
        default=None,
        help="root of the external corpora (default: MODERATION_CORPORA, else ../shared/datasets)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument(
        "--core", type=int, default=0, help="CPU core to pin to (default: %(default)s)"
    )
    parser.add_argument(
        "--comments", type=int, default=10_000, help="how many comments (default: %(default)s)"
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=2_000,
        help="one-comment calls for the latency figures (default: %(default)s)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip alt-profanity-check even if installed"
    )
    return parser


def pin(core: int) -> None:
    """One core, one thread per pool: must run before numpy (or anything using it) is imported."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    if "numpy" in sys.modules:
        raise RuntimeError("numpy was imported before the thread pools could be limited")
    os.sched_setaffinity(0, {core})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    pin(args.core)
    from _speed import run  # imports numpy and the project: only now, after pinning

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
