"""Metrics and the evaluation report for held-out predictions.

This module only *scores* predictions that something else produced; it never trains or
loads a model, so the same numbers can be recomputed from saved predictions alone.

Conventions shared by every function here, so that the report, the CLI summary and the
threshold search can never disagree:

* a text is predicted positive iff ``y_prob >= threshold`` (ties go to "positive");
* undefined ratios (precision with no predicted positives, ...) are 0, as scikit-learn's
  ``zero_division=0`` does, except ROC AUC and average precision, which are ``nan`` when
  only one class is present: a number there would be invented, not measured;
* calibration uses equal-width probability bins, the last bin closed (1.0 belongs to it).

matplotlib is imported lazily inside :func:`write_report`: scoring in the web service or
the CLI summary must not pay for (or require) a plotting library.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from moderation.attributes import ATTRIBUTES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ECE_BINS",
    "MIN_EXAMPLES",
    "Evaluation",
    "binary_metrics",
    "calibration_table",
    "summarise",
    "tune_threshold",
    "write_report",
]

#: Number of equal-width bins behind the ``ece`` metric (the usual choice in the literature,
#: so our numbers are comparable with published ones).
ECE_BINS = 10

#: Slices/attributes with fewer examples are skipped by the report: with one example there is
#: no curve and no meaningful rate, only noise.
MIN_EXAMPLES = 2

#: Rendering settings: small figures keep a report with dozens of slices at a few MB.
_FIGSIZE = (5.0, 4.0)
_DPI = 100

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _as_arrays(y_true: npt.ArrayLike, y_prob: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    """Validate and convert labels/probabilities to read-only 1-D arrays.

    Strict on purpose: logits or a label column off by one row would otherwise produce
    plausible-looking but meaningless metrics.
    """
    true = np.asarray(y_true)
    prob = np.array(y_prob, dtype=np.float64)  # a copy: it is made read-only below
    if true.ndim != 1 or prob.ndim != 1:
        raise ValueError(f"y_true and y_prob must be 1-D, got shapes {true.shape}, {prob.shape}")
    if true.shape != prob.shape:
        raise ValueError(f"y_true and y_prob differ in length: {true.size} != {prob.size}")
    if true.size and not np.isin(true, (0, 1)).all():
        raise ValueError("y_true must contain only 0 and 1")
    if not np.isfinite(prob).all() or (prob.size and (prob.min() < 0.0 or prob.max() > 1.0)):
        raise ValueError("y_prob must be finite probabilities in [0, 1]")
    true_int = true.astype(np.int64)  # astype copies, so the caller's array stays writeable
    true_int.flags.writeable = False
    prob.flags.writeable = False
    return true_int, prob


def _check_threshold(threshold: float) -> float:
    value = float(threshold)
    if not math.isfinite(value):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    return value


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Held-out predictions of one head on one slice (language x corpus).

    The threshold must come from DEV data: choosing it on the data being reported would make
    every threshold-dependent metric optimistic. The arrays are converted to read-only
    ``int64``/``float64`` copies so that a frozen evaluation really cannot change after it
    was scored. ``eq=False`` because element-wise array comparison has no single truth value;
    evaluations compare (and hash) by identity.
    """

    language: str
    corpus: str
    attribute: str
    y_true: IntArray
    y_prob: FloatArray
    threshold: float

    def __post_init__(self) -> None:
        true, prob = _as_arrays(self.y_true, self.y_prob)
        object.__setattr__(self, "y_true", true)
        object.__setattr__(self, "y_prob", prob)
        object.__setattr__(self, "threshold", _check_threshold(self.threshold))

    @property
    def key(self) -> tuple[str, str, str]:
        """(language, corpus, attribute): what must be unique within one report."""
        return (self.language, self.corpus, self.attribute)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    """``num / den`` with 0 for an empty denominator (scikit-learn's ``zero_division=0``)."""
    return num / den if den else 0.0


def _calibration_bins(y_true: IntArray, y_prob: FloatArray, bins: int) -> list[dict[str, float]]:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    # floor(p * bins) puts 0.3 in [0.3, 0.4) as people expect; clipping closes the last bin.
    index = np.minimum((y_prob * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    prob_sums = np.bincount(index, weights=y_prob, minlength=bins)
    pos_sums = np.bincount(index, weights=y_true.astype(np.float64), minlength=bins)
    table: list[dict[str, float]] = []
    for b in range(bins):
        n = int(counts[b])
        table.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "n": float(n),
                "mean_prob": float(prob_sums[b] / n) if n else math.nan,
                "frac_positive": float(pos_sums[b] / n) if n else math.nan,
            }
        )
    return table


