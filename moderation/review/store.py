"""The review store: comments, queues, leases, decisions, audit log and outbox.

Every state change is one short transaction that also appends its ``audit_log`` row (and,
for a final decision, its ``outbox`` row), so a crash can never leave a decision without
its audit entry or its webhook. Statements are SQLAlchemy Core, built once, so the hot path
(``submit``) costs a few statements and no reflection or ORM bookkeeping (on PostgreSQL, one
submission is two statements run on psycopg's cursor: ``submissions``, ``driver``).
Every method raises library errors (moderation.errors), never SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, insert, or_, select, update

from moderation.attributes import ATTRIBUTES
from moderation.errors import (
    ConflictError,
    InvalidReasonError,
    LeaseError,
    LeaseExpiredError,
    ModerationError,
    NotFoundError,
)
from moderation.review import export, migrate, rows
from moderation.review.articles import ArticleStore
from moderation.review.database import Database
from moderation.review.history import HistoryStore
from moderation.review.outbox import OutboxStore
from moderation.review.records import (
    DEFAULT_REASON_CODES,
    SYSTEM,
    CommentRecord,
    InvalidRequestError,
    Principal,
    QueueQuery,
    QueueStats,
)
from moderation.review.schema import FINAL, QUEUED, STATUSES, articles, audit_log, comments
from moderation.review.schema import outbox as outbox_table
from moderation.review.submissions import STATUS_FOR_ACTION, SubmissionStore

STATUS_FOR_DECISION: Final = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store(SubmissionStore, ArticleStore, HistoryStore, OutboxStore):
    """The one gateway to the database for comments, queues and the audit log.

    ``reason_codes`` are the reasons a rejection may give; ``outbox=False`` (no webhook
    configured) skips outbox rows so they do not pile up undelivered; ``clock`` exists for
    tests; ``checkpoint_seconds`` > 0 checkpoints a SQLite log in a background thread.
    ``accounts`` holds API keys, moderators and tokens on the same database.
    """

    def __init__(
        self,
        url: str,
        *,
        reason_codes: Sequence[str] = DEFAULT_REASON_CODES,
        outbox: bool = True,
        clock: Clock = _utcnow,
        checkpoint_seconds: float = 0.0,
    ) -> None:
        from moderation.review.accounts import Accounts

        self.db = Database(url, checkpoint_seconds=checkpoint_seconds)
        self.reason_codes = tuple(reason_codes)
        self.outbox_enabled = outbox
        self.now = clock
        self.accounts = Accounts(self.db, clock)
        # RETURNING says whether the row went in (a conflict returns nothing): INSERT
        # row counts are not reliable across drivers.
        self._insert_comment = (
            self.db.insert(comments)
            .on_conflict_do_nothing(index_elements=[comments.c.id])
            .returning(comments.c.id)
        )
        self._insert_audit = insert(audit_log)
        self._insert_article = self.db.insert(articles).on_conflict_do_nothing(
            index_elements=[articles.c.id]
        )
        self._insert_outbox = insert(outbox_table)
        self._by_id = select(comments).where(comments.c.id == bindparam("comment_id"))
        self._driver_statements = {}
        if self.db.is_postgres:
            self._by_id_for_update = self._by_id.with_for_update()
        else:  # BEGIN IMMEDIATE already holds the write lock
            self._by_id_for_update = self._by_id

    # -- life cycle -------------------------------------------------------------------------
    def migrate(self) -> None:
        """Upgrade the schema to the newest revision; safe when replicas start together."""
        migrate.migrate(self.db)

    def ping(self) -> None:
        """StorageUnavailableError unless the database answers (for /readyz)."""
        with self.db.read() as conn:
            conn.execute(select(1)).scalar_one()

    def close(self) -> None:
        self.db.dispose()

    def authenticate(self, secret: str) -> Principal:
        """The principal behind a bearer secret (``Accounts.authenticate``); AuthError."""
        return self.accounts.authenticate(secret)

    # -- reading ---------------------------------------------------------------------------
    def get_comment(self, comment_id: str, *, with_history: bool = True) -> CommentRecord:
        """One comment, with its audit history (oldest first) unless asked not to."""
        with self.db.read() as conn:
            row = conn.execute(self._by_id, {"comment_id": comment_id}).first()
            if row is None:
                raise NotFoundError(f"no comment with id {comment_id!r}")
            history = None
            if with_history:
                found = conn.execute(
                    select(audit_log)
                    .where(audit_log.c.comment_id == comment_id)
                    .order_by(audit_log.c.id)
                )
                history = [rows.audit_entry(entry) for entry in found]
        return rows.comment_record(row, history)

    # -- queues -----------------------------------------------------------------------------
    def _queue_select(self, query: QueueQuery, now: datetime, *, available: bool) -> Select[Any]:
        unknown = set(query.status) - set(STATUSES)
        if unknown or not query.status:
            raise InvalidRequestError(f"unknown status {sorted(unknown)}; use {STATUSES}")
        if query.attribute is not None and query.attribute not in ATTRIBUTES:
            raise InvalidRequestError(f"unknown attribute {query.attribute!r}; use {ATTRIBUTES}")
        if query.order not in ("score", "oldest") or query.limit < 1 or query.offset < 0:
            raise InvalidRequestError("order must be score|oldest, limit >= 1, offset >= 0")
        score = comments.c[query.attribute or "toxicity"]
        where: list[ColumnElement[bool]] = [comments.c.status.in_(query.status)]
        if query.article_id is not None:
            where.append(comments.c.article_id == query.article_id)
        if query.language is not None:
            where.append(comments.c.language == query.language)
        if query.min_score is not None:
            where.append(score >= query.min_score)
        if query.max_score is not None:
            where.append(score <= query.max_score)
        if query.older_than is not None:
            where.append(comments.c.submitted_at < query.older_than)
        if available:
            where.append(or_(comments.c.claimed_by.is_(None), comments.c.lease_expires_at <= now))
        order = (
            [score.desc(), comments.c.submitted_at, comments.c.id]
            if query.order == "score"
            else [comments.c.submitted_at, comments.c.id]
        )
        return select(comments).where(and_(*where)).order_by(*order)

    def list_queue(self, query: QueueQuery) -> list[CommentRecord]:
        """Comments in the queue(s) ``query.status``, filtered and ordered (no history)."""
        stmt = self._queue_select(query, self.now(), available=not query.include_claimed)
        with self.db.read() as conn:
            found = conn.execute(stmt.limit(query.limit).offset(query.offset))
            return [rows.comment_record(row) for row in found]

    def claim(
        self, moderator: str, count: int, lease_seconds: int, query: QueueQuery
    ) -> list[CommentRecord]:
        """Lease up to ``count`` unclaimed (or lapsed) comments to ``moderator``.

        PostgreSQL skips rows another transaction is claiming (``FOR UPDATE SKIP LOCKED``),
        so concurrent moderators get disjoint items without waiting; SQLite serialises
        claims with ``BEGIN IMMEDIATE``. ``query.limit``/``offset`` are ignored.
        """
        if count < 1 or lease_seconds < 1:
            raise InvalidRequestError("count and lease_seconds must be positive")
        now = self.now()
        expires = now + timedelta(seconds=lease_seconds)
        stmt = self._queue_select(query, now, available=True).limit(count)
        ids_stmt = stmt.with_only_columns(comments.c.id)
        if self.db.is_postgres:
            ids_stmt = ids_stmt.with_for_update(skip_locked=True)
        with self.db.write() as conn:
            ids = list(conn.execute(ids_stmt).scalars())
            if not ids:
                return []
            conn.execute(
                update(comments)
                .where(comments.c.id.in_(ids))
                .values(claimed_by=moderator, lease_expires_at=expires, updated_at=now)
            )
            found = conn.execute(select(comments).where(comments.c.id.in_(ids)))
            by_id = {row.id: rows.comment_record(row) for row in found}
            claimed = [by_id[comment_id] for comment_id in ids]  # in queue order
            actor = Principal("moderator", moderator)
            conn.execute(
                self._insert_audit,
                [
                    rows.audit_values(
                        now,
                        actor,
                        "claim",
                        comment_id=record.id,
                        from_status=record.status,
                        to_status=record.status,
                        model_version=record.model_version,
                        details={"lease_expires_at": expires.isoformat()},
                    )
                    for record in claimed
                ],
            )
        return claimed

    def _leased(self, conn: Any, comment_id: str, moderator: str, now: datetime) -> Any:
        """The comment row, locked, after checking ``moderator`` holds a live lease on it."""
        row = conn.execute(self._by_id_for_update, {"comment_id": comment_id}).first()
        if row is None:
            raise NotFoundError(f"no comment with id {comment_id!r}")
        if row.status not in QUEUED:
            raise ConflictError(f"comment {comment_id!r} is already {row.status}")
        if row.claimed_by != moderator:
            raise LeaseError(f"comment {comment_id!r} is not claimed by {moderator!r}")
        if row.lease_expires_at <= now:
            raise LeaseExpiredError(f"the lease on comment {comment_id!r} has expired")
        return row

    def release(self, comment_id: str, moderator: str) -> CommentRecord:
        """Give a claimed comment back to the queue before its lease runs out."""
        now = self.now()
        with self.db.write() as conn:
            row = self._leased(conn, comment_id, moderator, now)
            changes = {"claimed_by": None, "lease_expires_at": None, "updated_at": now}
            conn.execute(update(comments).where(comments.c.id == comment_id).values(changes))
            conn.execute(
                self._insert_audit,
                rows.audit_values(
                    now,
                    Principal("moderator", moderator),
                    "release",
                    comment_id=comment_id,
                    from_status=row.status,
                    to_status=row.status,
                    model_version=row.model_version,
                ),
            )
        return rows.comment_record({**row._mapping, **changes})

    def decide(
        self,
        comment_id: str,
        moderator: Principal,
        action: str,
        reason: str | None,
        note: str | None,
    ) -> CommentRecord:
        """Approve, reject (reason code required) or escalate a comment whose lease you hold.

        LeaseError if someone else holds it (or nobody), LeaseExpiredError once it lapsed,
        InvalidReasonError for a missing or unknown reason, ConflictError if already decided.
        """
        new_status = STATUS_FOR_DECISION.get(action)
        if new_status is None:
            raise InvalidRequestError(f"unknown action {action!r}; use approve|reject|escalate")
        if action == "reject" and not reason:
            raise InvalidReasonError(f"a rejection needs a reason: {', '.join(self.reason_codes)}")
        if reason is not None and reason not in self.reason_codes:
            raise InvalidReasonError(
                f"unknown reason {reason!r}; use one of {', '.join(self.reason_codes)}"
            )
        now = self.now()
        final = new_status in FINAL
        with self.db.write() as conn:
            row = self._leased(conn, comment_id, moderator.name, now)
            changes: dict[str, Any] = {
                "status": new_status,
                "claimed_by": None,
                "lease_expires_at": None,
                "updated_at": now,
                "reason": reason,
                "note": note,
            }
            if final:
                changes.update(decided_by=moderator.name, decided_at=now)
            conn.execute(update(comments).where(comments.c.id == comment_id).values(changes))
            conn.execute(
                self._insert_audit,
                rows.audit_values(
                    now,
                    moderator,
                    action,
                    comment_id=comment_id,
                    from_status=row.status,
                    to_status=new_status,
                    reason=reason,
                    note=note,
                    model_version=row.model_version,
                ),
            )
            decided = {**row._mapping, **changes}
            if final and self.outbox_enabled:
                conn.execute(self._insert_outbox, rows.outbox_values(decided, now))
        return rows.comment_record(decided)

    def reopen(
        self,
        comment_id: str,
        actor: Principal,
        to_status: str = "review",
        note: str | None = None,
    ) -> CommentRecord:
        """Send a decided comment (published, approved, rejected) back to the queue.

        Why: decisions are not always last — readers report a published comment (the
        publishing system forwards it), or an admin revisits a moderator's call. The comment
        goes to ``review`` (stays visible meanwhile) or ``held`` (hidden until decided);
        its decision fields are cleared (the audit log keeps the old decision) and a webhook
        event announces the new status. Then it is claimed and decided like any other.
        ConflictError when it is still queued; NotFoundError for an unknown id.
        """
        if to_status not in ("review", "held"):
            raise InvalidRequestError(f"reopen to 'review' or 'held', not {to_status!r}")
        now = self.now()
        with self.db.write() as conn:
            row = conn.execute(self._by_id_for_update, {"comment_id": comment_id}).first()
            if row is None:
                raise NotFoundError(f"no comment with id {comment_id!r}")
            if row.status not in FINAL:
                raise ConflictError(
                    f"comment {comment_id!r} is {row.status}: only a decided comment is reopened"
                )
            changes: dict[str, Any] = {
                "status": to_status,
                "claimed_by": None,
                "lease_expires_at": None,
                "decided_by": None,
                "decided_at": None,
                "reason": None,
                "note": note,
                "updated_at": now,
            }
            conn.execute(update(comments).where(comments.c.id == comment_id).values(changes))
            conn.execute(
                self._insert_audit,
                rows.audit_values(
                    now,
                    actor,
                    "reopen",
                    comment_id=comment_id,
                    from_status=row.status,
                    to_status=to_status,
                    note=note,
                    model_version=row.model_version,
                    details={"reason": row.reason, "decided_by": row.decided_by},
                ),
            )
            reopened = {**row._mapping, **changes}
            if self.outbox_enabled:
                conn.execute(self._insert_outbox, rows.outbox_values(reopened, now))
        return rows.comment_record(reopened)

    def decide_many(
        self,
        comment_ids: Sequence[str],
        moderator: Principal,
        action: str,
        reason: str | None,
        note: str | None,
    ) -> list[CommentRecord | ModerationError]:
        """Bulk decide: one transaction per comment, each outcome (record or error) in order.

        Separate transactions keep "one state change, one transaction" and let the good
        items through when one lease has lapsed.
        """
        outcomes: list[CommentRecord | ModerationError] = []
        for comment_id in comment_ids:
            try:
                outcomes.append(self.decide(comment_id, moderator, action, reason, note))
            except (ConflictError, NotFoundError, InvalidReasonError, InvalidRequestError) as e:
                outcomes.append(e)
        return outcomes

    # -- metrics, webhooks, training data ---------------------------------------------------
    def queue_stats(self) -> QueueStats:
        """Depth and oldest age of every queue, and how many queued comments are leased."""
        now = self.now()
        per_status = (
            select(comments.c.status, func.count(), func.min(comments.c.submitted_at))
            .where(comments.c.status.in_(QUEUED))
            .group_by(comments.c.status)
        )
        leased = select(func.count()).where(
            comments.c.status.in_(QUEUED), comments.c.lease_expires_at > now
        )
        with self.db.read() as conn:
            found = conn.execute(per_status).all()
            claimed = int(conn.execute(leased).scalar_one())
        depth = dict.fromkeys(QUEUED, 0)
        oldest = dict.fromkeys(QUEUED, 0.0)
        for status, count, first in found:
            depth[status] = int(count)
            # min() over a TypeDecorator column comes back untyped on SQLite: parse it.
            when = first if isinstance(first, datetime) else datetime.fromisoformat(first)
            oldest[status] = max(0.0, (now - when.replace(tzinfo=UTC)).total_seconds())
        return QueueStats(depth, oldest, claimed)

    def export_decisions(self) -> Iterator[dict[str, Any]]:
        """Moderators' final decisions as training JSON lines (see ``review.export``)."""
        return export.decisions(self.db)


__all__ = ["STATUS_FOR_ACTION", "STATUS_FOR_DECISION", "SYSTEM", "Store"]
