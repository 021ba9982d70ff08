"""Units and their table: the batch machinery under the scorer must agree with the slow truth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.model.unit_table import UnitTable
from moderation.model.units import UnitCache, raw_token_bounds
from moderation.scoring import Scorer, ScoreResult

#: Every character ``str.split()`` cuts at that is not plain ASCII space, and some that look
#: like space but are not (zero-width space, word joiner): they must stay inside tokens.
_SPACES = (
    " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NOT_SPACES = "\u200b\u2060\ufeff"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab ąż😀" + _SPACES + _NOT_SPACES), max_size=30),
        min_size=1,
        max_size=6,
    )
)
def test_raw_token_bounds_cut_where_str_split_does(texts: list[str]) -> None:
    begins, ends, counts = raw_token_bounds(texts)
    assert counts.tolist() == [len(text.split()) for text in texts]
    position = 0
    for text, count in zip(texts, counts.tolist(), strict=True):
        pairs = zip(
            begins[position : position + count], ends[position : position + count], strict=True
        )
        cut = [text[b:e] for b, e in pairs]
        assert cut == text.split()
        position += count


def test_table_views_survive_growth(scorer: Scorer) -> None:
    featurizer = scorer.bundle.models["pl"].featurizer
    table = UnitTable(featurizer)
    first = table.add(("debil",))
    early = table.view()
    for number in range(5_000):  # several doublings of every array
        table.add((f"słowo{number}",))
    late = table.view()
    ids = np.asarray([first], dtype=np.int64)
    for view in (early, late):
        unigrams, _ = view.unigrams(ids)
        chars, _ = view.char_columns(ids)
        expected_unigrams, expected_chars = featurizer.unit(("debil",))
        assert unigrams.tolist() == expected_unigrams.tolist()
        assert chars.tolist() == expected_chars.tolist()
    assert len(late.kind) == 5_001 and len(early.kind) == 1


def test_stored_contributions_equal_the_sparse_product(scorer: Scorer) -> None:
    """The per-unit parts kept for spans give exactly each unit row times the weights."""
    language = "pl"
    weights = scorer.heads[language].span_weights
    cache = UnitCache(scorer.normalizer, scorer.bundle.models[language].featurizer, weights)
    texts = ["Ty k*rwo, sp1erdalaj stąd", "Zgadzam się z autorem, dobry tekst.", "nie nie nie"]
    encoded = cache.encode_batch([((text, 0),) for text in texts])
    ids, lengths = encoded.ids, encoded.lengths
    assert lengths.tolist() == [len(text.split()) for text in texts]
    featurizer = scorer.bundle.models[language].featurizer
    _, layout = featurizer.transform_units(encoded.view, ids, lengths)
    selected = np.asarray([True, False, True])
    fast = layout.contributions(selected, weights)
    slow = np.asarray(layout.rows(selected) @ weights)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)
    assert np.abs(fast[lengths[0] : lengths[0] + lengths[1]]).sum() == 0.0  # not selected


@pytest.mark.parametrize(
    "text",
    [
        "Ty\u3000debilu\u2003spierdalaj",  # ideographic and em spaces
        "-- Ty debilu --  ...  spierdalaj 😀",  # tokens without a word among words
        "k u r w a, ty debilu",  # lone letters joined: one unit per word
    ],
)
def test_spans_match_their_text_in_every_path(scorer: Scorer, text: str) -> None:
    result = scorer.score_text(text)
    assert isinstance(result, ScoreResult)
    spans = [span for found in result.spans.values() for span in found]
    assert spans
    for span in spans:
        assert text[span.begin : span.end] == span.text
        assert span.text.strip() == span.text and span.text


def test_batch_and_single_calls_agree(scorer: Scorer) -> None:
    texts = ["Ty debilu", "k u r w a mać", "Dobry artykuł, dziękuję.", "\u200b \u200d", "spoko"]
    batch = [outcome.to_dict() for outcome in scorer.score(texts)]
    single = [scorer.score([text])[0].to_dict() for text in texts]
    assert batch == single
    assert batch[3]["error"]["code"] == "empty_text"


def test_a_new_token_is_stored_once_however_often_a_batch_repeats_it(scorer: Scorer) -> None:
    featurizer = scorer.bundle.models["pl"].featurizer
    cache = UnitCache(scorer.normalizer, featurizer)
    first = cache.encode_batch([(("zupełnie nowe nowe", 0),)])
    second = cache.encode_batch([(("nowe zupełnie", 0),)])
    assert first.ids[1] == first.ids[2]
    assert sorted(second.ids.tolist()) == sorted(set(first.ids.tolist()))
    assert len(second.view.kind) == 2  # two distinct raw tokens, two units


def test_concurrent_batches_of_new_tokens_score_as_alone(scorer: Scorer) -> None:
    """The service scores from a thread pool: batches adding new tokens to one table at the
    same time must neither fail nor change each other's results. The batches share new words
    behind different punctuation ("zwrot7" / "zwrot7,"), so one thread copies the features of
    units another thread is adding; a tiny switch interval makes the threads interleave."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    def batch(number: int) -> list[str]:
        mark = ",.!?;:"[number % 6]
        return [f"zwrot{number}{i}{mark} zwrot{i}{mark} inne{number}x{i}" for i in range(150)]

    batches = [batch(number) for number in range(12)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            together = list(
                pool.map(lambda texts: [o.to_dict() for o in scorer.score(texts)], batches)
            )
    finally:
        sys.setswitchinterval(interval)
    alone = [[o.to_dict() for o in scorer.score(texts)] for texts in batches]
    assert together == alone


def test_a_word_unit_published_after_the_snapshot_is_not_read(scorer: Scorer) -> None:
    """The race the threaded test above can only hope to hit: another thread has published
    a word's unit id that the arrays this thread read do not hold yet. It must be computed,
    not read from (or past) the end of the arrays."""
    featurizer = scorer.bundle.models["pl"].featurizer
    table = UnitTable(featurizer)
    table.add(("debil",))
    table._word_units["zupełnienowe"] = 5_000  # as if another thread just added it
    unit = table.add(("zupełnienowe",))
    view = table.view()
    ids = np.asarray([unit], dtype=np.int64)
    expected_unigrams, expected_chars = featurizer.unit(("zupełnienowe",))
    assert view.unigrams(ids)[0].tolist() == expected_unigrams.tolist()
    assert view.char_columns(ids)[0].tolist() == expected_chars.tolist()


def test_spans_when_every_token_has_a_tiny_share(scorer: Scorer) -> None:
    """150 times the same word: each token carries 1/150 of any head's evidence, under the
    1% a span needs, so no span qualifies (this crashed the span ranking once). Every head
    is asked for spans, so a head with positive evidence is surely among them."""
    from moderation.model.explain import top_spans

    language = "pl"
    heads = scorer.heads[language]
    cache = UnitCache(
        scorer.normalizer, scorer.bundle.models[language].featurizer, heads.span_weights
    )
    texts = ["debil " * 150, "Ty debilu, spierdalaj"]
    encoded = cache.encode_batch([((text, 0),) for text in texts])
    featurizer = scorer.bundle.models[language].featurizer
    _, layout = featurizer.transform_units(encoded.view, encoded.ids, encoded.lengths)
    every_head = np.ones((2, len(heads.span_names)))
    spans = top_spans(
        heads.span_weights,
        heads.span_names,
        layout,
        lambda: encoded.bounds(scorer.normalizer),
        texts,
        every_head,
        min_score=0.5,
        limit=3,
    )
    assert spans[0] == {}
    assert spans[1] and all(
        texts[1][s.begin : s.end] == s.text for found in spans[1].values() for s in found
    )
    assert scorer.score_text(texts[0]).scores["toxicity"] >= 0.0  # and scoring goes through
