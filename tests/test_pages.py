"""The moderator page's routes on their own (no database, no model): cookies, CSRF, headers.

The browser test (test_ui.py) shows the page working; these pin down the rules it rests on,
quickly and without a browser: the session cookie's flags, which requests may set or use it,
the security headers, and that only whitelisted static files are served.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from moderation.web import pages

TOKEN = "mt_example-token"


def app(settings: dict[str, Any] | None = None) -> FastAPI:
    application = FastAPI()
    application.include_router(pages.router)
    if settings is not None:
        application.state.settings = settings
    return application


def call(
    method: str,
    path: str,
    *,
    application: FastAPI | None = None,
    cookies: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=application or app())
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_the_queue_page_without_a_session_sends_to_the_login_form() -> None:
    response = call("GET", "/ui")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"
    login = call("GET", "/ui/login")
    assert login.status_code == 200
    assert "script-src 'self'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["cache-control"] == "no-store"
    assert 'data-login-url="/v1/auth/login"' in login.text


def test_a_session_is_an_httponly_strict_cookie_set_only_by_a_same_origin_call() -> None:
    same = {"X-Requested-With": "moderation-page"}
    response = call("POST", "/ui/session", json={"token": TOKEN}, headers=same)
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{pages.SESSION_COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure

    refused = [
        call("POST", "/ui/session", json={"token": TOKEN}),  # a plain form post cannot add it
        call(
            "POST",
            "/ui/session",
            json={"token": TOKEN},
            headers={**same, "Origin": "https://evil.example"},
        ),
        call(
            "POST",
            "/ui/session",
            json={"token": TOKEN},
            headers={**same, "Sec-Fetch-Site": "cross-site"},
        ),
        call("POST", "/ui/session", json={"token": "mk_an-api-key"}, headers=same),
    ]
    for answer in refused:
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "forbidden"
        assert "set-cookie" not in answer.headers
    assert (
        call("POST", "/ui/session", json={"token": TOKEN, "x": 1}, headers=same).status_code == 422
    )


def test_the_queue_page_carries_the_csrf_value_and_settings_as_data() -> None:
    settings = {"reason_codes": "spam,</script><script>alert(1)</script>", "max_batch": 20}
    response = call("GET", "/ui", application=app(settings), cookies={pages.SESSION_COOKIE: TOKEN})
    assert response.status_code == 200
    meta = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', response.text)
    assert meta and meta.group(1) == pages.csrf_token(TOKEN)
    assert "<script>alert(1)" not in response.text  # JSON in the page is escaped
    config_json = re.search(
        r'<script type="application/json" id="page-config">(.*?)</script>', response.text, re.S
    )
    assert config_json
    config = json.loads(config_json.group(1))
    assert config["reasons"] == ["spam", "</script><script>alert(1)</script>"]
    assert config["max_claim"] == 20
    assert config["urls"]["decide"] == "/v1/queue/{id}/decision"
    # No inline script that would need 'unsafe-inline': every executable script has a src.
    for tag in re.findall(r"<script[^>]*>", response.text):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_cookie_counts_only_with_the_matching_csrf_header() -> None:
    def request(headers: dict[str, str]) -> Any:
        scope = {
            "type": "http",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        from starlette.requests import Request

        return Request(scope)

    cookie = {"cookie": f"{pages.SESSION_COOKIE}={TOKEN}"}
    assert pages.session_token(request(cookie)) is None
    assert pages.session_token(request({**cookie, pages.CSRF_HEADER: "0" * 64})) is None
    good = {**cookie, pages.CSRF_HEADER: pages.csrf_token(TOKEN)}
    assert pages.session_token(request(good)) == TOKEN
    assert pages.session_token(request(cookie), require_csrf=False) == TOKEN
    assert pages.session_token(request({})) is None
    assert pages.csrf_token(TOKEN) != pages.csrf_token(TOKEN + "x")


def test_logging_out_needs_the_csrf_header_and_clears_the_cookie() -> None:
    cookies = {pages.SESSION_COOKIE: TOKEN}
    assert call("POST", "/ui/logout", cookies=cookies).status_code == 403
    response = call(
        "POST",
        "/ui/logout",
        cookies=cookies,
        headers={pages.CSRF_HEADER: pages.csrf_token(TOKEN)},
    )
    assert response.status_code == 204
    assert response.headers["set-cookie"].startswith(f'{pages.SESSION_COOKIE}="";')


@pytest.mark.parametrize("name", ["queue.js", "highlight.js", "login.js", "moderation.css"])
def test_static_files_are_served_from_a_whitelist(name: str) -> None:
    response = call("GET", f"/ui/static/{name}")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    versioned = call("GET", pages.static_url(name))
    assert "immutable" in versioned.headers["cache-control"]
    etag = versioned.headers["etag"]
    assert call("GET", f"/ui/static/{name}", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(
    "path", ["/ui/static/pages.py", "/ui/static/..%2fpages.py", "/ui/static/x.js"]
)
def test_nothing_else_is_served_as_a_static_file(path: str) -> None:
    assert call("GET", path).status_code == 404


def test_article_titles_need_the_session_and_its_csrf_header() -> None:
    cookies = {pages.SESSION_COOKIE: TOKEN}
    assert call("GET", "/ui/articles/a-1").status_code == 401
    assert call("GET", "/ui/articles/a-1", cookies=cookies).status_code == 401
    headers = {pages.CSRF_HEADER: pages.csrf_token(TOKEN)}
    # A router without the app's store: the session is fine, there is just nothing to read.
    answer = call("GET", "/ui/articles/a-1", cookies=cookies, headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
