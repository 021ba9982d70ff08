"""Crash safety: ``kill -9`` serve.py while it accepts comments; nothing acknowledged is lost.

A 2xx to ``POST /v1/comments`` is a promise to the publishing system. Senders stream
submissions at a real serve.py on a SQLite file; mid-stream the whole process group gets
SIGKILL (no shutdown handler runs). After a restart on the same file, every comment that was
acknowledged must be there with its scores and its audit entry, the file must pass SQLite's
integrity check, and retrying every comment, answered or not, must give no duplicate and no
conflict (the publishing system's retry after a crash).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import live_server

from moderation.attributes import ATTRIBUTES

SENDERS = 4
KILL_AFTER_ACKS = 300
KILL_AFTER_SECONDS = 8.0


def test_kill_9_mid_stream_keeps_every_acknowledged_comment(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "crash.db"
    database = live_server.sqlite_url(path)
    server = live_server.ServerProcess(database, tiny_bundle_dir, tmp_path).start()
    try:
        key = live_server.create_api_key(database, "crash-test", "submit,read")
        texts = live_server.corpus_texts()
        stream = live_server.SubmissionStream(server.url, key, texts, SENDERS).start()
        stream.wait_for(KILL_AFTER_ACKS, KILL_AFTER_SECONDS)
        server.kill()  # SIGKILL to the process group, requests in flight
        stream.join()
    finally:
        server.kill()
    acked = dict(stream.acked)
    assert len(acked) >= 50, f"too few acknowledged before the kill: {len(acked)}"
    assert set(stream.statuses) <= {200, 201}, stream.statuses
    unanswered = set(stream.attempted) - set(acked)

    restarted = live_server.ServerProcess(database, tiny_bundle_dir, tmp_path).start()
    try:
        with httpx.Client(
            base_url=restarted.url, headers=live_server.bearer(key), timeout=30
        ) as client:
            # Every acknowledged comment, through the API: stored text, scores, audit history.
            for comment_id, text in acked.items():
                response = client.get(f"/v1/comments/{comment_id}")
                assert response.status_code == 200, (comment_id, response.text)
                stored = response.json()
                assert stored["text"] == text
                assert set(stored["scores"]) == set(ATTRIBUTES)
                assert stored["model_version"]
                assert any(entry["action"] == "submit" for entry in stored["history"]), stored

            # The publishing system retries everything it sent: no conflict, no duplicate.
            retry = [stream.attempted[comment_id] for comment_id in sorted(stream.attempted)]
            created = set()
            for start in range(0, len(retry), 50):
                response = client.post("/v1/comments", json={"comments": retry[start : start + 50]})
                assert response.status_code in (200, 201), response.text
                for result in response.json()["results"]:
                    if result["created"]:
                        created.add(result["id"])
            assert not created & set(acked), "an acknowledged comment was stored again"
            assert created <= unanswered
    finally:
        restarted.stop()

    # And straight from the file: intact, one row per comment, an audit entry for each.
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = dict(conn.execute("SELECT id, toxicity FROM comments").fetchall())
        audited = {
            comment_id
            for (comment_id,) in conn.execute(
                "SELECT comment_id FROM audit_log WHERE action = 'submit'"
            )
        }
        (duplicates,) = conn.execute(
            "SELECT count(*) FROM (SELECT comment_id FROM audit_log WHERE action = 'submit' "
            "GROUP BY comment_id HAVING count(*) > 1)"
        ).fetchone()
    assert set(acked) <= set(rows)
    assert all(rows[comment_id] is not None for comment_id in acked)
    assert set(rows) == set(stream.attempted)  # after the retries, everything sent is stored
    assert set(rows) <= audited
    assert duplicates == 0
