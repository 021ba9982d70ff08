"""Webhooks to a real local HTTP receiver: signed, retried with backoff, never lost.

The receiver is the standard library's HTTP server in a thread; it can refuse (503) a set
number of times, or not be listening at all, to show that a final decision waits in the
outbox until the receiver answers 2xx, across a restart of the service too.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, running_app

from moderation.web.webhooks import backoff, sign, verify

SECRET = "webhook-test-secret"
FINE = "Zgadzam się z autorem, dobry tekst."


class Receiver:
    """Records every POST; answers 503 to the first ``failures`` of them, then 200."""

    def __init__(self, port: int = 0, failures: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = receiver.failures > 0
                receiver.failures -= 1 if failing else 0
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/moderation"

    def events(self, status: int | None = None) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_signature_helpers() -> None:
    body = b'{"a":1}'
    expected = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign("k", body) == expected
    assert verify("k", body, expected) and not verify("other", body, expected)
    assert 0.9 <= backoff(1) <= 1.1 and 7.2 <= backoff(4) <= 8.8
    assert backoff(50) <= 660


def test_final_decisions_reach_the_receiver_signed(
    receiver: Receiver, tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'hooks.db'}"
    with running_app(
        tiny_bundle_dir, database, webhook_url=receiver.url, webhook_secret=SECRET
    ) as api:
        (published,) = api.submit(api.article("publish"), FINE)
        wait_for(lambda: len(receiver.requests) == 1)
        headers, body = receiver.requests[0]
        assert hmac.compare_digest(
            headers["x-moderation-signature"],
            "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        )
        event = json.loads(body)
        assert event["event"] == "comment.published" and event["comment_id"] == published
        assert event["status"] == "published" and event["decided_by"] is None
        assert event["model_version"] == api.model_version
        assert headers["x-moderation-event"] == str(event["event_id"])
        sent_at = event["sent_at"]
        assert abs(int(headers["x-moderation-timestamp"]) - _epoch(sent_at)) <= 1

        article = api.article("review")
        approved, rejected, escalated = api.submit(article, FINE, FINE, FINE)
        assert len(receiver.requests) == 1  # queued comments are not final
        moderator, headers_ = api.moderator()
        api.client.post(
            "/v1/queue/claim", json={"count": 3, "article_id": article}, headers=headers_
        )
        for comment_id, body_ in (
            (approved, {"action": "approve"}),
            (rejected, {"action": "reject", "reason": "spam", "note": "internal"}),
            (escalated, {"action": "escalate"}),
        ):
            answer = api.client.post(
                f"/v1/queue/{comment_id}/decision", json=body_, headers=headers_
            )
            assert answer.status_code == 200, answer.text
        wait_for(lambda: len(receiver.requests) == 3)
        time.sleep(0.3)  # nothing more comes: escalation is not final
        events = {e["comment_id"]: e for e in receiver.events()}
        assert set(events) == {published, approved, rejected}
        assert events[approved]["status"] == "approved"
        assert events[approved]["decided_by"] == moderator
        assert events[rejected]["status"] == "rejected" and events[rejected]["reason"] == "spam"
        assert "note" not in events[rejected] and "internal" not in json.dumps(events[rejected])
        for headers, body in receiver.requests:
            assert verify(SECRET, body, headers["x-moderation-signature"])


def test_a_refusing_receiver_gets_the_event_again_with_backoff(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    receiver = Receiver(failures=2)
    try:
        database = f"sqlite:///{tmp_path / 'hooks.db'}"
        with running_app(
            tiny_bundle_dir, database, webhook_url=receiver.url, webhook_secret=SECRET
        ) as api:
            api.submit(api.article("publish"), FINE)
            wait_for(lambda: len(receiver.requests) == 3)
            times = [json.loads(body)["sent_at"] for _, body in receiver.requests]
            gaps = [_epoch_f(b) - _epoch_f(a) for a, b in itertools.pairwise(times)]
            assert 0.85 <= gaps[0] <= 3.0 and 1.7 <= gaps[1] <= 5.0, gaps  # 1 s, then 2 s
            ids = {json.loads(body)["event_id"] for _, body in receiver.requests}
            assert len(ids) == 1  # the same event, retried
            time.sleep(1.5)
            assert len(receiver.requests) == 3  # delivered: never sent again
    finally:
        receiver.close()


def test_events_wait_in_the_outbox_while_the_receiver_is_down_even_across_a_restart(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    database = f"sqlite:///{tmp_path / 'hooks.db'}"
    settings = {"webhook_url": url, "webhook_secret": SECRET}
    with running_app(tiny_bundle_dir, database, **settings) as api:
        (first,) = api.submit(api.article("publish"), FINE)
        time.sleep(1.5)  # a failed attempt or two: nobody listens
        due = _undelivered(api)
        assert [item["comment_id"] for item in due] == [first]
    receiver = Receiver(port=port)
    try:
        with running_app(tiny_bundle_dir, database, **settings) as api:
            wait_for(lambda: len(receiver.requests) >= 1)
            event = json.loads(receiver.requests[0][1])
            assert event["comment_id"] == first
            assert verify(
                SECRET, receiver.requests[0][1], receiver.requests[0][0]["x-moderation-signature"]
            )
            wait_for(lambda: _undelivered(api) == [])
    finally:
        receiver.close()


def _undelivered(api: Api) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from moderation.review.schema import outbox

    with api.store.db.read() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.delivered_at.is_(None)))
        return [dict(row._mapping) for row in rows]


def _epoch(iso: str) -> int:
    return int(_epoch_f(iso))


def _epoch_f(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_the_worker_prunes_old_delivered_events_and_keeps_pending_ones(tmp_path: Path) -> None:
    from review_helpers import Clock, put
    from sqlalchemy import select

    from moderation.review import Store
    from moderation.review.schema import outbox
    from moderation.web.webhooks import WebhookWorker

    refusing = Receiver(failures=100)
    url = f"sqlite:///{tmp_path / 'prune.db'}"
    store = Store(url, clock=Clock())  # the test clock is months before today
    store.migrate()

    def comments_left() -> set[str]:
        with store.db.read() as conn:
            return set(conn.execute(select(outbox.c.comment_id)).scalars())

    try:
        put(store, "delivered-long-ago", "publish")
        (item,) = store.outbox_due(store.now(), 10)
        store.outbox_delivered(item.id)
        put(store, "pending", "publish")  # the receiver refuses it: still to be sent
        for keep_days, left in [(0, {"delivered-long-ago", "pending"}), (7, {"pending"})]:
            worker = WebhookWorker(store, refusing.url, SECRET, keep_days=keep_days)
            worker.deliver_due()
            worker.stop()
            assert comments_left() == left  # 0 keeps everything; never an undelivered one
        assert {json.loads(body)["comment_id"] for _, body in refusing.requests} == {"pending"}
    finally:
        store.close()
        refusing.close()
