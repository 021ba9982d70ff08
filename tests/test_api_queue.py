"""The review queue and administration through the API, on real SQLite and PostgreSQL.

Listing with filters and orders, claims with leases, decisions only by the lease holder,
expired leases, reason codes, bulk decisions, author history, audit log, policies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, app_on, error_of, unique

TOXIC = "Ty k*rwo, wynocha z tym artykułem!"
MILD = "Głupi artykuł, autor nie ma pojęcia."
FINE = "Zgadzam się z autorem, dobry tekst."


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tiny_bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp("queue")
    with app_on(request.param, tiny_bundle_dir, directory, lease_seconds=300) as running:
        yield running


def claim(api: Api, headers: dict[str, str], **body: Any) -> list[dict[str, Any]]:
    answer = api.client.post("/v1/queue/claim", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def decide(api: Api, headers: dict[str, str], comment_id: str, **body: Any) -> Any:
    return api.client.post(f"/v1/queue/{comment_id}/decision", json=body, headers=headers)


def test_list_filters_and_orders_the_queue(api: Api) -> None:
    article = api.article("review")
    ids = api.submit(article, FINE, TOXIC, MILD)
    _, headers = api.moderator()

    def listed(**params: Any) -> list[str]:
        answer = api.client.get(
            "/v1/queue", params={"article_id": article, **params}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    by_score = listed()
    assert sorted(by_score) == sorted(ids)
    scores = {
        item["id"]: item["scores"]
        for item in api.client.get(
            "/v1/queue", params={"article_id": article}, headers=headers
        ).json()["items"]
    }
    assert [scores[i]["toxicity"] for i in by_score] == sorted(
        (scores[i]["toxicity"] for i in ids), reverse=True
    )
    assert listed(order="oldest") == ids
    assert listed(status="held") == []
    assert listed(language="en") == []
    assert sorted(listed(language="pl")) == sorted(ids)
    top = max(ids, key=lambda i: scores[i]["insult"])
    threshold = scores[top]["insult"]
    assert listed(attribute="insult", min_score=threshold)[0] == top
    assert top not in listed(attribute="insult", max_score=max(0.0, threshold - 1e-4))
    assert listed(older_than_seconds=3600) == []
    assert listed(limit=1, offset=1) == by_score[1:2]
    bad = api.client.get("/v1/queue", params={"min_score": 2}, headers=headers)
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_request"
    stats = api.client.get("/v1/queue/stats", headers=headers).json()
    assert stats["depth"]["review"] >= 3 and set(stats) == {
        "depth",
        "oldest_age_seconds",
        "claimed",
    }


def test_claims_never_overlap_and_only_the_holder_decides(api: Api) -> None:
    article = api.article("review")
    ids = api.submit(article, TOXIC, MILD, FINE)
    alice, alice_headers = api.moderator()
    _, bob_headers = api.moderator()

    first = claim(api, alice_headers, count=2, article_id=article)
    second = claim(api, bob_headers, count=5, article_id=article)
    assert len(first) == 2 and len(second) == 1
    assert {c["id"] for c in first} | {c["id"] for c in second} == set(ids)
    assert all(c["claimed_by"] == alice for c in first)
    assert claim(api, bob_headers, count=5, article_id=article) == []

    held_by_alice = first[0]["id"]
    before = len(api.store.audit(held_by_alice))
    answer = decide(api, bob_headers, held_by_alice, action="approve")
    assert answer.status_code == 409
    assert error_of(answer)["code"] == "not_lease_holder"
    assert len(api.store.audit(held_by_alice)) == before

    answer = decide(api, alice_headers, held_by_alice, action="reject", reason="no-such-reason")
    assert answer.status_code == 422 and error_of(answer)["code"] == "invalid_reason"
    answer = decide(api, alice_headers, held_by_alice, action="reject")
    assert answer.status_code == 422 and error_of(answer)["code"] == "invalid_reason"
    assert len(api.store.audit(held_by_alice)) == before

    answer = decide(
        api, alice_headers, held_by_alice, action="reject", reason="insult", note="wulgarny"
    )
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["status"] == "rejected" and record["reason"] == "insult"
    assert record["decided_by"] == alice

    again = decide(api, alice_headers, held_by_alice, action="approve")
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"

    history = api.client.get(f"/v1/comments/{held_by_alice}", headers=api.publisher).json()
    actions = [(e["action"], e["actor_kind"], e["to_status"]) for e in history["history"]]
    assert actions == [
        ("submit", "system", "review"),
        ("claim", "moderator", "review"),
        ("reject", "moderator", "rejected"),
    ]


def test_an_expired_lease_returns_the_comment_and_refuses_the_late_decision(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    with app_on("sqlite", tiny_bundle_dir, tmp_path, lease_seconds=2) as api:
        article = api.article("review")
        (comment_id,) = api.submit(article, TOXIC)
        _, alice = api.moderator()
        _, bob = api.moderator()
        assert [c["id"] for c in claim(api, alice, article_id=article)] == [comment_id]
        assert claim(api, bob, article_id=article) == []
        time.sleep(2.2)
        answer = decide(api, alice, comment_id, action="approve")
        assert answer.status_code == 409
        assert error_of(answer)["code"] == "lease_expired"
        assert [c["id"] for c in claim(api, bob, article_id=article)] == [comment_id]
        assert decide(api, bob, comment_id, action="approve").json()["status"] == "approved"


def test_release_puts_a_comment_back(api: Api) -> None:
    article = api.article("hold")
    (comment_id,) = api.submit(article, FINE)
    _, alice = api.moderator()
    _, bob = api.moderator()
    assert [c["id"] for c in claim(api, alice, article_id=article, status="held")] == [comment_id]
    assert api.client.post(f"/v1/queue/{comment_id}/release", headers=bob).status_code == 409
    answer = api.client.post(f"/v1/queue/{comment_id}/release", headers=alice)
    assert answer.status_code == 200 and answer.json()["claimed_by"] is None
    assert [c["id"] for c in claim(api, bob, article_id=article)] == [comment_id]


def test_escalated_comments_go_to_admins(api: Api) -> None:
    article = api.article("review")
    (comment_id,) = api.submit(article, TOXIC)
    _, moderator = api.moderator()
    claim(api, moderator, article_id=article)
    answer = decide(api, moderator, comment_id, action="escalate", note="nie wiem")
    assert answer.json()["status"] == "escalated"
    refused = api.client.post(
        "/v1/queue/claim", json={"status": "escalated", "article_id": article}, headers=moderator
    )
    assert refused.status_code == 403
    admin_name, admin = api.moderator("admin")
    taken = claim(api, admin, status="escalated", article_id=article)
    assert [c["id"] for c in taken] == [comment_id]
    assert decide(api, admin, comment_id, action="approve").json()["decided_by"] == admin_name


def test_bulk_decisions_report_each_comment(api: Api) -> None:
    article = api.article("review")
    ids = api.submit(article, TOXIC, MILD, FINE)
    _, alice = api.moderator()
    held = [c["id"] for c in claim(api, alice, count=2, article_id=article, order="oldest")]
    assert held == ids[:2]
    body = {"ids": [*ids, "no-such-comment"], "action": "reject", "reason": "spam"}
    answer = api.client.post("/v1/queue/decisions", json=body, headers=alice)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["id"], r["ok"]) for r in results] == [
        (ids[0], True),
        (ids[1], True),
        (ids[2], False),
        ("no-such-comment", False),
    ]
    assert results[0]["comment"]["status"] == "rejected"
    assert results[2]["error"]["code"] == "not_lease_holder"
    assert results[3]["error"]["code"] == "not_found"
    bad = api.client.post(
        "/v1/queue/decisions", json={"ids": ids, "action": "reject", "reason": "??"}, headers=alice
    )
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_reason"
    too_many = api.client.post(
        "/v1/queue/decisions",
        json={"ids": [unique("c") for _ in range(101)], "action": "approve"},
        headers=alice,
    )
    assert too_many.status_code == 413 and error_of(too_many)["code"] == "batch_too_large"


def test_author_history(api: Api) -> None:
    author = unique("author")
    article = api.article("review")
    ids = api.submit(article, TOXIC, FINE, author=author)
    _, moderator = api.moderator()
    claim(api, moderator, count=2, article_id=article)
    decide(api, moderator, ids[0], action="reject", reason="insult")
    history = api.client.get(f"/v1/authors/{author}/history", headers=moderator).json()
    assert history["author_id"] == author
    assert history["counts"] == {"rejected": 1, "review": 1}
    assert history["recent_rejections"] == 1
    assert [c["id"] for c in history["comments"]] == [ids[1], ids[0]]
    nobody = api.client.get(f"/v1/authors/{unique('nobody')}/history", headers=moderator).json()
    assert nobody["comments"] == [] and nobody["counts"] == {}
    assert api.client.get(f"/v1/authors/{author}/history", headers=api.publisher).status_code == 403


def test_the_audit_log_is_readable_by_admins_page_by_page(api: Api) -> None:
    article = api.article("review")
    (comment_id,) = api.submit(article, TOXIC)
    answer = api.client.get("/v1/audit", params={"comment_id": comment_id}, headers=api.admin)
    assert answer.status_code == 200
    (entry,) = answer.json()["items"]
    assert entry["action"] == "submit" and entry["model_version"] == api.model_version
    first = api.client.get("/v1/audit", params={"limit": 2}, headers=api.admin).json()
    assert len(first["items"]) == 2
    after = first["next_after_id"]
    second = api.client.get(
        "/v1/audit", params={"limit": 2, "after_id": after}, headers=api.admin
    ).json()
    assert all(item["id"] > after for item in second["items"])
    # Append-only through the API: there is no route that changes or deletes it.
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert api.client.request(method, "/v1/audit", headers=api.admin).status_code == 405


def test_site_and_article_policies(api: Api) -> None:
    site = api.client.get("/v1/policy", headers=api.admin).json()
    assert site["override"] is None and site["model_version"] == api.model_version
    assert site["effective"]["premoderate"] is False
    try:
        changed = api.client.put(
            "/v1/policy", json={"unsupported_language": "hold"}, headers=api.admin
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["effective"]["unsupported_language"] == "hold"
        assert api.client.get("/v1/policy", headers=api.admin).json()["override"] == {
            "unsupported_language": "hold"
        }
        for bad in (
            {"review": {"toxicity": 2}},
            {"review": {"kindness": 0.5}},
            {"premoderate": "yes"},
            {"unknown": 1},
            {"repeat_offender_days": 0},
        ):
            answer = api.client.put("/v1/policy", json=bad, headers=api.admin)
            assert answer.status_code == 422, bad
            assert error_of(answer)["code"] in {"invalid_policy", "invalid_request"}
        assert api.client.get("/v1/policy", headers=api.admin).json()["override"] == {
            "unsupported_language": "hold"
        }
    finally:
        assert api.client.put("/v1/policy", json={}, headers=api.admin).status_code == 200

    article = api.article()
    answer = api.client.put(
        f"/v1/articles/{article}/policy", json={"premoderate": True}, headers=api.admin
    )
    assert answer.json()["effective"]["premoderate"] is True
    (comment_id,) = api.submit(article, FINE)
    record = api.client.get(f"/v1/comments/{comment_id}", headers=api.publisher).json()
    assert record["status"] == "held"
    shown = api.client.get(f"/v1/articles/{article}/policy", headers=api.admin).json()
    assert shown["override"] == {"premoderate": True}
    cleared = api.client.put(f"/v1/articles/{article}/policy", json={}, headers=api.admin)
    assert cleared.json()["override"] is None
    audit = api.client.get("/v1/audit", params={"limit": 1000}, headers=api.admin).json()
    assert "set_article_policy" in {entry["action"] for entry in audit["items"]}


def test_article_upsert_by_the_publishing_system(api: Api) -> None:
    article = unique("article")
    body = {"title": "Wybory", "lead": "Kto wygra?", "target": "kandydat"}
    answer = api.client.put(f"/v1/articles/{article}", json=body, headers=api.publisher)
    assert answer.status_code == 200 and answer.json() == {"id": article, **body}
    reader = api.key("read")
    assert api.client.put(f"/v1/articles/{article}", json=body, headers=reader).status_code == 403
    bad = api.client.put(f"/v1/articles/{article}", json={"title": 5}, headers=api.publisher)
    assert bad.status_code == 422


def test_a_decided_comment_is_reopened_by_the_publisher_or_an_admin(api: Api) -> None:
    article = api.article("publish")
    (reported,) = api.submit(article, MILD, author=unique("reader"))
    name, moderator = api.moderator()
    _, admin = api.moderator("admin")

    def reopen(headers: dict[str, str], **body: Any) -> Any:
        return api.client.post(f"/v1/comments/{reported}/reopen", json=body, headers=headers)

    # A moderator may not; a key that cannot submit may not.
    assert reopen(moderator).status_code == 403
    assert reopen(api.key("read")).status_code == 403
    # A reader's report, forwarded by the publishing system: hidden until a moderator looks.
    answer = reopen(api.publisher, status="held", note="3 reader reports")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "held"
    assert reopen(api.publisher).status_code == 409  # already back in the queue
    listed = api.client.get(
        "/v1/queue", params={"article_id": article, "status": "held"}, headers=moderator
    )
    assert [item["id"] for item in listed.json()["items"]] == [reported]
    claimed = claim(api, moderator, count=1, article_id=article, status="held")
    assert [item["id"] for item in claimed] == [reported]
    rejected = decide(api, moderator, reported, action="reject", reason="insult")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    # An admin's second look sends it back once more; the audit log keeps every step.
    again = reopen(admin, note="not an insult in context")
    assert again.status_code == 200 and again.json()["status"] == "review"
    history = api.client.get(f"/v1/comments/{reported}", headers=admin).json()["history"]
    assert [(e["action"], e["from_status"], e["to_status"]) for e in history] == [
        ("submit", None, "published"),
        ("reopen", "published", "held"),
        ("claim", "held", "held"),
        ("reject", "held", "rejected"),
        ("reopen", "rejected", "review"),
    ]
    assert history[-1]["details"] == {"reason": "insult", "decided_by": name}
    bad = reopen(admin, status="published")
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_request"
    missing = api.client.post("/v1/comments/nope/reopen", json={}, headers=admin)
    assert missing.status_code == 404
