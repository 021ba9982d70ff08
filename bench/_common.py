"""What the bench scripts share: the common arguments and the JSON dump.

Imported as ``_common`` because the scripts run as ``python bench/<name>.py``, which puts
``bench/`` first on ``sys.path``; a leading underscore marks it as not a script itself. The
tables themselves come from ``moderation.benchmark`` so that ``moderation evaluate`` prints
the same ones. That module is imported when a table is first printed, not with this one: it
brings scikit-learn (evaluation, training), which a scoring process never loads and which
would otherwise sit in ``bench/speed.py``'s process while it measures (70 MB, and some
60,000 objects more for every full garbage collection to walk).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moderation import config

__all__ = ["add_common_arguments", "fmt", "table", "write_json"]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--corpora`` and ``--json``, with the same defaults as the service."""
    defaults = config.resolve()
    parser.add_argument(
        "--model",
        metavar="DIR",
        default=defaults["model_dir"],
        help="bundle directory to benchmark (default: MODERATION_MODEL_DIR, else %(default)s)",
    )
    parser.add_argument(
        "--corpora",
        metavar="DIR",
        default=defaults["corpora"],
        help="root of the external corpora (default: MODERATION_CORPORA, else %(default)s)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """``moderation.benchmark.format_table``."""
    from moderation.benchmark import format_table

    return format_table(headers, rows)


def fmt(value: object, digits: int = 3) -> str:
    """``moderation.benchmark.format_value``."""
    from moderation.benchmark import format_value

    return format_value(value, digits)


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
