"""Stance and sentiment: the contract fields, the article context, spans, bad context."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from moderation.cli import score_jsonl
from moderation.errors import InvalidArticleError
from moderation.model.bundle import read_manifest
from moderation.model.stance import (
    CONTEXT_LIMITS,
    SENTIMENT_LABELS,
    STANCE_LABELS,
    Article,
    fit_temperature,
)
from moderation.scoring import ScoreError, Scorer, ScoreResult
from moderation.training import train

KAZAKHSTAN = {
    "id": "kz-1",
    "title": "Kazachstan odwraca się od Moskwy. Astana coraz śmielej stawia na Zachód",
    "lead": "Rekordowe inwestycje z Unii Europejskiej i coraz chłodniejsze gesty wobec Kremla.",
    "target": "Kazachstan odwraca się od Rosji w stronę Zachodu.",
}


def _scored(scorer: Scorer, text: str, article: object = None) -> ScoreResult:
    outcome = scorer.score([text], articles=[article])[0]
    assert isinstance(outcome, ScoreResult), outcome
    return outcome


def test_results_carry_stance_and_sentiment_in_the_contract_shape(scorer: Scorer) -> None:
    result = _scored(scorer, "Zgadzam się z autorem, Astana wreszcie idzie na Zachód.", KAZAKHSTAN)
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    stance, sentiment = data["stance"], data["sentiment"]
    assert list(stance) == ["label", "scores", "context"]
    assert list(stance["scores"]) == list(STANCE_LABELS)
    assert list(sentiment) == ["label", "scores"]
    assert list(sentiment["scores"]) == list(SENTIMENT_LABELS)
    for head in (stance, sentiment):
        assert sum(head["scores"].values()) == pytest.approx(1.0, abs=1e-3)
        assert head["label"] == max(head["scores"], key=head["scores"].get)
    assert stance["context"] == "article"
    assert "stance" in data["spans"] and "sentiment" in data["spans"]


def test_clear_cues_of_agreement_and_dispute(scorer: Scorer) -> None:
    agree = _scored(scorer, "Zgadzam się z autorem w stu procentach, świetny tekst. Brawo!")
    dispute = _scored(scorer, "Bzdura i propaganda, autor nie ma pojęcia. Źródła proszę.")
    assert agree.stance is not None and dispute.stance is not None
    assert agree.stance["label"] == "favor"
    assert dispute.stance["label"] == "against"
    assert agree.sentiment is not None and agree.sentiment["label"] == "positive"
    assert dispute.sentiment is not None and dispute.sentiment["label"] == "negative"


def test_without_an_article_the_stance_is_marked_comment_only(scorer: Scorer) -> None:
    for article in (None, {}, {"id": "x", "title": " ", "lead": "", "target": ""}):
        result = _scored(scorer, "Zgadzam się z autorem.", article)
        assert result.stance is not None and result.stance["context"] == "comment_only"


def test_the_article_context_changes_the_stance_scores(scorer: Scorer) -> None:
    text = "Kazachstan wcale nie odwraca się od Rosji, to tylko pozory."
    alone = _scored(scorer, text)
    with_article = _scored(scorer, text, KAZAKHSTAN)
    unrelated = _scored(
        scorer, text, {"title": "Ceny masła rosną", "target": "Masło zdrożeje o połowę."}
    )
    assert alone.stance and with_article.stance and unrelated.stance
    assert with_article.stance["scores"] != alone.stance["scores"]
    # Close to the target and negating it: the context pushes toward "against", and a
    # far-off article does not push the same way.
    assert with_article.stance["scores"]["against"] != unrelated.stance["scores"]["against"]


def test_a_comment_scores_the_same_alone_and_in_a_batch_of_several_articles(
    scorer: Scorer,
) -> None:
    # Alone (or under one article) the article's rows come stacked from a cache; a batch of
    # several articles stacks them anew: both must read the same context.
    butter = {"id": "b-1", "title": "Ceny masła rosną", "target": "Masło zdrożeje o połowę."}
    texts = [
        "Kazachstan wcale nie odwraca się od Rosji, to tylko pozory.",
        "Masło po 20 zł? Nie wierzę, to przesada.",
        "Zgadzam się z autorem.",
    ]
    articles: list[object] = [KAZAKHSTAN, butter, None]
    batch = scorer.score(texts, articles=articles)
    for _ in range(2):  # first from an empty article cache, then from the cache
        for text, article, together in zip(texts, articles, batch, strict=True):
            alone = scorer.score([text], articles=[article])[0]
            assert alone.to_dict() == together.to_dict()
    same_article = scorer.score(texts[:2], articles=[KAZAKHSTAN, KAZAKHSTAN])
    assert same_article[0].to_dict() == batch[0].to_dict()


def test_stance_spans_point_at_the_cue_words_in_the_original_text(scorer: Scorer) -> None:
    text = "Totalna BZDURA, propaganda jak zawsze"
    result = _scored(scorer, text, KAZAKHSTAN)
    assert result.stance is not None and result.stance["label"] == "against"
    spans = result.spans["stance"]
    assert spans, "an against stance must say which words carried it"
    for span in spans:
        assert text[span.begin : span.end] == span.text
    assert {span.text for span in spans} & {"BZDURA", "propaganda"}


def test_toxicity_spans_do_not_mix_with_stance_spans(scorer: Scorer) -> None:
    result = _scored(scorer, "Ty debilu, bzdury piszesz", KAZAKHSTAN)
    assert all(":" not in name for name in result.spans)


@pytest.mark.parametrize(
    ("article", "message"),
    [
        ({"title": 5}, "article.title must be a string"),
        ({"headline": "x"}, "unknown article field(s): headline"),
        ("Kazachstan", "article must be an object"),
        ({"lead": "\ud800"}, "not valid Unicode"),
    ],
)
def test_malformed_context_is_a_clear_error_for_that_item_only(
    scorer: Scorer, article: object, message: str
) -> None:
    outcomes = scorer.score(["Zgadzam się", "Zgadzam się"], articles=[article, KAZAKHSTAN])
    assert isinstance(outcomes[0], ScoreError)
    assert outcomes[0].code == "invalid_article" and message in outcomes[0].message
    assert isinstance(outcomes[1], ScoreResult)
    with pytest.raises(InvalidArticleError):
        scorer.score_text("Zgadzam się", article)


def test_over_long_context_is_cut_to_the_documented_length() -> None:
    article = Article.parse({"title": "t" * 10_000, "lead": "l" * 10_000, "target": "x" * 999})
    assert article is not None
    assert len(article.title) == CONTEXT_LIMITS["title"]
    assert len(article.lead) == CONTEXT_LIMITS["lead"]
    assert len(article.target) == CONTEXT_LIMITS["target"]


def test_over_long_context_still_scores(scorer: Scorer) -> None:
    result = _scored(scorer, "Zgadzam się", {"title": "Kazachstan " * 5_000})
    assert result.stance is not None and result.stance["context"] == "article"


def test_articles_must_match_the_texts(scorer: Scorer) -> None:
    with pytest.raises(ValueError, match="1 articles for 2 texts"):
        scorer.score(["a", "b"], articles=[None])


def test_jsonl_reads_the_article_field(scorer: Scorer) -> None:
    lines = [
        {"id": "1", "text": "Zgadzam się z autorem", "article": KAZAKHSTAN},
        {"id": "2", "text": "Zgadzam się z autorem"},
        {"id": "3", "text": "Zgadzam się", "article": {"title": ["x"]}},
    ]
    stream = io.StringIO("\n".join(json.dumps(line, ensure_ascii=False) for line in lines))
    out = io.StringIO()
    errors = score_jsonl(scorer, stream, out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert errors == 1
    assert records[0]["stance"]["context"] == "article"
    assert records[1]["stance"]["context"] == "comment_only"
    assert records[2]["error"]["code"] == "invalid_article"


def test_the_manifest_records_the_held_out_article_evaluation(tiny_bundle_dir: Path) -> None:
    manifest = read_manifest(tiny_bundle_dir)
    for language in ("pl", "en"):
        figures = manifest["stance_evaluation"][language]
        assert figures["folds"] >= 2 and figures["articles"] >= 8
        for head in ("stance", "stance_comment_only", "sentiment"):
            assert 0.0 <= figures[head]["macro_f1"] <= 1.0
            assert set(figures[head]["per_article"]) <= {f"{language}-a{i:02d}" for i in range(99)}
        assert manifest["stance"][language]["stance"]["context"] is True
        assert manifest["stance"][language]["sentiment"]["context"] is False


def test_a_bundle_without_the_stance_corpus_scores_toxicity_only(
    tiny_corpus_dir: Path, tmp_path: Path
) -> None:
    train(tiny_corpus_dir, tmp_path, progress=lambda message: None, languages=("en",))
    result = Scorer.load(tmp_path).score_text("You are an idiot", {"title": "x"})
    data = result.to_dict()
    assert "stance" not in data and "sentiment" not in data
    assert "stance" not in data["spans"]


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(scale=2.0, size=(4000, 3))
    probabilities = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    y = np.asarray([rng.choice(3, p=row) for row in probabilities])
    # The model is over-confident by a factor of 3: the fitted temperature undoes it.
    assert fit_temperature(true_logits * 3.0, y) == pytest.approx(3.0, rel=0.15)
