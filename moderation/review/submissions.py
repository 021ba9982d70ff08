"""Comments coming in: scored, decided, stored, audited (a mixin of ``Store``).

This is the hot path (every ``POST /v1/comments``). What the policy needs to read comes
first, in one round trip: the author's recent rejections (when the policy asks) with the
article's stored texts. Then the writes: the comment insert (``ON CONFLICT DO NOTHING ...
RETURNING`` makes the idempotency check part of the insert), the audit row, for published
comments the outbox row, and the article's row when it is new or its texts changed.

* PostgreSQL, one submission per request (the publishing system's usual call): the read runs
  in autocommit and the writes are ONE statement of data-modifying CTEs, also in autocommit
  (``one_statement``): two round trips in all instead of a transaction's five, on one pooled
  connection, both run on psycopg's cursor with statements compiled once (``driver``).
* SQLite, and batches on either database: one write transaction for the whole batch (all or
  nothing), the reads inside it, each table's rows as one executemany. SQLite's
  ``BEGIN IMMEDIATE`` holds the write lock throughout, so the rejections counted are exactly
  those the stored decision was made on; on PostgreSQL, at READ COMMITTED, a count read
  just before the write sees the same as one read inside the transaction would.
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
from moderation.review import driver, one_statement, rows
from moderation.review.articles import (
    UNREAD,
    Fetch,
    article_and_rejections,
    article_change,
    article_texts,
    fetch_with,
    stored_article,
)
from moderation.review.database import Database
from moderation.review.history import REJECTIONS
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
    #: id(statement) -> (statement, its DriverStatement); filled on first use.
    _driver_statements: dict[int, tuple[Any, driver.DriverStatement]]
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
        if self.db.is_postgres and len(items) == 1:
            return [self._submit_one_statement(items[0], actor)]
        now = self.now()
        stored: list[tuple[CommentRecord, bool, Decision]] = []
        audit: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        with self.db.write() as conn:
            for item in items:
                known_article, rejections = _policy_inputs(
                    fetch_with(conn), item, now, read_article=False
                )
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
                    known_article,
                )
                stored.append((record, created, decision))
            if audit:
                conn.execute(self._insert_audit, audit)
            if outbox:
                conn.execute(self._insert_outbox, outbox)
        return stored

    def _submit_one_statement(
        self, item: Pending, actor: Principal
    ) -> tuple[CommentRecord, bool, Decision]:
        """PostgreSQL, one submission: a read, then one autocommit statement that writes the
        comment, its audit row, its outbox row and the article's (``one_statement``).

        Both on one pooled connection in autocommit, both on psycopg's cursor (``driver``):
        this path runs for every submission, and SQLAlchemy's per-execution work and a
        second checkout were a fifth of the server's CPU per request.
        """
        now = self.now()
        submission = item.submission
        with self.db.autocommit() as conn:
            fetch = self._driver_fetch(conn)
            stored, rejections = _policy_inputs(fetch, item, now, read_article=True)
            decision = item.decide(rejections)
            values = _comment_values(submission, item.result, decision, actor, now)
            outbox_row = self._outbox_row(values, now)
            article = submission.article
            change = None if article is None else article_change(article, stored)
            article_row = None
            if article is not None and change is not None:
                article_row = {"id": article.id, "updated_at": now, **article_texts(article)}
            statement = one_statement.submission_statement(outbox_row is not None, change)
            audit = _audit_row(values, now)
            params = one_statement.parameters(values, audit, outbox_row, article_row)
            if fetch(statement, params) is not None:
                return rows.comment_record(values), True, decision
            return (*self._first_submitted(conn, submission), decision)

    def _driver_fetch(self, conn: Connection) -> Fetch:
        """``Fetch`` on ``conn``'s psycopg cursor, each statement compiled once (``driver``)."""
        prepared = self._driver_statements
        dialect = conn.dialect

        def fetch(statement: Any, params: Mapping[str, Any]) -> Any:
            found = prepared.get(id(statement))
            if found is None or found[0] is not statement:
                found = prepared[id(statement)] = (
                    statement,
                    driver.DriverStatement(statement, dialect),
                )
            return driver.fetchone(conn, found[1], params)

        return fetch

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
        values = _comment_values(submission, result, decision, actor, now)
        if conn.execute(self._insert_comment, values).first() is None:
            return self._first_submitted(conn, submission)  # a retry writes nothing
        if submission.article is not None:
            self.touch_article(conn, submission.article, now, stored_article)
        audit.append(_audit_row(values, now))
        outbox_row = self._outbox_row(values, now)
        if outbox_row is not None:
            outbox.append(outbox_row)
        return rows.comment_record(values), True

    def _outbox_row(self, values: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
        """The outbox row of a comment decided final on arrival (webhooks on), else None."""
        if values["status"] in FINAL and self.outbox_enabled:
            return rows.outbox_values(values, now)
        return None

    def _first_submitted(
        self, conn: Connection, submission: Submission
    ) -> tuple[CommentRecord, bool]:
        """A retry: ``(first record, False)``; ConflictError if the first had another text."""
        first = conn.execute(self._by_id, {"comment_id": submission.id}).one()
        if first.text != submission.text:
            raise ConflictError(
                f"comment {submission.id!r} was already submitted with another text"
            )
        return rows.comment_record(first), False


def _policy_inputs(
    fetch: Fetch, item: Pending, now: datetime, *, read_article: bool
) -> tuple[object, int]:
    """(the article's stored texts, or None, or UNREAD; the author's recent rejections).

    One round trip at most. The rejections are counted only when the policy's
    repeat-offender rule is on and there is an author; the article is read with them, or
    alone when ``read_article``.
    """
    author, article = item.submission.author_id, item.submission.article
    if author is not None and item.rejection_days is not None:
        if article is not None:
            since = now - timedelta(days=item.rejection_days)
            return article_and_rejections(fetch, article.id, author, since)
        since = now - timedelta(days=item.rejection_days)
        return UNREAD, int(fetch(REJECTIONS, {"author_id": author, "since": since})[0])
    if article is not None and read_article:
        return stored_article(fetch, article.id), 0
    return UNREAD, 0


def _comment_values(
    submission: Submission,
    result: Mapping[str, Any],
    decision: Decision,
    actor: Principal,
    now: datetime,
) -> dict[str, Any]:
    """The ``comments`` row of a new submission (keys: ``one_statement.COMMENT_KEYS``)."""
    scores = result["scores"]
    return {
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
        "status": STATUS_FOR_ACTION[decision.action],
        "created_at": submission.created_at,
        "submitted_at": now,
        "submitted_by": f"{actor.kind}:{actor.name}",
        "updated_at": now,
    }


def _audit_row(values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The submission's audit row: the policy (the system) set the first status."""
    return rows.audit_values(
        now,
        POLICY_ACTOR,
        "submit",
        comment_id=values["id"],
        to_status=values["status"],
        model_version=values["model_version"],
        details={**values["decision"], "submitted_by": values["submitted_by"]},
    )


def _fixed(decision: Decision) -> Callable[[int], Decision]:
    """A ``Pending.decide`` for a decision already made (``submit``, ``submit_many``)."""
    return lambda _rejections: decision
