"""Articles (stance context, per-article policy overrides) and the site-wide policy.

A mixin of ``Store``: the same database, clock and audit log, kept in its own module so
each file stays about one thing. Policies are stored as the JSON the caller validated
with ``moderation.policy.merge_override``; the store does not interpret them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, Insert, bindparam, literal, select, update

from moderation.errors import NotFoundError
from moderation.review import rows
from moderation.review.database import Database
from moderation.review.history import REJECTIONS
from moderation.review.one_statement import ArticleChange
from moderation.review.records import ArticleIn, Principal
from moderation.review.schema import articles, comments, settings

SITE_POLICY: Final = "site_policy"

#: Built once: every submission with an article reads its stored texts first.
_ARTICLE_TEXTS: Final = select(articles.c.title, articles.c.lead, articles.c.target).where(
    articles.c.id == bindparam("article_id")
)

#: The article's stored texts and the author's recent rejections in one round trip: most
#: submissions need both, and under load every round trip waits for a core twice (ours and
#: the database's). One row always (the article's columns are NULL when it is unknown).
_ARTICLE_AND_REJECTIONS: Final = select(
    REJECTIONS.scalar_subquery().label("rejections"),
    articles.c.id,
    articles.c.title,
    articles.c.lead,
    articles.c.target,
).select_from(
    select(literal(1).label("one"))
    .subquery()
    .outerjoin(articles, articles.c.id == bindparam("article_id"))
)

#: ``touch_article``'s ``stored`` when the caller has not read the article's row.
UNREAD: Final = object()


class StoredArticle(NamedTuple):
    """An article's stored texts, as ``touch_article`` takes them (``stored``)."""

    title: str | None
    lead: str | None
    target: str | None


#: Runs a statement with its parameters and gives its first row (indexable) or None: on the
#: hot path of PostgreSQL the driver's cursor (``driver.fetchone``), else ``conn.execute``.
Fetch = Callable[[Any, Mapping[str, Any]], Any]


def fetch_with(conn: Connection) -> Fetch:
    """``Fetch`` through SQLAlchemy on ``conn``."""
    return lambda statement, params: conn.execute(statement, params).first()


def article_and_rejections(
    fetch: Fetch, article_id: str, author_id: str, since: datetime
) -> tuple[object, int]:
    """(the article's stored texts or None, the author's rejections since ``since``).

    The texts are what ``touch_article`` takes as ``stored``.
    """
    row = fetch(
        _ARTICLE_AND_REJECTIONS,
        {"article_id": article_id, "author_id": author_id, "since": since},
    )
    stored = StoredArticle(row[2], row[3], row[4]) if row[1] is not None else None
    return stored, int(row[0])


def stored_article(fetch: Fetch, article_id: str) -> StoredArticle | None:
    """The article's stored texts, or None for an article never seen."""
    row = fetch(_ARTICLE_TEXTS, {"article_id": article_id})
    return None if row is None else StoredArticle(row[0], row[1], row[2])


def read_article(conn: Connection, article_id: str) -> Any:
    """The article's stored texts (a row), or None for an article never seen."""
    return conn.execute(_ARTICLE_TEXTS, {"article_id": article_id}).first()


def article_texts(article: ArticleIn) -> dict[str, str | None]:
    return {"title": article.title, "lead": article.lead, "target": article.target}


def article_change(article: ArticleIn, stored: Any) -> ArticleChange:
    """What storing a comment on ``article`` must do to its row, ``stored`` (None: unknown).

    Texts left as None keep their stored value, so only a given text that differs updates.
    """
    if stored is None:
        return "insert"
    changed = any(
        value is not None and getattr(stored, key) != value
        for key, value in article_texts(article).items()
    )
    return "update" if changed else None


