"""Database rows to records, and the values written for audit and outbox rows.

Kept apart from ``store.py`` so the store reads as a list of transactions, each showing
exactly which statements it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from moderation.attributes import ATTRIBUTES
from moderation.review.records import AuditEntry, CommentRecord, OutboxItem, Principal

#: Keys of a scorer result kept in their own columns; the rest goes to ``comments.result``.
_COLUMN_KEYS = frozenset({"id", "language", "supported", "scores", "flagged", "model_version"})


def result_extra(result: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a scorer result without its own column: spans, stance, sentiment, window."""
    return {key: value for key, value in result.items() if key not in _COLUMN_KEYS}


def comment_record(
    row: Row[Any] | Mapping[str, Any], history: Sequence[AuditEntry] | None = None
) -> CommentRecord:
    data: Mapping[str, Any] = row._mapping if isinstance(row, Row) else row  # type: ignore[assignment]
    return CommentRecord(
        id=data["id"],
        article_id=data["article_id"],
        author_id=data["author_id"],
        text=data["text"],
        language=data["language"],
        supported=bool(data["supported"]),
        scores={attribute: data[attribute] for attribute in ATTRIBUTES},
        flagged=tuple(data["flagged"]),
        result=data["result"],
        decision=data["decision"],
        model_version=data["model_version"],
        status=data["status"],
        created_at=data["created_at"],
        submitted_at=data["submitted_at"],
        submitted_by=data["submitted_by"],
        updated_at=data["updated_at"],
        claimed_by=data.get("claimed_by"),
        lease_expires_at=data.get("lease_expires_at"),
        decided_by=data.get("decided_by"),
        decided_at=data.get("decided_at"),
        reason=data.get("reason"),
        note=data.get("note"),
        history=None if history is None else tuple(history),
    )


def audit_entry(row: Row[Any]) -> AuditEntry:
    data = row._mapping
    return AuditEntry(
        id=data["id"],
        at=data["at"],
        actor_kind=data["actor_kind"],
        actor=data["actor"],
        comment_id=data["comment_id"],
        action=data["action"],
        from_status=data["from_status"],
        to_status=data["to_status"],
        reason=data["reason"],
        note=data["note"],
        model_version=data["model_version"],
        details=data["details"],
    )


def outbox_item(row: Row[Any]) -> OutboxItem:
    data = row._mapping
    return OutboxItem(
        id=data["id"],
        comment_id=data["comment_id"],
        event=data["event"],
        payload=data["payload"],
        attempts=data["attempts"],
        created_at=data["created_at"],
        next_attempt_at=data["next_attempt_at"],
    )


def audit_values(
    at: datetime,
    actor: Principal,
    action: str,
    *,
    comment_id: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    model_version: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``audit_log`` row's values."""
    return {
        "at": at,
        "actor_kind": actor.kind,
        "actor": actor.name,
        "comment_id": comment_id,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "note": note,
        "model_version": model_version,
        "details": None if details is None else dict(details),
    }


def outbox_values(comment: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The outbox row announcing a final decision; the payload is what the webhook receives.

    The moderator's note stays out: it is written for colleagues, not for the publisher.
    """
    status = comment["status"]
    payload = {
        "event": f"comment.{status}",
        "comment_id": comment["id"],
        "article_id": comment["article_id"],
        "author_id": comment["author_id"],
        "status": status,
        "decided_by": comment.get("decided_by"),  # None: the system decided
        "reason": comment.get("reason"),
        "decision": comment["decision"],
        "model_version": comment["model_version"],
        "at": at.isoformat(),
    }
    return {
        "comment_id": comment["id"],
        "event": payload["event"],
        "payload": payload,
        "created_at": at,
        "attempts": 0,
        "next_attempt_at": at,
    }
