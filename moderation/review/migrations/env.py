"""Alembic environment: always run programmatically by ``moderation.review.migrate``.

The caller hands over an open connection (``config.attributes["connection"]``) that already
holds the migration lock, so this file only configures the context and runs the revisions.
"""

from __future__ import annotations

from alembic import context

from moderation.review.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("run migrations with moderation.review.migrate(url), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite can roll DDL back too: one transaction per upgrade on both databases.
    transactional_ddl=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
