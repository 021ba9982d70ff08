"""SemEval-2016 stance adapter: read from the path, never copied; counts as documented."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from moderation.corpora import semeval, sources


def test_the_manifest_lists_semeval_as_a_stance_corpus() -> None:
    source = sources.get(semeval.NAME)
    assert source.kind == "stance" and len(source.files) == 2


def test_training_and_trial_tweets_load_with_their_labels(corpora_root: Path) -> None:
    records = semeval.load(corpora_root)
    assert len(records) == 2_914  # 2,814 training + 100 trial tweets, no (target, text) duplicate
    assert Counter(r.stance for r in records) == {"against": 1_395, "none": 766, "favor": 753}
    assert len({r.target for r in records}) == 5
    assert not any("#SemST" in r.text for r in records)
