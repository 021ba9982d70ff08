"""The measurements of ``bench/stance.py``, imported only after the process has been pinned."""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

from _common import table, write_json
from _speed import load_texts, throughput

from moderation import config
from moderation.errors import ModerationError
from moderation.model.bundle import load_bundle
from moderation.scoring import Scorer
from moderation.stance_training import featurize, read_stance_corpus, train_stance_heads

STANCE_DIR = config.REPO_ROOT / "training_data" / "stance"


def quality(model_dir: Path, folds: int, seed: int) -> dict[str, Any]:
    bundle = load_bundle(model_dir)
    scorer = Scorer(bundle)
    articles, _, comments = read_stance_corpus(STANCE_DIR)
    out: dict[str, Any] = {}
    for language, model in bundle.models.items():
        rows = [c for c in comments if c.language == language]
        if not rows:
            continue
        data = featurize(rows, articles, model.featurizer, scorer.normalizer)
        run = train_stance_heads(data, lambda message: None, folds=folds, seed=seed)
        out[language] = run.evaluation
    return out


def speed(model_dir: Path, corpora: Path, count: int) -> dict[str, float]:
    try:
        texts = load_texts(corpora, count)
        source = "BAN-PL"
    except ModerationError:
        texts = [c.text for c in read_stance_corpus(STANCE_DIR)[2]][:count]
        source = "stance corpus"
    articles = list(read_stance_corpus(STANCE_DIR)[0].values())
    with_articles = [articles[i % len(articles)] for i in range(len(texts))]
    bundle = load_bundle(model_dir)
    bare = copy.copy(bundle)
    bare.models = {lang: copy.copy(model) for lang, model in bundle.models.items()}
    for model in bare.models.values():
        model.stance = model.sentiment = None
    figures: dict[str, float] = {}
    positions = list(range(len(texts)))
    for name, scorer, given in (
        ("toxicity_only", Scorer(bare), None),
        ("all_heads_comment_only", Scorer(bundle), None),
        ("all_heads_with_article", Scorer(bundle), with_articles),
    ):

        def score(batch: list[int], scorer: Scorer = scorer, given: Any = given) -> object:
            chosen = [texts[i] for i in batch]
            return scorer.score(
                chosen, articles=None if given is None else [given[i] for i in batch]
            )

        throughput(score, positions, 1000)  # warm the caches
        figures[name] = max(throughput(score, positions, 1000) for _ in range(2))
    figures["comments"] = float(len(texts))
    print(f"speed on {len(texts):,} {source} comments, warm batches of 1,000, best of 2 passes")
    return figures


def run(args: argparse.Namespace) -> int:
    defaults = config.resolve()
    model_dir = Path(args.model or defaults["model_dir"])
    corpora = Path(args.corpora or defaults["corpora"])
    started = time.perf_counter()
    try:
        figures = quality(model_dir, args.folds, args.seed)
    except ModerationError as exc:
        print(f"bench/stance.py: error: {exc}")
        return 1
    rows = []
    for language, evaluation in figures.items():
        rows.append(
            [
                language,
                f"{evaluation['comments']:,}",
                str(evaluation["articles"]),
                f"{evaluation['stance']['macro_f1']:.3f}",
                f"{evaluation['stance_comment_only']['macro_f1']:.3f}",
                f"{evaluation['sentiment']['macro_f1']:.3f}",
                f"{evaluation['stance']['ece']:.3f} / {evaluation['sentiment']['ece']:.3f}",
            ]
        )
    print(f"held-out articles ({args.folds} folds by article), bundle {model_dir}")
    print(
        table(
            [
                "lang",
                "comments",
                "articles",
                "stance macro-F1",
                "comment only",
                "sentiment macro-F1",
                "ECE stance / sentiment",
            ],
            rows,
        )
    )
    for language, evaluation in figures.items():
        per_article = evaluation["stance"]["per_article"]
        print(f"\n{language} stance macro-F1 per held-out article:")
        print(", ".join(f"{a} {f1:.2f}" for a, f1 in sorted(per_article.items())))
    print(f"\n(quality part took {time.perf_counter() - started:.0f} s)")
    result: dict[str, Any] = {"quality": figures}
    if not args.no_speed:
        measured = speed(model_dir, corpora, args.comments)
        base = measured["toxicity_only"]
        print(
            table(
                ["scorer", "comments/s", "cost vs toxicity only"],
                [
                    [name.replace("_", " "), f"{value:,.0f}", f"{1 - value / base:+.1%}"]
                    for name, value in measured.items()
                    if name != "comments"
                ],
            )
        )
        result["speed"] = measured
    write_json(args.json, result)
    return 0
