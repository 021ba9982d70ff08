"""The review store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Queues are views over ``comments`` (Coral's model): a comment's ``status`` says which queue
it is in, and a claim is a lease (``claimed_by``, ``lease_expires_at``) rather than a status,
so an abandoned claim needs no clean-up job: it simply stops counting once it expires.
Every attribute score has its own column so that queue filters and "highest score first"
use indexes instead of reading JSON.

The migrations under ``migrations/versions`` create exactly these tables; a test compares
the migrated database with this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

from moderation.attributes import ATTRIBUTES

#: Statuses, in life-cycle order. The first four are queues; ``published`` is never queued.
STATUSES = ("review", "held", "escalated", "published", "approved", "rejected")
QUEUED = ("review", "held", "escalated")
FINAL = ("published", "approved", "rejected")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database.

    SQLite has no time zones and compares timestamps as text, so every value is stored
    as naive UTC in one format on both databases; lease checks then compare like with like.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


#: JSON on SQLite, JSONB on PostgreSQL.
Json: Any = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

articles = Table(
    "articles",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("title", Text),
    Column("lead", Text),
    Column("target", Text),
    Column("policy", Json),  # per-article policy override (moderation.policy.merge_override)
    Column("updated_at", UTCDateTime, nullable=False),
)

comments = Table(
    "comments",
    metadata,
    Column("id", String(200), primary_key=True),  # the publishing system's comment id
    Column("article_id", String(200)),
    Column("author_id", String(200)),
    Column("text", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("supported", Boolean, nullable=False),
    *(Column(attribute, Float, nullable=False) for attribute in ATTRIBUTES),
    Column("flagged", Json, nullable=False),
    Column("result", Json, nullable=False),  # the rest of the scorer's result: spans, stance, ...
    Column("decision", Json, nullable=False),  # the policy's Decision.to_dict()
    Column("model_version", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime),  # as given by the publishing system
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(200)),
    Column("lease_expires_at", UTCDateTime),
    Column("decided_by", String(200)),
    Column("decided_at", UTCDateTime),
    Column("reason", String(64)),
    Column("note", Text),
    Index(None, "status", "toxicity"),
    Index(None, "status", "submitted_at"),
    Index(None, "article_id"),
    Index(None, "author_id", "submitted_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),  # system | api_key | moderator
    Column("actor", String(200), nullable=False),
    Column("comment_id", String(200)),
    Column("action", String(32), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("reason", String(64)),
    Column("note", Text),
    Column("model_version", String(100)),
    Column("details", Json),
    Index(None, "comment_id", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("comment_id", String(200), nullable=False),
    Column("event", String(32), nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    Index(None, "delivered_at", "next_attempt_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),  # the first characters, to recognise a key
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 hex of the secret
    Column("scopes", String(100), nullable=False),  # comma-separated
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),  # to within LAST_USED_RESOLUTION (accounts.py)
)

moderators = Table(
    "moderators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # moderator | admin
    Column("password_hash", String(300), nullable=False),  # scrypt$n$r$p$salt$hash
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("moderator_id", Integer, ForeignKey("moderators.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(100), primary_key=True),  # e.g. "site_policy"
    Column("value", Json),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)
