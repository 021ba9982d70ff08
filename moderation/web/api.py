"""The ``/v1`` routes, ``/healthz``, ``/readyz`` and ``/metrics``.

Routes are plain ``def`` functions: scoring is CPU-bound and the store is blocking, so
FastAPI runs each in its thread pool and the event loop only parses and routes. Each route
names its permission (``auth.PERMISSIONS``), validates with the models in ``models.py`` and
returns ready JSON; errors are raised as library errors and become HTTP in ``errors.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from moderation.errors import (
    ForbiddenError,
    InvalidReasonError,
    ModerationError,
    StorageUnavailableError,
)
from moderation.review.records import Principal, QueueQuery
from moderation.web import intake
from moderation.web.auth import authorize, requires
from moderation.web.errors import ModelUnavailableError, error_response
from moderation.web.metrics import CONTENT_TYPE
from moderation.web.models import (
    ID_PATTERN,
    ArticleIn,
    Attribute,
    AuditList,
    BulkDecisionIn,
    BulkResponse,
    ClaimRequest,
    CommentList,
    CommentOut,
    DecisionIn,
    ErrorOut,
    LoginIn,
    PolicyOut,
    PolicyOverride,
    PrincipalOut,
    QueueStatus,
    ReloadOut,
    ReopenIn,
    ScoreRequest,
    ScoreResponse,
    SubmitRequest,
    SubmitResponse,
    TokenOut,
)
from moderation.web.reload import replace_sibling_workers
from moderation.web.service import Service

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "malformed_json, invalid_utf8"),
        (401, "unauthorized: missing, unknown or revoked credential"),
        (403, "forbidden: the credential lacks the scope or role"),
        (413, "body_too_large, batch_too_large"),
        (422, "invalid_request and the other validation codes"),
        (503, "model_unavailable, database_unavailable"),
    )
}
_FOUND: Final = {**_ERRORS, 404: {"model": ErrorOut, "description": "not_found"}}
_CONFLICT: Final = {**_FOUND, 409: {"model": ErrorOut, "description": "conflict / lease"}}

CommentId = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]
ArticleId = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]

router = APIRouter(prefix="/v1")
health = APIRouter()

Scorer = Annotated[Principal, Depends(requires("score"))]
Submitter = Annotated[Principal, Depends(requires("submit"))]
Reader = Annotated[Principal, Depends(requires("read"))]
Moderator = Annotated[Principal, Depends(requires("moderate"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
Reopener = Annotated[Principal, Depends(requires("reopen"))]
ArticleWriter = Annotated[Principal, Depends(requires("articles"))]
Anyone = Annotated[Principal, Depends(requires("session"))]


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _json(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status)


# -- scoring and submission -------------------------------------------------------------


@router.post("/score", response_model=ScoreResponse, responses=_ERRORS, tags=["comments"])
def score(body: ScoreRequest, request: Request, _: Scorer) -> Response:
    """Score comments without storing them (previews, "think before you post").

    Each result carries the decision the site policy (with the article's override, when an
    article id is given) would take. An item that cannot be scored gets
    ``{"id", "error": {"code", "message"}}`` in its place; the others are still scored.
    """
    return _json(intake.preview(service_of(request), body.comments))


@router.post(
    "/comments",
    response_model=SubmitResponse,
    status_code=201,
    responses={
        **_ERRORS,
        200: {"model": SubmitResponse, "description": "all were retries"},
        409: {"model": ErrorOut, "description": "conflict: known id, other text"},
    },
    tags=["comments"],
)
def submit_comments(body: SubmitRequest, request: Request, principal: Submitter) -> Response:
    """Submit comments for moderation: score, decide, store and (when flagged) queue them.

    All or nothing: one comment that cannot be accepted fails the request (422, each bad
    item in ``details``) and nothing is stored. Idempotent on the comment ``id``: a retry
    returns the first result with ``created: false`` (200 when nothing was new, else 201);
    the same id with a different text is 409 ``conflict``.
    """
    results, created = intake.submit(service_of(request), body.comments, principal)
    return _json({"results": results}, 201 if created else 200)


@router.get(
    "/comments/{comment_id}", response_model=CommentOut, responses=_FOUND, tags=["comments"]
)
def get_comment(comment_id: CommentId, request: Request, _: Reader) -> Response:
    """A stored comment: current status, scores, decision and its audit history."""
    record = service_of(request).store.get_comment(comment_id, with_history=True)
    return _json(record.to_dict())


# -- the queue ---------------------------------------------------------------------------


@router.post(
    "/comments/{comment_id}/reopen", response_model=CommentOut, responses=_CONFLICT, tags=["queue"]
)
def reopen_comment(
    comment_id: CommentId, body: ReopenIn, request: Request, principal: Reopener
) -> Response:
    """Send a decided comment back to the queue (a reader's report, an admin's second look).

    By the publishing system (``submit`` scope) or an admin. ``review`` keeps it visible
    while queued, ``held`` hides it; the webhook announces the new status. 409 when it is
    still in the queue.
    """
    store = service_of(request).store
    record = store.reopen(comment_id, principal, body.status, body.note)
    service_of(request).decided()  # the webhook worker has an event to send
    return _json(record.to_dict())


def _escalated_check(status: str | None, principal: Principal) -> None:
    if status == "escalated" and principal.role != "admin":
        raise ForbiddenError("the escalated queue is for admins")


def _query(
    *,
    status: str | None,
    article_id: str | None,
    language: str | None,
    attribute: str | None,
    min_score: float | None,
    max_score: float | None,
    older_than_seconds: int | None,
    order: str,
    limit: int = 50,
    offset: int = 0,
) -> QueueQuery:
    older_than = (
        datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        if older_than_seconds is not None
        else None
    )
    return QueueQuery(
        status=(status,) if status else ("held", "review"),
        article_id=article_id,
        language=language,
        attribute=attribute,
        min_score=min_score,
        max_score=max_score,
        older_than=older_than,
        order="oldest" if order == "oldest" else "score",
        limit=limit,
        offset=offset,
    )


@router.get("/queue", response_model=CommentList, responses=_ERRORS, tags=["queue"])
def list_queue(
    request: Request,
    principal: Moderator,
    status: QueueStatus | None = None,
    article_id: Annotated[str | None, Query(max_length=200, pattern=ID_PATTERN)] = None,
    language: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z]+$")] = None,
    attribute: Attribute | None = None,
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    max_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    older_than_seconds: Annotated[int | None, Query(ge=0, le=10 * 365 * 86400)] = None,
    order: Annotated[str, Query(pattern="^(score|oldest)$")] = "score",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Queued comments (review and held unless ``status``), highest score first by default.

    ``order=oldest`` lists first submitted first; ``attribute`` with ``min_score`` /
    ``max_score`` filters (and orders) on that attribute's probability, toxicity otherwise.
    """
    _escalated_check(status, principal)
    query = _query(
        status=status,
        article_id=article_id,
        language=language,
        attribute=attribute,
        min_score=min_score,
        max_score=max_score,
        older_than_seconds=older_than_seconds,
        order=order,
        limit=limit,
        offset=offset,
    )
    records = service_of(request).store.list_queue(query)
    return _json({"items": [record.to_dict() for record in records]})


