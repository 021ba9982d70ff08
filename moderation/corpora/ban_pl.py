"""BAN-PL (Wykop.pl posts banned by professional moderators vs. neutral ones): ``toxicity`` only.

Why it looks like this:

- Only ``BAN-PL_2.zip``: BAN-PL_1 holds the same texts and lacks the moderation ``Reason``.
- The zip is read in memory with the password the authors publish; it stays password-protected on
  disk because the authors ask for that (against scraping for LLM training).
- ``Class`` says harmful or not and nothing about which attribute, so only ``toxicity`` is set.
- The split is the project's fixed BAN-PL split (``shared/datasets/ban_pl/SPLIT.md``): computed on
  the *raw* ``Text`` exactly as SPLIT.md says, so every figure stays comparable with earlier
  reports; the cleaned text is what the record stores. No two raw texts collapse to the same cleaned
  text with different splits (checked by the tests).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Final

from moderation.corpora import sources
from moderation.corpora.base import DistinctRecords, LabelledText, split_for

NAME: Final = "ban_pl"
ARCHIVE: Final = "BAN-PL_2.zip"
MEMBER: Final = "BAN-PL.csv"
#: Published by the authors in the repository's data/README.md; not a secret.
PASSWORD: Final = b"BAN-PL_2"

_CLASSES: Final = {"0": 0, "1": 1}
_REASONS: Final = frozenset({"1", "2", "3", "4"})


def clean(text: str) -> str:
    """Minimal cleaning shared with HATE-WAR-PL (same scrape, so the same artefacts).

    Drops stray byte-order marks (around hashtags in a few posts) and collapses every whitespace
    run (the HTML scrape left newlines, tabs and no-break spaces) to one space. Anonymisation tags
    such as ``{USERNAME}`` or ``[surname]`` and markup-looking text (``<userid>``) are kept: they
    are content.
    """
    return " ".join(text.replace("\ufeff", "").split())


def read_rows(root: Path, source: sources.Source) -> list[dict[str, str]]:
    """The rows of ``BAN-PL.csv`` in the verified archive, read in memory.

    ``source`` is the corpus whose manifest entry vouches for the archive: ``ban_pl`` itself, or
    ``hate_war_pl``, which needs BAN-PL's splits.
    """
    data = source.read(root, ARCHIVE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            raw = zf.read(MEMBER, pwd=PASSWORD)
    except (zipfile.BadZipFile, KeyError, RuntimeError) as exc:
        raise source.error(f"{ARCHIVE}: cannot extract {MEMBER}: {exc}") from exc
    return source.csv_rows(f"{ARCHIVE}/{MEMBER}", raw.decode("utf-8"), ("Text", "Class", "Reason"))


def load(root: Path) -> list[LabelledText]:
    """BAN-PL_2 records, one per distinct cleaned text (the first occurrence wins)."""
    source = sources.get(NAME)
    records = DistinctRecords(NAME, source.language)
    for number, row in enumerate(read_rows(root, source), start=1):
        label = _CLASSES.get(row["Class"])
        if label is None or row["Reason"] not in _REASONS:
            raise source.error(
                f"{MEMBER} data row {number}: Class={row['Class']!r} Reason={row['Reason']!r}"
            )
        text = clean(row["Text"])
        records.add(
            text, {"toxicity": label}, {"reason": row["Reason"]}, split=split_for(row["Text"])
        )
    return records.records
