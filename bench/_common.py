"""What the bench scripts share: default paths, table printing and the JSON dump.

Imported as ``_common`` because the scripts run as ``python bench/<name>.py``, which puts
``bench/`` first on ``sys.path``; a leading underscore marks it as not a script itself.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moderation import config

#: A formatted cell that reads as a number (right-aligned); n/a and blanks do not break a column.
_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+(?:s|%| ± [\d.]+)?|n/a|")


def add_common_arguments(parser: argparse.ArgumentParser, *, corpora: bool = True) -> None:
    """``--model``, ``--corpora`` and ``--json``, with the same defaults as the service."""
    defaults = config.resolve()
    parser.add_argument(
        "--model", metavar="DIR", default=defaults["model_dir"],
        help="bundle directory to benchmark (default: MODERATION_MODEL_DIR, else %(default)s)",
    )
    if corpora:
        parser.add_argument(
            "--corpora", metavar="DIR", default=defaults["corpora"],
            help="root of the external corpora (default: MODERATION_CORPORA, else %(default)s)",
        )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")


def fmt(value: object, digits: int = 3) -> str:
    """Numbers for a table: floats with ``digits`` decimals, ``n/a`` for undefined ones."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: text columns left-aligned, numeric ones right-aligned."""
    cells = [[fmt(c) for c in row] for row in rows]
    numeric = [
        bool(cells) and all(_NUMBER.fullmatch(row[i]) for row in cells)
        for i in range(len(headers))
    ]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


def write_json(path: str | None, report: Any) -> None:
    """Dump ``report`` (nan -> null) to ``path`` when one was given."""
    if not path:
        return
    from moderation.benchmark import json_safe

    Path(path).write_text(
        json.dumps(json_safe(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    print(f"\nJSON written to {path}")
