"""Linear attribute heads sharing one feature matrix, and their calibration.

All heads of one language are stacked in one weight matrix so a batch is scored with a
single sparse-dense product; each column then goes through its own calibrator, fitted on
development data, so that a score of 0.8 means "about 80% of such comments are toxic".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Largest amount added to an isotonic calibration to make it strictly increasing.
SLOPE = 1e-4

#: Decimals of the probabilities a result shows. Flags compare these displayed values with
#: the bundle's thresholds (themselves on this grid), and thresholds are tuned on them, so a
#: reader who sees ``score >= threshold`` in a result always sees the flag, and vice versa.
SCORE_DECIMALS = 4


def displayed(probabilities: NDArray[np.floating]) -> NDArray[np.float64]:
    """Probabilities as results show them: rounded to :data:`SCORE_DECIMALS` decimals.

    The one rounding used for results, flags, threshold tuning and training's evaluation;
    every value is the double nearest to ``k / 10**SCORE_DECIMALS``, so it compares exactly
    with a threshold stored on the same grid.
    """
    return np.asarray(np.round(np.asarray(probabilities, dtype=np.float64), SCORE_DECIMALS))


@dataclass(frozen=True)
class Calibrator:
    """Maps a raw decision value to a probability: isotonic (piecewise linear) or Platt.

    Isotonic needs plenty of development data of both classes; with little data the
    two-parameter Platt sigmoid is the safer choice (see ``fit_calibrator``).
    """

    method: str  # "isotonic" | "sigmoid"
    xs: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    ys: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    slope: float = 1.0
    offset: float = 0.0

    def __call__(self, decision: NDArray[np.floating]) -> NDArray[np.float64]:
        if self.method == "isotonic":
            return np.asarray(np.interp(decision, self.xs, self.ys), dtype=np.float64)
        from scipy.special import expit  # no overflow warning for large decisions

        return np.asarray(expit(self.slope * decision + self.offset), dtype=np.float64)


def fit_calibrator(
    decision: NDArray[np.floating], y: NDArray[np.integer], min_per_class: int = 150
) -> Calibrator:
    """Fit a calibrator on held-out decision values; isotonic when both classes are plentiful."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    positives = int(y.sum())
    negatives = int(len(y) - positives)
    if positives == 0 or negatives == 0:
        # Nothing to learn from: keep the model's own sigmoid, say so through the method.
        return Calibrator("sigmoid")
    if min(positives, negatives) >= min_per_class:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(decision, y)
        xs = np.asarray(iso.X_thresholds_, dtype=np.float64)
        ys = np.asarray(iso.y_thresholds_, dtype=np.float64)
        # Isotonic steps are flat: many comments would share one probability, and a threshold
        # set on that value would flag all or none of them. A slope of at most 1e-4 keeps the
        # calibration and makes the map strictly increasing, so a threshold is a clean cut.
        ys = np.clip(ys + np.linspace(0.0, SLOPE, ys.size), 0.0, 1.0)
        return Calibrator("isotonic", xs=xs, ys=np.maximum.accumulate(ys))
    platt = LogisticRegression(C=1e4)
    platt.fit(np.asarray(decision).reshape(-1, 1), y)
    return Calibrator("sigmoid", slope=float(platt.coef_[0, 0]), offset=float(platt.intercept_[0]))


@dataclass
class Mixture:
    """Component heads that refine one attribute's decision: its harmful class is a mixture.

    BAN-PL's moderators banned posts for (pseudonymised) reasons; one NB-LR per reason against
    the harmful class's negatives sees what a single linear head averages away. The refined
    decision is ``main_scale * main + component_scale * max(components) + offset``, the two
    scales and the offset fitted by logistic regression on out-of-fold decisions. Scoring
    costs a few more columns in the one sparse-dense product and a maximum.
    """

    column: int  # the attribute column it refines
    labels: tuple[str, ...]  # what each component stands for (the reasons)
    weights: NDArray[np.float32]  # n_features x n_components
    intercepts: NDArray[np.float32]
    main_scale: float
    component_scale: float
    offset: float

    def combine(
        self, main: NDArray[np.float64], components: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The refined decision from the attribute's own decision and the components' raw
        products (before their intercepts), one row per comment."""
        best = (components + self.intercepts).max(axis=1)
        return np.asarray(
            self.main_scale * main + self.component_scale * best + self.offset, dtype=np.float64
        )


@dataclass
class HeadStack:
    """Weights (n_features x n_heads), intercepts and calibrators of one language's heads.

    ``mixture`` (optional) refines one head's decision before calibration; explanation spans
    keep reading the head's own weights.
    """

    attributes: tuple[str, ...]
    weights: NDArray[np.float32]
    intercepts: NDArray[np.float32]
    calibrators: tuple[Calibrator, ...]
    mixture: Mixture | None = None

    def decision(self, features: sp.csr_matrix) -> NDArray[np.float64]:
        """Raw decision values, one column per head (a mixture's head refined)."""
        raw = np.asarray(features @ self.weights, dtype=np.float64) + self.intercepts
        if self.mixture is not None:
            components = np.asarray(features @ self.mixture.weights, dtype=np.float64)
            column = self.mixture.column
            raw[:, column] = self.mixture.combine(raw[:, column], components)
        return raw

    def probabilities(self, features: sp.csr_matrix) -> NDArray[np.float64]:
        """Calibrated probabilities, one column per head."""
        return self.calibrated(self.decision(features))

    def calibrated(self, decision: NDArray[np.float64]) -> NDArray[np.float64]:
        """Raw decision values (one column per head) to calibrated probabilities."""
        return (
            np.column_stack(
                [calibrate(decision[:, i]) for i, calibrate in enumerate(self.calibrators)]
            )
            if len(self.calibrators)
            else decision
        )
