#!/usr/bin/env python3
"""Resident memory of a scorer in a process of its own.

    python bench/memory.py [--model models/] [--corpora ../shared/datasets]

Prints the process's resident set size (VmRSS) at each step: at start, once the scorer is
loaded and has scored one comment (libraries, bundle, language model, normaliser), after
reading 10,000 BAN-PL comments, and after scoring them twice in batches of 1,000 (the token
caches filled). Nothing else shares the process, unlike bench/speed.py, which also loads
alt-profanity-check.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def rss_mb() -> float:
    """VmRSS of this process in MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    from moderation import config

    settings = config.resolve()
    parser = argparse.ArgumentParser(prog="bench/memory.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=settings["model_dir"], help="bundle directory (default: %(default)s)"
    )
    parser.add_argument(
        "--corpora", default=settings["corpora"], help="corpora root (default: %(default)s)"
    )
    args = parser.parse_args()
    steps = [("start", rss_mb())]
    from moderation.scoring import Scorer

    scorer = Scorer.load(args.model)
    scorer.score(["Pierwszy komentarz."])
    steps.append(("scorer loaded, one comment scored", rss_mb()))
    from moderation.corpora import ban_pl

    texts = [record.text for record in ban_pl.load(Path(args.corpora))[:10_000]]
    steps.append(("10,000 BAN-PL comments in memory", rss_mb()))
    for _ in range(2):
        for start in range(0, len(texts), 1_000):
            scorer.score(texts[start : start + 1_000])
    steps.append(("after scoring them twice (caches filled)", rss_mb()))
    width = max(len(name) for name, _ in steps)
    for name, value in steps:
        print(f"{name:<{width}}  {value:7.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
