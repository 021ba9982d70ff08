"""Comments in: score a batch, decide each with its policy, store (or only preview) them.

Why here and not in the routes: this is the path every submission takes, with the rules the
contract cares most about (idempotency, nothing half-written, one model per request), and it
is easier to read and test as plain functions over plain data.

* ``preview`` (``POST /v1/score``): bad items get an error in their place, the rest are
  scored; nothing is stored. Batch semantics of the scorer.
* ``submit`` (``POST /v1/comments``): all or nothing. Every item is checked and scored
  before anything is written; one bad item answers 422 naming each bad item, one id that
  is already stored with another text answers 409, and in both cases nothing is stored.
  The batch is then decided and written in one transaction (``Store.submit_pending``: the
  repeat-offender rule's rejection count is read in it), so a crash or a conflict found
  there leaves no part of it behind. A retry of a stored comment returns the
  first result, unchanged, with ``created: false``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from moderation.errors import ConflictError, TextTooLongError
from moderation.policy import Decision, PolicyConfig, decide
from moderation.review.records import ArticleIn, CommentRecord, Principal, Submission
from moderation.review.submissions import Pending
from moderation.scoring import Outcome, ScoreError, ScoreResult
from moderation.web.errors import BatchTooLargeError, ItemsRejectedError
from moderation.web.models import CommentIn, ScoreItem
from moderation.web.reload import LoadedModel
from moderation.web.service import Service

#: Status answered for a submission, from the policy's action (contract of issue 4).
SUBMITTED_STATUS: Final[Mapping[str, str]] = {
    "publish": "published",
    "review": "queued",
    "hold": "held",
}


def check_batch(service: Service, count: int) -> None:
    limit = int(service.settings["max_batch"])
    if count > limit:
        raise BatchTooLargeError(f"{count} comments in one request; the limit is {limit}")


def text_problem(text: str, limit: int) -> ScoreError | None:
    """What the scorer would not catch or must not see: too long for the API, NUL."""
    if len(text) > limit:
        return ScoreError(
            TextTooLongError.code, f"text has {len(text)} characters; the limit is {limit}"
        )
    if "\x00" in text:
        return ScoreError("invalid_text", "text contains a NUL character")
    return None


def _article(item: ScoreItem | CommentIn) -> dict[str, Any] | None:
    if item.article is None:
        return None
    return item.article.model_dump(exclude_none=True)


def _score(
    loaded: LoadedModel, service: Service, items: Sequence[ScoreItem | CommentIn]
) -> list[Outcome]:
    """Outcomes for every item, in order, all from the one model this request holds."""
    limit = int(service.settings["max_text_chars"])
    outcomes: list[Outcome | None] = [text_problem(item.text, limit) for item in items]
    todo = [index for index, outcome in enumerate(outcomes) if outcome is None]
    if todo:
        scored = loaded.score(
            [items[i].text for i in todo],
            articles=[_article(items[i]) for i in todo],
        )
        for index, outcome in zip(todo, scored, strict=True):
            outcomes[index] = outcome
    done = [outcome for outcome in outcomes if outcome is not None]
    for item, outcome in zip(items, done, strict=True):
        outcome.id = item.id
        if isinstance(outcome, ScoreResult):
            service.metrics.observe_scores(outcome.scores)
    return done


def preview(service: Service, items: Sequence[ScoreItem]) -> dict[str, Any]:
    """``POST /v1/score``: results (or per-item errors) with the decision policy would take."""
    check_batch(service, len(items))
    loaded = service.model()
    outcomes = _score(loaded, service, items)
    results: list[dict[str, Any]] = []
    for item, outcome in zip(items, outcomes, strict=True):
        out = outcome.to_dict()
        if outcome.ok:
            article_id = item.article.id if item.article is not None else None
            policy = service.policies.effective(loaded.policy, article_id)
            out["decision"] = decide(out, policy).to_dict()
        results.append(out)
    return {"model_version": loaded.version, "results": results}


def _unique(items: Sequence[CommentIn]) -> list[CommentIn]:
    """Each id once; the same id twice with other text is a conflict (nothing stored)."""
    seen: dict[str, CommentIn] = {}
    for item in items:
        first = seen.get(item.id)
        if first is None:
            seen[item.id] = item
        elif first.text != item.text:
            raise ConflictError(f"comment id {item.id!r} appears twice with different text")
    return list(seen.values())


def submit(
    service: Service, items: Sequence[CommentIn], actor: Principal
) -> tuple[list[dict[str, Any]], bool]:
    """``POST /v1/comments``: (one result per item, in order; whether anything was new)."""
    check_batch(service, len(items))
    unique = _unique(items)
    loaded = service.model()
    outcomes = _score(loaded, service, unique)
    bad = [(i, outcome) for i, outcome in enumerate(outcomes) if isinstance(outcome, ScoreError)]
    if bad:
        raise ItemsRejectedError(
            bad[0][1].code,
            f"{len(bad)} of {len(unique)} comments cannot be accepted; nothing was stored",
            [
                {"index": index, "id": error.id, "code": error.code, "message": error.message}
                for index, error in bad
            ],
        )
    pending: list[Pending] = []
    for item, outcome in zip(unique, outcomes, strict=True):
        result = outcome.to_dict()
        result.pop("id", None)
        article = item.article
        policy = service.policies.effective(loaded.policy, article.id if article else None)
        submission = Submission(
            id=item.id,
            text=item.text,
            author_id=item.author.id if item.author is not None else None,
            article=(
                ArticleIn(article.id, article.title, article.lead, article.target)
                if article is not None
                else None
            ),
            created_at=item.created_at,
        )
        # The rule off: no rejection count (no query); the store counts it otherwise, in
        # the transaction that stores the decision made on it.
        days = policy.repeat_offender_days if policy.repeat_offender_action != "publish" else None
        pending.append(Pending(submission, result, _decider(result, policy), days))
    stored = service.store.submit_pending(pending, actor)
    by_id: dict[str, dict[str, Any]] = {}
    any_created = False
    final = False
    for record, created, decision in stored:
        by_id[record.id] = submitted(record, created)
        if created:
            any_created = True
            service.metrics.policy_decision(decision.action, decision.rule)
            final = final or decision.action == "publish"
    if final:
        service.decided()
    return [by_id[item.id] for item in items], any_created


def _decider(result: Mapping[str, Any], policy: PolicyConfig) -> Callable[[int], Decision]:
    """The policy's decision on ``result`` once the author's recent rejections are known."""

    def decide_with(rejections: int) -> Decision:
        return decide(result, policy, recent_rejections=rejections)

    return decide_with


def submitted(record: CommentRecord, created: bool) -> dict[str, Any]:
    """The answer for one submitted comment: the first result, whatever happened since."""
    decision = dict(record.decision)
    out: dict[str, Any] = {
        "id": record.id,
        "status": SUBMITTED_STATUS.get(str(decision.get("action")), record.status),
        "created": created,
        "current_status": record.status,
        "decision": decision,
        "language": record.language,
        "supported": record.supported,
        "scores": dict(record.scores),
        "flagged": list(record.flagged),
    }
    for key, value in record.result.items():
        out.setdefault(key, value)
    out["model_version"] = record.model_version
    return out
