"""SemEval-2016 task 6 sub-task A (English tweets, stance toward five targets), read from a path.

Its terms forbid redistribution, so it is never copied: the files are read where they lie and
checked against ``sources.toml``. The official training and trial sets are what we have (the
official test set is held out); they are returned together, for cross-validation. Tweets end
with the collection hashtag ``#SemST``, which is dropped. The files are Windows-1252.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from moderation.corpora import sources

NAME: Final = "semeval2016_stance"
FILES: Final = ("trainingdata-all-annotations.txt", "trialdata-all-annotations.txt")
STANCES: Final = {"FAVOR": "favor", "AGAINST": "against", "NONE": "none"}
SENTIMENTS: Final = {"POSITIVE": "positive", "NEGATIVE": "negative", "NEITHER": "neutral"}


@dataclass(frozen=True, slots=True)
class StanceRecord:
    """One tweet with its target, stance toward it and overall sentiment."""

    text: str
    target: str
    stance: str  # favor | against | none
    sentiment: str  # positive | neutral | negative
    source_file: str


def load(root: Path) -> list[StanceRecord]:
    """Training and trial tweets, in file order; duplicates of (target, text) dropped."""
    source = sources.get(NAME)
    records: list[StanceRecord] = []
    seen: set[tuple[str, str]] = set()
    for file in FILES:
        content = source.read(root, file).decode("cp1252")
        rows = source.csv_rows(
            file,
            content,
            ("Target", "Tweet", "Stance", "Sentiment"),
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
        )
        for number, row in enumerate(rows, start=1):
            stance = STANCES.get(row["Stance"])
            sentiment = SENTIMENTS.get(row["Sentiment"])
            if stance is None or sentiment is None:
                raise source.error(
                    f"{file} data row {number}: "
                    f"Stance={row['Stance']!r} Sentiment={row['Sentiment']!r}"
                )
            text = " ".join(row["Tweet"].replace("#SemST", " ").split())
            key = (row["Target"], text)
            if not text or key in seen:
                continue
            seen.add(key)
            records.append(StanceRecord(text, row["Target"], stance, sentiment, file))
    return records
