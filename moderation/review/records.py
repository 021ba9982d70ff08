"""Plain dataclasses going into and coming out of the review store.

The store returns these rather than database rows so callers (the web layer, the CLI,
tests) never see SQLAlchemy types and can turn any of them into JSON with ``to_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from moderation.errors import ModerationError

ActorKind = Literal["system", "api_key", "moderator"]
ModeratorAction = Literal["approve", "reject", "escalate"]
Role = Literal["moderator", "admin"]

API_KEY_SCOPES = ("score", "submit", "read")
ROLES = ("moderator", "admin")
DEFAULT_REASON_CODES = (
    "spam",
    "insult",
    "threat",
    "hate",
    "obscene",
    "off_topic",
    "personal_data",
    "other",
)


class InvalidRequestError(ModerationError, ValueError):
    """An argument the store cannot act on: an unknown action, scope or role (422)."""

    code = "invalid_request"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class Principal:
    """Who is acting: an API key, a moderator (with ``role``) or the system itself."""

    kind: ActorKind
    name: str
    scopes: tuple[str, ...] = ()
    role: Role | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.kind == "moderator" and self.role == "admin"


SYSTEM = Principal("system", "system")


@dataclass(frozen=True)
class ArticleIn:
    """The article a comment belongs to; title/lead/target give stance its context."""

    id: str
    title: str | None = None
    lead: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Submission:
    """One comment from the publishing system; ``id`` is the client's own comment id."""

    id: str
    text: str
    author_id: str | None = None
    article: ArticleIn | None = None
    created_at: datetime | None = None

    @property
    def article_id(self) -> str | None:
        return None if self.article is None else self.article.id


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit row: who did what to which comment, from which status to which."""

    id: int
    at: datetime
    actor_kind: str
    actor: str
    comment_id: str | None
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    note: str | None
    model_version: str | None
    details: Mapping[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {key: _iso(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class CommentRecord:
    """A stored comment with its scores, the policy's decision and the moderation state."""

    id: str
    article_id: str | None
    author_id: str | None
    text: str
    language: str
    supported: bool
    scores: Mapping[str, float]
    flagged: tuple[str, ...]
    result: Mapping[str, Any]  # the rest of the scorer's result: spans, stance, window, ...
    decision: Mapping[str, Any]  # the policy's Decision.to_dict()
    model_version: str
    status: str
    created_at: datetime | None
    submitted_at: datetime
    submitted_by: str
    updated_at: datetime
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    note: str | None = None
    history: tuple[AuditEntry, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            key: _iso(value)
            for key, value in asdict(self).items()
            if key not in ("history", "flagged")
        }
        out["flagged"] = list(self.flagged)
        if self.history is not None:
            out["history"] = [entry.to_dict() for entry in self.history]
        return out


@dataclass(frozen=True)
class QueueQuery:
    """Which queued comments to list or claim, and in which order.

    ``order="score"`` is highest first on ``attribute`` (toxicity unless given);
    ``"oldest"`` is first submitted first. ``older_than`` keeps comments submitted before it.
    """

    status: tuple[str, ...] = ("held", "review")
    article_id: str | None = None
    language: str | None = None
    attribute: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    older_than: datetime | None = None
    order: Literal["score", "oldest"] = "score"
    limit: int = 50
    offset: int = 0
    include_claimed: bool = True  # list_queue only; claim always skips live leases


@dataclass(frozen=True)
class AuthorHistory:
    """An author's past comments (newest first) and counts by status, to judge repeat offenders."""

    author_id: str
    counts: Mapping[str, int]
    recent_rejections: int  # within the window asked for (default 30 days)
    comments: tuple[CommentRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "author_id": self.author_id,
            "counts": dict(self.counts),
            "recent_rejections": self.recent_rejections,
            "comments": [comment.to_dict() for comment in self.comments],
        }


@dataclass(frozen=True)
class QueueStats:
    """Queue depth and the age of the oldest item per queued status (for /metrics)."""

    depth: Mapping[str, int]
    oldest_age_seconds: Mapping[str, float]
    claimed: int


@dataclass(frozen=True)
class OutboxItem:
    """A final decision waiting to be delivered to the webhook."""

    id: int
    comment_id: str
    event: str
    payload: Mapping[str, Any]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as listed: never the secret, which is shown once at creation."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None  # None: never used (to within a few minutes)

    def to_dict(self) -> dict[str, Any]:
        return {key: _iso(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ModeratorInfo:
    """A moderator account as listed: never the password hash."""

    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {key: _iso(value) for key, value in asdict(self).items()}
