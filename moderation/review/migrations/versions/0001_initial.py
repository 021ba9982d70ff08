"""Initial review store: comments, articles, audit log, outbox, accounts, settings.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25

Written out in full rather than built from ``schema.metadata``: a revision must keep
creating the same tables after the metadata has moved on.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

ATTRIBUTES = ("toxicity", "severe_toxicity", "insult", "threat", "obscene", "identity_attack")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=False), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("lead", sa.Text()),
        sa.Column("target", sa.Text()),
        sa.Column("policy", _json()),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("article_id", sa.String(200)),
        sa.Column("author_id", sa.String(200)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("supported", sa.Boolean(), nullable=False),
        *(sa.Column(attribute, sa.Float(), nullable=False) for attribute in ATTRIBUTES),
        sa.Column("flagged", _json(), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.Column("decision", _json(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at"),
        _time("submitted_at", nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        _time("updated_at", nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        _time("lease_expires_at"),
        sa.Column("decided_by", sa.String(200)),
        _time("decided_at"),
        sa.Column("reason", sa.String(64)),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
    )
    op.create_index("ix_comments_status_toxicity", "comments", ["status", "toxicity"])
    op.create_index("ix_comments_status_submitted_at", "comments", ["status", "submitted_at"])
    op.create_index("ix_comments_article_id", "comments", ["article_id"])
    op.create_index("ix_comments_author_id_submitted_at", "comments", ["author_id", "submitted_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _time("at", nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("comment_id", sa.String(200)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("reason", sa.String(64)),
        sa.Column("note", sa.Text()),
        sa.Column("model_version", sa.String(100)),
        sa.Column("details", _json()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_comment_id_id", "audit_log", ["comment_id", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("comment_id", sa.String(200), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=False),
        _time("delivered_at"),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_delivered_at_next_attempt_at", "outbox", ["delivered_at", "next_attempt_at"]
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        _time("created_at", nullable=False),
        _time("revoked_at"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    )
    op.create_table(
        "moderators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_moderators"),
        sa.UniqueConstraint("username", name="uq_moderators_username"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("moderator_id", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("revoked_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("digest", name="uq_tokens_digest"),
        sa.ForeignKeyConstraint(
            ["moderator_id"], ["moderators.id"], name="fk_tokens_moderator_id_moderators"
        ),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", _json()),
        _time("updated_at", nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )


def downgrade() -> None:
    for table in ("settings", "tokens", "moderators", "api_keys", "outbox", "audit_log"):
        op.drop_table(table)
    op.drop_table("comments")
    op.drop_table("articles")
