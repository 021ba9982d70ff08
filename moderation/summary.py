"""Per-article summary of scored comments: the stance, sentiment and flag mix, and how it moves.

Editors ask "do readers agree with this piece, and did that change an hour ago?": a sudden
flood of comments against an article about Russia is more often a campaign than readers.
This module only counts; it takes results as ``Scorer`` (and the service) produce them, each
with the time it was written, so the service and the moderator page can show the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

STANCES: Final = ("favor", "against", "none")
SENTIMENTS: Final = ("positive", "neutral", "negative")


@dataclass(frozen=True, slots=True)
class _Comment:
    created_at: dt.datetime
    stance: str | None
    sentiment: str | None
    flagged: bool


#: Most time windows one summary builds: empty windows between the first and the last comment
#: are listed too, so an old article with narrow windows would otherwise mean a huge answer.
MAX_WINDOWS: Final = 2_000


class TooManyWindowsError(ValueError):
    """The comments span more than ``MAX_WINDOWS`` windows of the width asked for."""


def summarise_article(
    results: Iterable[Mapping[str, Any]], window: dt.timedelta = dt.timedelta(hours=1)
) -> dict[str, Any]:
    """Counts and shares of stance, sentiment and flagged comments, overall and per time window.

    Each result needs ``created_at`` (ISO 8601 text or a ``datetime``; naive times are taken
    as UTC) and may carry ``stance`` / ``sentiment`` (a label, or ``{"label": ...}`` as the
    scorer gives them) and ``flagged`` (the list of flagged attributes). Results without a
    stance or sentiment are counted as comments but not in those shares. ``change`` compares
    the latest window with the mean of the earlier ones (share points; None with one window).
    Raises ``ValueError`` naming the position of a result it cannot read, and
    ``TooManyWindowsError`` when the comments span more than ``MAX_WINDOWS`` windows.
    """
    if window <= dt.timedelta(0):
        raise ValueError("window must be positive")
    comments = sorted((_read(i, r) for i, r in enumerate(results)), key=lambda c: c.created_at)
    if comments and (comments[-1].created_at - comments[0].created_at) / window >= MAX_WINDOWS:
        raise TooManyWindowsError(
            f"the comments span more than {MAX_WINDOWS:,} windows of {window}: ask for wider ones"
        )
    summary: dict[str, Any] = {"window_seconds": int(window.total_seconds()), **_mix(comments)}
    windows: list[dict[str, Any]] = []
    if comments:
        start = comments[0].created_at
        bucket: list[_Comment] = []
        for comment in comments:
            while comment.created_at >= start + window:
                windows.append(_window(start, window, bucket))
                start, bucket = start + window, []
            bucket.append(comment)
        windows.append(_window(start, window, bucket))
    summary["windows"] = windows
    summary["change"] = _change(windows)
    return summary


def _read(position: int, result: Mapping[str, Any]) -> _Comment:
    if not isinstance(result, Mapping):
        raise ValueError(f"result {position}: expected an object, got {type(result).__name__}")
    created = result.get("created_at")
    if isinstance(created, str):
        try:
            created = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"result {position}: created_at is not ISO 8601 ({exc})") from None
    if not isinstance(created, dt.datetime):
        raise ValueError(f"result {position}: created_at is missing or not a time")
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return _Comment(
        created,
        _label(position, result.get("stance"), STANCES, "stance"),
        _label(position, result.get("sentiment"), SENTIMENTS, "sentiment"),
        bool(result.get("flagged")),
    )


def _label(position: int, value: object, allowed: Sequence[str], name: str) -> str | None:
    if value is None:
        return None
    label = value.get("label") if isinstance(value, Mapping) else value
    if label not in allowed:
        raise ValueError(f"result {position}: {name} {label!r} is not one of {', '.join(allowed)}")
    return str(label)


def _mix(comments: Sequence[_Comment]) -> dict[str, Any]:
    stance = Counter(c.stance for c in comments if c.stance is not None)
    sentiment = Counter(c.sentiment for c in comments if c.sentiment is not None)
    flagged = sum(c.flagged for c in comments)
    return {
        "comments": len(comments),
        "stance": _counts_and_shares(stance, STANCES),
        "sentiment": _counts_and_shares(sentiment, SENTIMENTS),
        "flagged": {"count": flagged, "share": _share(flagged, len(comments))},
    }


def _counts_and_shares(counts: Mapping[str, int], labels: Sequence[str]) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "counts": {label: counts.get(label, 0) for label in labels},
        "shares": {label: _share(counts.get(label, 0), total) for label in labels},
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _window(
    start: dt.datetime, width: dt.timedelta, comments: Sequence[_Comment]
) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": (start + width).isoformat(), **_mix(comments)}


def _change(windows: Sequence[Mapping[str, Any]]) -> dict[str, float | None] | None:
    """Latest window minus the mean of the earlier ones, in share points, per label."""
    if len(windows) < 2:
        return None
    latest, earlier = windows[-1], windows[:-1]
    change: dict[str, float | None] = {}
    for block, labels in (("stance", STANCES), ("sentiment", SENTIMENTS)):
        for label in labels:
            before = [
                w[block]["shares"][label] for w in earlier if w[block]["shares"][label] is not None
            ]
            now = latest[block]["shares"][label]
            key = f"{block}.{label}"
            change[key] = (
                None if now is None or not before else round(now - sum(before) / len(before), 4)
            )
    before_flagged = [w["flagged"]["share"] for w in earlier if w["flagged"]["share"] is not None]
    now_flagged = latest["flagged"]["share"]
    change["flagged"] = (
        None
        if now_flagged is None or not before_flagged
        else round(now_flagged - sum(before_flagged) / len(before_flagged), 4)
    )
    return change
