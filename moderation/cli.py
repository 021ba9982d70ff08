"""The ``moderation`` command: score texts, score JSON lines, evaluate the bundle.

Errors are mapped to output in one place (``main``): a library ``ModerationError`` becomes
one line on stderr and exit status 1; a bad JSON line becomes an error line in the output
and the rest of the stream is still scored.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from moderation import admin_cli, config
from moderation.errors import ModerationError

BATCH_LINES = 512


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moderation", description="Score comments for toxicity (Polish and English)."
    )
    parser.add_argument(
        "--model",
        metavar="DIR",
        help="bundle directory (default: MODERATION_MODEL_DIR, else models/)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser(
        "score",
        help="score texts given as arguments, or JSON lines on stdin",
        description=(
            'Score TEXT arguments, or with --jsonl read lines {"id": ..., "text": ...} from stdin '
            "and write one JSON result per line, in order. A line that cannot be scored gets "
            '{"id": ..., "error": {"code", "message"}} and the rest go on.'
        ),
    )
    score.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score")
    score.add_argument("--jsonl", action="store_true", help="read JSON lines from stdin")
    score.add_argument("--model", dest="sub_model", metavar="DIR", help=argparse.SUPPRESS)

    evaluate = commands.add_parser(
        "evaluate",
        help="print held-out quality figures of the bundle",
        description=(
            "Print the bundle's held-out figures: test-split F1 per corpus (external corpora "
            "under --corpora), false-positive rate on the identity-term sentences, and recall "
            "under each evasion trick. Cross-validated figures: bench/quality.py --cv."
        ),
    )
    evaluate.add_argument(
        "--corpora",
        metavar="DIR",
        help="external corpora root (default: MODERATION_CORPORA, else ../shared/datasets)",
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print one JSON document instead of tables"
    )
    evaluate.add_argument("--model", dest="sub_model", metavar="DIR", help=argparse.SUPPRESS)
    admin_cli.add_commands(commands)
    return parser


def _read_jsonl(stream: TextIO) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, 1):
        if line.strip():
            yield number, line


class _Line(NamedTuple):
    """One input line: its id, text and article, or the error that makes it unusable."""

    id: str | None
    text: object = None
    article: object = None
    error: dict[str, Any] | None = None


def _parse_line(number: int, line: str) -> _Line:
    try:
        item = json.loads(line)
    except ValueError as exc:
        return _Line(None, error={"code": "invalid_json", "message": f"line {number}: {exc}"})
    if not isinstance(item, dict):
        return _Line(
            None, error={"code": "invalid_json", "message": f"line {number}: expected an object"}
        )
    raw_id = item.get("id")
    item_id = None if raw_id is None else str(raw_id)
    if "text" not in item:
        return _Line(
            item_id,
            error={"code": "missing_text", "message": f'line {number}: no "text" field'},
        )
    return _Line(item_id, item["text"], item.get("article"))


def score_jsonl(scorer: Any, stream: TextIO, out: TextIO) -> int:
    """Score JSON lines in batches, writing results in input order; returns the error count."""
    errors = 0
    lines = _read_jsonl(stream)
    while batch := list(islice(lines, BATCH_LINES)):
        parsed = [_parse_line(number, line) for number, line in batch]
        valid = [(i, line) for i, line in enumerate(parsed) if line.error is None]
        outcomes = scorer.score(
            [line.text for _, line in valid],
            ids=[line.id for _, line in valid],
            articles=[line.article for _, line in valid],
        )
        by_position = {
            i: outcome.to_dict() for (i, _), outcome in zip(valid, outcomes, strict=True)
        }
        for i, line in enumerate(parsed):
            record = by_position.get(i) or {"id": line.id, "error": line.error}
            errors += "error" in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def _evaluate(scorer: Any, corpora: Path, as_json: bool, out: TextIO) -> None:
    from moderation.benchmark import evasion_report, evasion_texts, heldout_report, identity_report

    figures: dict[str, Any] = {
        "model_version": scorer.model_version,
        "heldout": heldout_report(scorer, corpora),
        "identity_terms": identity_report(
            scorer, config.REPO_ROOT / "training_data" / "eval" / "identity_terms.jsonl"
        ),
        "evasion": evasion_report(scorer, evasion_texts(corpora)),
    }
    if as_json:
        from moderation.benchmark import json_safe

        out.write(json.dumps(json_safe(figures), indent=2, ensure_ascii=False) + "\n")
        return
    from moderation.benchmark import format_report

    out.write(format_report(figures))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in admin_cli.COMMANDS:  # the review store's commands need no model
        return admin_cli.run(args)
    try:
        from moderation.scoring import Scorer

        model = args.sub_model or args.model
        scorer = Scorer.load(model) if model else Scorer.load()
        if args.command == "score":
            if args.jsonl:
                # Invalid UTF-8 becomes lone surrogates: that line gets invalid_unicode,
                # the rest go on.
                if isinstance(sys.stdin, io.TextIOWrapper):
                    sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape")
                score_jsonl(scorer, sys.stdin, sys.stdout)
                return 0
            if not args.texts:
                print("moderation score: error: give TEXT arguments or --jsonl", file=sys.stderr)
                return 2
            for text in args.texts:
                print(json.dumps(scorer.score_text(text).to_dict(), ensure_ascii=False))
            return 0
        corpora = Path(args.corpora or config.resolve()["corpora"])
        _evaluate(scorer, corpora, args.json, sys.stdout)
        return 0
    except ModerationError as exc:
        print(f"moderation: error: {exc.code}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a setting that does not parse
        print(f"moderation: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
