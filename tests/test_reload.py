"""Model reload without downtime, and the Prometheus metrics.

A second bundle with another model version is the tiny bundle saved again under a new
version (same heads), so a reload is visible in every result and audit row.
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread
from api_support import running_app

from moderation import config
from moderation.model.bundle import load_bundle, save_bundle

FINE = "Zgadzam się z autorem, dobry tekst."


@pytest.fixture(scope="session")
def other_bundle_dir(tiny_bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = load_bundle(tiny_bundle_dir)
    bundle.metadata = {**bundle.metadata, "model_version": "reloaded-test-version"}
    directory = tmp_path_factory.mktemp("other_bundle")
    save_bundle(bundle, directory)
    return directory


def _replace(model_dir: Path, source: Path) -> None:
    for name in ("bundle.joblib", "manifest.json"):
        shutil.copyfile(source / name, model_dir / name)


def test_admin_reload_swaps_the_model_and_versions_follow(
    tiny_bundle_dir: Path, other_bundle_dir: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    _replace(model_dir, tiny_bundle_dir)
    with running_app(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}") as api:
        old_version = api.model_version
        article = api.article("review")
        (before,) = api.submit(article, FINE)
        in_flight = api.app.state.service.model()  # what a running request holds

        _replace(model_dir, other_bundle_dir)
        moderator = api.moderator()[1]
        assert api.client.post("/v1/admin/reload", headers=moderator).status_code == 403
        answer = api.client.post("/v1/admin/reload", headers=api.admin)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "model_version": "reloaded-test-version",
            "previous_version": old_version,
            "replacing_workers": 0,  # one process: switched already
        }
        # The request that started before the swap finishes on the old model.
        assert in_flight.score([FINE])[0].to_dict()["model_version"] == old_version

        (after,) = api.submit(article, FINE)
        score = api.client.post(
            "/v1/score", json={"comments": [{"text": FINE}]}, headers=api.publisher
        ).json()
        assert score["model_version"] == "reloaded-test-version"
        assert score["results"][0]["model_version"] == "reloaded-test-version"
        versions = {
            comment_id: api.client.get(f"/v1/comments/{comment_id}", headers=api.publisher).json()
            for comment_id in (before, after)
        }
        assert versions[before]["model_version"] == old_version
        assert versions[after]["model_version"] == "reloaded-test-version"
        assert versions[after]["history"][0]["model_version"] == "reloaded-test-version"
        assert api.client.get("/readyz").json()["model_version"] == "reloaded-test-version"

        # A broken bundle is refused and the current one keeps serving.
        (model_dir / "bundle.joblib").write_bytes(b"not a bundle")
        answer = api.client.post("/v1/admin/reload", headers=api.admin)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "model_unavailable"
        assert "reloaded-test-version" in answer.json()["error"]["message"]
        assert api.model_version == "reloaded-test-version"
        assert (
            api.client.post(
                "/v1/score", json={"comments": [{"text": FINE}]}, headers=api.publisher
            ).status_code
            == 200
        )

        metrics = api.client.get("/metrics", headers=api.admin).text
        assert 'moderation_model_reloads_total{outcome="loaded"} 2.0' in metrics
        assert 'moderation_model_reloads_total{outcome="failed"} 1.0' in metrics
        assert 'moderation_model_info{model_version="reloaded-test-version"} 1.0' in metrics
        assert old_version not in metrics.split("moderation_model_info")[-1]


def test_a_reload_in_progress_does_not_hold_the_request_thread(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    # One request thread per process (the default): a reload that ran on it would stop
    # every other request for the seconds a bundle takes to load.
    with running_app(tiny_bundle_dir, f"sqlite:///{tmp_path / 'db.sqlite'}") as api:
        limiter_size = api.client.portal.call(
            lambda: to_thread.current_default_thread_limiter().total_tokens
        )
        assert limiter_size == 1  # request_threads=auto on SQLite
        answers: dict[str, Any] = {}

        def post(name: str, path: str, **kwargs: Any) -> threading.Thread:
            thread = threading.Thread(
                target=lambda: answers.__setitem__(name, api.client.post(path, **kwargs)),
                daemon=True,
            )
            thread.start()
            return thread

        models = api.app.state.service.models
        with models._lock:  # the reload now waits here, as a slow load would
            reload = post("reload", "/v1/admin/reload", headers=api.admin)
            reload.join(timeout=0.5)
            assert reload.is_alive()
            score = post(
                "score", "/v1/score", json={"comments": [{"text": FINE}]}, headers=api.publisher
            )
            score.join(timeout=20)
            assert not score.is_alive() and answers["score"].status_code == 200
            assert reload.is_alive()  # still loading while the score was answered
        reload.join(timeout=20)
        assert answers["reload"].status_code == 200


def test_request_threads_auto_follows_the_database() -> None:
    def threads(request_threads: str, sqlite: bool) -> int:
        setting = config.resolve({"request_threads": request_threads}, environ={})
        return config.request_threads_for(setting["request_threads"], sqlite)

    assert threads("auto", sqlite=True) == 1
    assert threads("auto", sqlite=False) == 4
    assert threads("2", sqlite=False) == 2
    with pytest.raises(ValueError, match="request_threads"):
        config.resolve({"request_threads": "0"}, environ={})


def test_metrics_report_requests_latency_scores_decisions_and_the_queue(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    with running_app(tiny_bundle_dir, f"sqlite:///{tmp_path / 'db.sqlite'}") as api:
        held = api.article("hold")
        api.submit(held, FINE, FINE)
        published = api.article("publish")
        api.submit(published, FINE)
        _, moderator = api.moderator()
        claimed = api.client.post(
            "/v1/queue/claim", json={"count": 1, "article_id": held}, headers=moderator
        ).json()["items"]
        api.client.post(
            f"/v1/queue/{claimed[0]['id']}/decision",
            json={"action": "reject", "reason": "spam"},
            headers=moderator,
        )
        api.client.get("/nowhere")

        assert api.client.get("/metrics").status_code == 401
        assert api.client.get("/metrics", headers=moderator).status_code == 403
        assert api.client.get("/metrics", headers=api.key("score")).status_code == 403
        answer = api.client.get("/metrics", headers=api.key("read"))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        text = answer.text
        requests = 'moderation_http_requests_total{method="POST",route="/v1/comments",'
        assert requests + 'status="201"} 2.0' in text
        assert 'route="unmatched",status="404"' in text
        assert re.search(
            r'moderation_http_request_duration_seconds_bucket\{le="0\.005",method="POST",'
            r'route="/v1/comments"\}',
            text,
        )
        assert 'moderation_score_count{attribute="toxicity"} 3.0' in text
        assert 'moderation_policy_decisions_total{action="hold",rule="premoderate"} 2.0' in text
        assert (
            'moderation_policy_decisions_total{action="publish",rule="below_thresholds"} 1.0'
            in text
        )
        assert 'moderation_moderator_decisions_total{action="reject",reason="spam"} 1.0' in text
        assert 'moderation_queue_depth{status="held"} 1.0' in text
        assert 'moderation_queue_depth{status="review"} 0.0' in text
        assert re.search(r'moderation_queue_oldest_age_seconds\{status="held"\} \d', text)
        assert "moderation_database_up 1.0" in text
        assert f'moderation_model_info{{model_version="{api.model_version}"}} 1.0' in text


def test_metrics_can_be_public(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with running_app(tiny_bundle_dir, database, metrics_public=True) as api:
        assert api.client.get("/metrics").status_code == 200
