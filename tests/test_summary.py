"""Per-article summary: counts, shares, time windows and the change of the latest window."""

from __future__ import annotations

import datetime as dt

import pytest

from moderation.summary import summarise_article

T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def result(
    minutes: int, stance: str | None, sentiment: str | None, flagged: bool
) -> dict[str, object]:
    return {
        "created_at": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        "stance": None if stance is None else {"label": stance, "scores": {}},
        "sentiment": sentiment,
        "flagged": ["toxicity"] if flagged else [],
    }


def test_counts_shares_and_a_surge_against_the_article() -> None:
    results = [
        result(0, "favor", "positive", False),
        result(10, "against", "negative", False),
        result(20, "none", "neutral", False),
        result(30, "favor", "positive", False),
        # second hour: a flood against
        result(65, "against", "negative", True),
        result(70, "against", "negative", True),
        result(75, "against", "negative", False),
        result(80, "favor", None, False),
    ]
    summary = summarise_article(results, window=dt.timedelta(hours=1))
    assert summary["comments"] == 8
    assert summary["stance"]["counts"] == {"favor": 3, "against": 4, "none": 1}
    assert summary["stance"]["shares"]["against"] == 0.5
    assert summary["sentiment"]["counts"] == {"positive": 2, "neutral": 1, "negative": 4}
    assert summary["flagged"] == {"count": 2, "share": 0.25}
    assert [w["comments"] for w in summary["windows"]] == [4, 4]
    assert summary["windows"][0]["start"] == T0.isoformat()
    assert summary["change"]["stance.against"] == 0.5  # 0.75 now against 0.25 before
    assert summary["change"]["flagged"] == 0.5


def test_empty_windows_are_kept_and_one_window_has_no_change() -> None:
    summary = summarise_article(
        [result(0, "favor", "neutral", False), result(190, "none", "neutral", False)]
    )
    assert [w["comments"] for w in summary["windows"]] == [1, 0, 0, 1]
    assert summarise_article([result(0, "favor", "neutral", False)])["change"] is None
    assert summarise_article([])["comments"] == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"stance": "favor"}, "created_at is missing"),
        ({"created_at": "yesterday"}, "not ISO 8601"),
        ({"created_at": T0.isoformat(), "stance": "maybe"}, "stance 'maybe'"),
        ("not an object", "expected an object"),
    ],
)
def test_unreadable_results_are_named(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        summarise_article([result(0, "favor", "neutral", False), bad])  # type: ignore[list-item]


def test_a_span_of_too_many_windows_is_refused_not_built() -> None:
    from moderation.summary import MAX_WINDOWS, TooManyWindowsError

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    results = [
        {"created_at": start, "stance": "favor"},
        {"created_at": start + dt.timedelta(minutes=MAX_WINDOWS + 5), "stance": "against"},
    ]
    with pytest.raises(TooManyWindowsError, match="ask for wider ones"):
        summarise_article(results, window=dt.timedelta(minutes=1))
    assert summarise_article(results, window=dt.timedelta(hours=1))["comments"] == 2
