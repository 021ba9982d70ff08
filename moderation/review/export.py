"""Moderators' decisions as training data, in the own corpus's JSON-lines format.

Each line is ``{"id", "text", "lang", "labels": {attribute: 0|1, ...}, "source": "moderator",
"tags": [...]}``, readable by ``moderation.training.read_own_corpus`` once reviewed.

* An approval is a comment a moderator found acceptable: every label 0. These are the
  valuable ones — flagged comments the model got wrong.
* A rejection for a harm reason sets ``toxicity`` and that reason's attribute to 1
  (``insult``, ``threat``, ``hate`` -> ``identity_attack``, ``obscene``). A moderator names
  only the main reason, so the other attributes are 0 by assumption; the tag
  ``reason:<code>`` says which labels came from a person.
* Rejections for reasons that say nothing about toxicity (spam, off-topic, personal data,
  other, any site-specific code) are left out: "removed" is not "toxic".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from sqlalchemy import select

from moderation.attributes import ATTRIBUTES
from moderation.review.database import Database
from moderation.review.schema import comments

#: Rejection reason code -> the attribute it labels (besides toxicity).
REASON_ATTRIBUTES: Final = {
    "insult": "insult",
    "threat": "threat",
    "hate": "identity_attack",
    "obscene": "obscene",
}
_BATCH: Final = 500


def labels_for(status: str, reason: str | None) -> dict[str, int] | None:
    """The labels a final moderator decision implies, or None when it implies none."""
    labels = dict.fromkeys(ATTRIBUTES, 0)
    if status == "approved":
        return labels
    attribute = REASON_ATTRIBUTES.get(reason or "")
    if status != "rejected" or attribute is None:
        return None
    labels["toxicity"] = 1
    labels[attribute] = 1
    return labels


def decisions(db: Database) -> Iterator[dict[str, Any]]:
    """Every moderator-decided comment with usable labels, oldest decision first (streamed)."""
    stmt = (
        select(
            comments.c.id,
            comments.c.text,
            comments.c.language,
            comments.c.status,
            comments.c.reason,
        )
        .where(comments.c.status.in_(("approved", "rejected")), comments.c.decided_by.is_not(None))
        .order_by(comments.c.decided_at, comments.c.id)
    )
    with db.read(transaction=True) as conn:  # a server-side cursor lives in a transaction
        for row in conn.execution_options(yield_per=_BATCH).execute(stmt):
            labels = labels_for(row.status, row.reason)
            if labels is None:
                continue
            tags = ["moderator", row.status] + ([f"reason:{row.reason}"] if row.reason else [])
            yield {
                "id": f"moderator-{row.id}",
                "text": row.text,
                "lang": row.language,
                "labels": labels,
                "source": "moderator",
                "tags": tags,
            }
