"""Training the stance and sentiment heads on the project's own article corpus.

The corpus (training_data/stance/) has articles (title, lead, target statement) and
comments labelled for stance toward their article and for sentiment. Held-out figures are
measured by article: the articles are dealt into folds, each fold's heads are fitted on the
other folds' articles, so no test comment's article was seen in training. The same
out-of-fold logits fit each head's temperature (calibration); the final heads are then
fitted on every article.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from moderation.model.features import TextFeaturizer
from moderation.model.stance import (
    SENTIMENT_LABELS,
    STANCE_LABELS,
    Article,
    ClassHead,
    References,
    context_features,
    cue_flags,
    fit_temperature,
    negation_columns,
)
from moderation.text.normalize import Normalizer

#: Regularisation of both heads (chosen on held-out articles, BENCHMARKS.md).
STANCE_C = 4.0


@dataclass(frozen=True, slots=True)
class StanceComment:
    """One labelled comment of the stance corpus."""

    text: str
    article_id: str
    language: str
    stance: str
    sentiment: str


def read_stance_corpus(
    directory: Path,
) -> tuple[dict[str, Article], dict[str, str], list[StanceComment]]:
    """Articles by id, each article's language, and the labelled comments of ``directory``."""
    articles: dict[str, Article] = {}
    languages: dict[str, str] = {}
    comments: list[StanceComment] = []
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                if path.name.startswith("articles_"):
                    articles[row["id"]] = Article(
                        row["id"], row["title"], row["lead"], row["target"]
                    )
                    languages[row["id"]] = row["lang"]
                else:
                    comments.append(
                        StanceComment(
                            row["text"],
                            row["article_id"],
                            row["lang"],
                            row["stance"],
                            row["sentiment"],
                        )
                    )
            except KeyError as exc:
                raise ValueError(f"{path}:{number}: missing field {exc}") from None
    for comment in comments:
        if comment.article_id not in articles:
            raise ValueError(f"comment under unknown article {comment.article_id}")
        if comment.stance not in STANCE_LABELS or comment.sentiment not in SENTIMENT_LABELS:
            raise ValueError(f"bad label in {comment}")
    return articles, languages, comments


def article_vocabulary(articles: Sequence[Article], normalizer: Normalizer) -> list[list[str]]:
    """Normalised words of every article field (to widen the shared vocabulary)."""
    return [normalizer.words(f"{a.title} {a.lead} {a.target}") for a in articles]


@dataclass
class StanceData:
    """The features of a set of comments, with and without their article."""

    text: sp.csr_matrix
    context: NDArray[np.float32]  # with the article
    comment_only: NDArray[np.float32]
    stance: NDArray[np.int_]
    sentiment: NDArray[np.int_]
    article_ids: NDArray[np.str_]


def featurize(
    comments: Sequence[StanceComment],
    articles: dict[str, Article],
    featurizer: TextFeaturizer,
    normalizer: Normalizer,
) -> StanceData:
    words = [normalizer.words(c.text) for c in comments]
    text = featurizer.transform(words)
    ids = sorted({c.article_id for c in comments})
    target_rows = featurizer.transform([normalizer.words(articles[i].target) for i in ids])
    article_rows = featurizer.transform(
        [normalizer.words(f"{articles[i].title} {articles[i].lead}") for i in ids]
    )
    position = {article_id: n for n, article_id in enumerate(ids)}
    index = np.asarray([position[c.article_id] for c in comments], dtype=np.int64)
    negated, questioned = cue_flags(text, negation_columns(featurizer), [c.text for c in comments])
    everywhere = np.ones(len(comments), dtype=bool)
    references = References.of(target_rows, article_rows)
    context = context_features(text, references, index, everywhere, negated, questioned)
    comment_only = context_features(text, references, index, ~everywhere, negated, questioned)
    return StanceData(
        text,
        context,
        comment_only,
        np.asarray([STANCE_LABELS.index(c.stance) for c in comments]),
        np.asarray([SENTIMENT_LABELS.index(c.sentiment) for c in comments]),
        np.asarray([c.article_id for c in comments]),
    )


