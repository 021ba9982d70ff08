"""Several writer processes on one SQLite file: the writer lock, and ``serve.py --workers``.

Real processes throughout: a second Python process holding a write transaction, and a
``serve.py --workers 2`` taking concurrent submissions, so the lock file and uvicorn's
supervisor are exercised as in production.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import live_server
import pytest
from sqlalchemy import insert, select

from moderation.model.bundle import load_bundle, save_bundle
from moderation.review import Store
from moderation.review.database import Database
from moderation.review.schema import audit_log

REPO = Path(__file__).resolve().parent.parent

#: A child process: one write transaction held open for a while, announced on stdout.
_HOLDER = """
import sys, time
from sqlalchemy import insert
from moderation.review.database import Database
from moderation.review.schema import audit_log
from datetime import UTC, datetime
db = Database(sys.argv[1])
with db.write() as conn:
    conn.execute(insert(audit_log).values(at=datetime.now(UTC), actor_kind="system",
                                          actor="holder", action="test"))
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
db.dispose()
"""


def test_writers_in_two_processes_queue_on_the_lock_file(tmp_path: Path) -> None:
    url = live_server.sqlite_url(tmp_path / "shared.db")
    migrated = Store(url)
    migrated.migrate()
    migrated.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url, "0.6"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # The other process holds the writer lock file, not just SQLite's lock.
        with (
            open(tmp_path / "shared.db.lock", "a+") as probe,
            pytest.raises(BlockingIOError),
        ):
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        db = Database(url)
        started = time.monotonic()
        with db.write() as conn:  # waits for the holder, then writes
            waited = time.monotonic() - started
            conn.execute(
                insert(audit_log).values(
                    at=datetime.now(UTC), actor_kind="system", actor="waiter", action="test"
                )
            )
        with db.read() as conn:
            actors = list(conn.execute(select(audit_log.c.actor).order_by(audit_log.c.id)))
        db.dispose()
    finally:
        holder.communicate(timeout=30)
    assert holder.returncode == 0
    assert waited > 0.3  # it queued behind the open transaction
    assert [row.actor for row in actors] == ["holder", "waiter"]


def test_sqlite_writes_take_the_write_lock_up_front_and_reads_never_do(tmp_path: Path) -> None:
    path = tmp_path / "begin.db"
    db = Database(live_server.sqlite_url(path))
    other = sqlite3.connect(path, timeout=0, isolation_level=None)

    def other_can_write() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked"
            return False
        other.execute("ROLLBACK")
        return True

    try:
        for _ in range(2):  # the second time on the pooled connection the first one used
            with db.write() as conn:
                conn.execute(select(1)).scalar_one()
                assert not other_can_write()  # BEGIN IMMEDIATE: held from the start
            with db.read() as conn:
                conn.execute(select(1)).scalar_one()
                assert other_can_write()  # a plain BEGIN: readers never block writers
    finally:
        other.close()
        db.dispose()


def test_serve_with_two_workers_on_sqlite_loses_and_duplicates_nothing(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_bundle_dir, model_dir)
    database = live_server.sqlite_url(tmp_path / "workers.db")
    port = live_server.free_port()
    url = f"http://127.0.0.1:{port}"
    # The port and the database by flag, the workers from the environment: the supervisor
    # hands both kinds over to its workers.
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "serve.py"),
            "--port",
            str(port),
            "--model",
            str(model_dir),
            "--database",
            database,
        ],
        cwd=tmp_path,
        env={**os.environ, "MODERATION_WORKERS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        first = live_server.wait_ready_popen(url, process)
        tree = live_server._process_tree(process.pid)
        assert len(tree) >= 3  # the supervisor and its two workers
        key = live_server.create_api_key(database, "workers", "score,submit,read")
        stream = live_server.SubmissionStream(
            url, key, live_server.corpus_texts(200), senders=4, prefix="w"
        ).start()
        stream.wait_for(300, 60)
        stream.join()
        assert stream.statuses and set(stream.statuses) <= {200, 201}, Counter(stream.statuses)
        # /metrics answers for the whole port: every scrape (a new connection each, so
        # both workers answer some) counts every submission, whichever worker took it.
        for _ in range(6):
            metrics = _scrape(url, key)
            assert metrics[("moderation_http_requests_total", "POST /v1/comments")] == len(
                stream.statuses
            )
            assert metrics[("moderation_model_info", first["model_version"])] == 2.0

        # SIGHUP: the supervisor replaces the workers, which load the new bundle.
        bundle = load_bundle(model_dir)
        bundle.metadata = {**bundle.metadata, "model_version": "after-workers-sighup"}
        save_bundle(bundle, model_dir)
        process.send_signal(signal.SIGHUP)
        assert _versions_settle(url, process, "after-workers-sighup") == {"after-workers-sighup"}
        metrics = _scrape(url, key)  # the replaced workers' counts are kept, their gauges not
        assert metrics[("moderation_http_requests_total", "POST /v1/comments")] == len(
            stream.statuses
        )
        assert metrics[("moderation_model_info", "after-workers-sighup")] == 2.0
        assert metrics.get(("moderation_model_info", first["model_version"]), 0.0) == 0.0

        # An admin's reload, answered by one worker, replaces both (not only itself).
        bundle.metadata = {**bundle.metadata, "model_version": "after-admin-reload"}
        save_bundle(bundle, model_dir)
        password = live_server.create_moderator(database, "chief", "admin")
        token = live_server.login(url, "chief", password)
        answer = httpx.post(f"{url}/v1/admin/reload", headers=live_server.bearer(token), timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "model_version": "after-admin-reload",
            "previous_version": "after-workers-sighup",
            "replacing_workers": 2,
        }
        assert _versions_settle(url, process, "after-admin-reload") == {"after-admin-reload"}
        metrics = _scrape(url, key)
        assert metrics[("moderation_model_info", "after-admin-reload")] == 2.0
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, -signal.SIGTERM), output

    store = Store(database)
    try:
        ids = set(stream.acked)
        for comment_id in ids:
            record = store.get_comment(comment_id)
            assert record.text == stream.acked[comment_id]
            assert [entry.action for entry in record.history or ()] == ["submit"]
        submits = Counter(e.comment_id for e in store.audit(limit=100_000) if e.action == "submit")
        assert set(submits) == ids and set(submits.values()) == {1}  # nothing lost or doubled
    finally:
        store.close()


def _versions_settle(url: str, process: subprocess.Popen[str], wanted: str) -> set[str]:
    """The model versions /readyz reports over 12 new connections (so both workers answer
    some, with odds of 1 in 2,048 against), polled until they are all ``wanted`` or 90 s."""
    deadline = time.monotonic() + 90
    versions: set[str] = set()
    while versions != {wanted} and time.monotonic() < deadline:
        time.sleep(0.2)
        versions = {live_server.wait_ready_popen(url, process)["model_version"] for _ in range(12)}
    return versions


def _scrape(url: str, key: str) -> dict[tuple[str, str], float]:
    """/metrics on a new connection: request counts by "METHOD route" summed over statuses,
    and ``moderation_model_info`` by version."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(f"{url}/metrics", headers=live_server.bearer(key), timeout=10)
    assert answer.status_code == 200, answer.text
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "moderation_http_requests_total":
                label = f"{sample.labels['method']} {sample.labels['route']}"
            elif sample.name == "moderation_model_info":
                label = sample.labels["model_version"]
            else:
                continue
            found[(sample.name, label)] = found.get((sample.name, label), 0.0) + sample.value
    return found
