"""Migrations from an empty database, on both backends, also with replicas starting at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from db import throwaway_postgres

from moderation.review import Store
from moderation.review.migrate import current_revision, head_revision
from moderation.review.schema import metadata

# Each replica imports first, then waits for the same instant so the upgrades overlap.
MIGRATE = """
import sys, time
from moderation.review import Store
store = Store(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store.migrate()
store.close()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails under CI) without PostgreSQL
    with throwaway_postgres() as url:
        yield url


def test_replicas_migrate_an_empty_database_at_once(empty_url: str) -> None:
    # Two processes (the database's lock) and two threads (the in-process lock) at once.
    start = time.time() + 1.5
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, empty_url, str(start)], stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    stores = [Store(empty_url) for _ in range(2)]
    errors: list[BaseException] = []

    def migrate(store: Store) -> None:
        try:
            time.sleep(max(0.0, start - time.time()))
            store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 0, stderr.decode()
        assert errors == []
        stores[0].migrate()  # and once more: a no-op
        assert current_revision(stores[0].db) == head_revision() == "0002_api_key_last_used"
        # The revisions build exactly the tables schema.py declares.
        with stores[0].db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        stores[0].ping()
    finally:
        for store in stores:
            store.close()


def test_sqlite_switches_a_new_file_to_wal_while_another_writer_holds_it(tmp_path: Path) -> None:
    # SQLite refuses the first switch to WAL at once ("database is locked", no busy wait)
    # while another connection holds the write lock: replicas starting together on a fresh
    # file hit exactly that. Connecting must wait for the lock, not fail.
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other_replica_was_here (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    store = Store(f"sqlite:///{path}")
    try:
        began = time.monotonic()
        store.migrate()
        assert time.monotonic() - began >= 0.2  # it really waited for the holder
        assert current_revision(store.db) == head_revision()
        with store.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        release.join()
        store.close()
        holder.close()


def test_an_existing_database_keeps_its_keys_through_the_last_used_column(
    empty_url: str,
) -> None:
    from moderation.review import migrate

    store = Store(empty_url)
    try:
        migrate.migrate(store.db, "0001_initial")  # a database of the first release
        info, secret = store.accounts.create_api_key("cms", "submit")
        store.migrate()
        assert current_revision(store.db) == "0002_api_key_last_used"
        (listed,) = store.accounts.list_api_keys()
        assert (listed.id, listed.last_used_at) == (info.id, None)
        store.accounts.authenticate(secret)
        (used,) = store.accounts.list_api_keys()
        assert used.last_used_at is not None
    finally:
        store.close()
