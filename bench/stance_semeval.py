#!/usr/bin/env python3
"""Groundwork for issue 3: SemEval-2016 task 6 sub-task A, cross-validated on its training set.

    python bench/stance_semeval.py [--corpora ../shared/datasets] [--folds 5] [--seed 0]

The official test set is held out from us, so this is k-fold cross-validation over the
official training + trial tweets (2,914). Metric as the task defines it: F_avg =
(F1_favor + F1_against) / 2, computed over the pooled predictions of all five targets.
The organisers' SVM-ngrams baseline (one SVM per target, word 1-3 + char 2-5 n-grams)
scored 68.98 on the official test; the best 2016 team 67.82. Models here: this project's
normalisation and word 1-2 + char 2-5 features, a linear SVM per target (as the baseline)
and one for all targets, for planning the stance head (not the head itself).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from moderation import config
from moderation.corpora import semeval
from moderation.model.features import TextFeaturizer
from moderation.text.normalize import Normalizer
from moderation.training import PROFANITY_FILE, read_word_list


def f_avg(truth: np.ndarray, predicted: np.ndarray) -> float:
    """SemEval-2016 task 6 metric: mean of the F1 of favor and of against."""
    scores = f1_score(truth, predicted, labels=["favor", "against"], average=None, zero_division=0)
    return float(np.mean(scores))


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/stance_semeval.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--corpora", default=config.resolve()["corpora"], help="corpora root (default: %(default)s)"
    )
    parser.add_argument("--folds", type=int, default=5, help="folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="fold seed (default: %(default)s)")
    parser.add_argument(
        "--c", type=float, default=0.3, help="SVM regularisation C (default: %(default)s)"
    )
    args = parser.parse_args()
    records = semeval.load(Path(args.corpora))
    normalizer = Normalizer(read_word_list(PROFANITY_FILE))
    docs = [normalizer.words(r.text) for r in records]
    stance = np.asarray([r.stance for r in records])
    target = np.asarray([r.target for r in records])
    strata = np.char.add(np.char.add(target.astype(str), "|"), stance.astype(str))
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    results: dict[str, list[float]] = {"one SVM per target": [], "one SVM for all targets": []}
    for train, test in folds.split(docs, strata):
        per_target = np.empty(len(test), dtype=object)
        for name in sorted(set(target.tolist())):
            tr = train[target[train] == name]
            te_mask = target[test] == name
            featurizer = TextFeaturizer().fit([docs[i] for i in tr])
            model = LinearSVC(C=args.c).fit(featurizer.transform([docs[i] for i in tr]), stance[tr])
            per_target[te_mask] = model.predict(
                featurizer.transform([docs[i] for i in test[te_mask]])
            )
        results["one SVM per target"].append(f_avg(stance[test], per_target.astype(str)))
        featurizer = TextFeaturizer().fit([docs[i] for i in train])
        model = LinearSVC(C=args.c).fit(
            featurizer.transform([docs[i] for i in train]), stance[train]
        )
        pooled = model.predict(featurizer.transform([docs[i] for i in test]))
        results["one SVM for all targets"].append(f_avg(stance[test], pooled))
    heading = f"SemEval-2016 task 6 A, {len(records):,} training + trial tweets"
    print(f"{heading}, {args.folds}-fold CV (seed {args.seed}), C={args.c}")
    for name, values in results.items():
        print(
            f"  {name:<24} F_avg {100 * np.mean(values):5.2f} ± {100 * np.std(values, ddof=1):4.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
