"""Command line of ``train.py``: arguments, settings and clear one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from moderation import config
from moderation.errors import ModerationError
from moderation.training import Progress, TrainingConfig, train

OWN_DIR = config.REPO_ROOT / "training_data" / "toxicity"
STANCE_DIR = config.REPO_ROOT / "training_data" / "stance"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description=(
            "Train the moderation bundle (toxicity + attributes, stance and sentiment; Polish and "
            "English). With no "
            "arguments it trains on the project's own corpus in training_data/ and writes "
            "models/ at the repository root."
        ),
    )
    parser.add_argument(
        "--corpora",
        metavar="DIR",
        help="also train on every external corpus of training_data/sources.toml found under DIR "
        "(e.g. ../shared/datasets); default: MODERATION_CORPORA if set, else the own corpus only",
    )
    parser.add_argument(
        "--out",
        "--model",
        dest="out",
        metavar="DIR",
        help="where to write the bundle (default: MODERATION_MODEL_DIR, else models/)",
    )
    parser.add_argument(
        "--own",
        metavar="DIR",
        default=str(OWN_DIR),
        help="the own labelled corpus (default: %(default)s)",
    )
    parser.add_argument(
        "--stance",
        metavar="DIR",
        default=str(STANCE_DIR),
        help="the own stance and sentiment corpus (articles + labelled comments) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--no-stance",
        action="store_true",
        help="train the toxicity heads only (no stance or sentiment in the results)",
    )
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="write the evaluation report (Markdown + PNG plots) here (default: <out>/report)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the evaluation report")
    parser.add_argument(
        "--c",
        type=float,
        default=TrainingConfig.c,
        help="inverse regularisation strength of the heads (default: %(default)s)",
    )
    parser.add_argument(
        "--no-toxicity-mixture",
        action="store_true",
        help="one toxicity head per language, without the components per ban reason "
        "(TrainingConfig.toxicity_mixture; BENCHMARKS.md)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out or config.resolve()["model_dir"])
    corpora = args.corpora or os.environ.get("MODERATION_CORPORA")
    report = None if args.no_report else Path(args.report) if args.report else out / "report"
    try:
        train(
            Path(args.own),
            out,
            Path(corpora) if corpora else None,
            config=TrainingConfig(c=args.c, toxicity_mixture=not args.no_toxicity_mixture),
            report_dir=report,
            progress=Progress(quiet=args.quiet),
            stance_dir=None if args.no_stance else Path(args.stance),
        )
    except (ModerationError, ValueError, OSError) as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 1
    return 0
