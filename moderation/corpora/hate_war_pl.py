"""HATE-WAR-PL (hate-speech subcorpus annotated from BAN-PL): ``toxicity`` and ``identity_attack``.

Why it looks like this:

- ``HS`` is hate speech by the UN definition (an attack on a group for who they are), so
  ``identity_attack`` 1; ``W`` is offensive war-related content that criticises military action
  without stigmatising a nation, so ``identity_attack`` 0. Both were banned: ``toxicity`` 1.
- The archive is an ordinary zip holding an Office-encrypted ``.xlsx`` (password published by the
  authors); it is decrypted in memory with ``msoffcrypto-tool`` and read with ``openpyxl``, imported
  lazily because they are the optional ``corpora`` extra, not runtime dependencies.
- About half of its texts are BAN-PL texts. The split must then be BAN-PL's, or a BAN-PL test text
  would be trained on here. ``split_for`` of the text alone is not enough: 311 shared texts differ
  from BAN-PL only in whitespace (doubled newlines), and 101 of those would hash to another split.
  So a text whose cleaned form is in BAN-PL takes BAN-PL's split (``split_for`` of the raw BAN-PL
  text, as SPLIT.md); any other text gets ``split_for`` of its cleaned form. That is why this corpus
  lists ``BAN-PL_2.zip`` among its files too.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Final

from moderation.corpora import ban_pl, sources
from moderation.corpora.base import DistinctRecords, LabelledText, Split, split_for

NAME: Final = "hate_war_pl"
ARCHIVE: Final = "HATE-WAR-PL_1.zip"
MEMBER: Final = "HATE-WAR-PL_1/BAN-PL_Hate-speech.xlsx"
SHEET: Final = "BAN-PL_Hate-speech"
#: Published by the authors in the repository's data/README.md; not a secret.
PASSWORD: Final = "HATE-WAR-PL_1"

_LABELS: Final[dict[str, dict[str, int]]] = {
    "HS": {"toxicity": 1, "identity_attack": 1},
    "W": {"toxicity": 1, "identity_attack": 0},
}
_COLUMNS: Final = ("ID", "Content", "Ban_reason", "Label")


def load(root: Path) -> list[LabelledText]:
    """HATE-WAR-PL records, one per distinct cleaned text, in BAN-PL's split where shared."""
    source = sources.get(NAME)
    rows = _rows(root, source)  # first: fails fast when the optional readers are not installed
    ban_splits = _ban_pl_splits(root, source)
    records = DistinctRecords(NAME, source.language)
    for number, (row_id, content, reason, label) in enumerate(rows, start=1):
        labels = _LABELS.get(label)
        if labels is None:
            raise source.error(f"{MEMBER} data row {number}: unknown Label {label!r}")
        text = ban_pl.clean(content)
        records.add(
            text,
            dict(labels),
            {"id": row_id, "label": label, "reason": reason},
            split=ban_splits.get(text) or split_for(text),
        )
    return records.records


def _ban_pl_splits(root: Path, source: sources.Source) -> dict[str, Split]:
    """Cleaned BAN-PL text -> its BAN-PL split (first occurrence wins, as in ``ban_pl.load``)."""
    splits: dict[str, Split] = {}
    for row in ban_pl.read_rows(root, source):
        splits.setdefault(ban_pl.clean(row["Text"]), split_for(row["Text"]))
    return splits


def _rows(root: Path, source: sources.Source) -> list[tuple[str, str, str, str]]:
    """(ID, Content, Ban_reason, Label) of every data row, all as strings."""
    try:
        import msoffcrypto
        import openpyxl
    except ImportError as exc:
        raise source.error(
            f"reading {ARCHIVE} needs msoffcrypto-tool and openpyxl "
            f"(pip install 'moderation[corpora]'): {exc}"
        ) from exc
    data = source.read(root, ARCHIVE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            encrypted = zf.read(MEMBER)
        office = msoffcrypto.OfficeFile(io.BytesIO(encrypted))
        office.load_key(password=PASSWORD)
        plain = io.BytesIO()
        office.decrypt(plain)
        plain.seek(0)
        workbook = openpyxl.load_workbook(plain, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise source.error(f"{ARCHIVE}: cannot extract {MEMBER}: {exc}") from exc
    except Exception as exc:  # msoffcrypto/openpyxl raise many unrelated types for a bad file
        raise source.error(f"{ARCHIVE}: cannot decrypt or open {MEMBER}: {exc}") from exc
    try:
        if SHEET not in workbook.sheetnames:
            raise source.error(f"{MEMBER}: no sheet {SHEET!r} (found {workbook.sheetnames})")
        cells = workbook[SHEET].iter_rows(values_only=True)
        header = tuple(next(cells, ()))
        if header[: len(_COLUMNS)] != _COLUMNS:
            raise source.error(f"{MEMBER}: header {header!r}, expected {_COLUMNS}")
        rows: list[tuple[str, str, str, str]] = []
        for number, row in enumerate(cells, start=1):
            values = ["" if v is None else str(v) for v in row[: len(_COLUMNS)]]
            if not any(values):
                continue
            if len(values) != len(_COLUMNS):
                raise source.error(f"{MEMBER} data row {number}: {len(values)} cells")
            rows.append((values[0], values[1], values[2], values[3]))
        return rows
    finally:
        workbook.close()
