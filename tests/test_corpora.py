"""External corpus adapters and their manifest.

The corpora are read from ``$MODERATION_CORPORA`` (default ``../shared/datasets`` next to the repo);
they are never in the repository. Tests that need them are skipped when the folder is absent, except
under ``CI=true``, where a missing folder must fail the run instead of passing it silently.
The expected counts are the upstream counts of each DATASET.md minus what the adapters drop on
purpose (duplicates, spreadsheet artefacts, ambiguous ratings), so a change in either shows up here.
"""

from __future__ import annotations

import collections
import importlib
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from moderation.attributes import ATTRIBUTES
from moderation.corpora import (
    ban_pl,
    davidson,
    hate_war_pl,
    ipipan,
    lexicons,
    olid,
    poleval,
    registry,
    sources,
)
from moderation.corpora.base import LabelledText, split_for
from moderation.errors import CorpusError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "datasets"
NAMES = {
    "ban_pl",
    "hate_war_pl",
    "poleval2019_cbd",
    "ipipan_hatespeech",
    "olid",
    "davidson",
    "polish_vulgarisms",
    "ldnoobw",
    "semeval2016_stance",
}

datasets = pytest.mark.datasets


def find_root(env: Mapping[str, str]) -> Path:
    """The corpora root, or skip (fail under CI=true) when it is absent."""
    root = Path(env.get("MODERATION_CORPORA", DEFAULT_ROOT))
    if not root.is_dir():
        message = (
            f"external corpora not found at {root}: needs ../shared/datasets next to the repo "
            "or MODERATION_CORPORA=<dir>"
        )
        if env.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


@pytest.fixture(scope="session")
def root() -> Path:
    return find_root(os.environ)


@pytest.fixture(scope="session")
def ban(root: Path) -> list[LabelledText]:
    return ban_pl.load(root)


@pytest.fixture(scope="session")
def hate_war(root: Path) -> list[LabelledText]:
    return hate_war_pl.load(root)


def split_counts(records: list[LabelledText]) -> collections.Counter[str]:
    return collections.Counter(r.split for r in records)


def label_counts(records: list[LabelledText], attribute: str) -> collections.Counter[int]:
    return collections.Counter(r.labels[attribute] for r in records if attribute in r.labels)


def assert_well_formed(records: list[LabelledText], name: str, language: str) -> None:
    texts = [r.text for r in records]
    assert len(texts) == len(set(texts)), "duplicate texts inside one corpus"
    for r in records:
        assert r.source == name and r.language == language
        assert r.text and r.text == " ".join(r.text.split())
        assert r.labels and set(r.labels) <= set(ATTRIBUTES)
        assert set(r.labels.values()) <= {0, 1}
        # Any attribute at 1 implies toxicity 1 (label guide); toxicity is always known here.
        if any(v == 1 for k, v in r.labels.items() if k != "toxicity"):
            assert r.labels["toxicity"] == 1
    counts = split_counts(records)
    assert set(counts) == {"train", "dev", "test"}
    assert 0.08 < counts["test"] / len(records) < 0.12


# --- no datasets needed ----------------------------------------------------------------------


def test_manifest_parses_and_every_adapter_exists() -> None:
    manifest = sources.load_manifest()
    assert {s.name for s in manifest} == NAMES
    for source in manifest:
        module = importlib.import_module(f"moderation.corpora.{source.adapter}")
        if source.kind in ("records", "stance"):
            assert callable(module.load)
            # Stance corpora are not toxicity records: training's load_all must not pick them up.
            loader = registry.LOADERS.get(source.adapter)
            assert (loader is module.load) == (source.kind == "records")
            assert source.language in {"pl", "en"}
        else:
            assert callable(module.load_words)
        assert source.licence and source.upstream.repository.count("/") == 1
        assert len(source.upstream.commit) == 40
        for entry in source.files:
            assert len(entry.sha256) == 64 and entry.upstream_path
            assert (entry.language or source.language) in {"pl", "en"}
    for lexicon in lexicons.LEXICONS.values():
        sources.get(lexicon.source).file(lexicon.file)  # raises if not in the manifest
    assert lexicons.LEXICONS["ldnoobw_en"].language() == "en"


def test_manifest_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text(
        '[[corpus]]\nname = "x"\nadapter = "olid"\nkind = "records"\nlanguage = "en"\n'
        'licence = "MIT"\ndirectory = "../x"\nupstream = { repository = "a/b", commit = "c" }\n'
        'files = [{ path = "f", upstream_path = "f", sha256 = "00" }]\n',
        encoding="utf-8",
    )
    with pytest.raises(CorpusError, match=r"corpus 'x'.*must be relative"):
        sources.load_manifest(bad)


def test_find_root_skips_locally_but_fails_under_ci(tmp_path: Path) -> None:
    absent = {"MODERATION_CORPORA": str(tmp_path / "absent")}
    with pytest.raises(pytest.skip.Exception, match=r"needs \.\./shared/datasets"):
        find_root(absent)
    with pytest.raises(pytest.fail.Exception, match=r"needs \.\./shared/datasets"):
        find_root({**absent, "CI": "true"})


