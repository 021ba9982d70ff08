#!/usr/bin/env python3
"""SemEval-2016 task 6 sub-task A (issue 3), cross-validated on its training set.

    python bench/stance_semeval.py [--recipe baseline tweet organisers] [--folds 5] [--inner 5]
                                   [--seed 0] [--c 0.3] [--corpora ../shared/datasets]

The official test set is held out from us, so this is k-fold cross-validation over the
official training + trial tweets (2,914), stratified by target and stance. Metric as the task
defines it (the official script): F_avg = (F1_favor + F1_against) / 2, computed over the
pooled predictions of all five targets. The organisers' SVM-ngrams baseline (one SVM per
target, word 1-3 + char 2-5 n-grams) scored 68.98 on the official test; the best 2016 team
67.82. All recipes run on the same outer folds (same ``--seed``); the default runs
``baseline`` and ``tweet``.

``baseline``, the first recipe (kept for comparison): this project's moderation normaliser
and word 1-2 + char 2-5 features, a linear SVM (C fixed by ``--c``, default 0.3) per target
and one for all targets. C=0.3 was picked by looking at these outer-CV figures themselves.

``tweet``, the current recipe: the raw tweet text (``bench/_semeval_features.py``: lower-cased
words, mentions, punctuation, hashtags kept whole and also split at camel case; word 1-3-grams
+ within-word char 2-5-grams, TF-IDF), one linear SVM per target with balanced class weights,
as the organisers' baseline. Each target's C comes from ``--c-grid`` by an inner
``--inner``-fold cross-validation on the outer training folds only (nested CV; the inner
criterion is that target's F_avg over its inner out-of-fold predictions, ties to the smaller
C), so the reported outer figure is not tuned on its own test folds. The vocabulary and IDF
are fitted once per outer training fold and target (unsupervised, no labels, never the outer
test tweets) and shared by the inner folds.

``organisers``, a reference: the organisers' recipe re-created (``NgramFeaturizer``: word
1-3-grams with scikit-learn's default tokeniser + char 2-5-grams across words, binary, raw
text, no class weights), C by the same nested CV, so the new recipe can be compared with
the organisers' own on the same folds (their 68.98 / 67.7 are official-test figures, not
comparable with a cross-validated one).

What was picked on which data (never the official test):
- the ``tweet`` design (raw text rather than the normaliser, split hashtags, char_wb rather
  than char, balanced class weights, TF-IDF rather than binary, a single SVM) by comparing
  variants by 5-fold CV of these same 2,914 tweets with another fold seed (1). Tried there
  and not adopted, as no clear gain over fold noise (about ±2 F_avg): case-preserved char
  n-grams, binary features, a lower char-block weight, logistic regression, NB-SVM
  log-count-ratio features, SVM + LR (+ NB-SVM) ensembles, one model for all targets with
  shared + per-target feature copies, a bias on the ``none`` score;
- C per target and outer fold, by the inner CV above (outer training folds only);
- the C grid was widened from 0.05-1.6 to 0.05-6.4 after the first seed-0 run, because the
  ``organisers`` reference kept picking its top value (``tweet`` moved 70.15 -> 70.16);
- ``baseline``'s C=0.3, on its own outer folds (so its figure is slightly optimistic).
The seed-0 figure of ``tweet`` is therefore not tuned on its test folds, but not a clean
held-out figure either: the design saw the same tweets in other folds. Other fold seeds,
not used for any choice: ``tweet`` 69.15 (seed 2), 68.61 (seed 3) against ``baseline``
66.90 / 65.93 and ``organisers`` 66.72 / 66.64, so the gain over both is steady (+2 to
+3) but the margin over 68.98 is within seed-to-seed spread.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _semeval_features import NgramFeaturizer, TweetFeaturizer
from numpy.typing import NDArray
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from moderation import config
from moderation.corpora import semeval
from moderation.model.features import TextFeaturizer
from moderation.text.normalize import Normalizer
from moderation.training import PROFANITY_FILE, read_word_list

Split = list[tuple[NDArray[np.intp], NDArray[np.intp]]]
C_GRID = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)


def f_avg(truth: NDArray[np.str_], predicted: NDArray[np.str_]) -> float:
    """SemEval-2016 task 6 metric: mean of the F1 of favor and of against."""
    scores = f1_score(truth, predicted, labels=["favor", "against"], average=None, zero_division=0)
    return float(np.mean(scores))


def baseline(
    records: Sequence[semeval.StanceRecord], splits: Split, c: float
) -> dict[str, list[float]]:
    """The first recipe: project normaliser and features, fixed C; per target and pooled."""
    normalizer = Normalizer(read_word_list(PROFANITY_FILE))
    docs = [normalizer.words(r.text) for r in records]
    stance = np.asarray([r.stance for r in records])
    target = np.asarray([r.target for r in records])
    results: dict[str, list[float]] = {"one SVM per target": [], "one SVM for all targets": []}
    for train, test in splits:
        per_target = np.empty(len(test), dtype=object)
        for name in sorted(set(target.tolist())):
            tr = train[target[train] == name]
            te_mask = target[test] == name
            featurizer = TextFeaturizer().fit([docs[i] for i in tr])
            model = LinearSVC(C=c).fit(featurizer.transform([docs[i] for i in tr]), stance[tr])
            per_target[te_mask] = model.predict(
                featurizer.transform([docs[i] for i in test[te_mask]])
            )
        results["one SVM per target"].append(f_avg(stance[test], per_target.astype(str)))
        featurizer = TextFeaturizer().fit([docs[i] for i in train])
        model = LinearSVC(C=c).fit(featurizer.transform([docs[i] for i in train]), stance[train])
        pooled = model.predict(featurizer.transform([docs[i] for i in test]))
        results["one SVM for all targets"].append(f_avg(stance[test], pooled))
    return results


Featurizer = type[TweetFeaturizer] | type[NgramFeaturizer]


def _svm(c: float, class_weight: str | None) -> LinearSVC:
    return LinearSVC(C=c, class_weight=class_weight)


def pick_c(
    x: sp.csr_matrix,
    stance: NDArray[np.str_],
    grid: Sequence[float],
    inner: int,
    seed: int,
    class_weight: str | None,
) -> float:
    """C with the best inner-CV F_avg on one target's outer training tweets only."""
    predicted = {c: np.empty(len(stance), dtype=object) for c in grid}
    folds = StratifiedKFold(n_splits=inner, shuffle=True, random_state=seed)
    for fit, held in folds.split(stance, stance):
        for c in grid:
            predicted[c][held] = _svm(c, class_weight).fit(x[fit], stance[fit]).predict(x[held])
    scores = [f_avg(stance, predicted[c].astype(str)) for c in grid]
    return grid[int(np.argmax(scores))]


