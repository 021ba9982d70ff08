"""Comments coming in: scored, decided, stored, audited (a mixin of ``Store``).

This is the hot path (every ``POST /v1/comments``): one transaction of three or four
prepared Core statements — the article check, the comment insert (``ON CONFLICT DO
NOTHING ... RETURNING`` makes the idempotency check part of the insert), the audit row and,
for a published comment, the outbox row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Insert, Select

from moderation.attributes import ATTRIBUTES
from moderation.errors import ConflictError
from moderation.policy import Decision
from moderation.review import rows
from moderation.review.database import Database
from moderation.review.records import ArticleIn, CommentRecord, Principal, Submission
from moderation.review.schema import FINAL

STATUS_FOR_ACTION: Final = {"publish": "published", "review": "review", "hold": "held"}
#: The actor of a submission's audit row: the policy decided the status.
POLICY_ACTOR: Final = Principal("system", "policy")


class SubmissionStore:
    """``submit`` and ``submit_many``; statements are built once in ``Store.__init__``."""

    db: Database
    now: Callable[[], datetime]
    outbox_enabled: bool
    _insert_comment: Any
    _insert_audit: Insert
    _insert_outbox: Insert
    _by_id: Select[Any]
    touch_article: Callable[[Connection, ArticleIn, datetime], None]  # from ArticleStore

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
        with self.db.write() as conn:
            return self._submit_in(conn, submission, result, decision, actor, self.now())

    def submit_many(
        self,
        items: Sequence[tuple[Submission, Mapping[str, Any], Decision]],
        actor: Principal,
    ) -> list[tuple[CommentRecord, bool]]:
        """A whole batch in one transaction, each item as ``submit`` would store it.

        All or nothing: a ConflictError on any item rolls back every item, so a client's
        retry of the batch never finds half of it stored.
        """
        now = self.now()
        with self.db.write() as conn:
            return [
                self._submit_in(conn, submission, result, decision, actor, now)
                for submission, result, decision in items
            ]

    def _submit_in(
        self,
        conn: Connection,
        submission: Submission,
        result: Mapping[str, Any],
        decision: Decision,
        actor: Principal,
        now: datetime,
    ) -> tuple[CommentRecord, bool]:
        """The statements of one submission inside the caller's transaction."""
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
            self.touch_article(conn, submission.article, now)
        if conn.execute(self._insert_comment, values).first() is None:
            first = conn.execute(self._by_id, {"comment_id": submission.id}).one()
            if first.text != submission.text:
                raise ConflictError(
                    f"comment {submission.id!r} was already submitted with another text"
                )
            return rows.comment_record(first), False
        conn.execute(
            self._insert_audit,
            rows.audit_values(
                now,
                POLICY_ACTOR,
                "submit",
                comment_id=submission.id,
                to_status=status,
                model_version=values["model_version"],
                details={**values["decision"], "submitted_by": values["submitted_by"]},
            ),
        )
        if status in FINAL and self.outbox_enabled:
            conn.execute(self._insert_outbox, rows.outbox_values(values, now))
        return rows.comment_record(values), True
