"""Comments coming in: scored, decided, stored, audited (a mixin of ``Store``).

This is the hot path (every ``POST /v1/comments``): one transaction of a few prepared Core
statements — the author's recent rejections (when the policy asks), the article check, the
comment insert (``ON CONFLICT DO NOTHING ... RETURNING`` makes the idempotency check part of
the insert), then the batch's audit rows and, for published comments, outbox rows, each
group as one executemany. Counting the rejections inside the write transaction spares a
second connection and transaction per submission, and the count is then exactly the one
the stored decision was made on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Insert, Select

from moderation.attributes import ATTRIBUTES
from moderation.errors import ConflictError
from moderation.policy import Decision
from moderation.review import rows
from moderation.review.articles import UNREAD, article_and_rejections
from moderation.review.database import Database
from moderation.review.history import rejections_in
from moderation.review.records import CommentRecord, Principal, Submission
from moderation.review.schema import FINAL

STATUS_FOR_ACTION: Final = {"publish": "published", "review": "review", "hold": "held"}
#: The actor of a submission's audit row: the policy decided the status.
POLICY_ACTOR: Final = Principal("system", "policy")


@dataclass(frozen=True)
class Pending:
    """A scored submission whose decision waits for the author's recent rejections.

    ``rejection_days`` is the policy's repeat-offender window, or None when the rule is off
    or there is no author (then no query runs and ``decide`` gets 0).
    """

    submission: Submission
    result: Mapping[str, Any]
    decide: Callable[[int], Decision]
    rejection_days: int | None = None


class SubmissionStore:
    """``submit`` and ``submit_many``; statements are built once in ``Store.__init__``."""

    db: Database
    now: Callable[[], datetime]
    outbox_enabled: bool
    _insert_comment: Any
    _insert_audit: Insert
    _insert_outbox: Insert
    _by_id: Select[Any]
    touch_article: Callable[..., None]  # ArticleStore.touch_article

    def submit(
        self,
        submission: Submission,
        result: Mapping[str, Any],
        decision: Decision,
        actor: Principal,
    ) -> tuple[CommentRecord, bool]:
        """Store a scored, decided comment: ``(record, True)``, or ``(first record, False)``.

        Idempotent on the client's comment id: a retry with the same text returns what the
        first call stored; the same id with another text is a ConflictError. The status is
        the policy's decision, so the audit row's actor is the system (``policy``); the
        submitting key is kept in ``submitted_by``.
        """
        return self.submit_many([(submission, result, decision)], actor)[0]

    def submit_many(
        self,
        items: Sequence[tuple[Submission, Mapping[str, Any], Decision]],
        actor: Principal,
    ) -> list[tuple[CommentRecord, bool]]:
        """A whole batch in one transaction, each item as ``submit`` would store it.

        All or nothing: a ConflictError on any item rolls back every item, so a client's
        retry of the batch never finds half of it stored.
        """
        pending = [
            Pending(submission, result, _fixed(decision)) for submission, result, decision in items
        ]
        return [(record, created) for record, created, _ in self.submit_pending(pending, actor)]

    def submit_pending(
        self, items: Sequence[Pending], actor: Principal
    ) -> list[tuple[CommentRecord, bool, Decision]]:
        """``submit_many`` deciding each item in the transaction: (record, created, decision).

        Each item's recent rejections are counted inside the write transaction and given to
        its ``decide``; the rest is ``submit_many`` (all or nothing, idempotent, audited).
        For a retry (``created`` False) the record keeps the first decision; the decision
        returned is the one just made and was not stored.
        """
        now = self.now()
        stored: list[tuple[CommentRecord, bool, Decision]] = []
        audit: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        with self.db.write() as conn:
            for item in items:
                author, article = item.submission.author_id, item.submission.article
                stored_article: object = UNREAD
                rejections = 0
                if author is not None and item.rejection_days is not None:
                    if article is not None:  # both in one round trip
                        since = now - timedelta(days=item.rejection_days)
                        stored_article, rejections = article_and_rejections(
                            conn, article.id, author, since
                        )
                    else:
                        rejections = rejections_in(conn, author, item.rejection_days, now)
                decision = item.decide(rejections)
                record, created = self._submit_in(
                    conn,
                    item.submission,
                    item.result,
                    decision,
                    actor,
                    now,
                    audit,
                    outbox,
                    stored_article,
                )
                stored.append((record, created, decision))
            if audit:
                conn.execute(self._insert_audit, audit)
            if outbox:
                conn.execute(self._insert_outbox, outbox)
        return stored

    def _submit_in(
        self,
        conn: Connection,
        submission: Submission,
        result: Mapping[str, Any],
        decision: Decision,
        actor: Principal,
        now: datetime,
        audit: list[dict[str, Any]],
        outbox: list[dict[str, Any]],
        stored_article: object = UNREAD,
    ) -> tuple[CommentRecord, bool]:
        """One submission inside the caller's transaction; its audit and outbox rows are
        appended to ``audit`` and ``outbox`` for the caller to insert in one go.
        ``stored_article``: the article's row when already read (``touch_article``)."""
        status = STATUS_FOR_ACTION[decision.action]
        scores = result["scores"]
        values: dict[str, Any] = {
            "id": submission.id,
            "article_id": submission.article_id,
            "author_id": submission.author_id,
            "text": submission.text,
            "language": result["language"],
            "supported": bool(result.get("supported", True)),
            **{attribute: float(scores[attribute]) for attribute in ATTRIBUTES},
            "flagged": list(result.get("flagged", ())),
            "result": rows.result_extra(result),
            "decision": decision.to_dict(),
            "model_version": result["model_version"],
            "status": status,
            "created_at": submission.created_at,
            "submitted_at": now,
            "submitted_by": f"{actor.kind}:{actor.name}",
            "updated_at": now,
        }
        if submission.article is not None:
            self.touch_article(conn, submission.article, now, stored_article)
        if conn.execute(self._insert_comment, values).first() is None:
            first = conn.execute(self._by_id, {"comment_id": submission.id}).one()
            if first.text != submission.text:
                raise ConflictError(
                    f"comment {submission.id!r} was already submitted with another text"
                )
            return rows.comment_record(first), False
        audit.append(
            rows.audit_values(
                now,
                POLICY_ACTOR,
                "submit",
                comment_id=submission.id,
                to_status=status,
                model_version=values["model_version"],
                details={**values["decision"], "submitted_by": values["submitted_by"]},
            )
        )
        if status in FINAL and self.outbox_enabled:
            outbox.append(rows.outbox_values(values, now))
        return rows.comment_record(values), True


def _fixed(decision: Decision) -> Callable[[int], Decision]:
    """A ``Pending.decide`` for a decision already made (``submit``, ``submit_many``)."""
    return lambda _rejections: decision
