"""PolEval 2019 Task 6 (cyberbullying in Polish tweets), official TRAIN set.

Why it looks like this:

- Task 6-1 says harmful or not: ``toxicity``. Task 6-2 says at whom: ``1`` cyberbullying aimed at
  a private person -> ``insult`` 1; ``2`` hate speech aimed at a public person or group ->
  ``toxicity`` only (it may or may not be an insult or an identity attack, so those stay unknown);
  ``0`` -> ``insult`` 0 and ``identity_attack`` 0.
- The official test set is held out elsewhere; what we have is the official train set, so records
  are bucketed with ``split_for`` like every other corpus and marked ``official_split=train``.
- The texts went through a JSON dump: ``\\n``, ``\\"`` and ``\\u0026`` appear literally, and
  Twitter's HTML escaping (``&amp;``, ``&lt;``) is inside that. Both are undone, or the model would
  learn that backslash-n is a word. Some tweets were cut inside an escape and end in a lone
  backslash: dropped.
- 13 lines hold ``#NAME?``: a spreadsheet replaced the tweet by a formula error. They are not texts.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Final

from moderation.corpora import sources
from moderation.corpora.base import DistinctRecords, LabelledText

NAME: Final = "poleval2019_cbd"
TEXTS: Final = "training_set_clean_only_text.txt"
TASK01: Final = "task01_training_set_clean_only_tags.txt"
TASK02: Final = "task02_training_set_clean_only_tags.txt"

#: (task 6-1 tag, task 6-2 tag) -> labels; any other pair is an error.
_LABELS: Final[dict[tuple[str, str], dict[str, int]]] = {
    ("0", "0"): {"toxicity": 0, "insult": 0, "identity_attack": 0},
    ("1", "1"): {"toxicity": 1, "insult": 1},
    ("1", "2"): {"toxicity": 1},
}
#: Spreadsheet error values that replaced a tweet somewhere upstream.
_SPREADSHEET_ERRORS: Final = frozenset({"#NAME?", "#VALUE!", "#REF!", "#N/A", "#DIV/0!"})
_ESCAPE: Final = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/nrt])|\\$')
_SIMPLE_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t"}


def clean(line: str) -> str:
    """Undo the JSON escaping, then Twitter's HTML escaping, then collapse whitespace."""

    def unescape(match: re.Match[str]) -> str:
        code = match.group(1)
        if code is None:  # a lone trailing backslash: the tweet was cut inside an escape
            return ""
        if code[0] == "u":
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    return " ".join(html.unescape(_ESCAPE.sub(unescape, line)).split())


def load(root: Path) -> list[LabelledText]:
    """PolEval records, one per distinct cleaned tweet (the first occurrence wins)."""
    source = sources.get(NAME)
    texts, task01, task02 = (_lines(source, root, name) for name in (TEXTS, TASK01, TASK02))
    if not len(texts) == len(task01) == len(task02):
        raise source.error(
            f"files are not line-aligned: {len(texts)} texts, {len(task01)} task01 tags, "
            f"{len(task02)} task02 tags"
        )
    records = DistinctRecords(NAME, source.language)
    for number, (line, tag1, tag2) in enumerate(zip(texts, task01, task02, strict=True), start=1):
        labels = _LABELS.get((tag1, tag2))
        if labels is None:
            raise source.error(f"line {number}: task01={tag1!r} task02={tag2!r}")
        text = clean(line)
        if text in _SPREADSHEET_ERRORS:
            continue
        records.add(text, dict(labels), {"official_split": "train", "task02": tag2})
    return records.records


def _lines(source: sources.Source, root: Path, name: str) -> list[str]:
    """CRLF-separated lines; the final CRLF ends the last line rather than starting an empty one."""
    try:
        lines = source.read(root, name).decode("utf-8").split("\r\n")
    except UnicodeDecodeError as exc:
        raise source.error(f"{name}: not UTF-8: {exc}") from exc
    if lines and lines[-1] == "":
        lines.pop()
    return lines
