"""The durable review queue: comments, leases, decisions, audit log, outbox and accounts.

Knows nothing of HTTP; ``moderation.web`` calls it. See docs/service.md for the contract.
"""

from moderation.review.accounts import Accounts
from moderation.review.records import (
    API_KEY_SCOPES,
    DEFAULT_REASON_CODES,
    ROLES,
    SYSTEM,
    ApiKeyInfo,
    ArticleIn,
    AuditEntry,
    AuthorHistory,
    CommentRecord,
    InvalidRequestError,
    ModeratorInfo,
    OutboxItem,
    Principal,
    QueueQuery,
    QueueStats,
    Submission,
)
from moderation.review.store import Store

__all__ = [
    "API_KEY_SCOPES",
    "DEFAULT_REASON_CODES",
    "ROLES",
    "SYSTEM",
    "Accounts",
    "ApiKeyInfo",
    "ArticleIn",
    "AuditEntry",
    "AuthorHistory",
    "CommentRecord",
    "InvalidRequestError",
    "ModeratorInfo",
    "OutboxItem",
    "Principal",
    "QueueQuery",
    "QueueStats",
    "Store",
    "Submission",
]