def test_cleaning_rules() -> None:
    assert ban_pl.clean("\n\n   {USERNAME}: a\t\t<userid>\xa0 \ufeff#tag\ufeff \n") == (
        "{USERNAME}: a <userid> #tag"
    )
    # JSON escapes (an escaped backslash stays); a lone backslash left by truncation goes.
    assert poleval.clean(r"a\nb \"c\" \u0026amp; \u0026lt;3 \\o/") == 'a b "c" & <3 \\o/'
    assert poleval.clean("cut \\") == "cut"
    assert olid.clean("@USER you &amp; me  &gt;\tURL") == "@USER you & me > URL"
    assert davidson.clean("RT @x: &#128514;&amp; ok\n") == "RT @x: 😂& ok"
    assert ipipan.clean(' <font color="blue"> Rosjan</font> <s> jakby</s> a &gt; b') == (
        "Rosjan jakby a > b"
    )


def test_ipipan_rating_rules() -> None:
    assert ipipan.labels_for(0.0, call_to_action=True) == {
        "toxicity": 0,
        "identity_attack": 0,
        "threat": 0,
        "severe_toxicity": 0,
    }
    assert ipipan.labels_for(1.0, call_to_action=True) is None  # ambiguous: skipped
    assert ipipan.labels_for(2.0, call_to_action=False) == {"toxicity": 1, "identity_attack": 1}
    assert ipipan.labels_for(4.0, call_to_action=True) == {
        "toxicity": 1,
        "identity_attack": 1,
        "threat": 1,
        "severe_toxicity": 1,
    }


def test_align_splits_moves_cross_corpus_duplicates_to_the_first_split() -> None:
    def record(text: str, source: str) -> LabelledText:
        return LabelledText(text, "pl", {"toxicity": 1}, split_for(text + source), source)

    shared = next(f"t{i}" for i in range(100) if split_for(f"t{i}a") != split_for(f"t{i}b"))
    corpora = {"a": [record(shared, "a")], "b": [record(shared, "b"), record("other", "b")]}
    assert registry.align_splits(corpora) == 1
    assert corpora["b"][0].split == corpora["a"][0].split


def test_missing_optional_reader_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "msoffcrypto", None)
    with pytest.raises(CorpusError, match=r"hate_war_pl.*needs msoffcrypto-tool and openpyxl"):
        hate_war_pl.load(tmp_path)


def test_root_that_is_not_a_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not a directory"):
        registry.load_all(tmp_path / "typo")


def test_empty_root_loads_nothing(tmp_path: Path) -> None:
    assert registry.load_all(tmp_path) == {}
    assert registry.load_lexicons(tmp_path) == {}
    with pytest.raises(CorpusError, match=r"corpus 'olid': directory .* does not exist"):
        registry.load_all(tmp_path, ["olid"])


# --- with the datasets -----------------------------------------------------------------------


def copy_corpus(root: Path, tmp_path: Path, name: str) -> tuple[Path, sources.Source]:
    source = sources.get(name)
    shutil.copytree(root / source.directory, tmp_path / source.directory)
    return tmp_path, source


@datasets
def test_real_files_match_the_manifest(root: Path) -> None:
    for source in sources.available(root):
        sources.verify(root, source)
    assert {s.name for s in sources.available(root)} == NAMES


@datasets
def test_tampered_file_is_an_error_naming_corpus_and_sha256(root: Path, tmp_path: Path) -> None:
    copy_root, source = copy_corpus(root, tmp_path, "poleval2019_cbd")
    tags = copy_root / source.directory / poleval.TASK01
    data = bytearray(tags.read_bytes())
    data[0] = ord("1") if data[0] == ord("0") else ord("0")
    tags.write_bytes(bytes(data))
    expected = source.file(poleval.TASK01).sha256
    for call in (lambda: registry.load_all(copy_root), lambda: poleval.load(copy_root)):
        with pytest.raises(CorpusError) as info:
            call()
        message = str(info.value)
        assert "poleval2019_cbd" in message and "sha256" in message and expected in message
        assert poleval.TASK01 in message and "github.com/Mateuszrze/PolEval2019Task6" in message


@datasets
def test_missing_file_is_an_error_naming_the_file(root: Path, tmp_path: Path) -> None:
    copy_root, source = copy_corpus(root, tmp_path, "ldnoobw")
    (copy_root / source.directory / "pl.txt").unlink()
    with pytest.raises(CorpusError, match=r"corpus 'ldnoobw': file 'pl\.txt' is missing"):
        registry.load_lexicons(copy_root)
    with pytest.raises(CorpusError, match=r"'pl\.txt' is missing.*raw/5faf2ba4\w+/pl"):
        lexicons.load_words(copy_root, "ldnoobw_pl")
    assert lexicons.load_words(copy_root, "ldnoobw_en")  # the intact file still reads


