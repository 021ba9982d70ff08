"""Training recipe details that the benchmarks depend on but no other test would notice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray

from moderation.corpora.base import LabelledText
from moderation.training import (
    PROFANITY_FILE,
    TrainingConfig,
    _nb_ratio,
    read_own_corpus,
    read_word_list,
    train_language,
)

OWN_DIR = Path(__file__).resolve().parent.parent / "training_data" / "toxicity"


def test_small_nb_smoothing_lets_rare_ngrams_count() -> None:
    # TF-IDF values are small (rows are L2-normalised): a rare n-gram seen in two toxic texts
    # sums to about 0.4. Smoothing of 1.0 all but hides it; 0.25 keeps a clear ratio.
    rare = np.asarray([0.2, 0.2, 0.0, 0.0], dtype=np.float32)
    common = np.asarray([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    matrix = sp.csr_matrix(np.column_stack([rare, common]))
    y = np.asarray([1, 1, 0, 0])
    flat, sharp = _nb_ratio(matrix, y, 1.0)[0], _nb_ratio(matrix, y, 0.25)[0]
    assert 0 < flat < sharp
    assert sharp > 2 * flat


def test_nb_smoothing_is_per_language() -> None:
    config = TrainingConfig()
    assert config.alpha_for("pl") == 0.25  # chosen on BAN-PL CV and dev (BENCHMARKS.md)
    assert config.alpha_for("en") == 1.0  # 0.25 hurt OLID and identity-term false positives
    assert config.alpha_for("de") == 1.0


@pytest.fixture(scope="module")
def polish_slice() -> list[LabelledText]:
    """Every third Polish comment of the own corpus: every head trains on it in a second."""
    records = [r for r in read_own_corpus(OWN_DIR) if r.language == "pl"]
    return records[::3]


def _toxicity_weights(
    records: list[LabelledText], nb_alpha: dict[str, float]
) -> NDArray[np.float32]:
    """The toxicity head's weights trained on ``records`` with these smoothings."""
    config = TrainingConfig(nb_alpha=nb_alpha, toxicity_sources=None)
    run = train_language(
        "pl", records, read_word_list(PROFANITY_FILE), config, progress=lambda message: None
    )
    return np.asarray(run.model.heads.weights[:, 0])


def test_training_uses_the_languages_own_smoothing(polish_slice: list[LabelledText]) -> None:
    default = _toxicity_weights(polish_slice, {"pl": 1.0})
    assert np.allclose(_toxicity_weights(polish_slice, {"en": 0.25}), default)  # not Polish
    assert not np.allclose(_toxicity_weights(polish_slice, {"pl": 0.25}), default)


def test_toxicity_mixture_splits_the_harmful_class_by_reason(
    polish_slice: list[LabelledText],
) -> None:
    """A corpus whose positives carry reasons gets one component head per reason; the bundle's
    two ways to score (``HeadStack.decision``, ``StackedHeads.read``) apply the same mixture."""
    import dataclasses

    from moderation.model.stacked import StackedHeads
    from moderation.text.normalize import Normalizer

    records = []
    for i, record in enumerate(polish_slice):
        positive = record.labels["toxicity"] == 1
        reason = ("a", "b")[i % 2] if positive else "none"
        # Half of the comments play a corpus with reasons (two); the other half has none,
        # like the own corpus: its harmful texts train the head only.
        home = i % 4 < 2
        records.append(
            dataclasses.replace(
                record,
                source="home" if home else record.source,
                extra={"reason": reason} if home else {},
            )
        )
    config = TrainingConfig(toxicity_sources=None, toxicity_mixture=True, mixture_folds=2)
    unmask = read_word_list(PROFANITY_FILE)
    run = train_language("pl", records, unmask, config, progress=lambda message: None)
    heads = run.model.heads
    mixture = heads.mixture
    assert mixture is not None
    assert mixture.column == 0 and mixture.labels == ("a", "b")
    assert mixture.weights.shape == (run.model.featurizer.n_features_, 2)
    assert mixture.component_scale > 0  # the components add evidence of harm
    normalizer = Normalizer(unmask)
    texts = [r.text for r in records[:40]]
    documents = run.model.featurizer.transform([normalizer.words(t) for t in texts])
    plain = np.asarray(documents @ heads.weights[:, 0]) + heads.intercepts[0]
    expected = heads.probabilities(documents)
    assert not np.allclose(heads.decision(documents)[:, 0], plain)
    readout = StackedHeads(run.model, normalizer).read(documents, texts, [None] * len(texts))
    assert np.allclose(readout.toxicity, expected, atol=1e-5)
    # Without reasons (the own corpus alone, English) there is no mixture; off by default.
    plain = TrainingConfig(toxicity_sources=None, toxicity_mixture=True)
    plain_run = train_language("pl", polish_slice, unmask, plain, lambda message: None)
    assert plain_run.model.heads.mixture is None
    assert not TrainingConfig().toxicity_mixture
