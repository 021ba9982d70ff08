#!/usr/bin/env python3
"""Candidate recipes for the Polish toxicity head, compared without the test buckets.

    python bench/toxicity_candidates.py --corpora ../shared/datasets \\
        [--candidates product,quoted,nb-mlp,lightgbm] [--folds 5] [--seed 0] [--json FILE]

Why it exists: BAN-PL's test bucket may be read only for a recipe already chosen, so every
idea needs the same dev/CV yardstick first. This script builds the Polish toxicity data exactly
as ``train()`` does (own corpus + BAN-PL + HATE-WAR-PL toxicity rows, the product's normaliser,
vocabulary with the stance corpus, NB-LR and the mixture of ban reasons), drops every test
bucket before anything is computed, and reports per candidate:

- dev F1: BAN-PL dev bucket at the threshold tuned on the pooled toxicity dev rows (as a
  bundle flags; calibrated and shown to 4 decimals), dev F1*: at BAN-PL dev's best threshold,
  dev AUC;
- CV: BAN-PL's train bucket in ``--folds`` stratified folds, the other corpora's train rows
  in every training fold; mean and sample sd over folds of F1 at each fold's best threshold,
  ROC AUC, and each fold's F1 minus the product's (same folds).

Candidates (a blend averages the product's log-odds with the other model's, weight 0.35):
``product`` the shipped recipe; ``quoted`` text quoted from another reader (before the last
``{USERNAME}:`` of a reply that quotes, BAN-PL's format) counts half; ``nb-mlp`` a one-layer
perceptron (32 units, 3 epochs) on the NB-scaled features, blended; ``lightgbm`` gradient-
boosted trees on the features with df >= 5 (500 rounds), blended (needs ``pip install
lightgbm``, not a project dependency; several minutes per fit).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from _common import add_common_arguments, table, write_json
from numpy.typing import NDArray

from moderation.evaluation import binary_metrics, tune_threshold
from moderation.model.features import TextFeaturizer
from moderation.model.heads import displayed, fit_calibrator
from moderation.training import (
    PROFANITY_FILE,
    SOURCE_WEIGHTS,
    TOXICITY_SOURCES,
    TrainingConfig,
    fit_mixture,
    fit_nblr,
    nb_ratio,
    prepare_language,
    read_own_corpus,
    read_word_list,
)

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "pl"
BLEND = 0.35
#: Where a reply begins in BAN-PL's pseudonymised texts.
REPLY_MARK = re.compile(r"\{USERNAME\}:")

Decide = Callable[[NDArray[np.int_]], NDArray[np.float64]]


@dataclass
class Data:
    """The toxicity rows of one language (no test bucket) and their features."""

    matrix: sp.csr_matrix
    y: NDArray[np.int_]
    split: NDArray[np.str_]
    source: NDArray[np.str_]
    reason: NDArray[np.str_]
    weight: NDArray[np.float64]
    words: list[list[str]]
    texts: list[str]
    featurizer: TextFeaturizer
    normalise: Callable[[str], list[str]]


def load(corpora: Path) -> Data:
    """Polish toxicity rows as ``train()`` prepares them; test buckets dropped first."""
    from moderation.corpora.registry import load_all, load_lexicons
    from moderation.stance_training import read_stance_corpus

    records = read_own_corpus(ROOT / "training_data" / "toxicity")
    for rows in load_all(corpora).values():
        records.extend(rows)
    records = [r for r in records if r.split != "test"]
    prepared = prepare_language(
        LANGUAGE,
        records,
        load_lexicons(corpora),
        read_word_list(PROFANITY_FILE),
        read_stance_corpus(ROOT / "training_data" / "stance"),
    )
    normaliser = prepared.normalizer
    config = TrainingConfig()
    featurizer = TextFeaturizer(**config.featurizer[LANGUAGE]).fit(
        [
            *(normaliser.words(r.text) for r in prepared.records if r.split == "train"),
            *prepared.vocabulary,
        ]
    )
    keep = [
        r
        for r in prepared.records
        if r.source in TOXICITY_SOURCES[LANGUAGE] and "toxicity" in r.labels
    ]
    words = [normaliser.words(r.text) for r in keep]
    return Data(
        featurizer.transform(words).tocsr(),
        np.asarray([r.labels["toxicity"] for r in keep]),
        np.asarray([r.split for r in keep]),
        np.asarray([r.source for r in keep]),
        np.asarray([str(r.extra.get("reason", "")) for r in keep]),
        np.asarray([SOURCE_WEIGHTS.get(r.source, 1.0) for r in keep]),
        words,
        [r.text for r in keep],
        featurizer,
        normaliser.words,
    )


def product(data: Data, matrix: sp.csr_matrix, rows: NDArray[np.int_]) -> Decide:
    """The shipped head and mixture of ban reasons fitted on ``rows`` of ``matrix``."""
    config = TrainingConfig()
    alpha = config.alpha_for(LANGUAGE)
    w, b = fit_nblr(matrix, rows, data.y[rows], alpha, config.c, data.weight)
    mixture = fit_mixture(
        matrix, rows, (data.y, data.reason, data.source), data.weight, config, alpha
    )

    def decide(held: NDArray[np.int_]) -> NDArray[np.float64]:
        main = np.asarray(matrix[held] @ w, dtype=np.float64) + b
        if mixture is None:
            return main
        return mixture.combine(main, np.asarray(matrix[held] @ mixture.weights, np.float64))

    return decide


def quoted_matrix(data: Data, weight: float = 0.5) -> sp.csr_matrix:
    """Features with the quoted part of a reply weighted down, rows rescaled to the usual norm."""
    own, quoted = [], []
    for text, words in zip(data.texts, data.words, strict=True):
        flat = " ".join(text.split())
        marks = [m.start() for m in REPLY_MARK.finditer(flat)]
        cut = marks[-1] if marks and (flat.startswith(">") or marks[0] > 0) else 0
        quoted.append(data.normalise(flat[:cut]) if cut else [])
        own.append(data.normalise(flat[cut:]) if cut else words)
    mixed = (data.featurizer.transform(own) + weight * data.featurizer.transform(quoted)).tocsr()
    target = float(np.median(sp.linalg.norm(data.matrix, axis=1)))
    norms = np.maximum(sp.linalg.norm(mixed, axis=1), 1e-12)
    return sp.csr_matrix(mixed.multiply((target / norms)[:, None]))


def blended(data: Data, rows: NDArray[np.int_], other: Decide) -> Decide:
    """The product's log-odds averaged with another model's (weight ``BLEND``)."""
    base = product(data, data.matrix, rows)
    return lambda held: (1 - BLEND) * base(held) + BLEND * other(held)


def nb_mlp(data: Data, rows: NDArray[np.int_]) -> Decide:
    """A 32-unit perceptron on the NB-scaled features (3 epochs: dev AUC peaked there)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    ratio = nb_ratio(data.matrix[rows], data.y[rows], TrainingConfig().alpha_for(LANGUAGE))
    scaled = sp.csr_matrix(data.matrix.multiply(ratio))
    model = MLPClassifier(hidden_layer_sizes=(32,), alpha=1e-3, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaled[rows], data.y[rows])

    def decide(held: NDArray[np.int_]) -> NDArray[np.float64]:
        p = np.clip(model.predict_proba(scaled[held])[:, 1], 1e-7, 1 - 1e-7)
        return np.asarray(np.log(p) - np.log1p(-p))

    return decide


