"""An in-process service for API tests: the real app, a real database, real credentials.

``running_app`` starts ``create_app`` with its lifespan (migrations, the tiny bundle, the
webhook worker) inside FastAPI's TestClient; ``Api`` makes keys and moderators through the
real store and returns the headers to use them. Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from moderation.review.store import Store
from moderation.web.app import create_app

_names = itertools.count(1)


def unique(prefix: str) -> str:
    """A fresh id, so tests sharing one app never see each other's comments."""
    return f"{prefix}-{next(_names)}"


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    _admin: dict[str, str] | None = None
    _publisher: dict[str, str] | None = None

    @property
    def admin(self) -> dict[str, str]:
        """Headers of one admin account, made on first use."""
        if self._admin is None:
            self._admin = self.moderator("admin")[1]
        return self._admin

    @property
    def publisher(self) -> dict[str, str]:
        """Headers of an API key with every scope (score, submit, read)."""
        if self._publisher is None:
            self._publisher = self.key()
        return self._publisher

    def article(self, action: str | None = None) -> str:
        """A new article; with ``action``, an override giving its comments that action."""
        article_id = unique("article")
        answer = self.client.put(
            f"/v1/articles/{article_id}", json={"title": "Podatki w górę"}, headers=self.admin
        )
        assert answer.status_code == 200, answer.text
        if action is not None:
            answer = self.client.put(
                f"/v1/articles/{article_id}/policy", json=always(action), headers=self.admin
            )
            assert answer.status_code == 200, answer.text
        return article_id

    def submit(self, article_id: str, *texts: str, author: str | None = None) -> list[str]:
        """Submit comments under an article; their ids (asserting they were stored)."""
        ids = [unique("c") for _ in texts]
        comments = [
            {"id": i, "text": t, "article": {"id": article_id}}
            | ({"author": {"id": author}} if author else {})
            for i, t in zip(ids, texts, strict=True)
        ]
        answer = self.client.post(
            "/v1/comments", json={"comments": comments}, headers=self.publisher
        )
        assert answer.status_code == 201, answer.text
        return ids

    @property
    def store(self) -> Store:
        store: Store = self.app.state.service.store
        return store

    @property
    def model_version(self) -> str:
        version: str = self.app.state.service.models.current.version
        return version

    def key(self, scopes: str = "score,submit,read", name: str | None = None) -> dict[str, str]:
        _, secret = self.store.accounts.create_api_key(name or unique("key"), scopes)
        return {"Authorization": f"Bearer {secret}"}

    def moderator(self, role: str = "moderator") -> tuple[str, dict[str, str]]:
        """A new account, logged in through the API: (username, headers)."""
        username = unique(role)
        _, password = self.store.accounts.create_moderator(username, role)
        answer = self.client.post(
            "/v1/auth/login", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return username, {"Authorization": f"Bearer {answer.json()['token']}"}


@contextlib.contextmanager
def running_app(bundle: Path, database: str, **settings: Any) -> Iterator[Api]:
    """The app with its lifespan running; every setting can be overridden."""
    values: dict[str, Any] = {"model_dir": str(bundle), "database": database, **settings}
    app = create_app(values)
    with TestClient(app) as client:
        yield Api(client, app)


def error_of(answer: Any) -> Mapping[str, Any]:
    """The error object of a response, after checking it has exactly the documented shape."""
    body = answer.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    assert answer.headers["content-type"].startswith("application/json")
    error: Mapping[str, Any] = body["error"]
    return error


@contextlib.contextmanager
def app_on(backend: str, bundle: Path, directory: Path, **settings: Any) -> Iterator[Api]:
    """``running_app`` on a fresh SQLite file or a throwaway PostgreSQL database.

    PostgreSQL skips when unreachable, and fails instead under CI=true (``db.py``).
    """
    if backend == "sqlite":
        with running_app(bundle, f"sqlite:///{directory / 'service.db'}", **settings) as api:
            yield api
        return
    from db import throwaway_postgres

    with throwaway_postgres() as url, running_app(bundle, url, **settings) as api:
        yield api


def always(action: str) -> dict[str, Any]:
    """An article policy override that gives every (supported) comment ``action``.

    Thresholds of 0 queue everything; null removes each default threshold so nothing is.
    """
    attributes = ("toxicity", "severe_toxicity", "insult", "threat", "obscene", "identity_attack")
    keys = [f"{lang}{a}" for a in attributes for lang in ("", "pl:", "en:")]
    if action == "publish":
        return {"review": dict.fromkeys(keys), "hold": dict.fromkeys(keys)}
    if action == "review":
        return {"review": dict.fromkeys(keys, 0.0), "hold": dict.fromkeys(keys)}
    if action == "hold":
        return {"premoderate": True}
    raise ValueError(action)
