"""One entry point for training: verify, then load, every external corpus found under a root.

Adapters are looked up by the manifest's ``adapter`` name so that adding a corpus means one
manifest table plus one module, and ``train.py --corpora DIR`` picks up every corpus whose
directory is there.
All selected corpora are verified before any is parsed, so a missing or altered file fails in a
second rather than after minutes of loading.

After loading, a text that occurs in several corpora is forced into one split (the one it has in
the first corpus, in manifest order, that holds it): each adapter keeps its own corpus leak-free,
but only here can a BAN-PL test text be caught inside another corpus's train bucket.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

from moderation.corpora import ban_pl, davidson, hate_war_pl, ipipan, lexicons, olid, poleval
from moderation.corpora.base import LabelledText, Split
from moderation.corpora.sources import Source, available, get, load_manifest, verify
from moderation.errors import CorpusError

log = logging.getLogger(__name__)

Loader = Callable[[Path], list[LabelledText]]

#: Manifest ``adapter`` name -> loader of labelled records.
LOADERS: Final[dict[str, Loader]] = {
    "ban_pl": ban_pl.load,
    "hate_war_pl": hate_war_pl.load,
    "poleval": poleval.load,
    "olid": olid.load,
    "davidson": davidson.load,
    "ipipan": ipipan.load,
}


def load_all(root: Path, names: list[str] | None = None) -> dict[str, list[LabelledText]]:
    """Records of the corpora under ``root``, by corpus name, in manifest order.

    ``names=None`` takes every record corpus whose directory exists under ``root``; explicit names
    must exist there (asking for a corpus that is absent is an error, not a skip).
    """
    selected = _select(root, names)
    _verify_all(root, selected)
    corpora: dict[str, list[LabelledText]] = {}
    for source in selected:
        corpora[source.name] = LOADERS[source.adapter](root)
        log.info("corpus %s: %d records", source.name, len(corpora[source.name]))
    moved = align_splits(corpora)
    if moved:
        log.warning("%d records moved to the split their text has in an earlier corpus", moved)
    return corpora


def load_lexicons(root: Path) -> dict[str, frozenset[str]]:
    """Every word list whose corpus directory is under ``root``, by ``lexicons.LEXICONS`` key."""
    present = {s.name: s for s in available(root) if s.kind == "lexicon"}
    _verify_all(root, list(present.values()))
    return {
        key: lexicons.load_words(root, key)
        for key, where in lexicons.LEXICONS.items()
        if where.source in present
    }


def align_splits(corpora: dict[str, list[LabelledText]]) -> int:
    """Give every text the split of its first occurrence across ``corpora`` (in place).

    Returns how many records were moved. Within one corpus texts are unique, so this only acts
    across corpora.
    """
    first: dict[str, Split] = {}
    moved = 0
    for name, records in corpora.items():
        for i, record in enumerate(records):
            split = first.setdefault(record.text, record.split)
            if split != record.split:
                records[i] = dataclasses.replace(record, split=split)
                moved += 1
                log.debug("corpus %s: %r moved to %s", name, record.text[:60], split)
    return moved


def _verify_all(root: Path, selected: list[Source]) -> None:
    """Verify every source and report all problems at once: one download round, not one per run."""
    problems: list[str] = []
    for source in selected:
        try:
            verify(root, source)
        except CorpusError as exc:
            problems.append(str(exc))
    if problems:
        raise CorpusError("\n".join(problems))


def _select(root: Path, names: list[str] | None) -> list[Source]:
    present = available(root)
    if names is None:
        selected = [s for s in present if s.kind == "records"]
    else:
        selected = _named(root, present, names)
    for source in selected:
        if source.adapter not in LOADERS:
            raise CorpusError(f"corpus {source.name!r}: no adapter {source.adapter!r}")
    return selected


def _named(root: Path, present: list[Source], names: list[str]) -> list[Source]:
    wanted = [get(name) for name in names]
    for source in wanted:
        if source.kind != "records":
            raise CorpusError(f"corpus {source.name!r} is a {source.kind}: use load_lexicons")
        if source not in present:
            raise CorpusError(
                f"corpus {source.name!r}: directory {root / source.directory} does not exist; "
                f"{source.how_to_get(source.files[0].path)}"
            )
    order = {s.name: i for i, s in enumerate(load_manifest())}
    return sorted(dict.fromkeys(wanted), key=lambda s: order[s.name])