@router.get("/queue/stats", responses=_ERRORS, tags=["queue"])
def queue_stats(request: Request, _: Moderator) -> Response:
    """Queue depth and age of the oldest comment per status, and how many are claimed."""
    stats = service_of(request).store.queue_stats()
    return _json(
        {
            "depth": dict(stats.depth),
            "oldest_age_seconds": dict(stats.oldest_age_seconds),
            "claimed": stats.claimed,
        }
    )


@router.post("/queue/claim", response_model=CommentList, responses=_ERRORS, tags=["queue"])
def claim(body: ClaimRequest, request: Request, principal: Moderator) -> Response:
    """Take up to ``count`` queued comments with a lease of ``lease_seconds``.

    Nobody else can claim or decide them until the lease expires, when they return to the
    queue. Comments another moderator holds are skipped, never shared.
    """
    service = service_of(request)
    _escalated_check(body.status, principal)
    intake.check_batch(service, body.count)
    lease = int(service.settings["lease_seconds"])
    query = _query(
        status=body.status,
        article_id=body.article_id,
        language=body.language,
        attribute=body.attribute,
        min_score=body.min_score,
        max_score=body.max_score,
        older_than_seconds=body.older_than_seconds,
        order=body.order,
        limit=body.count,
    )
    records = service.store.claim(principal.name, body.count, lease, query)
    return _json({"items": [record.to_dict() for record in records], "lease_seconds": lease})