def lightgbm_trees(data: Data, rows: NDArray[np.int_]) -> Decide:
    """Gradient-boosted trees on the features seen in >= 5 training texts."""
    import lightgbm

    seen = np.asarray((data.matrix[rows] > 0).sum(axis=0)).ravel() >= 5
    features = data.matrix[:, np.flatnonzero(seen)].astype(np.float32).tocsr()
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.2,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "verbose": -1,
        "num_threads": 1,
        "seed": 0,
    }
    train_set = lightgbm.Dataset(features[rows], data.y[rows], weight=data.weight[rows])
    booster = lightgbm.train(params, train_set, num_boost_round=500)
    return lambda held: np.asarray(booster.predict(features[held], raw_score=True))


def candidates(data: Data) -> dict[str, Callable[[NDArray[np.int_]], Decide]]:
    """Each candidate: training rows -> decision function."""
    quoted: list[sp.csr_matrix] = []

    def with_quotes(rows: NDArray[np.int_]) -> Decide:
        if not quoted:
            quoted.append(quoted_matrix(data))
        return product(data, quoted[0], rows)

    return {
        "product": lambda rows: product(data, data.matrix, rows),
        "quoted": with_quotes,
        "nb-mlp": lambda rows: blended(data, rows, nb_mlp(data, rows)),
        "lightgbm": lambda rows: blended(data, rows, lightgbm_trees(data, rows)),
    }


