"""SQLite: checkpoints of the write-ahead log in a background thread, off the request path.

By default SQLite copies the log back into the database file inside whichever commit takes
the log past 1,000 pages. Under a steady stream of submissions that is one commit in a few
hundred taking 8-10 ms longer, with every other writer (threads and ``serve.py --workers``
processes) queued behind it: the stall the p99 latency shows. The service turns the
automatic checkpoint off on its own connections (``PRAGMA wal_autocheckpoint = 0``) and runs
this thread instead. Its checkpoints are PASSIVE: they copy what no reader still needs,
never wait for or block a writer, and the sqlite3 module releases the GIL while they run.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Final

log = logging.getLogger(__name__)

#: Statement the checkpointer runs; PASSIVE neither waits for nor blocks readers or writers.
CHECKPOINT: Final = "PRAGMA wal_checkpoint(PASSIVE)"


class WalCheckpointer:
    """A daemon thread checkpointing ``path``'s log every ``interval`` seconds until ``stop``.

    Several processes may each run one on the same file: a checkpoint that finds another
    running returns at once, which is harmless. Errors are logged and the thread goes on,
    since a missed checkpoint only lets the log grow until the next one succeeds.
    """

    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stopped.wait(self.interval):
                try:
                    if connection is None:
                        connection = sqlite3.connect(self.path, isolation_level=None)
                    connection.execute(CHECKPOINT).fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as error:
                    log.warning("WAL checkpoint of %s failed: %s", self.path, error)
        finally:
            if connection is not None:
                connection.close()

    def stop(self) -> None:
        """End the thread (after the checkpoint it may be running)."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
