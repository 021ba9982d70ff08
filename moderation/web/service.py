"""What every request needs, in one object on ``app.state.service``.

The routes stay thin: they validate, check the caller and call methods here or in
``intake``. Policies are the site default worked out from the loaded bundle (plus
``policy_file``), then the site override and the article's override from the database;
overrides are cached for ``POLICY_CACHE_SECONDS`` so a submission does not read them every
time, and dropped at once when this replica changes them (other replicas see a change
within that time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from moderation.policy import PolicyConfig, merge_override
from moderation.review.store import Store
from moderation.web.auth import Auth
from moderation.web.errors import ModelUnavailableError
from moderation.web.metrics import Metrics
from moderation.web.reload import LoadedModel, ModelHolder
from moderation.web.webhooks import WebhookWorker

POLICY_CACHE_SECONDS: Final = 5.0
_SITE: Final = "\x00site"  # cache key no article id can be (ids cannot contain NUL)


class PolicyBook:
    """Effective policies: base (bundle + policy_file) <- site override <- article override."""

    def __init__(self, store: Store, ttl: float = POLICY_CACHE_SECONDS) -> None:
        self.store = store
        self.ttl = ttl
        self._overrides: dict[str, tuple[float, Mapping[str, Any] | None]] = {}
        self._effective: dict[tuple[int, str | None], tuple[float, PolicyConfig]] = {}
        self._lock = threading.Lock()

    def site_override(self) -> Mapping[str, Any] | None:
        return self._override(_SITE)

    def article_override(self, article_id: str) -> Mapping[str, Any] | None:
        return self._override(article_id)

    def effective(self, base: PolicyConfig, article_id: str | None) -> PolicyConfig:
        """The policy for a comment under ``article_id`` (None: the site's)."""
        key = (id(base), article_id)
        now = time.monotonic()
        hit = self._effective.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        policy = base
        site = self.site_override()
        if site:
            policy = merge_override(policy, site)
        if article_id is not None:
            article = self.article_override(article_id)
            if article:
                policy = merge_override(policy, article)
        with self._lock:
            if len(self._effective) > 50_000:
                self._effective.clear()
            self._effective[key] = (now + self.ttl, policy)
        return policy

    def forget(self) -> None:
        """Drop every cached override (after this replica changed one, or a reload)."""
        with self._lock:
            self._overrides.clear()
            self._effective.clear()

    def _override(self, key: str) -> Mapping[str, Any] | None:
        now = time.monotonic()
        hit = self._overrides.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = self.store.site_policy() if key == _SITE else self.store.get_policy_override(key)
        with self._lock:
            if len(self._overrides) > 50_000:
                self._overrides.clear()
            self._overrides[key] = (now + self.ttl, value)
        return value


@dataclass
class Service:
    """The running service: settings, model, store, auth, policies, metrics, webhooks."""

    settings: Mapping[str, Any]
    models: ModelHolder
    store: Store
    auth: Auth
    metrics: Metrics
    policies: PolicyBook
    webhooks: WebhookWorker | None = None

    def model(self) -> LoadedModel:
        """The model to use for this whole request (read once: a reload never splits one)."""
        loaded = self.models.current
        if loaded is None:
            raise ModelUnavailableError("the model is not loaded yet")
        return loaded

    def reason_codes(self) -> tuple[str, ...]:
        """The configured reason codes (the store holds them: it checks every decision)."""
        return tuple(self.store.reason_codes)

    def decided(self) -> None:
        """A final decision (or a reopening) was stored: let the webhook worker deliver it now."""
        if self.webhooks is not None:
            self.webhooks.wake()
