"""PostgreSQL's pooled connections: a connection the server dropped is never handed out
after it sat idle (a database restart overnight), without a ping on every checkout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from db import _admin_conninfo

from moderation.errors import StorageUnavailableError
from moderation.review import Store, database


def backend_pid(store: Store) -> int:
    with store.db.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


@contextmanager
def pooled_connection_dropped(
    url: str, monkeypatch: pytest.MonkeyPatch, ping_after: float
) -> Iterator[tuple[Store, int]]:
    """A store whose one pooled connection the server has just ended, as a PostgreSQL
    restart does to every connection; yields (store, the ended backend's pid)."""
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", ping_after)
    store = Store(url)
    try:
        pid = backend_pid(store)
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.1)
        yield store, pid
    finally:
        store.close()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pooled_connection_dropped(postgres_url, monkeypatch, ping_after=0.2) as (store, pid):
        time.sleep(0.3)  # idle past the ping threshold
        store.ping()  # the first request after the "restart" succeeds
        assert backend_pid(store) != pid


def test_a_connection_in_steady_use_is_not_pinged_and_fails_once(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented cost of pinging only idle connections: the one request that finds a
    # connection dropped while in steady use fails (503); the next gets a fresh one.
    with pooled_connection_dropped(postgres_url, monkeypatch, ping_after=60.0) as (store, pid):
        with pytest.raises(StorageUnavailableError):
            store.ping()
        store.ping()
        assert backend_pid(store) != pid


def test_a_submission_on_a_dropped_connection_fails_once_then_the_next_succeeds(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The submission's hot path runs on psycopg's cursor (moderation.review.driver): a lost
    # connection must still be a 503 that invalidates it, as through SQLAlchemy.
    from db import empty_postgres
    from review_helpers import put

    empty_postgres(postgres_url)
    with pooled_connection_dropped(postgres_url, monkeypatch, ping_after=60.0) as (store, pid):
        with pytest.raises(StorageUnavailableError):
            put(store, "c-1")
        put(store, "c-1")  # the pool has replaced the connection
        assert store.get_comment("c-1").id == "c-1"
        assert backend_pid(store) != pid
