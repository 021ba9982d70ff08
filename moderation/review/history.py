"""Authors' histories and the audit log, read side (a mixin of ``Store``).

Reads only: the audit log is append-only and written by the state changes themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select

from moderation.review import rows
from moderation.review.database import Database
from moderation.review.records import AuditEntry, AuthorHistory
from moderation.review.schema import audit_log, comments

#: Built once: every submission with an author runs it, and building a statement (and its
#: cache key) per call cost more than executing it.
REJECTIONS = select(func.count()).where(
    comments.c.author_id == bindparam("author_id"),
    comments.c.status == "rejected",
    comments.c.decided_at >= bindparam("since"),
)


def rejections_in(conn: Connection, author_id: str, days: int, now: datetime) -> int:
    """The author's rejections in the ``days`` days before ``now``, inside ``conn``."""
    since = now - timedelta(days=days)
    return int(conn.execute(REJECTIONS, {"author_id": author_id, "since": since}).scalar_one())


class HistoryStore:
    """Repeat-offender look-ups and audit paging."""

    db: Database
    now: Callable[[], datetime]

    def recent_rejections(self, author_id: str, days: int) -> int:
        """How many of the author's comments moderators rejected in the last ``days`` days."""
        with self.db.read() as conn:
            return rejections_in(conn, author_id, days, self.now())

    def author_history(self, author_id: str, limit: int = 50, days: int = 30) -> AuthorHistory:
        """The author's newest comments, counts by status, and rejections within ``days``."""
        counts_stmt = (
            select(comments.c.status, func.count())
            .where(comments.c.author_id == author_id)
            .group_by(comments.c.status)
        )
        recent_stmt = (
            select(comments)
            .where(comments.c.author_id == author_id)
            .order_by(comments.c.submitted_at.desc(), comments.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            counts = {status: int(n) for status, n in conn.execute(counts_stmt)}
            recent = tuple(rows.comment_record(row) for row in conn.execute(recent_stmt))
        return AuthorHistory(author_id, counts, self.recent_rejections(author_id, days), recent)

    def audit(
        self, comment_id: str | None = None, limit: int = 100, after_id: int | None = None
    ) -> list[AuditEntry]:
        """Audit rows in order, optionally for one comment and after a known id (paging)."""
        stmt = select(audit_log).order_by(audit_log.c.id).limit(limit)
        if comment_id is not None:
            stmt = stmt.where(audit_log.c.comment_id == comment_id)
        if after_id is not None:
            stmt = stmt.where(audit_log.c.id > after_id)
        with self.db.read() as conn:
            return [rows.audit_entry(row) for row in conn.execute(stmt)]
