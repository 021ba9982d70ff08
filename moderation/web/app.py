"""``create_app(settings)``: the FastAPI application, built from the one settings table.

Nothing happens at import time or in ``create_app`` beyond wiring: the lifespan opens the
store, runs the migrations, loads and verifies the bundle, starts the webhook worker and
listens for SIGHUP, and undoes it all on shutdown. So building an app is cheap (the
OpenAPI script and tests do it without a database or a model).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from moderation import config
from moderation.review.store import Store
from moderation.web import api, errors, gctune, pages
from moderation.web.auth import Auth
from moderation.web.metrics import Metrics, MetricsMiddleware
from moderation.web.reload import ModelHolder, install_sighup, remove_sighup
from moderation.web.service import PolicyBook, Service
from moderation.web.webhooks import WebhookWorker

log = logging.getLogger("moderation.web")

DESCRIPTION = """\
Scores reader comments (Polish first, English second) for toxicity and its attributes,
decides publish / review / hold with the site's policy, and keeps a durable review queue
for moderators. Every route but `/healthz` and `/readyz` needs `Authorization: Bearer
<API key or moderator token>`. Errors are always
`{"error": {"code": "...", "message": "...", "details": [...]}}`.
"""


def _version() -> str:
    try:
        return version("moderation")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def create_app(settings: Mapping[str, Any] | None = None, *, tune_gc: bool = False) -> FastAPI:
    """The app for ``settings`` (overrides of the settings table; the rest from env/defaults).

    ``tune_gc``: apply ``gc_freeze`` once started and after each reload (serve.py does;
    tests building apps in-process do not, see ``gctune``).
    """
    values = config.resolve(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await run_in_threadpool(_start, values, metrics, tune_gc)
        app.state.service = service
        # The default limiter of this event loop bounds every sync route and threadpool call;
        # the store knows which database it opened.
        threads = config.request_threads_for(values["request_threads"], service.store.db.is_sqlite)
        to_thread.current_default_thread_limiter().total_tokens = threads
        app.state.reloads = CapacityLimiter(1)  # admin reloads: beside the request threads
        if tune_gc and values["gc_freeze"]:
            gctune.freeze()
        sighup = install_sighup(service.models)
        if service.webhooks is not None:
            service.webhooks.start()
        try:
            yield
        finally:
            if sighup:
                remove_sighup()
            if service.webhooks is not None:
                await run_in_threadpool(service.webhooks.stop)
            service.store.close()
            metrics.process_exiting()

    app = FastAPI(
        title="moderation",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads its scripts from a CDN: nothing leaves the site
        redoc_url=None,
    )
    app.state.settings = values
    app.state.metrics = metrics
    errors.install(app)
    app.include_router(api.health)
    app.include_router(api.router)
    app.include_router(pages.router)
    # Added last = outermost: metrics see every answer, the body guard's 413s included.
    app.add_middleware(errors.BodyGuardMiddleware, max_bytes=int(values["max_body_bytes"]))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def open_store(values: Mapping[str, Any]) -> Store:
    """The store for these settings, migrated to the newest schema."""
    store = Store(
        values["database"],
        reason_codes=values["reason_codes"],
        outbox=bool(values["webhook_url"]),  # no webhook: no outbox rows piling up
        checkpoint_seconds=values["sqlite_checkpoint_seconds"],
    )
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _start(values: Mapping[str, Any], metrics: Metrics, tune_gc: bool = False) -> Service:
    """Everything the lifespan starts, in a worker thread (loading takes a second)."""
    store = open_store(values)
    policies = PolicyBook(store)
    started = False

    def changed(loaded: Any) -> None:
        policies.forget()
        metrics.set_model(loaded.version)
        metrics.reloads.labels("loaded").inc()
        if started and tune_gc and values["gc_freeze"]:
            gctune.refreeze()  # a reload: the first load is frozen by the lifespan

    def failed(exc: Exception) -> None:
        metrics.reloads.labels("failed").inc()

    models = ModelHolder(values, on_change=changed, on_failure=failed)
    try:
        models.reload()
    except BaseException:
        store.close()
        raise
    started = True
    metrics.watch_queue(store.queue_stats)
    webhooks = None
    if values["webhook_url"]:
        webhooks = WebhookWorker(
            store,
            values["webhook_url"],
            values["webhook_secret"],
            metrics,
            keep_days=values["outbox_keep_days"],
        )
    auth = Auth(store, values["auth_cache_seconds"])
    return Service(values, models, store, auth, metrics, policies, webhooks)
