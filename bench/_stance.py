"""The measurements of ``bench/stance.py``, imported only after the process has been pinned."""

from __future__ import annotations

import argparse
import copy
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import table, write_json
from _speed import load_texts

from moderation import config
from moderation.errors import ModerationError
from moderation.model.bundle import load_bundle
from moderation.scoring import Scorer
from moderation.stance_training import featurize, read_stance_corpus, train_stance_heads

#: Measured passes per scorer (after one that warms the caches); the best counts.
ROUNDS = 5

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


def throughput(score: Callable[[list[int]], object], count: int, batch: int) -> float:
    """Comments per second for one pass over comments 0..count-1 in batches of ``batch``."""
    started = time.process_time()
    for start in range(0, count, batch):
        score(list(range(start, min(count, start + batch))))
    return count / (time.process_time() - started)


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
    contenders = (
        ("toxicity_only", Scorer(bare), None),
        ("all_heads_comment_only", Scorer(bundle), None),
        ("all_heads_with_article", Scorer(bundle), with_articles),
    )
    # Rounds interleave the three, so a change in the machine's load hits all alike. After
    # the first (which fills the caches) everything alive is frozen out of the collector's
    # reach, as serve.py does: otherwise full collections, walking all three scorers, land
    # on whichever scorer happens to run and the costs move by ten points from run to run.
    # CPU time of this process (pinned to one core), not wall time, for the same reason.
    for round_number in range(ROUNDS + 1):
        if round_number == 1:
            gc.collect()
            gc.freeze()
        for name, scorer, given in contenders:

            def score(batch: list[int], scorer: Scorer = scorer, given: Any = given) -> object:
                chosen = [texts[i] for i in batch]
                chosen_articles = None if given is None else [given[i] for i in batch]
                return scorer.score(chosen, articles=chosen_articles)

            speed = throughput(score, len(texts), 1000)
            if round_number > 0:  # the first round warms the caches
                figures[name] = max(figures.get(name, 0.0), speed)
    figures["comments"] = float(len(texts))
    print(
        f"speed on {len(texts):,} {source} comments, warm batches of 1,000, "
        f"best of {ROUNDS} interleaved passes, CPU time, collector frozen after the first"
    )
    return figures


def print_quality(figures: dict[str, Any], folds: int, model_dir: Path) -> None:
    rows = [
        [
            language,
            f"{evaluation['comments']:,}",
            str(evaluation["articles"]),
            f"{evaluation['stance']['macro_f1']:.3f}",
            f"{evaluation['stance_comment_only']['macro_f1']:.3f}",
            f"{evaluation['sentiment']['macro_f1']:.3f}",
            f"{evaluation['stance']['ece']:.3f} / {evaluation['sentiment']['ece']:.3f}",
        ]
        for language, evaluation in figures.items()
    ]
    print(f"held-out articles ({folds} folds by article), bundle {model_dir}")
    headers = ["lang", "comments", "articles", "stance macro-F1", "comment only"]
    print(table([*headers, "sentiment macro-F1", "ECE stance / sentiment"], rows))
    for language, evaluation in figures.items():
        per_article = evaluation["stance"]["per_article"]
        print(f"\n{language} stance macro-F1 per held-out article:")
        print(", ".join(f"{a} {f1:.2f}" for a, f1 in sorted(per_article.items())))


def print_speed(measured: dict[str, float]) -> None:
    base = measured["toxicity_only"]
    rows = [
        [name.replace("_", " "), f"{value:,.0f}", f"{1 - value / base:+.1%}"]
        for name, value in measured.items()
        if name != "comments"
    ]
    print(table(["scorer", "comments/s", "cost vs toxicity only"], rows))


def run(args: argparse.Namespace) -> int:
    defaults = config.resolve()
    model_dir = Path(args.model or defaults["model_dir"])
    corpora = Path(args.corpora or defaults["corpora"])
    result: dict[str, Any] = {}
    try:
        if not args.no_quality:
            started = time.perf_counter()
            result["quality"] = quality(model_dir, args.folds, args.seed)
            print_quality(result["quality"], args.folds, model_dir)
            print(f"\n(quality part took {time.perf_counter() - started:.0f} s)\n")
        if not args.no_speed:
            result["speed"] = speed(model_dir, corpora, args.comments)
            print_speed(result["speed"])
    except ModerationError as exc:
        print(f"bench/stance.py: error: {exc}")
        return 1
    write_json(args.json, result)
    return 0