@router.post(
    "/queue/{comment_id}/release", response_model=CommentOut, responses=_CONFLICT, tags=["queue"]
)
def release(comment_id: CommentId, request: Request, principal: Moderator) -> Response:
    """Give a claimed comment back to the queue before its lease ends."""
    record = service_of(request).store.release(comment_id, principal.name)
    return _json(record.to_dict())


def _check_reason(service: Service, body: DecisionIn) -> None:
    codes = service.reason_codes()
    if body.action == "reject" and not body.reason:
        raise InvalidReasonError(f"a rejection needs a reason code: one of {', '.join(codes)}")
    if body.reason is not None and codes and body.reason not in codes:
        raise InvalidReasonError(
            f"unknown reason code {body.reason!r}: use one of {', '.join(codes)}"
        )


def _decide(service: Service, comment_id: str, principal: Principal, body: DecisionIn) -> Any:
    record = service.store.decide(comment_id, principal, body.action, body.reason, body.note)
    service.metrics.moderator_decisions.labels(body.action, body.reason or "").inc()
    if body.action in ("approve", "reject"):
        service.decided()
    return record


@router.post(
    "/queue/{comment_id}/decision",
    response_model=CommentOut,
    responses=_CONFLICT,
    tags=["queue"],
)
def decide(
    comment_id: CommentId, body: DecisionIn, request: Request, principal: Moderator
) -> Response:
    """Approve, reject (with a reason code) or escalate a comment you hold the lease on.

    409 ``not_lease_holder`` when someone else holds it or nobody does, 409
    ``lease_expired`` when your lease ran out; 422 ``invalid_reason`` for an unknown code.
    """
    service = service_of(request)
    _check_reason(service, body)
    return _json(_decide(service, comment_id, principal, body).to_dict())


@router.post("/queue/decisions", response_model=BulkResponse, responses=_ERRORS, tags=["queue"])
def decide_many(body: BulkDecisionIn, request: Request, principal: Moderator) -> Response:
    """The same decision for several comments you hold leases on; one result per id.

    The request is checked as a whole first (reason code, batch size); then each comment is
    decided in its own transaction, so one lost lease does not undo the others: look at
    each result's ``ok``.
    """
    service = service_of(request)
    intake.check_batch(service, len(body.ids))
    _check_reason(service, body)
    results: list[dict[str, Any]] = []
    for comment_id in dict.fromkeys(body.ids):
        try:
            record = _decide(service, comment_id, principal, body)
        except StorageUnavailableError:
            raise
        except ModerationError as exc:  # this item only: not found, lease lost or expired
            error = {"code": exc.code, "message": str(exc)}
            results.append({"id": comment_id, "ok": False, "error": error})
            continue
        results.append({"id": comment_id, "ok": True, "comment": record.to_dict()})
    return _json({"results": results})


