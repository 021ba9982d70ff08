"""Explanation spans: the words that raised each score most, as offsets into the original text.

The heads are linear, so a head's decision is a sum over features, and every feature of
a document belongs to one of its tokens (its unigram or a character n-gram inside it).
A token's contribution is therefore exact up to sublinear term frequency, and a span
points at the raw token in the *original* text, so an obfuscated ``k*rwa`` is highlighted
as the reader wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from moderation.model.features import UnitLayout

#: Spans carrying less than this share of the evidence are noise, not an explanation.
MIN_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Span:
    """One highlighted stretch of the original text.

    ``score`` is the span's share (0-1) of all the evidence that raised the attribute in
    this text, so the spans of one attribute sum to at most 1.
    """

    begin: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"begin": self.begin, "end": self.end, "text": self.text, "score": self.score}


def top_spans(
    weights: NDArray[np.float32],
    names: Sequence[str],
    layout: UnitLayout,
    lengths: NDArray[np.int64],
    offsets_for: Callable[[int, int], Sequence[tuple[int, int]]],
    texts: Sequence[str],
    probabilities: NDArray[np.float64],
    *,
    min_score: float,
    limit: int,
) -> list[dict[str, list[Span]]]:
    """Spans per document and head, for heads scoring at least ``min_score``.

    ``weights`` has one column per name (every linear head of the language side by side,
    so one pass over the units serves toxicity, stance and sentiment alike).

    ``lengths`` is the number of units of each document (rows of ``layout`` follow them
    in order); ``offsets_for(doc, upto)`` gives the (begin, end) in the original text of each
    unit up to index ``upto`` (at least), and is only called for documents that get a span,
    since offsets cost more than units.
    """
    n_docs = len(lengths)
    out: list[dict[str, list[Span]]] = [{} for _ in range(n_docs)]
    needed = probabilities >= min_score
    if not needed.any():
        return out
    token_doc = np.repeat(np.arange(n_docs), lengths)
    first_token = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    contributions = layout.contributions(np.asarray(needed.any(axis=1)), weights)
    # First the candidate tokens of every head, so that each document's offsets are worked
    # out once, and only as far into the text as its last candidate.
    chosen: list[tuple[int, NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]] = []
    reach = np.full(n_docs, -1, dtype=np.int64)
    for column in range(len(names)):
        if not needed[:, column].any():
            continue
        values = contributions[:, column]
        positive = np.where(values > 0, values, 0.0)
        totals = np.bincount(token_doc, weights=positive, minlength=n_docs).astype(np.float64)
        candidates = np.flatnonzero(needed[token_doc, column] & (values > 0))
        if candidates.size == 0:
            continue
        order = candidates[np.lexsort((-values[candidates], token_doc[candidates]))]
        docs = token_doc[order]
        group_start = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        rank = np.arange(order.size) - np.repeat(
            group_start, np.diff(np.r_[group_start, order.size])
        )
        # Several words of one raw token share its span: keep a few extra and merge them below.
        kept = order[rank < limit * 2]
        np.maximum.at(reach, token_doc[kept], kept - first_token[token_doc[kept]])
        chosen.append((column, kept, values, totals))
    offsets = {
        int(doc): offsets_for(int(doc), int(reach[doc])) for doc in np.flatnonzero(reach >= 0)
    }
    for column, picked, values, totals in chosen:
        attribute = names[column]
        for token_index in picked:
            doc = int(token_doc[token_index])
            doc_offsets = offsets[doc]
            position = token_index - first_token[doc]
            if position >= len(
                doc_offsets
            ):  # units and offsets disagree: no span beats a wrong one
                continue
            begin, end = doc_offsets[position]
            share = float(values[token_index] / totals[doc]) if totals[doc] > 0 else 0.0
            spans = out[doc].setdefault(attribute, [])
            for i, span in enumerate(spans):
                if span.begin == begin and span.end == end:
                    spans[i] = Span(span.begin, span.end, span.text, span.score + share)
                    break
            else:
                if len(spans) < limit:
                    spans.append(Span(begin, end, texts[doc][begin:end], share))
        # Only documents that got a candidate span this round need tidying.
        for doc in set(token_doc[picked].tolist()):
            spans_of_doc = out[doc]
            found = spans_of_doc.get(attribute)
            if found:
                found.sort(key=lambda span: -span.score)
                tidy = [
                    Span(s.begin, s.end, s.text, round(s.score, 3))
                    for s in found
                    if s.score >= MIN_SHARE
                ]
                if tidy:
                    spans_of_doc[attribute] = tidy
                else:
                    del spans_of_doc[attribute]
    return out
