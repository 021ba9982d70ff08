"""PostgreSQL: a submission's comment, audit, outbox and article rows as ONE statement.

Why: on PostgreSQL every round trip of the hot path waits twice for one of the machine's
cores (the server's thread, then the database backend), and a transaction costs two of them
besides its statements (psycopg sends BEGIN on its own; then COMMIT). Data-modifying CTEs
make the comment insert and the rows that depend on it one statement, atomic by itself, run
in autocommit: a submission is then this statement and, before it, the one read the policy
needs (article texts, the author's recent rejections). SQLite has no data-modifying CTEs and
keeps the transaction (``SubmissionStore.submit_pending``).

Every dependent insert selects FROM the comment insert's RETURNING, so a retried or
conflicting id (``ON CONFLICT DO NOTHING`` returns no row) writes nothing at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final, Literal

from sqlalchemy import Column, Select, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from moderation.attributes import ATTRIBUTES
from moderation.review.schema import articles, audit_log, comments, outbox

#: The comment columns a submission writes (the rest stay NULL until a moderator acts).
COMMENT_KEYS: Final = (
    "id",
    "article_id",
    "author_id",
    "text",
    "language",
    "supported",
    *ATTRIBUTES,
    "flagged",
    "result",
    "decision",
    "model_version",
    "status",
    "created_at",
    "submitted_at",
    "submitted_by",
    "updated_at",
)
AUDIT_KEYS: Final = tuple(c.name for c in audit_log.c if c.name != "id")
OUTBOX_KEYS: Final = ("comment_id", "event", "payload", "created_at", "attempts", "next_attempt_at")
ARTICLE_KEYS: Final = ("id", "title", "lead", "target", "updated_at")

#: What the statement does to the article row: nothing, insert it, or update its texts.
ArticleChange = Literal["insert", "update"] | None

#: Parameter name prefixes, one per table (the tables share column names).
COMMENT, AUDIT, OUTBOX, ARTICLE = "c_", "a_", "o_", "art_"


def parameters(
    comment: dict[str, Any],
    audit: dict[str, Any],
    outbox_row: dict[str, Any] | None,
    article: dict[str, Any] | None,
) -> dict[str, Any]:
    """The statement's parameters from the rows' values (each table's keys prefixed)."""
    params = {COMMENT + key: comment[key] for key in COMMENT_KEYS}
    params.update({AUDIT + key: audit[key] for key in AUDIT_KEYS})
    if outbox_row is not None:
        params.update({OUTBOX + key: outbox_row[key] for key in OUTBOX_KEYS})
    if article is not None:
        params.update({ARTICLE + key: article[key] for key in ARTICLE_KEYS})
    return params


@cache
def submission_statement(with_outbox: bool, article_change: ArticleChange) -> Select[Any]:
    """``SELECT id FROM new_comment`` with the writes as CTEs; no row means a conflict.

    Built once per variant (SQLAlchemy then caches its compiled form too).
    """
    new_comment = (
        pg_insert(comments)
        .values({key: _param(COMMENT, comments.c[key]) for key in COMMENT_KEYS})
        .on_conflict_do_nothing(index_elements=[comments.c.id])
        .returning(comments.c.id)
        .cte("new_comment")
    )
    writes = [_insert_from(audit_log, AUDIT, AUDIT_KEYS, new_comment).cte("new_audit")]
    if with_outbox:
        writes.append(_insert_from(outbox, OUTBOX, OUTBOX_KEYS, new_comment).cte("new_outbox"))
    if article_change == "insert":
        writes.append(
            pg_insert(articles)
            .from_select(
                list(ARTICLE_KEYS),
                select(*(_param(ARTICLE, articles.c[key]) for key in ARTICLE_KEYS)).select_from(
                    new_comment
                ),
            )
            .on_conflict_do_nothing(index_elements=[articles.c.id])
            .cte("new_article")
        )
    elif article_change == "update":
        # NULL texts keep the stored ones, as ``touch_article`` does.
        texts = {
            key: func.coalesce(_param(ARTICLE, articles.c[key]), articles.c[key])
            for key in ("title", "lead", "target")
        }
        writes.append(
            update(articles)
            .where(articles.c.id == _param(ARTICLE, articles.c.id))
            .where(exists(select(new_comment.c.id)))
            .values(updated_at=_param(ARTICLE, articles.c.updated_at), **texts)
            .cte("changed_article")
        )
    return select(new_comment.c.id).add_cte(*writes)


def _insert_from(table: Any, prefix: str, keys: Sequence[str], source: Any) -> Any:
    """INSERT INTO table (keys) SELECT <parameters> FROM source: one row per source row."""
    row = select(*(_param(prefix, table.c[key]) for key in keys)).select_from(source)
    return insert(table).from_select(list(keys), row)


def _param(prefix: str, column: Column[Any]) -> Any:
    """A bound parameter typed as ``column`` (JSON and UTC time types bind their way)."""
    return bindparam(prefix + column.name, type_=column.type)