@router.get("/authors/{author_id}/history", responses=_ERRORS, tags=["queue"])
def author_history(
    author_id: CommentId,
    request: Request,
    _: Moderator,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """An author's past comments (newest first) and counts by status, to judge repeat offenders."""
    return _json(service_of(request).store.author_history(author_id, limit).to_dict())


# -- administration ----------------------------------------------------------------------


@router.get("/audit", response_model=AuditList, responses=_ERRORS, tags=["admin"])
def audit(
    request: Request,
    _: Admin,
    comment_id: Annotated[str | None, Query(max_length=200, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> Response:
    """The append-only audit log, oldest first; page with ``after_id=next_after_id``."""
    entries = service_of(request).store.audit(comment_id, limit, after_id)
    items = [entry.to_dict() for entry in entries]
    return _json({"items": items, "next_after_id": entries[-1].id if entries else None})


@router.put("/articles/{article_id}", responses=_ERRORS, tags=["admin"])
def put_article(
    article_id: ArticleId, body: ArticleIn, request: Request, _: ArticleWriter
) -> Response:
    """Create or update an article (title, lead, stance target)."""
    from moderation.review.records import ArticleIn as StoredArticle

    article = StoredArticle(article_id, body.title, body.lead, body.target)
    service_of(request).store.upsert_article(article)
    return _json({"id": article_id, **body.model_dump()})


def _policy_out(service: Service, override: Any, article_id: str | None) -> dict[str, Any]:
    loaded = service.model()
    effective = service.policies.effective(loaded.policy, article_id)
    return {
        "override": dict(override) if override else None,
        "effective": effective.to_dict(),
        "model_version": loaded.version,
    }


@router.get(
    "/articles/{article_id}/policy", response_model=PolicyOut, responses=_FOUND, tags=["admin"]
)
def get_article_policy(article_id: ArticleId, request: Request, _: Admin) -> Response:
    """The article's override and the policy its comments get (site policy + override)."""
    service = service_of(request)
    _known_article(service, article_id)
    override = service.store.get_policy_override(article_id)
    return _json(_policy_out(service, override, article_id))


@router.put(
    "/articles/{article_id}/policy", response_model=PolicyOut, responses=_FOUND, tags=["admin"]
)
def put_article_policy(
    article_id: ArticleId, body: PolicyOverride, request: Request, principal: Admin
) -> Response:
    """Replace the article's override, e.g. ``{"premoderate": true}`` for a sensitive one.

    ``{}`` clears it. 404 for an article the service does not know (``PUT
    /v1/articles/{id}`` or a submitted comment makes it known).
    """
    service = service_of(request)
    _known_article(service, article_id)
    override = body.changes()
    _validate_policy(service, override)
    service.store.set_article_policy(article_id, override or None, principal)
    service.policies.forget()
    return _json(_policy_out(service, override, article_id))


@router.get("/articles/{article_id}/summary", responses=_FOUND, tags=["comments"])
def get_article_summary(
    article_id: ArticleId,
    request: Request,
    _: Reader,
    window_minutes: Annotated[int, Query(ge=1, le=10_080)] = 60,
) -> Response:
    """What readers think of an article and how that moves: counts and shares of stance,
    sentiment and flagged comments overall and per time window (``window_minutes``), and
    the latest window's change against the earlier ones (a sudden swing against an article
    is more often a campaign than readers). 404 for an article the service does not know."""
    from moderation.summary import TooManyWindowsError, summarise_article
    from moderation.web.errors import InvalidRequestError

    service = service_of(request)
    results = service.store.article_results(article_id)
    try:
        summary = summarise_article(results, window=timedelta(minutes=window_minutes))
    except TooManyWindowsError as exc:
        raise InvalidRequestError(str(exc)) from exc
    return _json({"article_id": article_id, "window_minutes": window_minutes, **summary})


def _known_article(service: Service, article_id: str) -> None:
    """NotFoundError (404) unless the article was upserted or commented on before."""
    service.store.get_article(article_id)


def _validate_policy(service: Service, override: dict[str, Any]) -> None:
    from moderation.policy import merge_override

    merge_override(service.model().policy, override)  # PolicyError (422) on a bad value


@router.get("/policy", response_model=PolicyOut, responses=_ERRORS, tags=["admin"])
def get_site_policy(request: Request, _: Admin) -> Response:
    """The site's override and its effective policy (bundle defaults + policy_file + override)."""
    service = service_of(request)
    return _json(_policy_out(service, service.store.site_policy(), None))


@router.put("/policy", response_model=PolicyOut, responses=_ERRORS, tags=["admin"])
def put_site_policy(body: PolicyOverride, request: Request, principal: Admin) -> Response:
    """Replace the site's override of the default policy (``{}`` restores the defaults)."""
    service = service_of(request)
    override = body.changes()
    _validate_policy(service, override)
    service.store.set_site_policy(override or None, principal)
    service.policies.forget()
    return _json(_policy_out(service, override, None))


@router.post("/admin/reload", response_model=ReloadOut, responses=_ERRORS, tags=["admin"])
async def reload(request: Request, _: Admin) -> Response:
    """Load the bundle now in ``model_dir`` and switch to it (same as SIGHUP to serve.py).

    The new bundle is verified and test-scored first; requests already running finish on
    the old one. On failure the old model keeps serving and the answer is 503. The load
    (seconds) runs on a thread of its own, not on the few ``request_threads`` that serve
    every other request meanwhile. With several worker processes, the one answering
    verifies the bundle, then has serve.py's supervisor replace every worker (each new one
    loads the bundle before the old one stops): ``replacing_workers`` says how many.
    """
    service = service_of(request)
    previous = service.models.current
    try:
        loaded = await to_thread.run_sync(service.models.reload, limiter=request.app.state.reloads)
    except Exception as exc:
        raise ModelUnavailableError(
            f"the bundle in model_dir did not load ({exc}); still serving "
            f"{previous.version if previous else 'nothing'}"
        ) from exc
    return _json(
        {
            "model_version": loaded.version,
            "previous_version": previous.version if previous else None,
            "replacing_workers": replace_sibling_workers(),
        }
    )


# -- sessions ----------------------------------------------------------------------------


@router.post(
    "/auth/login",
    response_model=TokenOut,
    responses={**_ERRORS},
    tags=["auth"],
)
def login(body: LoginIn, request: Request) -> Response:
    """Exchange a moderator's username and password for a bearer token (``mt_...``)."""
    accounts = service_of(request).store.accounts
    token, expires_at = accounts.login(body.username, body.password)
    principal = accounts.authenticate_token(token)
    return _json(
        {
            "token": token,
            "username": principal.name,
            "role": principal.role,
            "expires_at": expires_at.isoformat(),
        }
    )


@router.post("/auth/logout", status_code=204, responses=_ERRORS, tags=["auth"])
def logout(request: Request, principal: Anyone) -> Response:
    """End the session of the token this request carries (moderator tokens only)."""
    service = service_of(request)
    secret = request.state.credential.secret
    if principal.kind == "moderator":
        service.store.accounts.logout(secret)
    service.auth.forget(secret)
    return Response(status_code=204)


@router.get("/auth/me", response_model=PrincipalOut, responses=_ERRORS, tags=["auth"])
def me(principal: Anyone) -> Response:
    """Who the credential belongs to, with its scopes or role."""
    return _json(
        {
            "kind": principal.kind,
            "name": principal.name,
            "scopes": list(principal.scopes),
            "role": principal.role,
        }
    )


# -- health and metrics ------------------------------------------------------------------


@health.get("/healthz", tags=["health"])
async def healthz() -> Response:
    """The process is up (no dependencies checked)."""
    return _json({"status": "ok"})


@health.get("/readyz", tags=["health"], responses={503: {"model": ErrorOut}})
def readyz(request: Request) -> Response:
    """Ready for traffic: a model is loaded and the database answers."""
    service = service_of(request)
    loaded = service.models.current
    if loaded is None:
        return error_response("model_unavailable", "the model is not loaded yet")
    service.store.ping()
    return _json({"status": "ready", "model_version": loaded.version})


@health.get("/metrics", tags=["health"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (needs a ``read`` API key or an admin unless metrics_public)."""
    service = service_of(request)
    if not service.settings.get("metrics_public"):
        await authorize(request, "metrics")
    body = await _render(service)
    return Response(body, media_type=CONTENT_TYPE)


async def _render(service: Service) -> bytes:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(service.metrics.render)  # queue stats read the database
