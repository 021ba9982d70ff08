"""Fuzz the API from its own OpenAPI document (schemathesis): no input gives a 5xx.

Every operation is called with generated valid and invalid data (wrong types, missing and
unknown fields, odd strings, out-of-range numbers), authenticated as an API key with every
scope for the publishing system's routes and as an admin for the rest, in-process against
a real SQLite file and a real PostgreSQL database (which refuses NUL characters and lone
surrogates: the API must catch them first). Model reload and logout are left out: the
first takes a second per call and proves nothing new about input handling, the second
would revoke the fuzzer's token.
Bounded to a fixed number of examples per operation, derandomized, so it takes well under
a minute and fails the same way twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from moderation.web.app import create_app

CREDENTIALS: dict[str, dict[str, str]] = {}
#: (method, path) of the publishing system's routes; every other one is fuzzed as an admin.
PUBLISHER_ROUTES = {
    ("POST", "/v1/score"),
    ("POST", "/v1/comments"),
    ("GET", "/v1/comments/{comment_id}"),
    ("PUT", "/v1/articles/{article_id}"),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
        return
    from db import throwaway_postgres

    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def fuzzed_app(tiny_bundle_dir: Path, database: str) -> Iterator[Any]:
    """The app on a fresh database, its lifespan run by schemathesis's own ASGI client."""
    app = create_app(
        {
            "model_dir": str(tiny_bundle_dir),
            "database": database,
            "auth_cache_seconds": 600,
            "max_body_bytes": 200_000,
        }
    )
    schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the lifespan, kept running
    accounts = app.state.service.store.accounts
    _, key = accounts.create_api_key("fuzzer", "score,submit,read")
    _, password = accounts.create_moderator("fuzz-admin", "admin")
    token, _ = accounts.login("fuzz-admin", password)
    CREDENTIALS["publisher"] = {"Authorization": f"Bearer {key}"}
    CREDENTIALS["admin"] = {"Authorization": f"Bearer {token}"}
    try:
        yield app
    finally:
        from schemathesis.python import asgi

        asgi.shutdown_lifespans()


# The document the app serves (building the app needs no model or database).
schema = (
    schemathesis.openapi.from_dict(create_app().openapi())
    .exclude(path="/v1/admin/reload")
    .exclude(path="/v1/auth/logout")
)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_service_fail(case: Any, fuzzed_app: Any) -> None:
    who = "publisher" if (case.method.upper(), case.path) in PUBLISHER_ROUTES else "admin"
    case.call_and_validate(app=fuzzed_app, headers=CREDENTIALS[who], checks=[not_a_server_error])
