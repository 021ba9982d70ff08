"""The JSON the API accepts and answers, as pydantic models (and so the OpenAPI document).

Request models forbid unknown fields and bound every string and list, so a typo is a 422
naming the field and no request can make the service hold more than ``max_body_bytes``.
Identifiers (comments, articles, authors) are 1-200 characters without control characters
or ``/`` (they appear in URL paths); no string may hold NUL or a lone surrogate, which
PostgreSQL cannot store. Comment text is the exception: its checks (empty, too long, not
Unicode) give the text-specific codes of docs/service.md, so they happen in the route.

Response models describe the answers for the document; routes return ready JSON rather than
these models, to keep per-request work small (tests check answers against them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from moderation.attributes import ATTRIBUTES

ID_PATTERN = r"^[^\x00-\x1f\x7f/]+$"


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("must be a date-time between years 1 and 9999 in UTC") from None


Id = Annotated[
    str, Field(min_length=1, max_length=200, pattern=ID_PATTERN), AfterValidator(_storable)
]
Title = Annotated[str, Field(max_length=1000), AfterValidator(_storable)]
Lead = Annotated[str, Field(max_length=5000), AfterValidator(_storable)]
Note = Annotated[str, Field(max_length=2000), AfterValidator(_storable)]
Code = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_storable)]
Timestamp = Annotated[datetime, Field(strict=False), AfterValidator(_utc)]
Attribute = Literal["toxicity", "severe_toxicity", "insult", "threat", "obscene", "identity_attack"]
assert set(Attribute.__args__) == set(ATTRIBUTES)  # type: ignore[attr-defined]
QueueStatus = Literal["review", "held", "escalated"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Model(BaseModel):
    """Request bodies: unknown fields and wrong JSON types are errors, never coerced.

    Strict, so ``"premoderate": "yes"`` or ``"count": "5"`` is a 422 rather than a guess;
    only ``created_at`` parses from its ISO 8601 string.
    """

    model_config = ConfigDict(extra="forbid", strict=True)


# -- requests ---------------------------------------------------------------------------


class ArticleContext(Model):
    """The article a comment is under: stance is judged against ``target`` (else the title)."""

    id: Id | None = None
    title: Title | None = None
    lead: Lead | None = None
    target: Title | None = None


class ArticleIn(Model):
    """An article as the publishing system knows it (``PUT /v1/articles/{id}``)."""

    title: Title | None = None
    lead: Lead | None = None
    target: Title | None = None


class SubmittedArticle(ArticleContext):
    id: Id


class Author(Model):
    id: Id


class ScoreItem(Model):
    id: Id | None = None
    text: str = Field(description="The comment; 1 to max_text_chars characters")
    article: ArticleContext | None = None


class ScoreRequest(Model):
    comments: list[ScoreItem] = Field(min_length=1, description="At most max_batch items")


class CommentIn(Model):
    id: Id = Field(description="The publishing system's own comment id (idempotency key)")
    text: str = Field(description="The comment; 1 to max_text_chars characters")
    article: SubmittedArticle | None = None
    author: Author | None = None
    created_at: Timestamp | None = Field(
        default=None, description="When the reader posted it (ISO 8601; UTC if no offset)"
    )


class SubmitRequest(Model):
    comments: list[CommentIn] = Field(min_length=1, description="At most max_batch items")


class ClaimRequest(Model):
    """Claim up to ``count`` queued comments matching the filters, with a lease."""

    count: int = Field(default=1, ge=1, le=1000, description="At most max_batch")
    status: QueueStatus | None = None
    article_id: Id | None = None
    language: Annotated[str, Field(min_length=2, max_length=16, pattern=r"^[a-z]+$")] | None = None
    attribute: Attribute | None = None
    min_score: Probability | None = None
    max_score: Probability | None = None
    older_than_seconds: int | None = Field(default=None, ge=0, le=10 * 365 * 86400)
    order: Literal["score", "oldest"] = "score"


class DecisionIn(Model):
    action: Literal["approve", "reject", "escalate"]
    reason: Code | None = Field(default=None, description="A reason code; required to reject")
    note: Note | None = None


class ReopenIn(Model):
    status: Literal["review", "held"] = Field(
        default="review", description="review: visible while queued; held: hidden until decided"
    )
    note: Note | None = Field(default=None, description="Why, for the moderators")


class BulkDecisionIn(DecisionIn):
    ids: list[Id] = Field(min_length=1, max_length=1000, description="At most max_batch ids")


class LoginIn(Model):
    username: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
    password: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_storable)]


Thresholds = dict[Annotated[str, Field(max_length=64)], Probability | None]


class PolicyOverride(Model):
    """Changes to a policy: thresholds merge key by key (null removes one), the rest replace."""

    review: Thresholds | None = None
    hold: Thresholds | None = None
    unsupported_language: Literal["publish", "review", "hold"] | None = None
    premoderate: bool | None = None
    repeat_offender_rejections: int | None = Field(default=None, ge=1, le=10_000)
    repeat_offender_days: int | None = Field(default=None, ge=1, le=3650)
    repeat_offender_action: Literal["publish", "review", "hold"] | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


# -- responses (documentation; routes build the JSON directly) ---------------------------


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(Open):
    code: str
    message: str
    details: list[Any] = []


class ErrorOut(BaseModel):
    error: ErrorDetail


class DecisionOut(Open):
    action: Literal["publish", "review", "hold"]
    rule: str
    reasons: list[str]


class ScoreOut(Open):
    """A scored comment (the scorer's result) with the decision the site policy would take."""

    id: str | None = None
    language: str
    supported: bool
    scores: dict[str, float]
    flagged: list[str]
    spans: dict[str, list[dict[str, Any]]]
    model_version: str
    decision: DecisionOut


class ItemError(Open):
    id: str | None = None
    error: ErrorDetail


class ScoreResponse(BaseModel):
    model_version: str
    results: list[ScoreOut | ItemError]


class SubmitOut(Open):
    id: str
    status: Literal["published", "queued", "held"]
    created: bool
    decision: DecisionOut
    language: str
    supported: bool
    scores: dict[str, float]
    flagged: list[str]
    model_version: str


class SubmitResponse(BaseModel):
    results: list[SubmitOut]


class CommentOut(Open):
    id: str
    status: str
    text: str
    scores: dict[str, float]
    decision: dict[str, Any]
    model_version: str


class CommentList(BaseModel):
    items: list[CommentOut]


class BulkItem(Open):
    id: str
    ok: bool
    comment: CommentOut | None = None
    error: ErrorDetail | None = None


class BulkResponse(BaseModel):
    results: list[BulkItem]


class AuditList(BaseModel):
    items: list[dict[str, Any]]
    next_after_id: int | None


class PolicyOut(BaseModel):
    override: dict[str, Any] | None
    effective: dict[str, Any]
    model_version: str


class TokenOut(BaseModel):
    token: str
    username: str
    role: str
    expires_at: str | None = None


class PrincipalOut(BaseModel):
    kind: str
    name: str
    scopes: list[str]
    role: str | None


class ReloadOut(BaseModel):
    model_version: str
    previous_version: str | None
    replacing_workers: int = Field(
        0,
        description="With several worker processes (serve.py --workers N): N, the workers "
        "being replaced one by one by ones that load this bundle (poll /readyz or a result's "
        "model_version); 0 when this process was the only one and has switched already.",
    )
