#!/usr/bin/env python3
"""Quality of a bundle: held-out test splits, identity-term false positives, optional CV.

    python bench/quality.py --model models/ [--corpora ../shared/datasets] [--cv] [--json q.json]

Held-out figures use the bundle's own thresholds on the shared test bucket (never used in
training). ``--cv`` retrains: 5-fold cross-validation of the toxicity head on PolEval 2019 6-1
(F1) and OLID A (macro-F1) with the bundle's training settings, merged with the own corpus;
about 1 minute per language on one core for the default 5 folds (10 trainings in all).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from _common import add_common_arguments, fmt, table, write_json

from moderation.benchmark import (
    IDENTITY_FILE,
    cross_validate,
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
        "--identity", metavar="FILE", default=str(IDENTITY_FILE),
        help="identity-term sentences, all non-toxic (default: %(default)s)",
    )
    parser.add_argument(
        "--cv", action="store_true",
        help="also cross-validate on PolEval 6-1 and OLID A; retrains 2 x FOLDS models "
        "(about 2 minutes for 5 folds on one core)",
    )
    parser.add_argument("--folds", type=int, default=5, help="CV folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="CV seed (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no CV progress lines on stderr")
    return parser


def print_heldout(report: dict[str, Any]) -> None:
    print(f"\n== Held-out test splits (model {report['model_version']}) ==")
    thresholds = report["thresholds"].items()
    print("toxicity thresholds: " + ", ".join(f"{k} {v:.4f}" for k, v in thresholds))
    rows = [
        [r["corpus"], r["language"], int(r["n"]), int(r["positives"]), r["precision"], r["recall"],
         r["f1"], r["macro_f1"], r["roc_auc"], r["in_training"], r["note"]]
        for r in report["rows"]
    ]
    headers = ["corpus", "lang", "n", "pos", "precision", "recall", "F1", "macro-F1", "ROC AUC",
               "trained on", "note"]
    print(table(headers, rows))
    for name, note in report["notes"].items():
        print(f"  {name}: {note}")


def print_identity(report: dict[str, Any]) -> None:
    print(f"\n== Identity terms: false-positive rate on {report['n']:,} civil sentences ==")
    rows: list[list[object]] = [
        [g["lang"], g["group"], int(g["n"]), int(g["flagged"]), g["fpr"], g["mean_score"],
         g["language_mismatch"]]
        for g in report["groups"]
    ]
    for lang, s in report["languages"].items():
        rows.append([lang, "(all)", int(s["n"]), int(s["flagged"]), s["fpr"], s["mean_score"],
                     s["language_mismatch"]])
    s = report["overall"]
    rows.append(["all", "(all)", int(s["n"]), int(s["flagged"]), s["fpr"], s["mean_score"],
                 s["language_mismatch"]])
    print(table(["lang", "group", "n", "flagged", "FPR", "mean score", "lang mismatch"], rows))
    if report["worst_terms"]:
        terms = [
            f"{t['term']} ({t['lang']}, {int(t['flagged'])}/{int(t['n'])})"
            for t in report["worst_terms"]
        ]
        print("most often flagged terms: " + ", ".join(terms))


def bundle_training_config(scorer: Scorer) -> TrainingConfig:
    """The bundle's own training settings, so CV measures the recipe that made it."""
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    saved = scorer.bundle.metadata.get("training", {})
    return TrainingConfig(**{k: v for k, v in saved.items() if k in known})


def run_cv(args: argparse.Namespace, scorer: Scorer) -> dict[str, Any]:
    from moderation.corpora.registry import load_lexicons

    root = Path(args.corpora)
    corpora, notes = load_corpora(root, [name for name, _, _ in CV_TASKS])
    lexicons = load_lexicons(root) if root.is_dir() else {}
    profanity = read_word_list(PROFANITY_FILE)
    settings = bundle_training_config(scorer)
    print(f"\n== {args.folds}-fold cross-validation (seed {args.seed}), settings {settings} ==")
    progress = Progress(quiet=args.quiet)
    results: dict[str, Any] = {}
    summary: list[list[object]] = []
    for name, language, metric in CV_TASKS:
        if name not in corpora:
            print(f"  {name}: {notes.get(name, 'not available')}")
            continue
        unmask = [*profanity, *sorted(lexicons.get(UNMASK_LEXICONS.get(language, ""), frozenset()))]
        result = cross_validate(
            corpora[name], language, args.folds, args.seed,
            unmask_words=unmask, training_config=settings, progress=progress,
        )
        results[name] = result
        rows = [
            [int(f["fold"]), int(f["n"]), int(f["positives"]), f["threshold"], f["precision"],
             f["recall"], f["f1"], f["macro_f1"], f["roc_auc"], f"{f['seconds']:.0f}s"]
            for f in result["per_fold"]
        ]
        mean, std = result["mean"], result["std"]
        rows.append(["mean", "", "", mean["threshold"], mean["precision"], mean["recall"],
                     mean["f1"], mean["macro_f1"], mean["roc_auc"], f"{result['seconds']:.0f}s"])
        rows.append(["std", "", "", std["threshold"], std["precision"], std["recall"],
                     std["f1"], std["macro_f1"], std["roc_auc"], ""])
        print(f"\n{name} ({language}): {result['records']:,} records, "
              f"{result['positives']:,} toxic, + {result['own_records']:,} own {language} "
              "comments in every training fold")
        print(table(["fold", "n", "pos", "threshold", "precision", "recall", "F1", "macro-F1",
                     "ROC AUC", "time"], rows))
        summary.append([name, metric, f"{fmt(mean[metric])} ± {fmt(std[metric])}",
                        f"{result['seconds']:.0f}s"])
    if summary:
        print("\nCV headline (official metric of each task, mean ± sample std over folds):")
        print(table(["corpus", "metric", "value", "time"], summary))
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
    print_heldout(report["heldout"])
    report["identity"] = identity_report(scorer, Path(args.identity))
    print_identity(report["identity"])
    if args.cv:
        report["cross_validation"] = run_cv(args, scorer)
    print(f"\n(done in {time.perf_counter() - started:.0f}s)")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
