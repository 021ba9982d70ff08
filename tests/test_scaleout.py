"""Scale-out for real: two serve.py processes, one PostgreSQL, everything at once.

Two replicas on different ports share the test session's PostgreSQL database. Senders submit
the *same* comment ids through both replicas at the same time (the publishing system's
retries can land anywhere), then several moderators claim and decide through both replicas
at once, each deciding on the replica it did not claim on. Nothing may be lost, stored twice,
claimed by two moderators, or decided without an audit entry.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import live_server
import pytest

COMMENTS = 240
BATCH = 6
MODERATORS = 4
CLAIM = 5
ARTICLE = "scale-article"


@pytest.fixture
def shared_database(postgres_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, emptied before and after (other tests share it)."""
    from db import empty_postgres

    empty_postgres(postgres_url)
    yield postgres_url
    empty_postgres(postgres_url)


def _start_both(database: str, model: Path, workdir: Path) -> list[live_server.ServerProcess]:
    """Start both replicas at once (both run the migrations at start), then wait for both."""
    servers = [live_server.ServerProcess(database, model, workdir / name) for name in "ab"]
    errors: list[BaseException] = []

    def start(server: live_server.ServerProcess) -> None:
        try:
            server.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for server in servers:
            server.stop()
        raise errors[0]
    return servers


def _items() -> list[dict[str, Any]]:
    return [
        live_server.comment(
            f"scale-{i}",
            f"Komentarz numer {i}: " + ("ty idioto, zamknij się" if i % 2 else "dobry tekst"),
            article=ARTICLE,
            author=f"scale-author-{i % 23}",
        )
        for i in range(COMMENTS)
    ]


def test_two_replicas_lose_duplicate_and_double_claim_nothing(
    shared_database: str, tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    servers = _start_both(shared_database, tiny_bundle_dir, tmp_path)
    try:
        run(shared_database, servers)
    finally:
        for server in servers:
            server.stop()


def run(database: str, servers: list[live_server.ServerProcess]) -> None:
    # The CLI calls are independent: run them side by side (each is mostly Python start-up).
    names = [f"mod-{i}" for i in range(MODERATORS)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        key_call = pool.submit(live_server.create_api_key, database, "scale", "submit,read")
        admin_call = pool.submit(live_server.create_moderator, database, "scale-admin", "admin")
        calls = {name: pool.submit(live_server.create_moderator, database, name) for name in names}
        key, admin_password = key_call.result(), admin_call.result()
        passwords = {name: call.result() for name, call in calls.items()}
    admin = live_server.login(servers[0].url, "scale-admin", admin_password)
    with httpx.Client(base_url=servers[0].url, timeout=30) as client:
        assert (
            client.put(
                f"/v1/articles/{ARTICLE}",
                json={"title": "Skalowanie"},
                headers=live_server.bearer(key),
            ).status_code
            == 200
        )
        response = client.put(
            f"/v1/articles/{ARTICLE}/policy",
            json={"premoderate": True},
            headers=live_server.bearer(admin),
        )
        assert response.status_code == 200, response.text

    # -- submit the same ids through both replicas at once --------------------------------
    items = _items()
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def submit(server: live_server.ServerProcess, reverse: bool) -> None:
        order = list(range(0, COMMENTS, BATCH))
        if reverse:
            order.reverse()
        with httpx.Client(base_url=server.url, headers=live_server.bearer(key), timeout=60) as c:
            for start in order:
                response = c.post("/v1/comments", json={"comments": items[start : start + BATCH]})
                with lock:
                    if response.status_code in (200, 201):
                        results.extend(response.json()["results"])
                    else:
                        failures.append(f"{response.status_code} {response.text[:300]}")

    senders = [
        threading.Thread(target=submit, args=(server, reverse))
        for server in servers
        for reverse in (False, True)
    ]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert not failures, failures[:5]
    assert len(results) == 4 * COMMENTS
    created = Counter(result["id"] for result in results if result["created"])
    assert set(created) == {item["id"] for item in items}, "a submission was lost"
    assert max(created.values()) == 1, "a comment was stored twice"
    assert {result["status"] for result in results} == {"held"}

    # -- several moderators claim through both replicas at once --------------------------
    claims: dict[str, list[str]] = {name: [] for name in passwords}
    decided: dict[str, tuple[str, str]] = {}
    problems: list[str] = []

    def moderate(index: int, name: str) -> None:
        claim_on = servers[index % 2]
        decide_on = servers[(index + 1) % 2]  # the lease lives in the database, not the process
        token = live_server.login(claim_on.url, name, passwords[name])
        headers = live_server.bearer(token)
        with httpx.Client(headers=headers, timeout=60) as c:
            while True:
                response = c.post(
                    f"{claim_on.url}/v1/queue/claim",
                    json={"count": CLAIM, "article_id": ARTICLE, "order": "oldest"},
                )
                if response.status_code != 200:
                    with lock:
                        problems.append(f"claim {response.status_code} {response.text[:300]}")
                    return
                batch = [item["id"] for item in response.json()["items"]]
                if not batch:
                    return
                with lock:
                    claims[name].extend(batch)
                for n, comment_id in enumerate(batch):
                    body = (
                        {"action": "approve"}
                        if n % 2
                        else {"action": "reject", "reason": "insult", "note": f"by {name}"}
                    )
                    answer = c.post(f"{decide_on.url}/v1/queue/{comment_id}/decision", json=body)
                    with lock:
                        if answer.status_code != 200:
                            problems.append(f"decide {comment_id}: {answer.text[:300]}")
                        else:
                            decided[comment_id] = (name, body["action"])

    moderators = [
        threading.Thread(target=moderate, args=(i, name)) for i, name in enumerate(passwords)
    ]
    for thread in moderators:
        thread.start()
    for thread in moderators:
        thread.join()
    assert not problems, problems[:5]

    claimed = Counter(comment_id for batch in claims.values() for comment_id in batch)
    assert claimed and max(claimed.values()) == 1, "a comment was claimed twice"
    assert set(claimed) == {item["id"] for item in items}, "a queued comment was never claimed"
    assert sum(1 for batch in claims.values() if batch) >= 2, "only one moderator got work"
    assert set(decided) == set(claimed)

    # -- the database agrees, and the audit log has every claim and decision once ----------
    audit = live_server.audit_log(servers[1].url, admin)
    by_comment: dict[str, Counter[str]] = {}
    for entry in audit:
        if entry["comment_id"] and entry["comment_id"].startswith("scale-"):
            by_comment.setdefault(entry["comment_id"], Counter())[entry["action"]] += 1
    for comment_id, (_, action) in decided.items():
        actions = by_comment[comment_id]
        assert actions["submit"] == 1, (comment_id, actions)
        assert actions["claim"] == 1, (comment_id, actions)
        assert actions[action] == 1, (comment_id, actions)
    with httpx.Client(base_url=servers[0].url, headers=live_server.bearer(key)) as c:
        for comment_id, (name, action) in decided.items():
            stored = c.get(f"/v1/comments/{comment_id}").json()
            assert stored["status"] == ("approved" if action == "approve" else "rejected")
            assert stored["decided_by"] == name
    with httpx.Client(base_url=servers[1].url, headers=live_server.bearer(admin)) as c:
        stats = c.get("/v1/queue/stats").json()
    assert stats["depth"].get("held", 0) == 0 and stats["claimed"] == 0, stats
