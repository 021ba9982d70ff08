"""The collector pause around a scored batch: off inside, restored after, shared by threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from moderation import collector
from moderation.scoring import Scorer

TEXTS = [
    "Ty debilu, spierdalaj z tym artykułem",
    "Dobry tekst, dziękuję za rzetelne informacje.",
    "You are a complete idiot.",
    "",
    "Kazachstan odwraca się od Rosji, i dobrze.",
    "k u r w a",
    "Ты дурак",
]


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Every test starts and ends with the collector on and no pause in effect."""
    gc.enable()
    yield
    assert collector.depth() == 0
    gc.enable()


def test_pause_turns_the_collector_off_and_back_on() -> None:
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_nested_pauses_restore_only_at_the_outermost() -> None:
    with collector.paused():
        with collector.paused():
            assert collector.depth() == 2
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_exception_still_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_concurrent_pauses_end_with_the_last_one() -> None:
    inside = threading.Barrier(4)
    first_out = threading.Event()
    states: list[bool] = []

    def batch(index: int) -> None:
        with collector.paused():
            inside.wait()  # all four are paused at once
            if index == 0:
                return  # leaves first: the others still run, the collector stays off
            first_out.wait()
            states.append(gc.isenabled())

    threads = [threading.Thread(target=batch, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    threads[0].join()
    first_out.set()
    for thread in threads[1:]:
        thread.join()
    assert states == [False, False, False]
    assert gc.isenabled()


def test_overlapping_batches_cannot_keep_the_collector_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "MAX_PAUSE_S", 0.0)
    with collector.paused():
        with collector.paused():
            pass
        # The inner batch ended after the (zero) longest pause: back on while one still runs.
        assert gc.isenabled()
        with collector.paused():  # a batch starting now leaves it on
            assert gc.isenabled()
    assert gc.isenabled()


def _collector_states(scorer: Scorer, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records whether the collector is on each time the scorer identifies languages."""
    seen: list[bool] = []
    identify = scorer._identify

    def spy(items):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return identify(items)

    monkeypatch.setattr(scorer, "_identify", spy)
    return seen


def test_scores_are_the_same_with_and_without_the_pause(
    tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paused = Scorer.load(tiny_bundle_dir)
    plain = Scorer.load(tiny_bundle_dir, gc_pause=False)
    assert paused.gc_pause and not plain.gc_pause
    paused_states = _collector_states(paused, monkeypatch)
    plain_states = _collector_states(plain, monkeypatch)
    texts = TEXTS * 40
    with_pause = [outcome.to_dict() for outcome in paused.score(texts)]
    without = [outcome.to_dict() for outcome in plain.score(texts)]
    assert with_pause == without
    assert paused_states == [False] and plain_states == [True]
    assert gc.isenabled()
    assert paused.score_text(TEXTS[0]).to_dict() == plain.score_text(TEXTS[0]).to_dict()
    assert paused_states == [False, False] and gc.isenabled()


def test_threads_scoring_at_once_get_their_own_results(scorer: Scorer) -> None:
    batches = [TEXTS[i:] + TEXTS[:i] for i in range(len(TEXTS))]
    expected = [[o.to_dict() for o in scorer.score(batch)] for batch in batches]
    got: dict[int, list[dict[str, object]]] = {}
    start = threading.Barrier(len(batches))

    def work(index: int) -> None:
        start.wait()
        for _ in range(5):
            got[index] = [o.to_dict() for o in scorer.score(batches[index])]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [got[i] for i in range(len(batches))] == expected
    assert gc.isenabled()