class ArticleStore:
    """Article rows and policy settings; every change is audited in its own transaction."""

    db: Database
    now: Callable[[], datetime]
    _insert_audit: Insert
    _insert_article: Insert  # INSERT ... ON CONFLICT DO NOTHING, built in Store.__init__

    def touch_article(
        self, conn: Connection, article: ArticleIn, now: datetime, stored: object = UNREAD
    ) -> None:
        """Insert the article, or update its texts when they changed, inside ``conn``.

        A read first, so the common case (a known article, unchanged) writes nothing and
        takes no row lock: every comment on a busy article passes through here. ``stored``
        is that read when the caller already made it in this transaction
        (``article_and_rejections``).
        """
        current = read_article(conn, article.id) if stored is UNREAD else stored
        change = article_change(article, current)
        texts = article_texts(article)
        if change == "insert":
            conn.execute(self._insert_article, {"id": article.id, "updated_at": now, **texts})
        elif change == "update":
            given = {key: value for key, value in texts.items() if value is not None}
            conn.execute(
                update(articles).where(articles.c.id == article.id).values(updated_at=now, **given)
            )

    def upsert_article(self, article: ArticleIn) -> None:
        """Record an article's title/lead/target (texts left as None keep their old value)."""
        with self.db.write() as conn:
            self.touch_article(conn, article, self.now())

    def get_article(self, article_id: str) -> ArticleIn:
        """An article seen before (upserted or commented on); NotFoundError otherwise."""
        with self.db.read() as conn:
            row = conn.execute(
                select(articles.c.id, articles.c.title, articles.c.lead, articles.c.target).where(
                    articles.c.id == article_id
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no article with id {article_id!r}")
        return ArticleIn(row.id, row.title, row.lead, row.target)

    def article_results(self, article_id: str, limit: int = 100_000) -> list[dict[str, Any]]:
        """The stored results of an article's comments, oldest first, for its summary.

        Each is ``{"created_at", "stance", "sentiment", "flagged"}`` as
        ``moderation.summary.summarise_article`` reads them; ``created_at`` is the time the
        publishing system gave, else the time it was submitted. NotFoundError for an article
        never seen.
        """
        self.get_article(article_id)
        when = comments.c.created_at
        with self.db.read() as conn:
            found = conn.execute(
                select(when, comments.c.submitted_at, comments.c.flagged, comments.c.result)
                .where(comments.c.article_id == article_id)
                .order_by(comments.c.submitted_at)
                .limit(limit)
            ).all()
        return [
            {
                "created_at": row.created_at or row.submitted_at,
                "stance": (row.result or {}).get("stance"),
                "sentiment": (row.result or {}).get("sentiment"),
                "flagged": row.flagged or [],
            }
            for row in found
        ]

    def set_article_policy(
        self, article_id: str, override: Mapping[str, Any] | None, actor: Principal
    ) -> None:
        """Set (or with None clear) an article's policy override; audited."""
        now = self.now()
        value = None if override is None else dict(override)
        with self.db.write() as conn:
            self.touch_article(conn, ArticleIn(article_id), now)
            conn.execute(
                update(articles)
                .where(articles.c.id == article_id)
                .values(policy=value, updated_at=now)
            )
            conn.execute(
                self._insert_audit,
                rows.audit_values(
                    now,
                    actor,
                    "set_article_policy",
                    details={"article_id": article_id, "policy": value},
                ),
            )

    def get_policy_override(self, article_id: str) -> Mapping[str, Any] | None:
        """The article's policy override, or None (also for an unknown article)."""
        with self.db.read() as conn:
            value = conn.execute(
                select(articles.c.policy).where(articles.c.id == article_id)
            ).scalar_one_or_none()
        return None if value is None else dict(value)

    def site_policy(self) -> Mapping[str, Any] | None:
        """The site policy set by an admin, or None (the bundle's defaults apply)."""
        with self.db.read() as conn:
            value = conn.execute(
                select(settings.c.value).where(settings.c.key == SITE_POLICY)
            ).scalar_one_or_none()
        return None if value is None else dict(value)

    def set_site_policy(self, policy: Mapping[str, Any] | None, actor: Principal) -> None:
        """Replace (or with None clear) the site policy; audited."""
        now = self.now()
        value = None if policy is None else dict(policy)
        row = {"key": SITE_POLICY, "value": value, "updated_at": now, "updated_by": actor.name}
        with self.db.write() as conn:
            conn.execute(
                self.db.insert(settings)
                .values(row)
                .on_conflict_do_update(
                    index_elements=[settings.c.key],
                    set_={"value": value, "updated_at": now, "updated_by": actor.name},
                )
            )
            conn.execute(
                self._insert_audit,
                rows.audit_values(now, actor, "set_site_policy", details={"policy": value}),
            )
