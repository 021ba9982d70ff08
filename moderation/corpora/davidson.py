"""Davidson et al. 2017, hate speech vs. offensive language (English tweets).

Known bias, read before using it: the tweets were sampled with a Hatebase keyword lexicon and are
heavy on African-American English; Davidson et al. 2019 (arXiv:1905.12516) show that AAE tweets are
far more often labelled offensive or hateful than comparable tweets in other dialects, and models
trained on it inherit that. Slurs also occur in "neither" tweets (reclaimed or quoted use). Treat
its ``toxicity`` as "a CrowdFlower majority found it offensive", not ground truth, and keep an eye
on per-dialect error rates of anything trained with it.

Mapping of the majority ``class``: ``0`` hate speech -> ``toxicity`` 1, ``identity_attack`` 1;
``1`` offensive -> ``toxicity`` 1, ``identity_attack`` 0; ``2`` neither -> both 0. Nothing else
(insult, obscene...) is annotated, so nothing else is set.

Texts: HTML entities are unescaped (``&amp;``, ``&#128514;``); retweet prefixes and @mentions are
kept (not anonymised upstream). There is no official split: ``split_for`` buckets the texts.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

from moderation.corpora import sources
from moderation.corpora.base import DistinctRecords, LabelledText

NAME: Final = "davidson"
FILE: Final = "labeled_data.csv"

_LABELS: Final[dict[str, dict[str, int]]] = {
    "0": {"toxicity": 1, "identity_attack": 1},
    "1": {"toxicity": 1, "identity_attack": 0},
    "2": {"toxicity": 0, "identity_attack": 0},
}


def clean(tweet: str) -> str:
    """Unescape HTML entities once (the file escapes them once) and collapse whitespace."""
    return " ".join(html.unescape(tweet).split())


def load(root: Path) -> list[LabelledText]:
    """Davidson records, one per distinct cleaned tweet (the first occurrence wins)."""
    source = sources.get(NAME)
    try:
        content = source.read(root, FILE).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise source.error(f"{FILE}: not UTF-8: {exc}") from exc
    records = DistinctRecords(NAME, source.language)
    for number, row in enumerate(source.csv_rows(FILE, content, ("class", "tweet")), start=1):
        labels = _LABELS.get(row["class"])
        if labels is None:
            raise source.error(f"{FILE} data row {number}: unexpected class {row['class']!r}")
        text = clean(row["tweet"])
        records.add(text, dict(labels), {"class": row["class"]})
    return records.records
