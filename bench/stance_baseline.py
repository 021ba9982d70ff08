#!/usr/bin/env python3
"""Groundwork for issue 3: how far comment-only features get on the own stance corpus.

    python bench/stance_baseline.py [--folds 4] [--seed 0]

Reads training_data/stance/ (articles and their labelled comments), splits the ARTICLES into
folds (no article is in both training and test), trains a logistic regression on the
project's word + character n-gram features of the comment alone, and prints macro-F1 of
stance (favor / against / none) and sentiment (positive / neutral / negative) over the
held-out articles, per language, with the spread over articles. With ``--context`` it also
adds the similarity of the comment to its article's title, lead and target. This is a
measurement for planning the stance head, not the head itself.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from moderation.config import REPO_ROOT
from moderation.model.features import TextFeaturizer
from moderation.text.normalize import Normalizer
from moderation.training import PROFANITY_FILE, read_word_list

STANCE_DIR = REPO_ROOT / "training_data" / "stance"


def read_jsonl(paths: list[Path]) -> list[dict[str, str]]:
    return [
        json.loads(line)
        for path in paths
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/stance_baseline.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--folds", type=int, default=4, help="article folds (default: %(default)s)")
    parser.add_argument(
        "--seed", type=int, default=0, help="fold assignment seed (default: %(default)s)"
    )
    parser.add_argument(
        "--context", action="store_true", help="add comment-article similarity features"
    )
    args = parser.parse_args()
    articles = {a["id"]: a for a in read_jsonl(sorted(STANCE_DIR.glob("articles_*.jsonl")))}
    comments = read_jsonl(
        [p for p in sorted(STANCE_DIR.glob("*.jsonl")) if not p.name.startswith("articles_")]
    )
    normalizer = Normalizer(read_word_list(PROFANITY_FILE))
    header = f"{'lang':4}  {'comments':>8}  {'articles':>8}  {'stance macro-F1':>15}  "
    print(header + f"{'sentiment macro-F1':>18}  per-article stance min / median / max")
    for language in ("pl", "en"):
        rows = [c for c in comments if c["lang"] == language]
        ids = sorted({c["article_id"] for c in rows})
        order = np.random.RandomState(args.seed).permutation(ids)
        fold_of = {article: i % args.folds for i, article in enumerate(order)}
        fold = np.asarray([fold_of[c["article_id"]] for c in rows])
        article = np.asarray([c["article_id"] for c in rows])
        docs = [normalizer.words(c["text"]) for c in rows]
        context = [
            normalizer.words(
                " ".join(articles[c["article_id"]][k] for k in ("title", "lead", "target"))
            )
            for c in rows
        ]
        stance = np.asarray([c["stance"] for c in rows])
        sentiment = np.asarray([c["sentiment"] for c in rows])
        predicted = {
            "stance": np.empty(len(rows), dtype=object),
            "sentiment": np.empty(len(rows), dtype=object),
        }
        for k in range(args.folds):
            train, test = fold != k, fold == k
            featurizer = TextFeaturizer().fit(
                [d for d, keep in zip(docs, train, strict=True) if keep]
            )
            features = featurizer.transform(docs)
            if args.context:
                similarity = np.asarray(
                    features.multiply(featurizer.transform(context)).sum(axis=1)
                ).ravel()
                features = sp.hstack(
                    [features, sp.csr_matrix(np.c_[similarity, similarity**2])]
                ).tocsr()
            for name, labels in (("stance", stance), ("sentiment", sentiment)):
                model = LogisticRegression(C=4, max_iter=3000, class_weight="balanced")
                model.fit(features[train], labels[train])
                predicted[name][test] = model.predict(features[test])
        stance_f1 = f1_score(stance, predicted["stance"].astype(str), average="macro")
        sentiment_f1 = f1_score(sentiment, predicted["sentiment"].astype(str), average="macro")
        per_article = [
            f1_score(
                stance[article == a], predicted["stance"][article == a].astype(str), average="macro"
            )
            for a in ids
        ]
        print(
            f"{language:4}  {len(rows):8,}  {len(ids):8}  {stance_f1:15.3f}  {sentiment_f1:18.3f}  "
            f"{min(per_article):.2f} / {np.median(per_article):.2f} / {max(per_article):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
