#!/usr/bin/env python3
"""Comments in languages no model is trained on: do their scores read their words?

    python bench/unsupported.py --model models/ [--check training_data/eval/cyrillic_check.jsonl]

Russian and Ukrainian comments appear under the articles this service moderates. They come
back ``supported: false`` with the best scores the bundle can give, which policy routes to a
moderator. This prints, on a small labelled check set written for the project (16 abusive and
16 civil comments, Russian and Ukrainian), the detected languages, the toxicity ROC AUC and
how many of each class are flagged: a scorer that cannot read them gives every comment about
the same score (AUC near 0.5).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from _common import add_common_arguments, write_json

from moderation.scoring import Scorer, ScoreResult

CHECK_FILE = Path(__file__).resolve().parent.parent / "training_data/eval/cyrillic_check.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/unsupported.py",
        description="Toxicity ROC AUC and flags on Russian/Ukrainian comments (unsupported).",
    )
    add_common_arguments(parser)
    parser.add_argument("--check", default=str(CHECK_FILE), help="labelled JSONL check set")
    args = parser.parse_args(argv)
    from sklearn.metrics import roc_auc_score

    rows = [json.loads(line) for line in Path(args.check).read_text("utf-8").splitlines() if line]
    outcomes = Scorer.load(args.model).score([row["text"] for row in rows])
    results = [r for r in outcomes if isinstance(r, ScoreResult)]
    if len(results) != len(rows):
        parser.error(f"{len(rows) - len(results)} check comments could not be scored")
    y = np.asarray([row["toxicity"] for row in rows])
    scores = np.asarray([r.scores["toxicity"] for r in results])
    flagged = np.asarray(["toxicity" in r.flagged for r in results])
    report = {
        "comments": len(rows),
        "languages": dict(Counter(r.language for r in results)),
        "supported": sum(bool(r.supported) for r in results),
        "roc_auc": float(roc_auc_score(y, scores)),
        "flagged_abusive": int(flagged[y == 1].sum()),
        "abusive": int((y == 1).sum()),
        "flagged_civil": int(flagged[y == 0].sum()),
        "civil": int((y == 0).sum()),
        "distinct_scores": len(set(np.round(scores, 4).tolist())),
    }
    print(
        f"model {results[0].model_version}: {report['comments']} comments, languages "
        f"{report['languages']}, {report['supported']} marked supported"
    )
    print(
        f"toxicity ROC AUC {report['roc_auc']:.3f}; flagged {report['flagged_abusive']}/"
        f"{report['abusive']} abusive, {report['flagged_civil']}/{report['civil']} civil; "
        f"{report['distinct_scores']} distinct scores"
    )
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
