"""Training recipe details that the benchmarks depend on but no other test would notice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray

from moderation.corpora.base import LabelledText
from moderation.evaluation import tune_threshold
from moderation.scoring import ScoreResult
from moderation.training import (
    PROFANITY_FILE,
    TrainingConfig,
    nb_ratio,
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
    flat, sharp = nb_ratio(matrix, y, 1.0)[0], nb_ratio(matrix, y, 0.25)[0]
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
    # Without reasons (the own corpus alone, English) there is no mixture; on by default.
    plain = TrainingConfig(toxicity_sources=None, toxicity_mixture=True)
    plain_run = train_language("pl", polish_slice, unmask, plain, lambda message: None)
    assert plain_run.model.heads.mixture is None
    assert TrainingConfig().toxicity_mixture


# --------------------------------------------------------------------------------------------
# Flag thresholds: tuned on the probabilities as results show them (4 decimals)
# --------------------------------------------------------------------------------------------


def _steps(values: list[float], sizes: list[int]) -> NDArray[np.float64]:
    """Dev probabilities on isotonic steps: ``size`` comments per step, spread over 2e-6 as
    the calibrator's tie-breaking slope spreads them."""
    return np.concatenate(
        [v + np.linspace(0.0, 2e-6, n) for v, n in zip(values, sizes, strict=True)]
    )


def test_flag_threshold_keeps_the_tuned_step_flagged() -> None:
    """The shipped English bug: the tuned step sat at 0.384673-0.384675 and the threshold was
    stored rounded to the nearest 4 decimals, 0.3847, which unflagged the whole step."""
    from moderation.model.heads import displayed
    from moderation.training import flag_threshold

    p = _steps([0.20, 0.30, 0.384673, 0.60, 0.90], [40, 30, 25, 20, 20])
    y = np.r_[np.zeros(40), np.ones(5), np.zeros(25), np.ones(18), np.zeros(7), np.ones(40)]
    y = y.astype(int)
    tuned = tune_threshold(y, p)
    assert 0.384673 <= tuned < 0.38468  # the tuning wants the step flagged
    assert round(tuned, 4) > p[(p >= 0.384673) & (p < 0.385)].max()  # the old bug
    threshold = flag_threshold(y, p)
    assert threshold == round(threshold, 4)  # stored on the grid results show
    # Flags as results give them reproduce the tuned operating point, comment by comment.
    assert np.array_equal(displayed(p) >= threshold, p >= tuned)


def test_flag_threshold_handles_steps_closer_than_the_display() -> None:
    """Two steps 2e-5 apart both show 0.5123: no stored threshold can flag one without the
    other, so the tuning chooses among operating points the displayed values can express."""
    from moderation.model.heads import displayed
    from moderation.training import flag_threshold

    p = _steps([0.30, 0.51229, 0.51231, 0.70], [30, 20, 20, 30])
    y = np.r_[np.zeros(30), np.ones(4), np.zeros(16), np.ones(15), np.zeros(5), np.ones(30)]
    y = y.astype(int)
    assert len(set(displayed(p[30:70]).tolist())) == 1
    threshold = flag_threshold(y, p)
    flags = displayed(p) >= threshold
    # Raw tuning would flag only the upper step; displayed, the steps are one, and the
    # stored threshold reproduces exactly the displayed-scale optimum.
    assert not np.array_equal(p >= tune_threshold(y, p), flags)
    assert np.array_equal(flags, displayed(p) >= tune_threshold(y, displayed(p)))
    best = max(_f1(y, displayed(p) >= t) for t in np.unique(displayed(p)))
    assert _f1(y, flags) == pytest.approx(best)


def _f1(y: NDArray[np.int_], flags: NDArray[np.bool_]) -> float:
    tp = int((flags & (y == 1)).sum())
    return 2 * tp / (int(flags.sum()) + int(y.sum()))


@pytest.mark.parametrize("seed", range(20))
def test_flag_threshold_never_crosses_a_step(seed: int) -> None:
    """Random isotonic-like dev scores: the stored threshold flags, on the displayed values,
    exactly the comments at or above the displayed step it was tuned at, and that operating
    point is the best the displayed values allow."""
    from moderation.model.heads import displayed
    from moderation.training import flag_threshold

    rng = np.random.default_rng(seed)
    steps = np.sort(rng.random(rng.integers(5, 40)))
    sizes = rng.integers(1, 60, steps.size)
    p = _steps(steps.tolist(), sizes.tolist())
    y = (rng.random(p.size) < p).astype(int)
    if not 0 < y.sum() < y.size:
        return
    threshold = flag_threshold(y, p)
    assert threshold == round(threshold, 4)
    shown = displayed(p)
    flags = shown >= threshold
    assert np.array_equal(flags, shown >= tune_threshold(y, shown))
    best = max(_f1(y, shown >= t) for t in np.unique(shown))
    assert _f1(y, flags) == pytest.approx(best)


