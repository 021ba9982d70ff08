"""SQLite's write-ahead log is checkpointed by a background thread, never inside a commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from review_helpers import put

from moderation.review import Store


def rows_in_main_file(path: Path) -> int:
    """Comments in the database file itself: ``immutable=1`` makes SQLite ignore the log.

    0 also when even the schema is still only in the log.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM comments").fetchone()[0])
    except sqlite3.OperationalError as error:
        assert "no such table" in str(error)
        return 0
    finally:
        conn.close()


def submit_some(store: Store, count: int) -> None:
    for number in range(count):
        put(store, f"c-{number}", toxicity=0.1)


def test_the_background_thread_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "moderation.db"
    store = Store(f"sqlite:///{path}", checkpoint_seconds=0.05)
    try:
        store.migrate()
        with store.db.read() as conn:  # commits of the service's connections never checkpoint
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        submit_some(store, 30)
        deadline = time.monotonic() + 10
        while rows_in_main_file(path) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows_in_main_file(path) == 30
        assert store.db.checkpointer is not None and store.db.checkpointer.checkpoints > 0
    finally:
        store.close()
    assert store.db.checkpointer is not None
    assert not store.db.checkpointer._thread.is_alive()  # close() ends the thread


def test_without_the_thread_sqlite_checkpoints_by_itself(tmp_path: Path) -> None:
    # The default for the CLI and library users: SQLite's automatic checkpoint, which waits
    # for 1,000 pages of log, so a few comments stay in the log only.
    path = tmp_path / "moderation.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        assert store.db.checkpointer is None
        with store.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        submit_some(store, 30)
        time.sleep(0.2)
        assert rows_in_main_file(path) == 0
    finally:
        store.close()
