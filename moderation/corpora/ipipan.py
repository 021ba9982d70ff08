"""IPI PAN HateSpeech corpus (Polish forum fragments about minorities, graded 0-4 by annotators).

Why it looks like this:

- Several annotators rated the same fragment, so ratings are aggregated per fragment before
  labelling and splitting (otherwise one text would sit in train and test with different labels).
  The unit is the cleaned fragment text, *not* ``id_tekstu``: ``id_tekstu`` is the id of the source
  post, and 1,999 of its 6,932 values cover several different fragments (one fragment also shows up
  under up to 45 ids and in two files). Grouping by it would average unrelated fragments.
- Every fragment mentions a minority (they were sampled by minority keywords), so a negative one
  is an attack on an identity: mean ``ocena`` >= 2 -> ``toxicity`` 1, ``identity_attack`` 1;
  mean <= 0.5 -> both 0; in between the annotators disagree or call it mild: skipped as ambiguous.
  Mean >= 3.5 -> ``severe_toxicity`` 1.
- ``wezw_ddzial`` is a *call to action*, not a threat: it is set on "polecam Państwu poznać jakiegoś
  geja" and "Zapraszam wszystkich ... porozmawiac" (rated 0) as well as on "Pedały do Getta" (rated
  4). So ``threat`` 1 only when a call to action sits in a fragment rated hateful (mean >= 2);
  fragments rated not negative get ``threat`` 0 and ``severe_toxicity`` 0 whatever the call flag
  says.
- ``tekst`` carries the annotation tool's markup (``<font color="blue">`` around the minority
  mention, ``<s>`` around some tokens): the tags are removed, their content kept; HTML entities are
  unescaped. Quotes inside fields are backslash-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from moderation.corpora import sources
from moderation.corpora.base import LabelledText, split_for

NAME: Final = "ipipan_hatespeech"
FILES: Final = (
    "fragment_anotatora_2011_ZK.csv",
    "fragment_anotatora_2011b.csv",
    "fragment_anotatora_2012_luty.csv",
)
HATEFUL: Final = 2.0
NOT_NEGATIVE: Final = 0.5
SEVERE: Final = 3.5

_TAG: Final = re.compile(r"</?(?:font|s)\b[^>]*>", re.IGNORECASE)
_RATINGS: Final = frozenset({"0", "1", "2", "3", "4"})
_CALLS: Final = {"0": False, "1": True}


@dataclass(slots=True)
class _Fragment:
    ratings: list[int] = field(default_factory=list)
    call_to_action: bool = False


def clean(tekst: str) -> str:
    """Remove the annotation markup, unescape entities, collapse whitespace."""
    return " ".join(html.unescape(_TAG.sub(" ", tekst)).split())


def labels_for(mean: float, call_to_action: bool) -> dict[str, int] | None:
    """Labels of a fragment from its mean rating and call flag; ``None`` = ambiguous, skip it."""
    if mean >= HATEFUL:
        labels = {"toxicity": 1, "identity_attack": 1}
        if call_to_action:
            labels["threat"] = 1
        if mean >= SEVERE:
            labels["severe_toxicity"] = 1
        return labels
    if mean <= NOT_NEGATIVE:
        return {"toxicity": 0, "identity_attack": 0, "threat": 0, "severe_toxicity": 0}
    return None


def load(root: Path) -> list[LabelledText]:
    """IPI PAN records, one per distinct cleaned fragment with an unambiguous mean rating."""
    source = sources.get(NAME)
    fragments: dict[str, _Fragment] = {}  # insertion order = first occurrence
    for name in FILES:
        try:
            content = source.read(root, name).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise source.error(f"{name}: not UTF-8: {exc}") from exc
        rows = source.csv_rows(name, content, ("tekst", "ocena", "wezw_ddzial"), escapechar="\\")
        for number, row in enumerate(rows, start=1):
            call = _CALLS.get(row["wezw_ddzial"])
            if row["ocena"] not in _RATINGS or call is None:
                raise source.error(
                    f"{name} data row {number}: ocena={row['ocena']!r} "
                    f"wezw_ddzial={row['wezw_ddzial']!r}"
                )
            text = clean(row["tekst"])
            if not text:
                continue
            fragment = fragments.setdefault(text, _Fragment())
            fragment.ratings.append(int(row["ocena"]))
            fragment.call_to_action |= call
    records: list[LabelledText] = []
    for text, fragment in fragments.items():
        mean = sum(fragment.ratings) / len(fragment.ratings)
        labels = labels_for(mean, fragment.call_to_action)
        if labels is None:
            continue
        records.append(
            LabelledText(
                text=text,
                language=source.language,
                labels=labels,
                split=split_for(text),
                source=NAME,
                extra={
                    "mean_ocena": f"{mean:.2f}",
                    "annotations": str(len(fragment.ratings)),
                    "call_to_action": str(int(fragment.call_to_action)),
                },
            )
        )
    return records