def _ece(table: Sequence[Mapping[str, float]]) -> float:
    """Count-weighted mean |mean_prob - frac_positive| over the non-empty bins."""
    total = sum(row["n"] for row in table)
    if not total:
        return math.nan
    gap = sum(row["n"] * abs(row["mean_prob"] - row["frac_positive"]) for row in table if row["n"])
    return gap / total


def calibration_table(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """Reliability table: per equal-width bin ``lo``, ``hi``, ``n``, ``mean_prob``,
    ``frac_positive``.

    Every bin is listed, empty ones with ``n == 0`` and ``nan`` means, so tables of different
    heads line up row by row. A calibrated head has ``mean_prob ~= frac_positive`` in each bin;
    that is what a moderator relies on when reading "0.8" as "4 in 5 of these are toxic".
    """
    true, prob = _as_arrays(y_true, y_prob)
    return _calibration_bins(true, prob, bins)


def binary_metrics(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, threshold: float
) -> dict[str, float]:
    """Threshold-dependent and threshold-free metrics of one head on one slice.

    Keys: ``n``, ``positives``, ``precision``, ``recall``, ``f1`` (of the positive class),
    ``macro_f1`` (mean F1 of both classes, which does not reward ignoring the rare class),
    ``accuracy``, ``roc_auc`` and ``average_precision`` (``nan`` with a single class),
    ``brier`` and ``ece`` (10 equal-width bins). With no examples at all every metric but the
    counts is ``nan``: there is nothing to measure, and 0 would read as "measured and bad".
    """
    true, prob = _as_arrays(y_true, y_prob)
    thr = _check_threshold(threshold)
    n = int(true.size)
    positives = int(true.sum())
    result: dict[str, float] = {"n": float(n), "positives": float(positives)}
    names = (
        "precision",
        "recall",
        "f1",
        "macro_f1",
        "accuracy",
        "roc_auc",
        "average_precision",
        "brier",
        "ece",
    )
    if n == 0:
        return result | dict.fromkeys(names, math.nan)

    pred = prob >= thr
    actual = true == 1
    tp = int(np.sum(pred & actual))
    fp = int(np.sum(pred & ~actual))
    fn = int(np.sum(~pred & actual))
    tn = n - tp - fp - fn
    f1_pos = _ratio(2 * tp, 2 * tp + fp + fn)
    f1_neg = _ratio(2 * tn, 2 * tn + fn + fp)
    both_classes = 0 < positives < n
    result |= {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": f1_pos,
        "macro_f1": (f1_pos + f1_neg) / 2,
        "accuracy": (tp + tn) / n,
        "roc_auc": float(roc_auc_score(true, prob)) if both_classes else math.nan,
        "average_precision": (
            float(average_precision_score(true, prob)) if both_classes else math.nan
        ),
        "brier": float(np.mean((prob - true) ** 2)),
        "ece": _ece(_calibration_bins(true, prob, ECE_BINS)),
    }
    return result


def tune_threshold(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    *,
    metric: Literal["f1", "macro_f1"] = "f1",
) -> float:
    """Decision threshold maximising ``metric`` on (dev) data.

    Candidates are the observed probabilities, so the returned value reproduces the chosen
    dev predictions exactly under ``y_prob >= threshold``. Among equally good candidates the
    highest wins: fewer comments held for review at the same measured quality. With fewer
    than two classes there is nothing to separate and 0.5 is returned.
    """
    if metric not in ("f1", "macro_f1"):
        raise ValueError(f"metric must be 'f1' or 'macro_f1', got {metric!r}")
    true, prob = _as_arrays(y_true, y_prob)
    n = int(true.size)
    positives = int(true.sum())
    if not 0 < positives < n:
        return 0.5
    candidates = np.unique(prob)  # ascending
    # Number of (positive) examples with prob >= candidate, for every candidate at once.
    n_pred = n - np.searchsorted(np.sort(prob), candidates, side="left")
    tp = positives - np.searchsorted(np.sort(prob[true == 1]), candidates, side="left")
    fp = n_pred - tp
    fn = positives - tp
    tn = n - n_pred - fn
    # Denominators are >= the class sizes, which are > 0 here.
    score = 2 * tp / (2 * tp + fp + fn)
    if metric == "macro_f1":
        score = (score + 2 * tn / (2 * tn + fp + fn)) / 2
    # Equal ratios can differ in the last bit after the macro average; treat them as ties.
    best = np.flatnonzero(score >= score.max() - 1e-12)
    return float(candidates[best[-1]])


def _ordered(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """Slices in first-appearance order, attributes in ``ATTRIBUTES`` order (others after).

    Also rejects duplicate (language, corpus, attribute) keys, which would otherwise show two
    different numbers for the same cell of the report.
    """
    seen: set[tuple[str, str, str]] = set()
    slices: dict[tuple[str, str], list[Evaluation]] = {}
    for ev in evaluations:
        if ev.key in seen:
            raise ValueError(f"duplicate evaluation for {ev.key}")
        seen.add(ev.key)
        slices.setdefault((ev.language, ev.corpus), []).append(ev)

    def rank(ev: Evaluation) -> int:
        return ATTRIBUTES.index(ev.attribute) if ev.attribute in ATTRIBUTES else len(ATTRIBUTES)

    return [ev for group in slices.values() for ev in sorted(group, key=rank)]


def summarise(evaluations: Sequence[Evaluation]) -> list[dict[str, object]]:
    """One row per (language, corpus, attribute): keys, threshold and :func:`binary_metrics`.

    Same order as the report, so the CLI table and report.md read the same way.
    """
    return [
        {
            "language": ev.language,
            "corpus": ev.corpus,
            "attribute": ev.attribute,
            "threshold": ev.threshold,
            **binary_metrics(ev.y_true, ev.y_prob, ev.threshold),
        }
        for ev in _ordered(evaluations)
    ]


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

_METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("n", "n"),
    ("positives", "pos"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("macro_f1", "macro F1"),
    ("accuracy", "accuracy"),
    ("roc_auc", "ROC AUC"),
    ("average_precision", "AP"),
    ("brier", "Brier"),
    ("ece", "ECE"),
)
_COUNT_KEYS = frozenset({"n", "positives"})


def _fmt(value: object) -> str:
    """Metrics as 3 decimals and ``n/a`` for nan; counts are passed as ints, text as is."""
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _cell(value: object) -> str:
    """Markdown-safe table cell: a ``|`` or newline in a corpus name must not break the table."""
    return _fmt(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return [_row(header), "|" + "---|" * len(header), *(_row(r) for r in rows)]


def _flatten(meta: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings become dotted keys (``corpora.ban_pl``) so any meta fits one table.

    Values are rendered with ``str`` (not the metric format): a hash or a learning rate of
    1e-05 must appear exactly as given.
    """
    items: list[tuple[str, str]] = []
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(_flatten(value, f"{name}.") if value else [(name, "")])
        elif isinstance(value, set | frozenset):
            items.append((name, ", ".join(sorted(str(v) for v in value))))
        elif isinstance(value, list | tuple):
            items.append((name, ", ".join(str(v) for v in value)))
        else:
            items.append((name, str(value)))
    return items


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


def _new_figure(figsize: tuple[float, float] = _FIGSIZE) -> Figure:
    """A Figure bound to the Agg canvas, bypassing pyplot.

    pyplot would keep every figure in a global registry and ``matplotlib.use`` would switch
    the whole process's backend (breaking e.g. a notebook that calls this); binding Agg to the
    figure renders headless without touching global state.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colour(i: int) -> str:
    return f"C{i % 10}"


def _plot_pr(evs: Sequence[Evaluation], path: Path) -> None:
    fig = _new_figure()
    ax = fig.add_subplot()
    for i, ev in enumerate(evs):
        precision, recall, _ = precision_recall_curve(ev.y_true, ev.y_prob)
        m = binary_metrics(ev.y_true, ev.y_prob, ev.threshold)
        label = f"{ev.attribute} (AP {m['average_precision']:.2f})"
        ax.plot(recall, precision, color=_colour(i), label=label, drawstyle="steps-post", lw=1.2)
        ax.plot(m["recall"], m["precision"], "o", color=_colour(i), mec="black", ms=6)
    ax.plot([], [], "o", color="white", mec="black", label="threshold")
    _finish(ax, "recall", "precision", "Precision-recall (dot = threshold)")
    fig.savefig(path)


def _plot_calibration(evs: Sequence[Evaluation], path: Path) -> None:
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect")
    tables = [calibration_table(ev.y_true, ev.y_prob) for ev in evs]
    biggest = max(row["n"] for table in tables for row in table)
    for i, (ev, table) in enumerate(zip(evs, tables, strict=True)):
        rows = [row for row in table if row["n"]]
        x = [row["mean_prob"] for row in rows]
        y = [row["frac_positive"] for row in rows]
        size = [8 + 120 * row["n"] / biggest for row in rows]
        ax.plot(x, y, "-", color=_colour(i), lw=1, label=ev.attribute)
        ax.scatter(x, y, s=size, color=_colour(i), alpha=0.7, edgecolors="none")
    _finish(ax, "mean predicted probability", "fraction positive", "Reliability (area ~ count)")
    fig.savefig(path)


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")


def _plot_confusion(evs: Sequence[Evaluation], path: Path) -> None:
    ncols = min(3, len(evs))
    nrows = math.ceil(len(evs) / ncols)
    fig = _new_figure((2.3 * ncols + 0.3, 2.2 * nrows + 0.2))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, ev in zip(axes.flat, evs, strict=False):
        pred = (ev.y_prob >= ev.threshold).astype(np.int64)
        counts = np.zeros((2, 2), dtype=np.int64)
        np.add.at(counts, (ev.y_true, pred), 1)
        # Colour by row rate so a rare positive class is still readable; text shows counts.
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
        for (r, c), count in np.ndenumerate(counts):
            colour = "white" if rates[r, c] > 0.6 else "black"
            ax.text(c, r, str(count), ha="center", va="center", fontsize=8, color=colour)
        ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=7)
        ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=7)
        ax.set_title(f"{ev.attribute} @ {ev.threshold:.2f}", fontsize=8)
    for ax in axes.flat[len(evs) :]:
        ax.set_axis_off()
    fig.savefig(path)


def _class_note(ev: Evaluation) -> str | None:
    n = int(ev.y_true.size)
    if n < MIN_EXAMPLES:
        return f"`{ev.attribute}`: skipped, {n} example(s) (at least {MIN_EXAMPLES} needed)."
    positives = int(ev.y_true.sum())
    if positives in (0, n):
        only = "negatives" if positives == 0 else "positives"
        return (
            f"`{ev.attribute}`: only {only} ({n} examples): no precision-recall curve; "
            "ROC AUC and AP are undefined (n/a)."
        )
    return None


def _calibration_summary(ev: Evaluation, metrics: Mapping[str, float]) -> list[object]:
    table = calibration_table(ev.y_true, ev.y_prob)
    n = metrics["n"]
    worst = max(
        (row for row in table if row["n"]),
        key=lambda row: row["n"] * abs(row["mean_prob"] - row["frac_positive"]),
    )
    contributor = (
        f"{worst['lo']:.1f}-{worst['hi']:.1f} (n={int(worst['n'])}, "
        f"prob {worst['mean_prob']:.2f} vs {worst['frac_positive']:.2f} positive)"
    )
    return [
        ev.attribute,
        metrics["ece"],
        float(ev.y_prob.mean()),
        metrics["positives"] / n,  # n >= MIN_EXAMPLES here
        contributor,
    ]


#: Columns of the service section: (key of a ``benchmark.heldout_rows`` row, title).
_SERVICE_COLUMNS: Final = (
    ("corpus", "corpus"),
    ("language", "language"),
    ("n", "n"),
    ("positives", "positives"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
    ("other_language", "scored as another language"),
)


def _service_section(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The held-out toxicity figures as the service gives them (``Scorer``: language routing,
    flags as results show them), the figures ``bench/quality.py`` prints for the same bundle."""
    lines = [
        "",
        "## Toxicity as the service scores the test splits",
        "",
        "Every test comment through `Scorer` (the bundle as saved): each comment is scored by the "
        "model of its *detected* language and flagged at that model's threshold, as the service "
        "does; `bench/quality.py` prints the same figures. The sections below score every row "
        "of a language with that language's model, so a slice differs from this table by the "
        "share scored as another language (the last column).",
        "",
    ]
    cells = [
        [int(row[key]) if key in _COUNT_KEYS else row[key] for key, _ in _SERVICE_COLUMNS]
        for row in rows
    ]
    return lines + _table([title for _, title in _SERVICE_COLUMNS], cells)


def write_report(
    out_dir: Path,
    evaluations: Sequence[Evaluation],
    meta: Mapping[str, object],
    service: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write ``out_dir/report.md`` with PNGs in ``out_dir/plots/``; return the report path.

    Per (language, corpus) slice: a metrics table, a calibration summary and three figures
    (precision-recall, reliability, confusion matrices). Attributes with too few examples or a
    single class are reported with a note instead of failing, because a partially labelled
    corpus is normal here and should not stop the report for everything else. Links are
    relative so the directory can be moved or published as it is. ``service`` (rows of
    ``benchmark.heldout_rows``) adds the toxicity figures as the service scores the test splits.
    """
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)

    lines = ["# Evaluation report", ""]
    meta_rows = _flatten(meta)
    lines += _table(["key", "value"], meta_rows) if meta_rows else ["_No metadata given._"]
    lines += [
        "",
        "A comment counts as flagged when its calibrated probability, rounded to 4 decimals as "
        "results show it, is >= the threshold; thresholds were chosen on dev data (on the same "
        "rounded values), metrics are on held-out data. "
        f"ECE uses {ECE_BINS} equal-width bins. n/a = undefined for this data.",
    ]

    if service:
        lines += _service_section(service)

    ordered = _ordered(evaluations)
    if not ordered:
        lines += ["", "_No evaluations were given._"]
    slices: dict[tuple[str, str], list[Evaluation]] = {}
    for ev in ordered:
        slices.setdefault((ev.language, ev.corpus), []).append(ev)

    used_slugs: set[str] = set()
    for (language, corpus), evs in slices.items():
        slug = base = f"{_slug(language)}_{_slug(corpus)}"
        k = 2
        while slug in used_slugs:  # "a b" and "a_b" must not overwrite each other's plots
            slug, k = f"{base}_{k}", k + 1
        used_slugs.add(slug)

        lines += ["", f"## {language} / {corpus}", ""]
        notes = [note for ev in evs if (note := _class_note(ev))]
        kept = [ev for ev in evs if ev.y_true.size >= MIN_EXAMPLES]
        both = [ev for ev in kept if 0 < int(ev.y_true.sum()) < ev.y_true.size]
        if not kept:
            lines += ["_No attribute has enough examples; nothing to report._", ""]
            lines += [f"- {note}" for note in notes]
            continue

        metrics = [binary_metrics(ev.y_true, ev.y_prob, ev.threshold) for ev in kept]
        header = ["attribute", "threshold", *(title for _, title in _METRIC_COLUMNS)]
        rows = [
            [
                ev.attribute,
                ev.threshold,
                *(int(m[key]) if key in _COUNT_KEYS else m[key] for key, _ in _METRIC_COLUMNS),
            ]
            for ev, m in zip(kept, metrics, strict=True)
        ]
        lines += _table(header, rows)
        lines += ["", "### Calibration", ""]
        cal_header = ["attribute", "ECE", "mean prob", "positive rate", "largest ECE bin"]
        lines += _table(
            cal_header,
            [_calibration_summary(ev, m) for ev, m in zip(kept, metrics, strict=True)],
        )
        if notes:
            lines += ["", "Notes:", ""]
            lines += [f"- {note}" for note in notes]

        lines += ["", "### Figures", ""]
        if both:
            _plot_pr(both, plots / f"{slug}_pr.png")
            lines.append(f"![precision-recall {language}/{corpus}](plots/{slug}_pr.png)")
        else:
            lines.append("_No precision-recall curve: no attribute has both classes._")
        _plot_calibration(kept, plots / f"{slug}_calibration.png")
        lines.append(f"![reliability {language}/{corpus}](plots/{slug}_calibration.png)")
        _plot_confusion(kept, plots / f"{slug}_confusion.png")
        lines.append(f"![confusion matrices {language}/{corpus}](plots/{slug}_confusion.png)")

    report = out_dir / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
