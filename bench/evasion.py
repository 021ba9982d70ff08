#!/usr/bin/env python3
"""Evasion robustness: recall on toxic comments before and after each obfuscation trick.

    python bench/evasion.py --model models/ [--corpora ../shared/datasets] [--json e.json]

Texts: the toxic comments of BAN-PL's test bucket (shared/datasets/ban_pl/SPLIT.md), and the
toxic comments of the own corpus's test bucket, per language. Every word of four letters or
more is disguised (seeded, so runs are comparable); a ratio of 1.0 means the normaliser undoes
the trick completely. Takes well under a minute.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from _common import add_common_arguments, write_json

from moderation.benchmark import OWN_DIR, TRICKS, evasion_report, format_evasion, load_corpora
from moderation.errors import ModerationError
from moderation.scoring import Scorer
from moderation.training import read_own_corpus


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/evasion.py",
        description=(
            "Recall at the bundle's toxicity threshold on toxic test comments (BAN-PL test "
            "bucket, own corpus test bucket) as they are and disguised with each obfuscation "
            f"trick ({', '.join(TRICKS)}), and the ratio recall(trick) / recall(original)."
        ),
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--seed", type=int, default=0, help="obfuscation seed (default: %(default)s)"
    )
    parser.add_argument(
        "--trick",
        action="append",
        choices=TRICKS,
        metavar="NAME",
        help="only this trick (repeatable; default: all)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tricks = tuple(args.trick or TRICKS)
    try:
        scorer = Scorer.load(args.model)
    except ModerationError as exc:
        print(f"bench/evasion.py: error: {exc}", file=sys.stderr)
        return 1
    print(f"model {scorer.model_version} ({args.model}); seed {args.seed}")
    print(
        "changed = share of texts the trick altered; unsupported = share no longer taken for pl/en"
    )
    sets: dict[str, list[str]] = {}
    corpora, notes = load_corpora(Path(args.corpora), ["ban_pl"])
    if "ban_pl" in corpora:
        sets["BAN-PL test bucket"] = [
            r.text for r in corpora["ban_pl"] if r.split == "test" and r.labels.get("toxicity") == 1
        ]
    else:
        print(f"BAN-PL: {notes.get('ban_pl', 'not available')}")
    own = read_own_corpus(OWN_DIR)
    for language in sorted({r.language for r in own}):
        sets[f"own corpus test bucket ({language})"] = [
            r.text
            for r in own
            if r.split == "test" and r.language == language and r.labels.get("toxicity") == 1
        ]
    report: dict[str, Any] = {"model": str(args.model), "model_version": scorer.model_version}
    for title, texts in sets.items():
        report[title] = evasion_report(scorer, texts, tricks, seed=args.seed)
        print()
        print(format_evasion(report[title], title))
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
