#!/usr/bin/env python3
"""Quality of a bundle: held-out test splits, identity-term false positives, optional CV.

    python bench/quality.py --model models/ [--corpora ../shared/datasets] [--cv] [--json q.json]

Held-out figures use the bundle's own thresholds on the shared test bucket (never used in
training). ``--cv`` retrains: 5-fold cross-validation of the toxicity head on PolEval 2019 6-1
(F1) and OLID A (macro-F1) with the training recipe in the code now (TrainingConfig(), not
the one that made --model), merged with the own corpus; about 1 minute per corpus for the
default 5 folds (10 trainings in all; 1-3 minutes depending on the recipe and machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import add_common_arguments, fmt, table, write_json

from moderation.benchmark import (
    IDENTITY_FILE,
    cross_validate,
    format_cross_validation,
    format_heldout,
    format_identity,
    heldout_report,
    identity_report,
    load_corpora,
)
from moderation.errors import ModerationError
from moderation.scoring import Scorer
from moderation.training import (
    PROFANITY_FILE,
    UNMASK_LEXICONS,
    Progress,
    TrainingConfig,
    read_word_list,
)

#: (corpus, language, headline metric): the shared tasks' official metrics.
CV_TASKS = (("poleval2019_cbd", "pl", "f1"), ("olid", "en", "macro_f1"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/quality.py",
        description=(
            "Held-out toxicity quality per corpus (F1, precision, recall, ROC AUC at the bundle "
            "threshold), false-positive rate on civil identity-term sentences, and optionally "
            "k-fold cross-validation on PolEval 2019 6-1 and OLID A."
        ),
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--identity",
        metavar="FILE",
        default=str(IDENTITY_FILE),
        help="identity-term sentences, all non-toxic (default: %(default)s)",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="also cross-validate on PolEval 6-1 and OLID A; retrains 2 x FOLDS models "
        "(1-3 minutes for 5 folds; uses the current TrainingConfig(), not the bundle's)",
    )
    parser.add_argument("--folds", type=int, default=5, help="CV folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="CV seed (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no CV progress lines on stderr")
    return parser


def run_cv(args: argparse.Namespace) -> dict[str, Any]:
    from moderation.corpora.registry import load_lexicons

    root = Path(args.corpora)
    corpora, notes = load_corpora(root, [name for name, _, _ in CV_TASKS])
    lexicons = load_lexicons(root) if root.is_dir() else {}
    profanity = read_word_list(PROFANITY_FILE)
    settings = TrainingConfig()  # the recipe in the code now, not the one that made --model
    print(f"\n== {args.folds}-fold cross-validation (seed {args.seed}) ==")
    print(f"recipe: {settings}")
    print(
        "thr/F1/macro-F1: model threshold (pooled dev); F1*/macro-F1*: at the threshold tuned "
        "for that metric on this corpus's dev slice (thr F1*, thr mF1*)"
    )
    progress = Progress(quiet=args.quiet)
    results: dict[str, Any] = {}
    summary: list[list[object]] = []
    for name, language, metric in CV_TASKS:
        if name not in corpora:
            print(f"  {name}: {notes.get(name, 'not available')}")
            continue
        lexicon = lexicons.get(UNMASK_LEXICONS.get(language, ""), frozenset())
        result = cross_validate(
            corpora[name],
            language,
            args.folds,
            args.seed,
            unmask_words=[*profanity, *sorted(lexicon)],
            training_config=settings,
            progress=progress,
        )
        results[name] = result
        print()
        print(format_cross_validation(result))
        mean, std = result["mean"], result["std"]
        summary.append(
            [
                name,
                metric,
                f"{fmt(mean[metric + '_tuned'])} ± {fmt(std[metric + '_tuned'])}",
                f"{fmt(mean[metric])} ± {fmt(std[metric])}",
                f"{result['seconds']:.0f}s",
            ]
        )
    if summary:
        print("\nCV headline (official metric of each task, mean ± sample std over folds):")
        print(table(["corpus", "metric", "corpus-dev thr", "model thr", "time"], summary))
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        scorer = Scorer.load(args.model)
    except ModerationError as exc:
        print(f"bench/quality.py: error: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    report: dict[str, Any] = {"model": str(args.model), "model_version": scorer.model_version}
    report["heldout"] = heldout_report(scorer, Path(args.corpora))
    print()
    print(format_heldout(report["heldout"]))
    report["identity"] = identity_report(scorer, Path(args.identity))
    print()
    print(format_identity(report["identity"]))
    if args.cv:
        report["cross_validation"] = run_cv(args)
    print(f"\n(done in {time.perf_counter() - started:.0f}s)")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
