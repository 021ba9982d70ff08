"""Real databases for tests: a throwaway PostgreSQL database per session, fresh SQLite files.

PostgreSQL is the one on this machine (127.0.0.1:5432, user postgres, trust auth) unless
``MODERATION_TEST_POSTGRES`` names another server's maintenance database. The throwaway
database is called ``moderation_test_<random>`` and dropped at the end of the session.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "MODERATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: Every table the review store has, for emptying the shared PostgreSQL database per test.
TABLES = (
    "comments",
    "articles",
    "audit_log",
    "outbox",
    "tokens",
    "api_keys",
    "moderators",
    "settings",
)


def _admin_conninfo() -> str:
    return make_url(ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def create_postgres_database(prefix: str = "moderation_test") -> str:
    """Create an empty database; its SQLAlchemy URL. psycopg.OperationalError if unreachable."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by ``create_postgres_database``, closing its connections."""
    import psycopg

    name = make_url(url).database
    assert name and name.startswith("moderation_test"), name
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh database for the block; skips the test when PostgreSQL is unreachable,
    except under ``CI=true`` where PostgreSQL tests must run, so it fails instead."""
    import psycopg

    try:
        url = create_postgres_database()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {make_url(ADMIN_URL).render_as_string()}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    try:
        yield url
    finally:
        drop_postgres_database(url)


def empty_postgres(url: str) -> None:
    """Delete every row (and restart the ids) so each test starts from a migrated, empty store."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


def sqlite_copy(template: Path, directory: Path) -> str:
    """A fresh SQLite database copied from a migrated template (faster than migrating)."""
    target = directory / "review.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
