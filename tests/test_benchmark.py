"""moderation.benchmark: obfuscation tricks and the evasion / identity / held-out reports.

No external datasets: one bundle trained on the own corpus (about 10 s) serves the module.
"""

from __future__ import annotations

import json
import math
import random
import unicodedata
from pathlib import Path

import pytest

from moderation.benchmark import (
    HELDOUT_CORPORA,
    IDENTITY_FILE,
    TRICKS,
    cross_validate,
    evasion_report,
    evasion_texts,
    format_report,
    format_table,
    heldout_report,
    identity_report,
    json_safe,
    obfuscate,
)
from moderation.scoring import Scorer
from moderation.training import read_own_corpus, train

REPO = Path(__file__).resolve().parent.parent
OWN_DIR = REPO / "training_data" / "toxicity"

#: Every one has a letter each substitution trick can replace (a/e/i/o/s and a Cyrillic twin).
LONG_WORDS = (
    "idiota",
    "Debilu",
    "SPIERDALAJ",
    "żałosny",
    "śmieciu",
    "kretyn",
    "moron",
    "stupid",
    "Wynocha",
)
SHORT_WORDS = ("ty", "ci", "tak", "ale", "you", "a", "Ty")


@pytest.fixture(scope="session")
def own_scorer(tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    """A bundle trained on the whole own corpus, once for the module (about 10 s)."""
    out = tmp_path_factory.mktemp("benchmark_bundle")
    train(own_dir=OWN_DIR, out_dir=out, corpora_root=None, progress=lambda message: None)
    return Scorer.load(out)


# -- obfuscate ----------------------------------------------------------------------------


@pytest.mark.parametrize("trick", TRICKS)
def test_trick_changes_every_long_word_and_no_short_one(trick: str) -> None:
    rng = random.Random(0)
    for word in LONG_WORDS:
        assert obfuscate(word, trick, rng) != word, (trick, word)
    for word in SHORT_WORDS:
        assert obfuscate(word, trick, rng) == word, (trick, word)


@pytest.mark.parametrize("trick", TRICKS)
def test_trick_applies_word_by_word_inside_a_sentence(trick: str) -> None:
    words = ["Ty", "idiota", "i", "kretyn,", "SPIERDALAJ", "stąd", "bo", "cię", "znajdę!"]
    whole = obfuscate(" ".join(words), trick, random.Random(3))
    rng = random.Random(3)  # consumed in the same order, word by word
    assert whole == " ".join(obfuscate(w, trick, rng) for w in words)
    for short in ("Ty", " i ", " bo ", " cię "):
        assert short in whole


def test_tricks_do_what_they_say() -> None:
    rng = random.Random(0)
    assert obfuscate("kurwa", "zero_width", rng) == "k\u200bu\u200br\u200bw\u200ba"
    assert obfuscate("kurwa", "separators", rng) == "k.u.r.w.a"
    assert obfuscate("kurwa", "spaced", rng) == "k u r w a"
    assert obfuscate("idiotes", "leet", rng) == "1d10t35"
    cyrillic = obfuscate("Kretyn", "cyrillic", rng)
    assert cyrillic == "Кrетуn"
    assert all("CYRILLIC" in unicodedata.name(c) for c in cyrillic if c not in "rn")
    assert obfuscate("Idiot", "homoglyph_fullwidth", rng) == "Ｉｄｉｏｔ"
    assert unicodedata.normalize("NFKC", "Ｉｄｉｏｔ") == "Idiot"
    elongated = obfuscate("kurwa", "elongation", rng)
    assert elongated in ("kuuuurwa", "kurwaaaa")
    assert obfuscate("kurwa", "masked", rng) == "k*rwa"  # the one inner vowel, as BAN-PL masks
    stars = set()
    for seed in range(20):
        masked = obfuscate("spierdalaj", "masked", random.Random(seed))
        assert len(masked) == 10 and masked[0] == "s" and masked[-1] == "j"
        pairs = zip(masked, "spierdalaj", strict=True)
        assert all(m == c or (m == "*" and c in "iea") for m, c in pairs)
        stars.add(masked.count("*"))
    assert stars == {1, 2}


def test_placeholders_mentions_and_links_are_left_alone() -> None:
    text = "{USERNAME} @janek [surname] https://example.com/debilizm"
    for trick in TRICKS:
        assert obfuscate(text, trick, random.Random(0)) == text


def test_obfuscate_is_deterministic_for_a_seed() -> None:
    text = "Ty żałosny idioto, spierdalaj stąd razem z tymi kretynami z redakcji " * 5
    for trick in TRICKS:
        assert obfuscate(text, trick, random.Random(7)) == obfuscate(text, trick, random.Random(7))
    # The random tricks do use the seed: over a long text two seeds differ somewhere.
    for trick in ("elongation", "masked"):
        assert obfuscate(text, trick, random.Random(1)) != obfuscate(text, trick, random.Random(2))


def test_unknown_trick_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown trick"):
        obfuscate("kurwa", "rot13", random.Random(0))


# -- reports ------------------------------------------------------------------------------


def test_evasion_report_on_a_few_toxic_comments(own_scorer: Scorer) -> None:
    toxic = [r.text for r in read_own_corpus(OWN_DIR) if r.labels["toxicity"] == 1][:12]
    report = evasion_report(own_scorer, toxic, TRICKS, seed=0)
    assert report["n"] == 12
    assert report["original"]["recall"] > 0.5
    assert set(report["tricks"]) == set(TRICKS)
    for trick, row in report["tricks"].items():
        assert 0.0 <= row["recall"] <= 1.0, trick
        assert 0.0 <= row["ratio"] < 2.0, trick
        assert row["changed"] > 0.0, trick
    ratios = {t: r["ratio"] for t, r in report["tricks"].items()}
    assert report["worst"] in TRICKS
    assert report["worst_ratio"] == min(ratios.values()) == ratios[report["worst"]]
    json.dumps(json_safe(report), allow_nan=False)


def test_identity_report_gives_a_rate_per_group(own_scorer: Scorer) -> None:
    lines = IDENTITY_FILE.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    report = identity_report(own_scorer, IDENTITY_FILE)
    assert report["n"] == len(rows)
    expected = {(r["lang"], r["group"]) for r in rows}
    assert {(g["lang"], g["group"]) for g in report["groups"]} == expected
    for group in report["groups"]:
        assert 0.0 <= group["fpr"] <= 1.0
        assert group["fpr"] == group["flagged"] / group["n"]
    assert sum(g["flagged"] for g in report["groups"]) == report["overall"]["flagged"]
    assert set(report["languages"]) == {r["lang"] for r in rows}


def test_identity_report_counts_flags(own_scorer: Scorer, tmp_path: Path) -> None:
    texts = [
        "Dziękuję za rzetelny artykuł, zgadzam się z autorem.",
        "Ty głupi debilu, spierdalaj stąd, kurwa jebana",
    ]
    lines = [
        json.dumps({"lang": "pl", "group": "g", "term": "x", "text": t}, ensure_ascii=False)
        for t in texts
    ]
    path = tmp_path / "ids.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = identity_report(own_scorer, path)
    (group,) = report["groups"]
    assert (group["n"], group["flagged"], group["fpr"]) == (2, 1, 0.5)
    assert report["worst_terms"][0]["term"] == "x"


def test_heldout_report_without_corpora_scores_the_own_test_split(own_scorer: Scorer) -> None:
    report = heldout_report(own_scorer, None)
    assert {row["language"] for row in report["rows"]} == {"pl", "en"}
    assert all(row["corpus"] == "own" for row in report["rows"])
    for row in report["rows"]:
        assert 0 < row["positives"] < row["n"]
        assert 0.0 <= row["f1"] <= 1.0 and 0.5 < row["roc_auc"] <= 1.0
    assert set(report["notes"]) == set(HELDOUT_CORPORA)


def test_json_safe_turns_nan_into_null() -> None:
    given = {"a": math.nan, "b": [1.0, math.inf], "c": {"d": 2}}
    assert json_safe(given) == {"a": None, "b": [1.0, None], "c": {"d": 2}}


def test_cross_validate_rejects_bad_folds() -> None:
    with pytest.raises(ValueError, match="folds"):
        cross_validate([], "pl", folds=1)


def test_evasion_texts_fall_back_to_the_own_test_bucket(tmp_path: Path) -> None:
    texts = evasion_texts(None)
    expected = [
        r.text for r in read_own_corpus(OWN_DIR) if r.split == "test" and r.labels["toxicity"] == 1
    ]
    assert texts == expected and texts
    assert evasion_texts(tmp_path) == expected  # a root without BAN-PL


def test_format_report_prints_every_section(own_scorer: Scorer) -> None:
    texts = evasion_texts(None)[:10]
    figures = {
        "model_version": own_scorer.model_version,
        "heldout": heldout_report(own_scorer, None),
        "identity_terms": identity_report(own_scorer, IDENTITY_FILE),
        "evasion": evasion_report(own_scorer, texts, ("leet", "masked")),
    }
    text = format_report(figures)
    for needle in (
        "Held-out test splits",
        "Identity terms",
        "sexual_orientation_gender",
        "worst trick",
        "masked",
        "own",
        own_scorer.model_version,
    ):
        assert needle in text, needle
    lines = format_table(["a", "n"], [["x", 1.5], ["yy", math.nan]]).splitlines()
    assert lines == ["a       n", "--  -----", "x   1.500", "yy    n/a"]
