"""Explanation spans: the words that raised each score most, as offsets into the original text.

The heads are linear, so a head's decision is a sum over features, and every feature of
a document belongs to one of its tokens (its unigram or a character n-gram inside it).
A token's contribution is therefore exact up to sublinear term frequency, and a span
points at the raw token in the *original* text, so an obfuscated ``k*rwa`` is highlighted
as the reader wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from moderation.model.features import UnitLayout

#: Spans carrying less than this share of the evidence are noise, not an explanation.
MIN_SHARE = 0.01


class Span(NamedTuple):
    """One highlighted stretch of the original text.

    ``score`` is the span's share (0-1) of all the evidence that raised the attribute in
    this text, so the spans of one attribute sum to at most 1. A named tuple, not a frozen
    dataclass: a batch makes a few spans per comment, and a frozen dataclass costs several
    times more to build (and is tracked by the garbage collector).
    """

    begin: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"begin": self.begin, "end": self.end, "text": self.text, "score": self.score}


_new_span: Callable[[tuple[int, int, str, float]], Span] = partial(tuple.__new__, Span)


def top_spans(
    weights: NDArray[np.float32],
    names: Sequence[str],
    layout: UnitLayout,
    bounds: Callable[[], tuple[NDArray[np.int64], NDArray[np.int64]]],
    texts: Sequence[str],
    probabilities: NDArray[np.float64],
    *,
    min_score: float,
    limit: int,
) -> list[dict[str, list[Span]]]:
    """Spans per document and head, for heads scoring at least ``min_score``.

    ``weights`` has one column per name (every linear head of the language side by side,
    so one pass over the units serves toxicity, stance and sentiment alike).

    ``bounds()`` gives the (begin, end) in the original text of every unit of the batch
    (-1 where unknown); it is only called when some document needs a span. Everything up
    to the ``Span`` objects themselves is done for the whole batch in NumPy: a Python loop
    per candidate token cost more than the rest of scoring.
    """
    n_docs = probabilities.shape[0]
    out: list[dict[str, list[Span]]] = [{} for _ in range(n_docs)]
    needed = probabilities >= min_score
    if not needed.any():
        return out
    unit_doc = layout.unit_doc
    n_units = unit_doc.size
    if n_units == 0:
        return out
    contributions = layout.contributions(np.asarray(needed.any(axis=1)), weights)
    first_unit = np.searchsorted(unit_doc, np.arange(n_docs))
    positive = np.maximum(contributions, 0.0)
    totals = np.add.reduceat(positive, np.minimum(first_unit, n_units - 1), axis=0)
    totals[np.bincount(unit_doc, minlength=n_docs) == 0] = 0.0  # reduceat's empty groups
    # Candidates head by head, units in text order: units sharing one span (several words
    # of one raw token) are then neighbours, so merging them needs no sort.
    # Transposed before the scan (not a transposed view): nonzero walks memory in order.
    column, unit = np.nonzero(needed.T[:, unit_doc] & (contributions.T > 0))
    if unit.size == 0:
        return out
    begin_all, end_all = bounds()
    begin, end = begin_all[unit], end_all[unit]
    known = begin >= 0
    unit, column, begin, end = unit[known], column[known], begin[known], end[known]
    doc = unit_doc[unit]
    share = contributions[unit, column] / totals[doc, column]
    new_span = np.r_[
        True,
        (doc[1:] != doc[:-1])
        | (column[1:] != column[:-1])
        | (begin[1:] != begin[:-1])
        | (end[1:] != end[:-1]),
    ]
    if not new_span.all():
        starts = np.flatnonzero(new_span)
        share = np.add.reduceat(share, starts)
        doc, column, begin, end = doc[starts], column[starts], begin[starts], end[starts]
    # The strongest ``limit`` spans of each (document, head): one argsort on a key that
    # orders by head and document, then by falling share (0 < share <= 1).
    group = column * n_docs + doc
    order = np.argsort(group - share * 0.5, kind="stable")
    doc, column, begin, end, share, group = _reorder(order, doc, column, begin, end, share, group)
    head_start = np.r_[True, group[1:] != group[:-1]]
    group_first = np.maximum.accumulate(np.where(head_start, np.arange(doc.size), 0))
    rank = np.arange(doc.size) - group_first
    keep = (rank < limit) & (share >= MIN_SHARE)
    doc, column, begin, end = doc[keep], column[keep], begin[keep], end[keep]
    if doc.size == 0:  # every candidate below MIN_SHARE ("debil debil debil ..." x 3,000)
        return out
    docs, begins, ends = doc.tolist(), begin.tolist(), end.tolist()
    cut = [texts[d][b:e] for d, b, e in zip(docs, begins, ends, strict=True)]
    # ``tuple.__new__(Span, fields)`` builds each span in C; ``Span._make`` is a Python call.
    spans = list(
        map(_new_span, zip(begins, ends, cut, np.round(share[keep], 3).tolist(), strict=True))
    )
    # Spans arrive grouped by (head, document), strongest first: one slice per group.
    firsts = np.flatnonzero(np.r_[True, (doc[1:] != doc[:-1]) | (column[1:] != column[:-1])])
    lasts = np.r_[firsts[1:], doc.size].tolist()
    heads = [names[c] for c in column[firsts].tolist()]
    groups = zip(doc[firsts].tolist(), heads, firsts.tolist(), lasts, strict=True)
    for d, head, first, last in groups:
        out[d][head] = spans[first:last]
    return out


def _reorder(order: NDArray[np.intp], *arrays: NDArray[Any]) -> tuple[NDArray[Any], ...]:
    """The same rows of several parallel arrays, in ``order``."""
    return tuple(array[order] for array in arrays)