def _fit(data: StanceData, rows: NDArray[np.int_], *, stance: bool, c: float) -> ClassHead:
    """One head on ``rows``; the stance head sees every comment with and without its article."""
    from sklearn.linear_model import LogisticRegression

    n_text = data.text.shape[1]
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    if stance:
        x = sp.vstack(
            [
                sp.hstack([data.text[rows], sp.csr_matrix(data.context[rows])]),
                sp.hstack([data.text[rows], sp.csr_matrix(data.comment_only[rows])]),
            ],
            format="csr",
        )
        y = np.concatenate([data.stance[rows], data.stance[rows]])
        model.fit(x, y)
        coef = model.coef_.T.astype(np.float32)
        return ClassHead(
            STANCE_LABELS,
            np.ascontiguousarray(coef[:n_text]),
            model.intercept_.astype(np.float32),
            context_weights=np.ascontiguousarray(coef[n_text:]),
        )
    model.fit(data.text[rows], data.sentiment[rows])
    return ClassHead(
        SENTIMENT_LABELS,
        np.ascontiguousarray(model.coef_.T.astype(np.float32)),
        model.intercept_.astype(np.float32),
    )


@dataclass
class StanceRun:
    """Fitted heads and their held-out-article evaluation."""

    stance: ClassHead
    sentiment: ClassHead
    evaluation: dict[str, Any]


def _macro_f1(y: NDArray[np.int_], predicted: NDArray[np.int_], n_labels: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, predicted, labels=list(range(n_labels)), average="macro"))


def _calibration_error(
    probabilities: NDArray[np.float64], y: NDArray[np.int_], bins: int = 10
) -> float:
    """Expected calibration error of the top label (confidence vs accuracy per bin)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = edges == b
        if rows.any():
            total += rows.sum() * abs(float(confidence[rows].mean()) - float(correct[rows].mean()))
    return total / max(len(y), 1)


def train_stance_heads(
    data: StanceData,
    progress: Callable[[str], None],
    *,
    folds: int = 4,
    seed: int = 0,
    c: float = STANCE_C,
) -> StanceRun:
    """Cross-validate by article (evaluation + temperatures), then fit on every article."""
    from scipy.special import softmax

    ids = sorted(set(data.article_ids.tolist()))
    order = np.random.RandomState(seed).permutation(ids)
    fold_of = {article: n % folds for n, article in enumerate(order)}
    fold = np.asarray([fold_of[a] for a in data.article_ids.tolist()])
    n = len(data.article_ids)
    logits = {
        "article": np.zeros((n, len(STANCE_LABELS))),
        "comment_only": np.zeros((n, len(STANCE_LABELS))),
        "sentiment": np.zeros((n, len(SENTIMENT_LABELS))),
    }
    for k in range(folds):
        train_rows = np.flatnonzero(fold != k)
        test_rows = np.flatnonzero(fold == k)
        progress(f"  stance fold {k + 1}/{folds}: {len(test_rows)} held-out comments")
        stance = _fit(data, train_rows, stance=True, c=c)
        sentiment = _fit(data, train_rows, stance=False, c=c)
        text = data.text[test_rows]
        logits["article"][test_rows] = stance.logits(text, data.context[test_rows])
        logits["comment_only"][test_rows] = stance.logits(text, data.comment_only[test_rows])
        logits["sentiment"][test_rows] = sentiment.logits(text)
    temperature = {
        "stance": fit_temperature(
            np.vstack([logits["article"], logits["comment_only"]]),
            np.concatenate([data.stance, data.stance]),
        ),
        "sentiment": fit_temperature(logits["sentiment"], data.sentiment),
    }
    evaluation: dict[str, Any] = {"folds": folds, "comments": n, "articles": len(ids)}
    for name, y, head in (
        ("stance", data.stance, "stance"),
        ("stance_comment_only", data.stance, "stance"),
        ("sentiment", data.sentiment, "sentiment"),
    ):
        raw = logits[
            "article" if name == "stance" else "comment_only" if head == "stance" else "sentiment"
        ]
        probabilities = softmax(raw / temperature[head], axis=1)
        predicted = probabilities.argmax(axis=1)
        labels = STANCE_LABELS if head == "stance" else SENTIMENT_LABELS
        per_article = {
            a: round(_macro_f1(y[data.article_ids == a], predicted[data.article_ids == a], 3), 3)
            for a in ids
        }
        evaluation[name] = {
            "macro_f1": round(_macro_f1(y, predicted, len(labels)), 4),
            "ece": round(_calibration_error(probabilities, y), 4),
            "per_article": per_article,
        }
    progress(
        f"  held-out articles: stance macro-F1 {evaluation['stance']['macro_f1']:.3f} "
        f"(comment only {evaluation['stance_comment_only']['macro_f1']:.3f}), "
        f"sentiment {evaluation['sentiment']['macro_f1']:.3f}"
    )
    every = np.arange(n)
    stance = _fit(data, every, stance=True, c=c)
    stance.temperature = temperature["stance"]
    sentiment = _fit(data, every, stance=False, c=c)
    sentiment.temperature = temperature["sentiment"]
    return StanceRun(stance, sentiment, evaluation)