def best_f1(y: NDArray[np.int_], score: NDArray[np.float64]) -> float:
    """F1 of the positive class at the best threshold (threshold-free ranking quality).

    On raw decisions (log-odds), which ``moderation.evaluation`` rightly refuses as
    probabilities; the calibrated dev F1 goes through ``binary_metrics``."""
    order = np.argsort(-score, kind="stable")
    hits = np.cumsum(y[order])
    return float((2 * hits / (np.arange(1, y.size + 1) + y.sum())).max())


def evaluate(
    data: Data, fit: Callable[[NDArray[np.int_]], Decide], folds: int, seed: int
) -> dict[str, Any]:
    """Dev figures of a fit on the train buckets, then the BAN-PL cross-validation."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    train = np.flatnonzero(data.split == "train")
    dev = np.flatnonzero(data.split == "dev")
    ban_dev = data.source[dev] == "ban_pl"
    decide = fit(train)
    dev_decision = decide(dev)
    calibrator = fit_calibrator(dev_decision, data.y[dev])
    shown = displayed(calibrator(dev_decision))
    threshold = round(float(tune_threshold(data.y[dev], shown)), 4)
    y_dev = data.y[dev][ban_dev]
    out: dict[str, Any] = {
        "dev_f1": binary_metrics(y_dev, shown[ban_dev], threshold)["f1"],
        "dev_best_f1": best_f1(y_dev, dev_decision[ban_dev]),
        "dev_auc": float(roc_auc_score(y_dev, dev_decision[ban_dev])),
        "threshold": threshold,
    }
    ban = np.flatnonzero((data.split == "train") & (data.source == "ban_pl"))
    others = np.flatnonzero((data.split == "train") & (data.source != "ban_pl"))
    f1s, aucs = [], []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for inner, held in splitter.split(ban, data.y[ban]):
        rows = np.sort(np.concatenate([ban[inner], others]))
        held_decision = fit(rows)(ban[held])
        f1s.append(best_f1(data.y[ban[held]], held_decision))
        aucs.append(float(roc_auc_score(data.y[ban[held]], held_decision)))
    out.update(cv_f1=f1s, cv_auc=aucs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/toxicity_candidates.py",
        description=(
            "Compare recipes for the Polish toxicity head on BAN-PL's dev bucket and by "
            "cross-validation on its train bucket; the test buckets are never read."
        ),
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--candidates",
        default="product,quoted,nb-mlp",
        help="comma-separated, from product, quoted, nb-mlp, lightgbm (default: %(default)s)",
    )
    parser.add_argument("--folds", type=int, default=5, help="CV folds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="CV fold seed (default: %(default)s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = load(Path(args.corpora))
    known = candidates(data)
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if "product" not in names:
        names.insert(0, "product")  # the per-fold differences are against it
    print(
        f"{data.matrix.shape[0]:,} toxicity rows (no test bucket), "
        f"{data.matrix.shape[1]:,} features",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        results[name] = evaluate(data, known[name], args.folds, args.seed)
        print(f"  {name}: done at {time.perf_counter() - started:.0f} s", flush=True)
    reference = np.asarray(results["product"]["cv_f1"])
    rows = []
    for name, r in results.items():
        f1 = np.asarray(r["cv_f1"])
        rows.append(
            [
                name,
                f"{r['dev_f1']:.4f}",
                f"{r['dev_best_f1']:.4f}",
                f"{r['dev_auc']:.4f}",
                f"{f1.mean():.4f} ± {f1.std(ddof=1):.4f}",
                f"{np.mean(r['cv_auc']):.4f}",
                " ".join(f"{d:+.2f}" for d in 100 * (f1 - reference)),
            ]
        )
    print()
    headers = ["candidate", "dev F1", "dev F1*", "dev AUC", "CV F1", "CV AUC"]
    print(table([*headers, "CV F1 - product (pt)"], rows))
    print(f"\n(done in {time.perf_counter() - started:.0f} s)")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
