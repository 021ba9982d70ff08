"""One engine per database URL, short transactions, and database errors as library errors.

SQLite and PostgreSQL share every statement; the differences live here:

* SQLite runs in WAL mode with ``synchronous=NORMAL`` (a commit survives the process being
  killed; only a power cut can lose the last moments) and a ``busy_timeout`` so concurrent
  writers wait instead of failing. Writers queue first on a thread lock, then on an
  exclusive ``flock`` of ``<database file>.lock``, so writers in other processes
  (``serve.py --workers``, the CLI) wait in the kernel and wake the moment the lock is free.
  sqlite3's own transaction handling is switched off and
  write transactions start with ``BEGIN IMMEDIATE``: they take the write lock up front, so
  a read-then-write (claim, decide) can never fail half-way on a lock upgrade. The service
  moves the log's checkpoints out of the commits into a thread (``checkpoint_seconds``).
* PostgreSQL uses psycopg 3 (``postgresql://`` URLs are read as ``postgresql+psycopg://``),
  pings a pooled connection that sat idle for a second or more before handing it out, so the
  first request after a database restart succeeds, and claims rows with ``FOR UPDATE SKIP
  LOCKED``. Not every checkout: that round trip was a seventh of a submission's time, and a
  connection back in use within the second has just proved itself.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from moderation.errors import ConflictError, StorageUnavailableError
from moderation.review.sqlite_writers import WriterFileLock, sqlite_file
from moderation.review.wal_checkpoint import WalCheckpointer

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
WAL_SWITCH_RETRY_SECONDS: Final = 0.005
#: PostgreSQL: a pooled connection idle this long is pinged before use (see _ping_if_idle).
PING_AFTER_IDLE_SECONDS: Final = 1.0
IDLE_SINCE: Final = "moderation_idle_since"
WRITE_OPTION: Final = "moderation_write"


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3, the driver the project ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable database URL>"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    """Commits never checkpoint: a ``WalCheckpointer`` thread does it (see wal_checkpoint)."""
    dbapi_connection.execute("PRAGMA wal_autocheckpoint = 0").close()


def _enable_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds the write lock.

    Why a loop of our own: the first switch of a new file from the rollback journal to WAL
    needs the exclusive lock, and SQLite answers "database is locked" at once, without the
    busy handler, while another connection holds the write lock (as replicas starting
    together on a fresh file do: one migrates while the next connects). Once the file is in
    WAL mode the pragma only reads the mode and never waits.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            busy = getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_SECONDS)


def _stamp_idle(_dbapi_connection: Any, record: Any) -> None:
    """Pool ``checkin``: note when the connection went idle (for ``_ping_if_idle``)."""
    if record is not None:
        record.info[IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pool ``checkout``: ping a connection idle for ``PING_AFTER_IDLE_SECONDS`` or more.

    A dead one raises ``DisconnectionError``, on which the pool discards it and hands out a
    fresh connection (SQLAlchemy's documented contract for checkout listeners). What this
    leaves: a connection that dies while in steady use fails the one request using it; the
    pool then replaces every connection older than the failure.
    """
    idle_since = record.info.get(IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()  # psycopg began a transaction for the SELECT
    except Exception as error:
        raise exc.DisconnectionError(f"pooled connection is gone: {error}") from error


def _sqlite_begin(dbapi_connection: Any) -> None:
    """The SQLite dialect's ``do_begin``: BEGIN, or BEGIN IMMEDIATE for ``Database.write``.

    Why the dialect and not a ``begin`` event: any engine-level event listener makes
    SQLAlchemy dispatch (empty) events around every statement, and running BEGIN through
    ``exec_driver_sql`` builds a whole execution context; here it is one sqlite3 call.
    Errors raised here are wrapped by SQLAlchemy like any statement's.
    """
    immediate = dbapi_connection.info.get(WRITE_OPTION, False)
    dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus the transaction helpers every store module uses."""

    def __init__(self, url: str, *, checkpoint_seconds: float = 0.0) -> None:
        """``checkpoint_seconds`` > 0 (SQLite files only): checkpoint the log in a thread of
        this process that often, never inside a commit (moderation.review.wal_checkpoint)."""
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except exc.ArgumentError as error:
            raise StorageUnavailableError(f"not a database URL: {url!r}") from error
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StorageUnavailableError(
                f"unsupported database {self.dialect!r}: use sqlite:/// or postgresql://"
            )
        options: dict[str, Any] = {}
        if self.is_postgres:
            options.update(pool_size=10, max_overflow=20)
        try:
            self.engine: Engine = create_engine(self.url, **options)
        except (exc.ArgumentError, ImportError) as error:
            raise StorageUnavailableError(f"cannot use {safe_url(self.url)}: {error}") from error
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )
        self._path = sqlite_file(self.url) if self.is_sqlite else None
        self._file_lock = WriterFileLock(f"{self._path}.lock") if self._path else None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_connect)  # a pool event: no cost
            self.engine.dialect.do_begin = _sqlite_begin  # type: ignore[method-assign]
        if self.is_postgres:
            event.listen(self.engine, "checkin", _stamp_idle)
            event.listen(self.engine, "checkout", _ping_if_idle)
        # PostgreSQL reads and one-statement writes skip BEGIN and COMMIT/ROLLBACK (see read);
        # the option engine shares the pool and sets autocommit on each checkout only.
        self._autocommit: Engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.is_postgres
            else self.engine
        )
        self.checkpointer: WalCheckpointer | None = None
        if self._path is not None and checkpoint_seconds > 0:
            event.listen(self.engine, "connect", _no_autocheckpoint)
            self.checkpointer = WalCheckpointer(self._path, checkpoint_seconds)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing`` on both databases."""
        return (postgresql.insert if self.is_postgres else sqlite.insert)(table)

    @contextmanager
    def read(self, *, transaction: bool = False) -> Iterator[Connection]:
        """A connection for reads; anything it began is rolled back on leaving.

        PostgreSQL runs them in autocommit: at READ COMMITTED each statement takes its own
        snapshot inside a transaction or not, so a transaction added only its BEGIN and
        ROLLBACK, two of the three round trips of a one-query read. ``transaction=True``
        keeps one, for what needs it (server-side cursors: ``yield_per``).
        """
        engine = self.engine if transaction else self._autocommit
        with translate_errors(self.url), engine.connect() as conn:
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """PostgreSQL only: a connection whose every statement commits on its own.

        For a write that is one statement (data-modifying CTEs make several tables' rows
        one statement, atomic by itself): no BEGIN and COMMIT round trips around it.
        """
        if not self.is_postgres:
            raise ValueError("autocommit() is for PostgreSQL; SQLite writes use write()")
        with translate_errors(self.url), self._autocommit.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error.

        On SQLite it starts with ``BEGIN IMMEDIATE``. SQLite has one writer at a time, and a
        writer that finds the lock taken sleeps in steps of up to 100 ms (``busy_timeout``):
        under a burst that sleep, not the work, makes the tail latency. So this process's
        writers queue on a lock of their own first, then on the writer file lock shared with
        other processes; ``busy_timeout`` is left for a process that takes neither.
        """
        with (
            self._write_lock,
            self._file_locked(),
            translate_errors(self.url),
            self.engine.connect() as conn,
            self.immediate(conn),
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def immediate(self, conn: Connection) -> Iterator[None]:
        """SQLite: transactions begun on ``conn`` inside this block are BEGIN IMMEDIATE.

        The mark lives on the pooled DBAPI connection (read by ``_sqlite_begin``) and is
        always removed on leaving, so the connection goes back to the pool as a reader's.
        """
        if not self.is_sqlite:
            yield
            return
        info = conn.connection.info
        info[WRITE_OPTION] = True
        try:
            yield
        finally:
            info.pop(WRITE_OPTION, None)

    def _file_locked(self) -> AbstractContextManager[Any]:
        return self._file_lock if self._file_lock is not None else nullcontext()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
        if self._file_lock is not None:
            with self._write_lock:
                self._file_lock.close()


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """SQLAlchemy's errors as library errors: a constraint is a conflict, the rest an outage."""
    try:
        yield
    except exc.IntegrityError as error:
        raise ConflictError(f"conflicts with stored data: {error.orig}") from error
    except exc.SQLAlchemyError as error:
        # Only the driver's first line: SQLAlchemy's own text would repeat the statement's
        # parameters (comment texts, digests) into logs and responses.
        cause = getattr(error, "orig", None) or error
        first_line = (str(cause).strip().splitlines() or [""])[0]
        log.warning("database error on %s: %s: %s", safe_url(url), type(cause).__name__, first_line)
        raise StorageUnavailableError(
            f"database unavailable ({safe_url(url)}): {type(cause).__name__}: {first_line}"
        ) from error
