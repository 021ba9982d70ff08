"""Prometheus metrics: one registry per app, a pure ASGI middleware, queue gauges on scrape.

Why a registry per app instead of prometheus-client's global one: tests (and a process that
ever builds two apps) would otherwise collide on metric names. With ``serve.py --workers N``
every worker process counts into files of prometheus-client's multiprocess mode (the
supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before starting them) and a scrape, whichever
worker answers it, adds up all the workers' files: one answer for the whole port, not the
counts of the one worker the connection happened to reach. Why pure ASGI rather than
``BaseHTTPMiddleware``: the latter costs a task and a stream per request, a real share of a
5 ms budget. Queue depth and age are read from the store when Prometheus scrapes, not on a
timer, so an idle service does no work and a scrape always sees the current queue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moderation.attributes import ATTRIBUTES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Set (by serve.py for several workers, or by the operator) = multiprocess mode.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """True when this process's metrics go to the shared directory of several workers."""
    return bool(os.environ.get(MULTIPROCESS_DIR_ENV))


_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SCORE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


class _QueueCollector(Collector):
    """Queue depth per status and the age of the oldest queued comment, read at scrape time."""

    def __init__(self, stats: Callable[[], Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "moderation_queue_depth", "Comments waiting in the queue, by status", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "moderation_queue_oldest_age_seconds",
            "Age of the oldest comment waiting in the queue, by status (0 when empty)",
            labels=["status"],
        )
        up = GaugeMetricFamily(
            "moderation_database_up", "1 when the queue statistics could be read"
        )
        try:
            stats = self.stats()
        except Exception:  # a scrape must not fail because the database is down
            up.add_metric([], 0.0)
            return [up]
        up.add_metric([], 1.0)
        for status, count in sorted(_mapping(stats, "depth").items()):
            depth.add_metric([status], float(count))
        for status, age in sorted(_mapping(stats, "oldest_age_seconds").items()):
            oldest.add_metric([status], float(age or 0.0))
        return [depth, oldest, up]


def _mapping(stats: Any, name: str) -> Mapping[str, Any]:
    value = stats.get(name) if isinstance(stats, Mapping) else getattr(stats, name, None)
    return value if isinstance(value, Mapping) else {}


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "moderation_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "moderation_http_request_duration_seconds",
            "Time from the request's first byte to the response's last, by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Histogram(
            "moderation_score",
            "Calibrated probabilities of scored comments, by attribute",
            ["attribute"],
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        self.policy_decisions = Counter(
            "moderation_policy_decisions",
            "Decisions of the policy on submitted comments, by action and the rule that set it",
            ["action", "rule"],
            registry=self.registry,
        )
        self.moderator_decisions = Counter(
            "moderation_moderator_decisions",
            "Moderators' decisions, by action (approve, reject, escalate) and reason code",
            ["action", "reason"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "moderation_webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.multiprocess = multiprocess_mode()
        # livesum: with several workers, how many running workers serve each version.
        self.model_info = Gauge(
            "moderation_model_info",
            "Server processes serving the model bundle with this version (1 with one worker)",
            ["model_version"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._model_version: str | None = None
        self.reloads = Counter(
            "moderation_model_reloads",
            "Model reloads, by outcome (loaded, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self._score_children = {a: self.scores.labels(a) for a in ATTRIBUTES}
        # Label children looked up once per label set: ``labels()`` validates and locks on
        # every call, which the hot path (every request, every submission) need not repeat.
        # The label sets are bounded (route templates, statuses, policy rules), so are these.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_children: dict[tuple[str, str], Any] = {}
        self._queue: _QueueCollector | None = None

    def watch_queue(self, stats: Callable[[], Any]) -> None:
        """Export queue depth/age from ``stats()`` (``Store.queue_stats``) at every scrape."""
        if self._queue is None:
            self._queue = _QueueCollector(stats)
            self.registry.register(self._queue)
        else:  # the app started again (a test's second lifespan): read the new store
            self._queue.stats = stats

    def set_model(self, version: str) -> None:
        previous = self._model_version
        if previous is not None and previous != version:
            # Zero first: in multiprocess mode the old value stays in this worker's file.
            self.model_info.labels(previous).set(0)
            self.model_info.remove(previous)
        self.model_info.labels(version).set(1)
        self._model_version = version

    def process_exiting(self) -> None:
        """A worker stopping cleanly: drop its live gauges from the shared directory."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def observe_scores(self, scores: Mapping[str, float]) -> None:
        for attribute, value in scores.items():
            child = self._score_children.get(attribute)
            if child is not None:
                child.observe(value)

    def request_done(self, method: str, template: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        key = (method, template, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.latency.labels(method, template),
                self.requests.labels(method, template, str(status)),
            )
            self._request_children[key] = children
        children[0].observe(seconds)
        children[1].inc()

    def policy_decision(self, action: str, rule: str) -> None:
        """Count one decision of the policy on a newly submitted comment."""
        child = self._decision_children.get((action, rule))
        if child is None:
            child = self._decision_children[(action, rule)] = self.policy_decisions.labels(
                action, rule
            )
        child.inc()

    def render(self) -> bytes:
        """The exposition: this process's registry, or every worker's files added up."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        if self._queue is not None:  # read from the database: the same for every worker
            registry.register(self._queue)
        return generate_latest(registry)


class MetricsMiddleware:
    """Pure ASGI: counts every request and times it, labelled by the matched route template.

    The label is the template (``/v1/comments/{comment_id}``), never the raw path, so an
    attacker probing random URLs cannot blow up the number of series ("unmatched" instead).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_done(
                scope["method"], template, status, time.perf_counter() - start
            )
