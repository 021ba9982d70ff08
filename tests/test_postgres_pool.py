"""PostgreSQL's pooled connections: a connection the server dropped is never handed out
after it sat idle (a database restart overnight), without a ping on every checkout."""

from __future__ import annotations

import time

import psycopg
import pytest
from db import _admin_conninfo

from moderation.errors import StorageUnavailableError
from moderation.review import Store, database


def backend_pid(store: Store) -> int:
    with store.db.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def terminate(pid: int) -> None:
    """What a PostgreSQL restart does to every connection: the server ends it."""
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.1)


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.2)
    store = Store(postgres_url)
    try:
        first = backend_pid(store)
        terminate(first)
        time.sleep(0.3)  # idle past the ping threshold
        store.ping()  # the first request after the "restart" succeeds
        assert backend_pid(store) != first
    finally:
        store.close()


def test_a_connection_in_steady_use_is_not_pinged_and_fails_once(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented cost of pinging only idle connections: the one request that finds a
    # connection dropped while in steady use fails (503); the next gets a fresh one.
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 60.0)
    store = Store(postgres_url)
    try:
        first = backend_pid(store)
        terminate(first)
        with pytest.raises(StorageUnavailableError):
            store.ping()
        store.ping()
        assert backend_pid(store) != first
    finally:
        store.close()
