"""SQLite with writers in several processes: a cross-process writer lock.

It exists for tail latency, not correctness (SQLite's own locking keeps the data right):
writers of other processes (``serve.py --workers``, the CLI) queue in the kernel and wake
as soon as the lock is free, instead of SQLite's sleep-and-retry.
"""

from __future__ import annotations

import fcntl
import os

from sqlalchemy.engine import make_url

from moderation.errors import StorageUnavailableError


class WriterFileLock:
    """An exclusive ``flock`` on ``path``: one SQLite writer at a time across processes.

    Why not rely on SQLite's own lock: a writer that finds it taken sleeps and retries in
    steps of up to 100 ms (``busy_timeout``), so two processes writing at a few hundred
    transactions a second would add those sleeps to the tail latency; a process blocked in
    ``flock`` is woken as soon as the holder lets go. SQLite still guards correctness (a
    process that does not take this lock is serialised by ``BEGIN IMMEDIATE`` as before).
    Used only under ``Database``'s thread lock, so one thread of a process touches it at once.
    The file is opened per process (a forked child opens its own: a shared descriptor would
    share the lock).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        try:
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as error:
            raise StorageUnavailableError(f"cannot lock {self.path}: {error}") from error

    def __exit__(self, *exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def sqlite_file(url: str) -> str | None:
    """The database file of a ``sqlite:///FILE`` URL; None for in-memory databases."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database
