"""Word lists (no labelled records): BAN-PL's Polish vulgarisms, LDNOOBW's Polish and English lists.

They feed features and the evasion-proof normaliser, not the label heads, so they are a separate
kind in the manifest. Each list is returned as a frozenset of lower-cased, stripped entries; entries
may be multi-word phrases (LDNOOBW). The Polish vulgarism list is already expanded over inflection;
the LDNOOBW Polish list is short and base forms only, so prefer the former for Polish.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from moderation.corpora import sources
from moderation.errors import CorpusError


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Where one word list lives in the manifest."""

    source: str
    file: str

    def language(self) -> str:
        """The list's language: the file's own, else the corpus's."""
        source = sources.get(self.source)
        return source.file(self.file).language or source.language


#: Lexicon key -> where it lives. Keys are what :func:`registry.load_lexicons` returns.
LEXICONS: Final[dict[str, Lexicon]] = {
    "polish_vulgarisms": Lexicon("polish_vulgarisms", "polish_vulgarisms_extended_2.0.txt"),
    "ldnoobw_pl": Lexicon("ldnoobw", "pl.txt"),
    "ldnoobw_en": Lexicon("ldnoobw", "en.txt"),
}


def load_words(root: Path, lexicon: str) -> frozenset[str]:
    """The entries of ``lexicon`` (a key of :data:`LEXICONS`), verified against the manifest."""
    where = LEXICONS.get(lexicon)
    if where is None:
        raise CorpusError(f"unknown lexicon {lexicon!r} (known: {', '.join(LEXICONS)})")
    source = sources.get(where.source)
    try:
        content = source.read(root, where.file).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise source.error(f"{where.file}: not UTF-8: {exc}") from exc
    return frozenset(w for w in (line.strip().lower() for line in content.splitlines()) if w)