def nested(
    records: Sequence[semeval.StanceRecord],
    splits: Split,
    featurizer_class: Featurizer,
    class_weight: str | None,
    grid: Sequence[float],
    inner: int,
    seed: int,
) -> tuple[list[float], NDArray[np.str_], dict[str, list[float]]]:
    """One SVM per target, C by nested CV: outer F_avg per fold, predictions, Cs chosen."""
    texts = np.asarray([r.text for r in records])
    stance = np.asarray([r.stance for r in records])
    target = np.asarray([r.target for r in records])
    predicted = np.empty(len(records), dtype=object)
    chosen: dict[str, list[float]] = {}
    scores: list[float] = []
    for train, test in splits:
        for name in sorted(set(target.tolist())):
            tr = train[target[train] == name]
            te = test[target[test] == name]
            featurizer = featurizer_class()
            x_tr = featurizer.fit_transform(texts[tr].tolist())
            c = pick_c(x_tr, stance[tr], grid, inner, seed, class_weight)
            chosen.setdefault(name, []).append(c)
            model = _svm(c, class_weight).fit(x_tr, stance[tr])
            predicted[te] = model.predict(featurizer.transform(texts[te].tolist()))
        scores.append(f_avg(stance[test], predicted[test].astype(str)))
    return scores, predicted.astype(str), chosen


def _line(name: str, values: Sequence[float]) -> str:
    folds = " ".join(f"{100 * v:5.2f}" for v in values)
    mean, std = 100 * np.mean(values), 100 * np.std(values, ddof=1)
    return f"  {name:<26} F_avg {mean:5.2f} ± {std:4.2f}   (folds: {folds})"


NESTED: dict[str, tuple[Featurizer, str | None, str]] = {
    "tweet": (TweetFeaturizer, "balanced", "raw tweet features, balanced class weights"),
    "organisers": (NgramFeaturizer, None, "re-created organisers' SVM-ngrams features"),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/stance_semeval.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--corpora", default=config.resolve()["corpora"], help="corpora root (default: %(default)s)"
    )
    parser.add_argument(
        "--recipe",
        nargs="+",
        choices=("baseline", "tweet", "organisers"),
        default=["baseline", "tweet"],
        help="recipes to run, in this order (default: %(default)s)",
    )
    parser.add_argument("--folds", type=int, default=5, help="outer folds (default: %(default)s)")
    parser.add_argument(
        "--inner", type=int, default=5, help="inner folds picking C (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="fold seed (default: %(default)s)")
    parser.add_argument(
        "--c", type=float, default=0.3, help="baseline recipe's fixed C (default: %(default)s)"
    )
    parser.add_argument(
        "--c-grid",
        type=float,
        nargs="+",
        default=C_GRID,
        help="C candidates of the nested recipes (default: %(default)s)",
    )
    args = parser.parse_args()
    records = semeval.load(Path(args.corpora))
    stance = np.asarray([r.stance for r in records])
    target = np.asarray([r.target for r in records])
    strata = np.char.add(np.char.add(target.astype(str), "|"), stance.astype(str))
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    splits: Split = list(folds.split(strata, strata))
    grid = sorted(args.c_grid)
    heading = f"SemEval-2016 task 6 A, {len(records):,} training + trial tweets"
    print(f"{heading}, {args.folds}-fold CV (seed {args.seed}), mean ± std over folds")
    for recipe in args.recipe:
        if recipe == "baseline":
            print(f"baseline: project normaliser and features, C={args.c} (picked on these folds)")
            for name, values in baseline(records, splits, args.c).items():
                print(_line(name, values))
            continue
        featurizer_class, class_weight, description = NESTED[recipe]
        print(f"{recipe}: {description}, C per target by inner {args.inner}-fold CV from {grid}")
        scores, predicted, chosen = nested(
            records, splits, featurizer_class, class_weight, grid, args.inner, args.seed
        )
        print(_line("one SVM per target", scores))
        for name in sorted(chosen):
            mask = target == name
            picks = ", ".join(f"{c:g}×{n}" for c, n in sorted(Counter(chosen[name]).items()))
            print(
                f"    {name:<34} F_avg {100 * f_avg(stance[mask], predicted[mask]):5.2f}"
                f" over its out-of-fold predictions  (C: {picks})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
