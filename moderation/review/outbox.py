"""The outbox read by the webhook worker (a mixin of ``Store``).

Rows are written by the state changes themselves (``submit``, ``decide``) in the same
transaction as the decision, so a decision is never announced without being stored nor
stored without being announced, even if the receiver is down for days. Delivered rows are
deleted once older than the ``outbox_keep_days`` setting (``prune_delivered``): the audit log
keeps the decisions, the outbox only what is still to be sent and recent deliveries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from moderation.errors import NotFoundError
from moderation.review import rows
from moderation.review.database import Database
from moderation.review.records import OutboxItem
from moderation.review.schema import outbox as outbox_table


class OutboxStore:
    """Due items with a delivery lease, then delivered or failed with the next attempt time."""

    db: Database
    now: Callable[[], datetime]

    def outbox_due(self, now: datetime, limit: int, lease_seconds: float = 60) -> list[OutboxItem]:
        """Undelivered items whose time has come, leased for ``lease_seconds``.

        The lease (pushing ``next_attempt_at`` forward) stops another replica's worker from
        sending the same item while this one is still trying; delivery is at least once.
        """
        stmt = (
            select(outbox_table)
            .where(outbox_table.c.delivered_at.is_(None), outbox_table.c.next_attempt_at <= now)
            .order_by(outbox_table.c.id)
            .limit(limit)
        )
        if self.db.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        with self.db.write() as conn:
            due = [rows.outbox_item(row) for row in conn.execute(stmt)]
            if due:
                conn.execute(
                    update(outbox_table)
                    .where(outbox_table.c.id.in_([item.id for item in due]))
                    .values(next_attempt_at=now + timedelta(seconds=lease_seconds))
                )
        return due

    def prune_delivered(self, before: datetime, chunk: int = 1_000) -> int:
        """Delete rows delivered before ``before``; how many. Undelivered rows always stay.

        In chunks of ``chunk`` rows, each its own short transaction, so a first prune of a
        long-running site's outbox never holds the write lock for long.
        """
        old = (
            select(outbox_table.c.id)
            .where(outbox_table.c.delivered_at.is_not(None), outbox_table.c.delivered_at < before)
            .limit(chunk)
            .scalar_subquery()
        )
        removed = 0
        while True:
            with self.db.write() as conn:
                done = conn.execute(delete(outbox_table).where(outbox_table.c.id.in_(old))).rowcount
            removed += done
            if done < chunk:
                return removed

    def outbox_delivered(self, item_id: int) -> None:
        """Mark an item delivered: it is never sent again."""
        self._outbox_update(item_id, delivered_at=self.now(), attempts=outbox_table.c.attempts + 1)

    def outbox_failed(self, item_id: int, error: str, next_attempt_at: datetime) -> None:
        """Record a failed attempt and when to try again (the caller computes the backoff)."""
        self._outbox_update(
            item_id,
            attempts=outbox_table.c.attempts + 1,
            last_error=error[:1000],
            next_attempt_at=next_attempt_at,
        )

    def _outbox_update(self, item_id: int, **values: Any) -> None:
        with self.db.write() as conn:
            done = conn.execute(
                update(outbox_table).where(outbox_table.c.id == item_id).values(**values)
            )
            if done.rowcount != 1:
                raise NotFoundError(f"no outbox item {item_id}")
