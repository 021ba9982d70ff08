"""OLID / OffensEval 2019 (English tweets), official TRAIN set.

Why the mapping looks like this (labels are hierarchical: A offensive?, B targeted?, C at whom?):

- ``NOT`` (not offensive: no profanity, no targeted offence of any kind) -> every attribute 0.
- ``OFF`` -> ``toxicity`` 1, and then:
  - ``TIN`` + ``IND`` (targeted at an individual) -> ``insult`` 1;
  - ``TIN`` + ``GRP`` (targeted at a group) -> ``identity_attack`` 1. A proxy: OLID's "group" is any
    group of people, which includes political ones ("liberals") that our label guide does not count
    as an identity. Good enough as a signal, noisy as ground truth;
  - ``TIN`` + ``OTH`` (an organisation, event or issue) -> nothing more is known;
  - ``UNT`` (untargeted profanity) -> ``insult`` 0. It is probably ``obscene`` 1, but OLID does not
    say so, so ``obscene`` stays unknown.
- Read with ``QUOTE_NONE``: tweets contain unbalanced quotes. Twitter's HTML escaping (``&amp;``,
  ``&lt;``, ``&gt;``) is undone; ``@USER`` and ``URL`` placeholders are kept as they are.
- The official test set is held out elsewhere: records are bucketed with ``split_for`` and marked
  ``official_split=train``.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Final

from moderation.attributes import ATTRIBUTES
from moderation.corpora import sources
from moderation.corpora.base import DistinctRecords, LabelledText

NAME: Final = "olid"
FILE: Final = "olid-training-v1.0.tsv"

#: (subtask_a, subtask_b, subtask_c) -> labels; any other combination is an error.
_LABELS: Final[dict[tuple[str, str, str], dict[str, int]]] = {
    ("NOT", "NULL", "NULL"): dict.fromkeys(ATTRIBUTES, 0),
    ("OFF", "TIN", "IND"): {"toxicity": 1, "insult": 1},
    ("OFF", "TIN", "GRP"): {"toxicity": 1, "identity_attack": 1},
    ("OFF", "TIN", "OTH"): {"toxicity": 1},
    ("OFF", "UNT", "NULL"): {"toxicity": 1, "insult": 0},
}


def clean(tweet: str) -> str:
    """Undo Twitter's HTML escaping and collapse whitespace."""
    return " ".join(html.unescape(tweet).split())


def load(root: Path) -> list[LabelledText]:
    """OLID records, one per distinct cleaned tweet (the first occurrence wins)."""
    source = sources.get(NAME)
    try:
        content = source.read(root, FILE).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise source.error(f"{FILE}: not UTF-8: {exc}") from exc
    rows = source.csv_rows(
        FILE,
        content,
        ("tweet", "subtask_a", "subtask_b", "subtask_c"),
        delimiter="\t",
        quoting=csv.QUOTE_NONE,
    )
    records = DistinctRecords(NAME, source.language)
    for number, row in enumerate(rows, start=1):
        key = (row["subtask_a"], row["subtask_b"], row["subtask_c"])
        labels = _LABELS.get(key)
        if labels is None:
            raise source.error(f"{FILE} data row {number}: unexpected labels {key}")
        text = clean(row["tweet"])
        records.add(text, dict(labels), {"official_split": "train", "subtasks": "/".join(key)})
    return records.records
