"""Bring a database to the newest schema with the packaged Alembic revisions.

Run at every start (``Store.migrate``), so it must be idempotent and safe when several
replicas start together: on PostgreSQL the upgrade runs under a session advisory lock (the
second replica waits, then finds nothing to do); on SQLite it runs inside ``BEGIN
IMMEDIATE``, which serialises it the same way. (Within one process a lock does the same:
Alembic keeps its migration context in a module global.)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from moderation.review.database import Database, translate_errors

MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_lock key: "moderation schema" (any constant shared by all replicas works).
ADVISORY_LOCK_KEY: Final = 0x6D6F64_73636865
#: Alembic's ``context`` is process-global, so two upgrades in one process take turns.
_IN_PROCESS: Final = threading.Lock()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest packaged revision."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(db: Database, target: str = "head") -> None:
    """Upgrade to ``target``, the head revision by default (a no-op when already there)."""
    config = _config()
    with (
        _IN_PROCESS,
        translate_errors(db.url),
        db.engine.connect() as conn,
        db.immediate(conn),  # SQLite: every transaction of the upgrade is BEGIN IMMEDIATE
    ):
        if db.is_postgres:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, target)
            conn.commit()
        finally:
            if db.is_postgres:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
