"""The /v1 API in-process (FastAPI's TestClient) over real SQLite and real PostgreSQL.

Scoring and submission, idempotency, every bad input of issue 4 with its documented status
and error shape (and that nothing was written), health, and the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from api_support import Api, app_on, error_of, unique
from pydantic import TypeAdapter

from moderation.web.models import CommentOut, ScoreResponse, SubmitResponse

TOXIC = "Ty k*rwo, wynocha z tym artykułem!"
FINE = "Zgadzam się z autorem, dobry tekst."


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tiny_bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp("api")
    with app_on(request.param, tiny_bundle_dir, directory, auth_cache_seconds=0) as running:
        assert running.publisher and running.admin  # made now: their audit rows come first
        yield running


def audit_count(api: Api) -> int:
    return len(api.store.audit(limit=100_000))


def comment_count(api: Api) -> int:
    answer = api.client.get("/v1/queue", params={"limit": 500}, headers=api.admin)
    return len(answer.json()["items"])


# -- health and documents ---------------------------------------------------------------


def test_health_and_readiness_need_no_credentials(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {
        "status": "ready",
        "model_version": api.model_version,
    }


def test_the_openapi_document_lists_every_route(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    paths = {(path, method) for path, item in document["paths"].items() for method in item}
    assert {
        ("/v1/score", "post"),
        ("/v1/comments", "post"),
        ("/v1/comments/{comment_id}", "get"),
        ("/v1/queue", "get"),
        ("/v1/queue/stats", "get"),
        ("/v1/queue/claim", "post"),
        ("/v1/queue/{comment_id}/release", "post"),
        ("/v1/queue/{comment_id}/decision", "post"),
        ("/v1/queue/decisions", "post"),
        ("/v1/authors/{author_id}/history", "get"),
        ("/v1/audit", "get"),
        ("/v1/articles/{article_id}", "put"),
        ("/v1/articles/{article_id}/policy", "get"),
        ("/v1/articles/{article_id}/policy", "put"),
        ("/v1/policy", "get"),
        ("/v1/policy", "put"),
        ("/v1/admin/reload", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/me", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    } <= paths
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# -- POST /v1/score -----------------------------------------------------------------------


def test_score_returns_results_with_decisions_and_stores_nothing(api: Api) -> None:
    before = audit_count(api)
    body = {
        "comments": [
            {"id": "s1", "text": TOXIC, "article": {"title": "Podatki", "target": "rząd"}},
            {"id": "s2", "text": FINE},
            {"id": "s3", "text": "   "},
        ]
    }
    answer = api.client.post("/v1/score", json=body, headers=api.publisher)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    TypeAdapter(ScoreResponse).validate_python(result)
    assert result["model_version"] == api.model_version
    first, second, third = result["results"]
    assert first["id"] == "s1" and second["id"] == "s2"
    assert first["scores"]["toxicity"] > second["scores"]["toxicity"]
    for scored in (first, second):
        assert scored["model_version"] == api.model_version
        assert set(scored["decision"]) == {"action", "rule", "reasons"}
    assert "toxicity" in first["flagged"]
    assert third == {
        "id": "s3",
        "error": {"code": "empty_text", "message": third["error"]["message"]},
    }
    assert audit_count(api) == before


def test_score_reports_texts_it_cannot_take_in_their_place(api: Api) -> None:
    body = {"comments": [{"text": "x" * 20_001}, {"text": "a\x00b"}, {"text": FINE}]}
    answer = api.client.post("/v1/score", json=body, headers=api.publisher)
    assert answer.status_code == 200
    codes = [item.get("error", {}).get("code") for item in answer.json()["results"]]
    assert codes == ["text_too_long", "invalid_text", None]


def test_a_batch_over_max_batch_is_413(api: Api) -> None:
    body = {"comments": [{"text": FINE}] * 101}
    answer = api.client.post("/v1/score", json=body, headers=api.publisher)
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "batch_too_large"
    comments = [{"id": unique("c"), "text": FINE} for _ in range(101)]
    answer = api.client.post("/v1/comments", json={"comments": comments}, headers=api.publisher)
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "batch_too_large"
    assert (
        api.client.get(f"/v1/comments/{comments[0]['id']}", headers=api.publisher).status_code
        == 404
    )


# -- POST /v1/comments --------------------------------------------------------------------


def _submit(api: Api, *comments: dict[str, Any]) -> Any:
    return api.client.post("/v1/comments", json={"comments": list(comments)}, headers=api.publisher)


def test_submission_is_scored_decided_stored_and_idempotent(api: Api) -> None:
    article = api.article("review")
    comment = {
        "id": unique("c"),
        "text": TOXIC,
        "article": {"id": article, "title": "Podatki w górę", "target": "rząd"},
        "author": {"id": unique("author")},
        "created_at": "2026-11-25T10:00:00+01:00",
    }
    first = _submit(api, comment)
    assert first.status_code == 201, first.text
    TypeAdapter(SubmitResponse).validate_python(first.json())
    (result,) = first.json()["results"]
    assert result["id"] == comment["id"]
    assert result["status"] == "queued" and result["created"] is True
    assert result["decision"]["action"] == "review"
    assert result["model_version"] == api.model_version
    assert set(result["scores"]) >= {"toxicity", "insult", "threat"}
    assert "spans" in result

    retry = _submit(api, comment)
    assert retry.status_code == 200
    (again,) = retry.json()["results"]
    assert again == {**result, "created": False}

    stored = api.client.get(f"/v1/comments/{comment['id']}", headers=api.publisher)
    assert stored.status_code == 200
    record = stored.json()
    TypeAdapter(CommentOut).validate_python(record)
    assert record["status"] == "review" and record["article_id"] == article
    assert record["created_at"].startswith("2026-11-25T09:00:00")
    assert [entry["action"] for entry in record["history"]] == ["submit"]
    assert record["history"][0]["model_version"] == api.model_version


def test_same_id_with_other_text_is_409_and_changes_nothing(api: Api) -> None:
    article = api.article()
    comment = {"id": unique("c"), "text": FINE, "article": {"id": article}}
    assert _submit(api, comment).status_code == 201
    before = audit_count(api)
    answer = _submit(api, {**comment, "text": "Inny tekst"})
    assert answer.status_code == 409
    assert error_of(answer)["code"] == "conflict"
    assert audit_count(api) == before
    stored = api.client.get(f"/v1/comments/{comment['id']}", headers=api.publisher).json()
    assert stored["text"] == FINE


def test_a_batch_with_one_conflicting_comment_stores_none_of_it(api: Api) -> None:
    known = {"id": unique("c"), "text": FINE}
    assert _submit(api, known).status_code == 201
    fresh = {"id": unique("c"), "text": FINE}
    before = audit_count(api)
    answer = _submit(api, fresh, {**known, "text": "Zmieniony tekst"})
    assert answer.status_code == 409
    assert error_of(answer)["code"] == "conflict"
    assert api.client.get(f"/v1/comments/{fresh['id']}", headers=api.publisher).status_code == 404
    assert audit_count(api) == before


def test_repeated_ids_within_a_batch(api: Api) -> None:
    same = {"id": unique("c"), "text": FINE}
    answer = _submit(api, same, same)
    assert answer.status_code == 201
    first, second = answer.json()["results"]
    assert first == second
    other = {"id": unique("c"), "text": FINE}
    answer = _submit(api, other, {**other, "text": "Coś innego"})
    assert answer.status_code == 409
    assert api.client.get(f"/v1/comments/{other['id']}", headers=api.publisher).status_code == 404


def test_a_batch_with_bad_texts_is_422_naming_each_and_stores_nothing(api: Api) -> None:
    good = {"id": unique("c"), "text": FINE}
    empty = {"id": unique("c"), "text": " \u200b "}
    long = {"id": unique("c"), "text": "słowo " * 5000}
    before = audit_count(api)
    answer = _submit(api, good, empty, long)
    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == "empty_text"
    assert [(d["index"], d["id"], d["code"]) for d in error["details"]] == [
        (1, empty["id"], "empty_text"),
        (2, long["id"], "text_too_long"),
    ]
    assert api.client.get(f"/v1/comments/{good['id']}", headers=api.publisher).status_code == 404
    assert audit_count(api) == before


def test_policy_statuses_premoderation_and_publication(api: Api) -> None:
    held = api.article("hold")
    published = api.article("publish")
    (held_id,) = api.submit(held, FINE)
    (published_id,) = api.submit(published, FINE)
    held_record = api.client.get(f"/v1/comments/{held_id}", headers=api.publisher).json()
    assert held_record["status"] == "held"
    assert held_record["decision"]["rule"] == "premoderate"
    published_record = api.client.get(f"/v1/comments/{published_id}", headers=api.publisher).json()
    assert published_record["status"] == "published"
    assert published_record["decision"] == {
        "action": "publish",
        "rule": "below_thresholds",
        "reasons": [],
    }


def test_repeat_offenders_are_reviewed(api: Api) -> None:
    author = unique("author")
    article = api.article("review")
    ids = api.submit(article, TOXIC, TOXIC, TOXIC, author=author)
    moderator, headers = api.moderator()
    claimed = api.client.post(
        "/v1/queue/claim", json={"count": 3, "article_id": article}, headers=headers
    ).json()["items"]
    assert sorted(item["id"] for item in claimed) == sorted(ids)
    for comment_id in ids:
        answer = api.client.post(
            f"/v1/queue/{comment_id}/decision",
            json={"action": "reject", "reason": "insult"},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
    calm = api.article("publish")
    (next_id,) = api.submit(calm, FINE, author=author)
    record = api.client.get(f"/v1/comments/{next_id}", headers=api.publisher).json()
    assert record["decision"]["rule"] == "repeat_offender"
    assert record["status"] == "review"
    del moderator


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"comments": [', "application/json", 400, "malformed_json"),
        (b"not json at all", "application/json", 400, "malformed_json"),
        (
            b'{"comments": [{"id": "x", "text": "\xff\xfe"}]}',
            "application/json",
            400,
            "invalid_utf8",
        ),
        (b'{"comments": "many"}', "application/json", 422, "invalid_request"),
        (b'{"comments": [{"id": "x", "text": 5}]}', "application/json", 422, "invalid_request"),
        (
            b'{"comments": [{"id": "x", "text": "a", "extra": 1}]}',
            "application/json",
            422,
            "invalid_request",
        ),
        (
            b'{"comments": [{"id": "x", "text": "a"}], "more": true}',
            "application/json",
            422,
            "invalid_request",
        ),
        (b'{"comments": []}', "application/json", 422, "invalid_request"),
        (b'{"comments": [{"id": "", "text": "a"}]}', "application/json", 422, "invalid_request"),
        (b'{"comments": [{"id": "a/b", "text": "a"}]}', "application/json", 422, "invalid_request"),
        (
            b'{"comments": [{"id": "x", "text": "a", "author": {"id": "a\\u0000"}}]}',
            "application/json",
            422,
            "invalid_request",
        ),
        (
            b'{"comments": [{"id": "x", "text": "a", "article": {"id": "\\ud800"}}]}',
            "application/json",
            422,
            "invalid_request",
        ),
        (
            b'{"comments": [{"id": "x", "text": "a", "created_at": "yesterday"}]}',
            "application/json",
            422,
            "invalid_request",
        ),
        (
            b'{"comments": [{"id": "x", "text": "a", "created_at": "0001-01-01T00:00:00+01:00"}]}',
            "application/json",
            422,
            "invalid_request",
        ),
        (
            b'{"comments": [{"id": "x", "text": "\\ud800"}]}',
            "application/json",
            422,
            "invalid_unicode",
        ),
        (
            b'{"comments": [{"id": "x", "text": "a\\u0000b"}]}',
            "application/json",
            422,
            "invalid_text",
        ),
        (b'{"comments": [{"id": "x", "text": "a"}]}', "text/plain", 422, "invalid_request"),
    ],
)
def test_bad_submissions_get_the_documented_error_and_write_nothing(
    api: Api, body: bytes, content_type: str, status: int, code: str
) -> None:
    before = audit_count(api)
    answer = api.client.post(
        "/v1/comments", content=body, headers={**api.publisher, "Content-Type": content_type}
    )
    assert answer.status_code == status, answer.text
    assert error_of(answer)["code"] == code
    assert audit_count(api) == before


def test_text_over_the_limit_is_422_text_too_long(api: Api) -> None:
    answer = _submit(api, {"id": unique("c"), "text": "a" * 20_001})
    assert answer.status_code == 422
    assert error_of(answer)["code"] == "text_too_long"


def test_oversize_bodies_are_413_whether_or_not_they_say_their_size(api: Api) -> None:
    big = b'{"comments": [{"id": "x", "text": "' + b"a" * 1_000_001 + b'"}]}'
    headers = {**api.publisher, "Content-Type": "application/json"}
    answer = api.client.post("/v1/comments", content=big, headers=headers)
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    answer = api.client.post("/v1/comments", content=chunks(), headers=headers)
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "body_too_large"


def test_a_body_longer_than_its_content_length_claims_is_still_413(api: Api) -> None:
    """Raw ASGI: the header says 10 bytes, the body brings 1.5 MB."""
    sent: list[dict[str, Any]] = []
    pieces = [b"{" + b" " * 500_000 for _ in range(3)]

    async def receive() -> dict[str, Any]:
        body = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": body, "more_body": bool(pieces)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/comments",
        "raw_path": b"/v1/comments",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(api.app, scope, receive, send)
    assert sent[0]["status"] == 413
    assert b"body_too_large" in sent[1]["body"]


def test_unknown_ids_are_404(api: Api) -> None:
    _, moderator = api.moderator()
    missing = unique("missing")
    for method, path, headers, body in [
        ("GET", f"/v1/comments/{missing}", api.publisher, None),
        ("POST", f"/v1/queue/{missing}/decision", moderator, {"action": "approve"}),
        ("POST", f"/v1/queue/{missing}/release", moderator, None),
        ("GET", f"/v1/articles/{missing}/policy", api.admin, None),
        ("PUT", f"/v1/articles/{missing}/policy", api.admin, {"premoderate": True}),
    ]:
        answer = api.client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 404, (path, answer.text)
        assert error_of(answer)["code"] == "not_found"
    answer = api.client.get("/v1/nothing-here", headers=api.publisher)
    assert answer.status_code == 404 and error_of(answer)["code"] == "not_found"
    answer = api.client.delete("/v1/score", headers=api.publisher)
    assert answer.status_code == 405 and error_of(answer)["code"] == "method_not_allowed"


# -- auth ---------------------------------------------------------------------------------

PROTECTED = [
    ("POST", "/v1/score"),
    ("POST", "/v1/comments"),
    ("GET", "/v1/comments/x"),
    ("GET", "/v1/queue"),
    ("GET", "/v1/queue/stats"),
    ("POST", "/v1/queue/claim"),
    ("POST", "/v1/queue/x/release"),
    ("POST", "/v1/queue/x/decision"),
    ("POST", "/v1/queue/decisions"),
    ("GET", "/v1/authors/x/history"),
    ("GET", "/v1/audit"),
    ("PUT", "/v1/articles/x"),
    ("GET", "/v1/articles/x/policy"),
    ("PUT", "/v1/articles/x/policy"),
    ("GET", "/v1/policy"),
    ("PUT", "/v1/policy"),
    ("POST", "/v1/admin/reload"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/auth/me"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize(
    "authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer mk_unknown", "Bearer mt_x"]
)
def test_every_route_but_health_needs_a_valid_credential(
    api: Api, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in PROTECTED:
        answer = api.client.request(method, path, headers=headers)
        assert answer.status_code == 401, (method, path, answer.text)
        assert error_of(answer)["code"] == "unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_is_401(api: Api) -> None:
    info, secret = api.store.accounts.create_api_key(unique("key"), "score")
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"comments": [{"text": FINE}]}
    assert api.client.post("/v1/score", json=body, headers=headers).status_code == 200
    api.store.accounts.revoke_api_key(info.id)
    answer = api.client.post("/v1/score", json=body, headers=headers)
    assert answer.status_code == 401
    assert error_of(answer)["code"] == "unauthorized"


def test_scopes_and_roles(api: Api) -> None:
    score_only = api.key("score")
    submit_only = api.key("submit")
    read_only = api.key("read")
    _, moderator = api.moderator()
    comment = {"comments": [{"id": unique("c"), "text": FINE}]}
    decision = {"action": "approve"}

    def status(method: str, path: str, headers: dict[str, str], body: Any = None) -> int:
        answer = api.client.request(method, path, json=body, headers=headers)
        if answer.status_code == 403:
            assert error_of(answer)["code"] == "forbidden"
        return answer.status_code

    assert status("POST", "/v1/score", score_only, {"comments": [{"text": FINE}]}) == 200
    assert status("POST", "/v1/comments", score_only, comment) == 403
    assert status("POST", "/v1/score", submit_only, {"comments": [{"text": FINE}]}) == 403
    assert status("GET", "/v1/comments/x", submit_only) == 403
    assert status("POST", "/v1/comments", read_only, comment) == 403
    assert status("GET", "/v1/comments/x", read_only) == 404
    # A moderator token cannot submit; an API key cannot decide, claim or list the queue.
    assert status("POST", "/v1/comments", moderator, comment) == 403
    for key in (api.publisher, score_only, read_only):
        assert status("POST", "/v1/queue/x/decision", key, decision) == 403
        assert status("POST", "/v1/queue/claim", key, {"count": 1}) == 403
        assert status("GET", "/v1/queue", key) == 403
        assert status("GET", "/v1/audit", key) == 403
    # Admin-only routes refuse moderators.
    for method, path, body in [
        ("GET", "/v1/audit", None),
        ("GET", "/v1/policy", None),
        ("PUT", "/v1/policy", {}),
        ("POST", "/v1/admin/reload", None),
        ("PUT", "/v1/articles/x/policy", {}),
        ("GET", "/v1/queue?status=escalated", None),
    ]:
        assert status(method, path, moderator, body) == 403, path
    assert status("GET", "/v1/audit", api.admin) == 200
    assert status("GET", "/v1/comments/x", moderator) == 404


def test_login_me_and_logout(api: Api) -> None:
    username, headers = api.moderator("admin")
    me = api.client.get("/v1/auth/me", headers=headers).json()
    assert me == {"kind": "moderator", "name": username, "scopes": ["read"], "role": "admin"}
    wrong = api.client.post("/v1/auth/login", json={"username": username, "password": "nope"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "unauthorized"
    assert api.client.post("/v1/auth/logout", headers=headers).status_code == 204
    answer = api.client.get("/v1/auth/me", headers=headers)
    assert answer.status_code == 401
    key = api.key("read")
    assert api.client.get("/v1/auth/me", headers=key).json()["kind"] == "api_key"


def test_the_session_cookie_counts_only_with_its_csrf_header(api: Api) -> None:
    from moderation.web.pages import SESSION_COOKIE, csrf_token

    _, headers = api.moderator()
    token = headers["Authorization"].removeprefix("Bearer ")
    api.client.cookies.set(SESSION_COOKIE, token)
    try:
        without = api.client.get("/v1/queue")
        assert without.status_code == 403 and error_of(without)["code"] == "forbidden"
        wrong = api.client.get("/v1/queue", headers={"X-CSRF-Token": "0" * 64})
        assert wrong.status_code == 403
        right = api.client.get("/v1/queue", headers={"X-CSRF-Token": csrf_token(token)})
        assert right.status_code == 200
    finally:
        api.client.cookies.clear()
