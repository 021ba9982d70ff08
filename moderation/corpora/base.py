"""What every corpus adapter returns, and the one split rule all corpora share.

Labels are *partial*: a record only carries the attributes its corpus actually annotates
(BAN-PL says "harmful" but nothing about threats), and each head trains only on records
that carry its attribute.
"""

from __future__ import annotations

import hashlib
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
