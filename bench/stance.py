#!/usr/bin/env python3
"""Stance and sentiment heads: quality on held-out articles and what they cost in speed.

    python bench/stance.py [--model models/] [--corpora ../shared/datasets] [--folds 4]

Quality: the heads are refitted, fold by fold, on the features of the given bundle, with the
articles of training_data/stance/ dealt into folds (no test comment's article is seen in
training), exactly as ``train.py`` does; prints macro-F1 of stance (with the article and from
the comment alone) and of sentiment, calibration error, and stance macro-F1 per article.
The shared vocabulary was fitted without labels on every stance comment and article.

Speed: on one pinned core, warm batches of 1,000 of 10,000 BAN-PL comments (or the stance
corpus's comments when the external corpora are absent): the bundle as it is, with every
comment given an article, and the same bundle with the stance and sentiment heads removed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speed import pin


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/stance.py",
        description="Stance/sentiment macro-F1 on held-out articles and their throughput cost.",
    )
    parser.add_argument("--model", metavar="DIR", help="bundle (default: models/)")
    parser.add_argument(
        "--corpora", metavar="DIR", help="external corpora root (default: ../shared/datasets)"
    )
    parser.add_argument("--folds", type=int, default=4, help="article folds (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="fold assignment seed (default: 0)")
    parser.add_argument("--core", type=int, default=0, help="CPU core for the speed part")
    parser.add_argument("--comments", type=int, default=10_000, help="comments for the speed part")
    parser.add_argument("--no-speed", action="store_true", help="quality figures only")
    parser.add_argument("--no-quality", action="store_true", help="speed figures only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    pin(args.core)
    from _stance import run  # numpy and the project only after pinning

    return run(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
