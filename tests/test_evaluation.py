"""Tests for moderation.evaluation: metrics on hand-computable data, and the report on disk."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from moderation.evaluation import (
    Evaluation,
    binary_metrics,
    calibration_table,
    summarise,
    tune_threshold,
    write_report,
)

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------------------------
# binary_metrics
# --------------------------------------------------------------------------------------------


def test_binary_metrics_hand_example() -> None:
    # pred = [0, 1, 0, 1] -> tp = fp = fn = tn = 1
    m = binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5)
    assert m["n"] == 4
    assert m["positives"] == 2
    for key in ("precision", "recall", "f1", "accuracy", "macro_f1"):
        assert m[key] == pytest.approx(0.5), key
    # 3 of the 4 (positive, negative) pairs are ranked correctly.
    assert m["roc_auc"] == pytest.approx(0.75)
    # ranked .9(+) .6(-) .4(+) .1(-): AP = .5 * 1 + .5 * 2/3
    assert m["average_precision"] == pytest.approx(0.5 + 1 / 3)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    # one example per bin (.1, .4, .6, .9) with gaps .1, .6, .6, .1
    assert m["ece"] == pytest.approx(0.35)


def test_binary_metrics_threshold_is_inclusive() -> None:
    m = binary_metrics([0, 1], [0.2, 0.5], 0.5)
    assert m["recall"] == 1.0
    assert m["precision"] == 1.0


def test_binary_metrics_match_sklearn_on_random_data() -> None:
    rng = np.random.default_rng(0)
    y_prob = rng.random(500)
    y_true = (rng.random(500) < y_prob).astype(int)
    m = binary_metrics(y_true, y_prob, 0.35)
    y_pred = (y_prob >= 0.35).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y_true, y_pred, zero_division=0))
    assert m["recall"] == pytest.approx(recall_score(y_true, y_pred, zero_division=0))
    assert m["f1"] == pytest.approx(f1_score(y_true, y_pred, zero_division=0))
    assert m["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0)
    )
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y_true, y_prob))
    assert m["average_precision"] == pytest.approx(average_precision_score(y_true, y_prob))
    assert m["brier"] == pytest.approx(brier_score_loss(y_true, y_prob))


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_auc_without_exception(label: int) -> None:
    m = binary_metrics([label] * 5, [0.1, 0.3, 0.5, 0.7, 0.9], 0.5)
    assert math.isnan(m["roc_auc"])
    assert math.isnan(m["average_precision"])
    assert m["accuracy"] == pytest.approx(0.4 if label == 0 else 0.6)
    assert not math.isnan(m["ece"])


def test_no_predicted_positives_gives_zero_not_warning() -> None:
    m = binary_metrics([0, 1, 0], [0.1, 0.2, 0.3], 0.9)
    assert m["precision"] == 0.0
    assert m["f1"] == 0.0
    # the negative class is predicted perfectly: F1 = 2*2 / (2*2 + 1)
    assert m["macro_f1"] == pytest.approx((0.0 + 0.8) / 2)


def test_empty_input_is_all_nan() -> None:
    m = binary_metrics([], [], 0.5)
    assert m["n"] == 0
    assert all(math.isnan(v) for k, v in m.items() if k not in ("n", "positives"))


@pytest.mark.parametrize(
    ("y_true", "y_prob"),
    [
        ([0, 1], [0.5]),  # length mismatch
        ([0, 2], [0.1, 0.2]),  # not binary
        ([0, 1], [0.1, 1.5]),  # not a probability (e.g. a logit)
        ([0, 1], [0.1, float("nan")]),
        ([[0, 1]], [[0.1, 0.2]]),  # not 1-D
    ],
)
def test_invalid_input_is_rejected(y_true: npt.ArrayLike, y_prob: npt.ArrayLike) -> None:
    with pytest.raises(ValueError):
        binary_metrics(y_true, y_prob, 0.5)


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------


def test_calibration_table_bins() -> None:
    table = calibration_table([0, 1, 1, 0, 1], [0.0, 0.05, 0.3, 0.95, 1.0])
    assert len(table) == 10
    assert [row["n"] for row in table] == [2, 0, 0, 1, 0, 0, 0, 0, 0, 2]
    assert table[0]["lo"] == 0.0
    assert table[0]["hi"] == pytest.approx(0.1)
    assert table[0]["mean_prob"] == pytest.approx(0.025)
    assert table[0]["frac_positive"] == pytest.approx(0.5)
    assert math.isnan(table[1]["mean_prob"])
    assert table[9]["mean_prob"] == pytest.approx(0.975)  # 1.0 falls in the last bin
    assert table[9]["frac_positive"] == pytest.approx(0.5)
    assert len(calibration_table([0, 1], [0.2, 0.7], bins=4)) == 4


def test_ece_near_zero_when_calibrated() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(int)
    assert binary_metrics(y, p, 0.5)["ece"] < 0.02


def test_ece_large_when_miscalibrated() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p**4).astype(int)  # true rate p**4, reported as p
    # expected |p - p**4| over U(0, 1) = 1/2 - 1/5 = 0.3
    assert binary_metrics(y, p, 0.5)["ece"] > 0.25


# --------------------------------------------------------------------------------------------
# tune_threshold
# --------------------------------------------------------------------------------------------


def test_tune_threshold_separates_separable_data() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 0, 1])
    y_prob = np.array([0.05, 0.2, 0.3, 0.7, 0.8, 0.35, 0.95])
    metrics: tuple[Literal["f1", "macro_f1"], ...] = ("f1", "macro_f1")
    for metric in metrics:
        t = tune_threshold(y_true, y_prob, metric=metric)
        assert np.array_equal(y_prob >= t, y_true == 1), metric
        assert t == pytest.approx(0.7)  # the highest threshold that still separates


def test_tune_threshold_ties_go_to_higher_threshold() -> None:
    # t = .9 -> F1 2/3 (tp 1, fn 1); t = .1 -> F1 2/3 (tp 2, fp 2); the rest are lower.
    assert tune_threshold([1, 0, 0, 1], [0.1, 0.2, 0.3, 0.9]) == pytest.approx(0.9)


def test_tune_threshold_single_class_returns_half() -> None:
    assert tune_threshold([0, 0, 0], [0.1, 0.6, 0.9]) == 0.5
    assert tune_threshold([1, 1], [0.1, 0.6]) == 0.5
    assert tune_threshold([], []) == 0.5


@pytest.mark.parametrize("metric", ["f1", "macro_f1"])
def test_tune_threshold_matches_brute_force(metric: Literal["f1", "macro_f1"]) -> None:
    rng = np.random.default_rng(3)
    y_prob = np.round(rng.random(300), 2)  # rounding creates repeated scores
    y_true = (rng.random(300) < y_prob**2).astype(int)
    average = "binary" if metric == "f1" else "macro"

    def score(t: float) -> float:
        return float(f1_score(y_true, (y_prob >= t).astype(int), average=average, zero_division=0))

    scores = {float(t): score(float(t)) for t in np.unique(y_prob)}
    best = max(scores.values())
    expected = max(t for t, s in scores.items() if s >= best - 1e-12)
    assert tune_threshold(y_true, y_prob, metric=metric) == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# Evaluation, summarise, write_report
# --------------------------------------------------------------------------------------------


def _synthetic(language: str, corpus: str, attribute: str, n: int, seed: int) -> Evaluation:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(np.int64)
    return Evaluation(language, corpus, attribute, y, p, threshold=0.5)


def test_evaluation_arrays_are_read_only_copies() -> None:
    probs = np.array([0.2, 0.8])
    ev = Evaluation("pl", "own", "toxicity", np.array([0, 1]), probs, 0.5)
    assert probs.flags.writeable  # the caller's array is untouched
    with pytest.raises(ValueError):
        ev.y_prob[0] = 1.0
    with pytest.raises(ValueError):
        Evaluation("pl", "own", "toxicity", np.array([0, 1]), np.array([0.2]), 0.5)


def test_summarise_rows() -> None:
    evs = [
        _synthetic("pl", "ban_pl", "insult", 50, 0),
        _synthetic("pl", "ban_pl", "toxicity", 50, 1),
        _synthetic("en", "olid", "toxicity", 40, 2),
    ]
    rows = summarise(evs)
    # report order: slices as given, attributes in ATTRIBUTES order
    assert [(r["language"], r["corpus"], r["attribute"]) for r in rows] == [
        ("pl", "ban_pl", "toxicity"),
        ("pl", "ban_pl", "insult"),
        ("en", "olid", "toxicity"),
    ]
    assert rows[2]["n"] == 40
    assert rows[0]["threshold"] == 0.5
    assert {"f1", "macro_f1", "roc_auc", "average_precision", "brier", "ece"} <= set(rows[0])
    with pytest.raises(ValueError, match="duplicate"):
        summarise([evs[0], evs[0]])


def test_write_report_two_slices(tmp_path: Path) -> None:
    evs = [
        _synthetic("pl", "ban_pl", "toxicity", 300, 10),
        _synthetic("pl", "ban_pl", "insult", 200, 11),
        Evaluation(  # single class: no PR curve, but still calibration / confusion
            "pl", "ban_pl", "threat", np.zeros(30, dtype=np.int64), np.linspace(0, 0.4, 30), 0.5
        ),
        Evaluation("pl", "ban_pl", "obscene", np.array([1]), np.array([0.9]), 0.5),  # too few
        _synthetic("en", "olid", "toxicity", 150, 12),
    ]
    meta = {
        "model_version": "0.1.0",
        "date": "2025-01-01",
        "corpora": {"ban_pl": "sha256:abc|def", "olid": "sha256:123"},
    }
    report = write_report(tmp_path / "out", evs, meta)

    assert report == tmp_path / "out" / "report.md"
    text = report.read_text(encoding="utf-8")
    assert "## pl / ban_pl" in text
    assert "## en / olid" in text
    assert "| model_version | 0.1.0 |" in text
    assert "| corpora.ban_pl | sha256:abc\\|def |" in text  # a pipe cannot break the table
    assert "`threat`: only negatives" in text
    assert "no precision-recall curve" in text
    assert "`obscene`: skipped" in text
    assert "ECE" in text

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 6  # 2 slices x (PR, calibration, confusion)
    for link in links:
        assert not Path(link).is_absolute()
        png = report.parent / link
        assert png.is_file(), link
        assert png.read_bytes()[:8] == PNG_SIGNATURE, link
    assert sum(p.stat().st_size for p in (tmp_path / "out" / "plots").iterdir()) < 2_000_000


def test_write_report_degenerate_slices(tmp_path: Path) -> None:
    evs = [
        Evaluation("pl", "own", "toxicity", np.array([0, 0, 0]), np.array([0.1, 0.2, 0.7]), 0.5),
        Evaluation("en", "tiny", "toxicity", np.array([1]), np.array([0.9]), 0.5),
    ]
    text = write_report(tmp_path, evs, {}).read_text(encoding="utf-8")
    assert "No precision-recall curve: no attribute has both classes" in text
    assert "nothing to report" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 2  # calibration + confusion for pl/own only
    assert all((tmp_path / link).is_file() for link in links)


def test_import_does_not_import_matplotlib() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import moderation.evaluation, sys; print('matplotlib' in sys.modules)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
