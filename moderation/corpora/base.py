"""What every corpus adapter returns, and the one split rule all corpora share.

Labels are *partial*: a record only carries the attributes its corpus actually annotates
(BAN-PL says "harmful" but nothing about threats), and each head trains only on records
that carry its attribute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Split = Literal["train", "dev", "test"]


def split_for(text: str) -> Split:
    """Hash-bucket split shared by every corpus (BAN-PL rule, shared/datasets/ban_pl/SPLIT.md).

    Key = SHA-256 of ``text.strip()`` (UTF-8); bucket = int(key[:8], 16) % 10; 0 -> test,
    1 -> dev, 2-9 -> train. Identical texts always land in the same split, so duplicates
    cannot leak between training and evaluation.
    """
    key = hashlib.sha256(text.strip().encode("utf-8")).hexdigest()
    bucket = int(key[:8], 16) % 10
    if bucket == 0:
        return "test"
    if bucket == 1:
        return "dev"
    return "train"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One labelled text from one corpus."""

    text: str
    language: str
    labels: dict[str, int]
    split: Split
    source: str
    extra: dict[str, str] = field(default_factory=dict)


class DistinctRecords:
    """Collects one corpus's records: empty texts dropped, the first of identical texts kept.

    Every adapter needs exactly this, so that a duplicated text can neither count twice
    nor carry two labels.
    """

    def __init__(self, source: str, language: str) -> None:
        self.source = source
        self.language = language
        self.records: list[LabelledText] = []
        self._seen: set[str] = set()

    def add(
        self,
        text: str,
        labels: Mapping[str, int],
        extra: Mapping[str, str],
        split: Split | None = None,
    ) -> None:
        """Add ``text`` unless it is empty or already there; ``split`` defaults to ``split_for``."""
        if not text or text in self._seen:
            return
        self._seen.add(text)
        self.records.append(
            LabelledText(
                text,
                self.language,
                dict(labels),
                split or split_for(text),
                self.source,
                dict(extra),
            )
        )
