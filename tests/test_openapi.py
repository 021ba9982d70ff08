"""The API's documents stay true to the code: docs/openapi.json and the README's routes."""

from __future__ import annotations

from pathlib import Path

from moderation.web.openapi import document, render

REPO = Path(__file__).resolve().parent.parent


def test_the_committed_openapi_document_is_the_apps() -> None:
    committed = (REPO / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/openapi.json is stale: python -m moderation.web.openapi > docs/openapi.json"
    )


def test_the_readme_documents_every_route() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## HTTP service") : readme.index("## Settings")]
    for path, item in document()["paths"].items():
        shown = path.replace("{comment_id}", "{id}").replace("{article_id}", "{id}")
        shown = shown.replace("{author_id}", "{id}")
        for method in item:
            lines = [
                line
                for line in section.splitlines()
                if f"{shown}`" in line and f"`{method.upper()}" in line.split(shown)[0]
            ]
            assert lines, f"{method.upper()} {path} is not in the README's route table"


def test_every_route_but_health_and_login_declares_bearer_auth() -> None:
    open_routes = {"/healthz", "/readyz", "/metrics", "/v1/auth/login"}
    for path, item in document()["paths"].items():
        if path.startswith("/ui"):  # the page: its session cookie, or nothing (login, static)
            continue
        for method, operation in item.items():
            secured = any("HTTPBearer" in entry for entry in operation.get("security", []))
            assert secured == (path not in open_routes), f"{method.upper()} {path}"
