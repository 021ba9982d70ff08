"""Small builders shared by the review-store tests: a controllable clock and scored comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moderation.attributes import ATTRIBUTES
from moderation.policy import Decision
from moderation.review import ArticleIn, CommentRecord, Principal, QueueQuery, Store, Submission

API = Principal("api_key", "cms", ("score", "submit", "read"))
OLA = Principal("moderator", "ola", ("read",), "moderator")
JAN = Principal("moderator", "jan", ("read",), "moderator")
ADMIN = Principal("moderator", "szefowa", ("read",), "admin")
RULES = {
    "publish": "below_thresholds",
    "review": "review:toxicity>=0.6",
    "hold": "hold:threat>=0.8",
}


class Clock:
    """Test time: starts at a fixed instant, ticks 1 ms per reading, jumps on ``advance``."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def scored(language: str = "pl", **scores: float) -> dict[str, Any]:
    """A scorer result (``ScoreResult.to_dict()`` shape) with the given scores, others 0."""
    values = {attribute: float(scores.get(attribute, 0.0)) for attribute in ATTRIBUTES}
    return {
        "language": language,
        "supported": True,
        "scores": values,
        "flagged": [a for a, v in values.items() if v >= 0.5],
        "spans": {"toxicity": [{"begin": 0, "end": 3, "text": "abc", "score": 1.0}]},
        "model_version": "test-1",
    }


def put(
    store: Store,
    comment_id: str,
    action: str = "review",
    *,
    text: str | None = None,
    author: str | None = "author-1",
    article: str | None = "art-1",
    language: str = "pl",
    **scores: float,
) -> CommentRecord:
    """Submit one comment with the given policy action; returns the stored record."""
    submission = Submission(
        comment_id,
        text or f"komentarz {comment_id}",
        author,
        None if article is None else ArticleIn(article, "Tytuł"),
    )
    decision = Decision(action, RULES[action], (RULES[action],))  # type: ignore[arg-type]
    record, created = store.submit(submission, scored(language, **scores), decision, API)
    assert created
    return record


def reject_as_insult(store: Store, comment_id: str) -> CommentRecord:
    """OLA claims the oldest queued comments and rejects ``comment_id`` as an insult: an
    author's past rejection, which the repeat-offender rule counts."""
    store.claim("ola", 5, 300, QueueQuery(order="oldest"))
    return store.decide(comment_id, OLA, "reject", "insult", None)