def test_trained_thresholds_reproduce_the_dev_operating_point(
    polish_slice: list[LabelledText],
) -> None:
    """End to end: the thresholds ``train_language`` stores flag, on the dev split's displayed
    probabilities, what the tuning chose; none is rounded across a step after tuning."""
    from moderation.model.heads import displayed
    from moderation.text.normalize import Normalizer

    unmask = read_word_list(PROFANITY_FILE)
    run = train_language(
        "pl", polish_slice, unmask, TrainingConfig(toxicity_sources=None), lambda message: None
    )
    normalizer = Normalizer(unmask)
    dev = [r for r in polish_slice if r.split == "dev"]
    documents = run.model.featurizer.transform([normalizer.words(r.text) for r in dev])
    shown = displayed(run.model.heads.probabilities(documents))
    for column, attribute in enumerate(run.model.heads.attributes):
        y = np.asarray([r.labels[attribute] for r in dev])
        threshold = run.model.thresholds[attribute]
        assert threshold == round(threshold, 4), attribute
        tuned = tune_threshold(y, shown[:, column])
        assert np.array_equal(shown[:, column] >= threshold, shown[:, column] >= tuned), attribute


# --------------------------------------------------------------------------------------------
# Training's held-out figures and the service's (issue 2: report 0.916, Scorer 0.913)
# --------------------------------------------------------------------------------------------


def test_training_scores_held_out_rows_as_the_scorer_does(
    polish_slice: list[LabelledText],
) -> None:
    """Training's report scores each test row through its own pipeline (``transform``, the
    head and mixture products, calibration, 4-decimal display); the service through
    ``Scorer`` (cached units, the float32 stacked product, flags). On the same model and rows
    the scores results show, and so every flag, must be identical, or the report's figures
    are not the product's."""
    import dataclasses

    from moderation.model.bundle import Bundle
    from moderation.scoring import Scorer

    records = [
        dataclasses.replace(
            record,
            source="home" if i % 4 < 2 else record.source,
            extra={"reason": ("a", "b")[i % 2] if record.labels["toxicity"] else "none"},
        )
        for i, record in enumerate(polish_slice)
    ]
    config = TrainingConfig(toxicity_sources=None, toxicity_mixture=True, mixture_folds=2)
    unmask = read_word_list(PROFANITY_FILE)
    run = train_language("pl", records, unmask, config, progress=lambda message: None)
    assert run.model.heads.mixture is not None
    # One language only: every row is scored by the Polish model, whatever its detected
    # language (routing is the other difference between the two, reported separately).
    scorer = Scorer(Bundle({"pl": run.model}, {"model_version": "test"}))
    compared = 0
    for evaluation in run.evaluations:
        if evaluation.attribute != "toxicity":
            continue
        rows = [
            r
            for r in records
            if r.split == "test" and "toxicity" in r.labels and r.source == evaluation.corpus
        ]
        outcomes = scorer.score([r.text for r in rows])
        shown = [o.scores["toxicity"] if isinstance(o, ScoreResult) else None for o in outcomes]
        assert shown == evaluation.y_prob.tolist(), evaluation.corpus
        flags = [isinstance(o, ScoreResult) and "toxicity" in o.flagged for o in outcomes]
        assert flags == (evaluation.y_prob >= evaluation.threshold).tolist()
        compared += len(rows)
    assert compared >= 20


def test_training_report_gives_the_service_figures(tiny_corpus_dir: Path, tmp_path: Path) -> None:
    """The report states the held-out toxicity figures as the service gives them (language
    routing included): the same rows ``bench/quality.py`` prints for the saved bundle."""
    from moderation.benchmark import heldout_report
    from moderation.evaluation import _service_section
    from moderation.scoring import Scorer
    from moderation.training import train

    out = tmp_path / "bundle"
    train(
        tiny_corpus_dir,
        out,
        config=TrainingConfig(stance_folds=2),
        report_dir=out / "report",
        progress=lambda message: None,
    )
    text = (out / "report" / "report.md").read_text("utf-8")
    expected = heldout_report(Scorer.load(out), None, own_dir=tiny_corpus_dir)["rows"]
    assert {row["language"] for row in expected} == {"pl", "en"}
    assert "\n".join(_service_section(expected)) in text
