"""GET /v1/articles/{id}/summary: the stance, sentiment and flag mix of an article's comments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api, app_on, error_of, unique

AGREE = "Zgadzam się z autorem w stu procentach, świetny tekst. Brawo!"
DISPUTE = "Bzdura i propaganda, autor nie ma pojęcia. Źródła proszę."
TOXIC = "Ty k*rwo, wynocha z tym artykułem!"


@pytest.fixture(scope="module")
def api(tiny_bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with app_on("sqlite", tiny_bundle_dir, tmp_path_factory.mktemp("summary")) as running:
        yield running


def test_the_summary_counts_what_was_stored_for_the_article(api: Api) -> None:
    article = api.article()
    api.submit(article, AGREE, AGREE + " Dokładnie tak.", DISPUTE, TOXIC)
    other = api.article()
    api.submit(other, DISPUTE)  # another article's comment is not counted
    answer = api.client.get(f"/v1/articles/{article}/summary", headers=api.publisher)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["article_id"] == article and summary["window_minutes"] == 60
    assert summary["comments"] == 4
    stance = summary["stance"]["counts"]
    assert sum(stance.values()) == 4
    assert stance["favor"] >= 2 and stance["against"] >= 1
    assert sum(summary["sentiment"]["counts"].values()) == 4
    assert summary["flagged"]["count"] >= 1
    assert len(summary["windows"]) == 1 and summary["change"] is None


def test_moderators_may_read_it_and_strangers_may_not(api: Api) -> None:
    article = api.article()
    api.submit(article, AGREE)
    _, moderator = api.moderator()
    assert api.client.get(f"/v1/articles/{article}/summary", headers=moderator).status_code == 200
    stranger = api.client.get(f"/v1/articles/{article}/summary")
    assert stranger.status_code == 401


def test_unknown_article_and_bad_window_are_clear_errors(api: Api) -> None:
    missing = api.client.get("/v1/articles/no-such-article/summary", headers=api.publisher)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    article = api.article()
    bad = api.client.get(
        f"/v1/articles/{article}/summary", params={"window_minutes": 0}, headers=api.publisher
    )
    assert bad.status_code == 422


def test_too_many_windows_is_422_not_a_huge_answer(api: Api) -> None:
    article = api.article()
    first, later = unique("c"), unique("c")
    comments = [
        {
            "id": first,
            "text": AGREE,
            "article": {"id": article},
            "created_at": "2025-01-01T00:00:00Z",
        },
        {
            "id": later,
            "text": DISPUTE,
            "article": {"id": article},
            "created_at": "2026-01-01T00:00:00Z",
        },
    ]
    stored = api.client.post("/v1/comments", json={"comments": comments}, headers=api.publisher)
    assert stored.status_code == 201, stored.text
    answer = api.client.get(
        f"/v1/articles/{article}/summary", params={"window_minutes": 1}, headers=api.publisher
    )
    assert answer.status_code == 422 and error_of(answer)["code"] == "invalid_request"
    assert "wider" in error_of(answer)["message"]
    daily = api.client.get(
        f"/v1/articles/{article}/summary", params={"window_minutes": 1440}, headers=api.publisher
    )
    assert daily.status_code == 200 and daily.json()["comments"] == 2
