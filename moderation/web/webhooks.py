"""Outbox delivery: every final decision reaches the webhook, signed, however long it is down.

The store appends an ``outbox`` row in the same transaction as each final decision, so a
decision cannot exist without its notification. This worker (one daemon thread per process)
POSTs due rows to ``webhook_url`` and deletes a row only after a 2xx; any other answer or no
answer reschedules it with exponential backoff (1 s, 2 s, 4 s ... capped at 10 min, with
jitter so a fleet of replicas does not retry in step). Delivery is at least once: the body's
``event_id`` lets the receiver drop a repeat.

Signing: ``X-Moderation-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed with
``webhook_secret``; the body carries ``sent_at`` (also in ``X-Moderation-Timestamp``), so
the signature covers the time and a receiver can refuse old replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from moderation.web.metrics import Metrics

log = logging.getLogger("moderation.web.webhooks")

SIGNATURE_HEADER = "X-Moderation-Signature"
TIMESTAMP_HEADER = "X-Moderation-Timestamp"
EVENT_HEADER = "X-Moderation-Event"


class Outbox(Protocol):
    """The part of ``Store`` the worker needs."""

    def outbox_due(self, now: datetime, limit: int) -> list[Any]: ...
    def outbox_delivered(self, id: int) -> None: ...
    def outbox_failed(self, id: int, error: str, next_attempt_at: datetime) -> None: ...
    def prune_delivered(self, before: datetime) -> int: ...


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time comparison of the header with our own signature."""
    return hmac.compare_digest(sign(secret, body), header)


def backoff(attempts: int, *, base: float = 1.0, cap: float = 600.0) -> float:
    """Seconds to wait after the ``attempts``-th failure: base * 2^(attempts-1), capped, ±10%."""
    delay = min(cap, base * 2 ** max(0, min(attempts - 1, 30)))
    return float(delay * random.uniform(0.9, 1.1))


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _payload(item: Any) -> dict[str, Any]:
    payload = _field(item, "payload", {})
    if is_dataclass(payload) and not isinstance(payload, type):
        payload = asdict(payload)
    if isinstance(payload, str):
        payload = json.loads(payload)
    return dict(payload)


class WebhookWorker:
    """Delivers due outbox rows to one URL from a background thread."""

    def __init__(
        self,
        store: Outbox,
        url: str,
        secret: str,
        metrics: Metrics | None = None,
        *,
        batch: int = 50,
        poll_seconds: float = 1.0,
        timeout: float = 5.0,
        base_delay: float = 1.0,
        max_delay: float = 600.0,
        keep_days: float = 7.0,
        prune_seconds: float = 3600.0,
    ) -> None:
        """``keep_days``: delivered rows older than that are deleted, checked at the first
        pass and then every ``prune_seconds``; 0 keeps them forever."""
        self.store = store
        self.url = url
        self.secret = secret
        self.metrics = metrics
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at: float | None = None  # monotonic time of the soonest retry we scheduled
        self.keep_days = keep_days
        self.prune_seconds = prune_seconds
        self._prune_at = 0.0  # monotonic: the first pass prunes

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def wake(self) -> None:
        """A final decision was just stored: deliver now instead of at the next poll."""
        self._wake.set()

    # -- delivery -----------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Try every due row once; returns how many were delivered (pruning when it is time)."""
        self._prune_if_due()
        delivered = 0
        items = self.store.outbox_due(datetime.now(UTC), self.batch)
        for item in items:
            if self._stop.is_set():
                break
            delivered += self._deliver(item)
        return delivered

    def _deliver(self, item: Any) -> int:
        item_id = int(_field(item, "id"))
        attempts = int(_field(item, "attempts", 0) or 0) + 1
        sent_at = datetime.now(UTC)
        body = json.dumps(
            {"event_id": item_id, "sent_at": sent_at.isoformat(), **_payload(item)},
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body),
            TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
            EVENT_HEADER: str(item_id),
        }
        try:
            response = self._client.post(self.url, content=body, headers=headers)
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self.store.outbox_delivered(item_id)
            self._count("delivered")
            return 1
        delay = backoff(attempts, base=self.base_delay, cap=self.max_delay)
        self.store.outbox_failed(item_id, error[:500], sent_at + timedelta(seconds=delay))
        retry_at = time.monotonic() + delay
        self._retry_at = retry_at if self._retry_at is None else min(self._retry_at, retry_at)
        self._count("failed")
        log.warning("webhook event %s failed (%s); retry in %.1f s", item_id, error, delay)
        return 0

    def _prune_if_due(self) -> None:
        if self.keep_days <= 0 or time.monotonic() < self._prune_at:
            return
        self._prune_at = time.monotonic() + self.prune_seconds
        before = datetime.now(UTC) - timedelta(days=self.keep_days)
        removed = self.store.prune_delivered(before)
        if removed:
            log.info("outbox: deleted %d rows delivered before %s", removed, before.isoformat())

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook_deliveries.labels(outcome).inc()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.deliver_due() >= self.batch
            except Exception:  # database down, a bad row: keep the worker alive
                log.exception("webhook outbox pass failed")
                busy = False
            if not busy:
                self._wake.wait(self._pause())

    def _pause(self) -> float:
        """Until the next poll, or sooner when a retry we scheduled falls due before it."""
        if self._retry_at is None:
            return self.poll_seconds
        pause = self._retry_at - time.monotonic()
        if pause <= self.poll_seconds:
            self._retry_at = None
        return max(0.0, min(self.poll_seconds, pause))