@datasets
def test_ban_pl(ban: list[LabelledText], root: Path) -> None:
    assert_well_formed(ban, "ban_pl", "pl")
    assert len(ban) == 24_000 - 15  # 15 duplicate texts
    assert label_counts(ban, "toxicity") == {0: 11_986, 1: 11_999}
    assert all(set(r.labels) == {"toxicity"} for r in ban)
    assert collections.Counter(r.extra["reason"] for r in ban) == {
        "1": 11_986,
        "2": 6_787,
        "3": 2_686,
        "4": 2_526,
    }
    assert split_counts(ban) == {"train": 19_112, "dev": 2_444, "test": 2_429}
    # The split is SPLIT.md's (hash of the raw Text), and no two raw texts that clean to the same
    # text fall in different splits.
    by_text: dict[str, set[str]] = collections.defaultdict(set)
    for row in ban_pl.read_rows(root, sources.get("ban_pl")):
        by_text[ban_pl.clean(row["Text"])].add(split_for(row["Text"]))
    assert all(len(splits) == 1 for splits in by_text.values())
    assert all({r.split} == by_text[r.text] for r in ban)


@datasets
def test_hate_war_pl_shares_ban_pl_splits(
    hate_war: list[LabelledText], ban: list[LabelledText]
) -> None:
    assert_well_formed(hate_war, "hate_war_pl", "pl")
    assert len(hate_war) == 2_263
    assert collections.Counter(r.extra["label"] for r in hate_war) == {"HS": 2_000, "W": 263}
    assert label_counts(hate_war, "toxicity") == {1: 2_263}
    assert label_counts(hate_war, "identity_attack") == {1: 2_000, 0: 263}
    ban_split = {r.text: r.split for r in ban}
    shared = [r for r in hate_war if r.text in ban_split]
    assert len(shared) == 1_430  # 1,119 verbatim + 311 that differ from BAN-PL only in whitespace
    assert all(r.split == ban_split[r.text] for r in shared)


@datasets
def test_poleval(root: Path) -> None:
    records = poleval.load(root)
    assert_well_formed(records, "poleval2019_cbd", "pl")
    assert len(records) == 10_041 - 13 - 2  # 13 "#NAME?" lines, 2 more duplicates
    assert label_counts(records, "toxicity") == {0: 9_177, 1: 849}
    assert label_counts(records, "insult") == {0: 9_177, 1: 252}
    assert label_counts(records, "identity_attack") == {0: 9_177}
    assert all(r.extra["official_split"] == "train" for r in records)
    assert not any("\\n" in r.text or "&amp;" in r.text or r.text == "#NAME?" for r in records)


@datasets
def test_olid(root: Path) -> None:
    records = olid.load(root)
    assert_well_formed(records, "olid", "en")
    assert len(records) == 13_240 - 37  # duplicate tweets after whitespace/entity cleaning
    assert label_counts(records, "toxicity") == {0: 8_812, 1: 4_391}
    assert label_counts(records, "insult") == {0: 8_812 + 523, 1: 2_403}
    assert label_counts(records, "identity_attack") == {0: 8_812, 1: 1_070}
    assert all(len(r.labels) == len(ATTRIBUTES) for r in records if r.labels["toxicity"] == 0)
    assert not any("obscene" in r.labels for r in records if r.labels["toxicity"] == 1)
    assert all(r.extra["official_split"] == "train" for r in records)


@datasets
def test_davidson(root: Path) -> None:
    records = davidson.load(root)
    assert_well_formed(records, "davidson", "en")
    assert len(records) == 24_783 - 1
    assert collections.Counter(r.extra["class"] for r in records) == {
        "0": 1_430,
        "1": 19_189,
        "2": 4_163,
    }
    assert not any("&amp;" in r.text or "&#128514;" in r.text for r in records)


@datasets
def test_ipipan(root: Path) -> None:
    records = ipipan.load(root)
    assert_well_formed(records, "ipipan_hatespeech", "pl")
    assert len(records) == 12_869 - 1_260  # distinct fragments minus ambiguous mean ratings
    assert label_counts(records, "toxicity") == {0: 8_924, 1: 2_685}
    assert label_counts(records, "threat") == {0: 8_924, 1: 92}
    assert label_counts(records, "severe_toxicity") == {0: 8_924, 1: 46}
    assert not any("<font" in r.text or "<s>" in r.text for r in records)


@datasets
def test_lexicons_and_registry(root: Path) -> None:
    words = registry.load_lexicons(root)
    assert {k: len(v) for k, v in words.items()} == {
        "polish_vulgarisms": 6_482,
        "ldnoobw_pl": 54,
        "ldnoobw_en": 403,
    }
    assert "chuj" in words["polish_vulgarisms"] and "2 girls 1 cup" in words["ldnoobw_en"]
    loaded = registry.load_all(root, ["davidson", "olid"])
    assert list(loaded) == ["olid", "davidson"]  # manifest order, whatever the request order
    assert [s.name for s in registry._select(root, None)] == [
        "ban_pl",
        "hate_war_pl",
        "poleval2019_cbd",
        "ipipan_hatespeech",
        "olid",
        "davidson",
    ]
