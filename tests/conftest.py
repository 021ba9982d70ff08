"""Shared fixtures: a tiny bundle trained in seconds on a slice of the own corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moderation.corpora.base import LabelledText
from moderation.training import TrainingConfig, read_own_corpus, train

REPO = Path(__file__).resolve().parent.parent
OWN_DIR = REPO / "training_data" / "toxicity"
STANCE_DIR = REPO / "training_data" / "stance"


def datasets_root() -> Path | None:
    """The external corpora, or None (tests skip) — except under CI=true, where they must exist."""
    root = Path(os.environ.get("MODERATION_CORPORA", REPO.parent / "shared" / "datasets"))
    if root.is_dir():
        return root
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the external corpora are missing at {root}")
    return None


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every third comment of the own corpus: enough for every head, trains in a few seconds."""
    import json

    directory = tmp_path_factory.mktemp("tiny_corpus")
    records: list[LabelledText] = read_own_corpus(OWN_DIR)
    lines = []
    for i, record in enumerate(records):
        if i % 3 == 0:
            lines.append(
                json.dumps(
                    {"text": record.text, "lang": record.language, "labels": record.labels},
                    ensure_ascii=False,
                )
            )
    (directory / "tiny.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def tiny_stance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every article of the stance corpus with every third of its comments."""
    directory = tmp_path_factory.mktemp("tiny_stance")
    for path in sorted(STANCE_DIR.glob("*.jsonl")):
        lines = path.read_text("utf-8").splitlines()
        if not path.name.startswith("articles_"):
            lines = lines[::3]
        (directory / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def tiny_bundle_dir(
    tiny_corpus_dir: Path, tiny_stance_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("tiny_bundle")
    train(
        tiny_corpus_dir,
        out,
        corpora_root=None,
        config=TrainingConfig(stance_folds=2),
        progress=lambda message: None,
        stance_dir=tiny_stance_dir,
    )
    return out


@pytest.fixture(scope="session")
def scorer(tiny_bundle_dir: Path):  # type: ignore[no-untyped-def]
    from moderation.scoring import Scorer

    return Scorer.load(tiny_bundle_dir)


@pytest.fixture(scope="session")
def corpora_root() -> Path:
    """The external corpora; skips the test when absent (fails instead under CI=true)."""
    root = datasets_root()
    if root is None:
        pytest.skip("needs ../shared/datasets (or MODERATION_CORPORA=<dir>)")
    return root


# -- review store databases (issue 4): real SQLite and real PostgreSQL ---------------------


@pytest.fixture(scope="session")
def postgres_url():  # type: ignore[no-untyped-def]
    """A throwaway, migrated PostgreSQL database for the session, dropped at the end.

    Skips (with the reason) when PostgreSQL is unreachable; fails instead under CI=true.
    """
    from db import throwaway_postgres

    from moderation.review import Store

    with throwaway_postgres() as url:
        store = Store(url)
        store.migrate()
        store.close()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies instead of migrating again."""
    from moderation.review import Store

    path = tmp_path_factory.mktemp("review_template") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated review database on each backend in turn."""
    from db import empty_postgres, sqlite_copy

    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url
