"""The token index and the int table must answer exactly as a dictionary would."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.model import compiled, token_index
from moderation.model.int_table import IntTable
from moderation.model.token_index import MAX_TOKEN, TokenIndex
from moderation.model.units import _scan

#: The lookups run twice: with the compiled kernel (``_kernels.c``, when built) and in NumPy.
PATHS = [compiled.kernels, None] if compiled.kernels is not None else [None]


def _index_and_lookup(known: list[str], asked: list[str]) -> list[int]:
    """Index ``known`` (unit i for token i), then look ``asked`` up; -1 where not found.
    Both lookup paths must agree, on the units and on the hashes ``add`` is given."""
    answers = []
    saved = compiled.kernels
    try:
        for kernels in PATHS:
            compiled.kernels = kernels
            index = TokenIndex(bits=2)  # tiny: the table must grow and probe
            hashes = np.zeros(0, dtype=np.uint64)
            if known:
                scan = _scan(known)
                _, hashes = index.lookup(scan.codes, scan.begins, scan.ends)
                units = np.arange(scan.begins.size, dtype=np.int64)
                index.add(scan.codes, scan.begins, scan.ends, hashes, units)
            scan = _scan(asked)
            units, asked_hashes = index.lookup(scan.codes, scan.begins, scan.ends)
            answers.append((units.tolist(), hashes.tolist(), asked_hashes.tolist()))
    finally:
        compiled.kernels = saved
    assert all(answer == answers[0] for answer in answers)
    return answers[0][0]


def _expected(known: list[str], asked: list[str]) -> list[int]:
    unit = {token: i for i, token in enumerate(known) if len(token) <= MAX_TOKEN}
    return [unit.get(token, -1) for token in asked]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("abcąż😀.*\u200b"), min_size=1, max_size=8),
        unique=True,
        max_size=40,
    ),
    st.lists(st.text(alphabet=st.sampled_from("abcąż😀.*\u200b"), min_size=1, max_size=8)),
)
def test_lookups_agree_with_a_dictionary(known: list[str], asked: list[str]) -> None:
    assert _index_and_lookup(known, asked) == _expected(known, asked)


def test_colliding_hashes_never_give_another_tokens_unit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every hash the same, a token is only found when it is the very one stored."""
    monkeypatch.setattr(token_index, "_POWERS", np.zeros(MAX_TOKEN, dtype=np.uint64))
    known = ["debil", "kurwa", "dobry", "ok"]
    asked = ["dobry", "debil", "debil,", "ok", "nowy"]
    found = _index_and_lookup(known, asked)
    assert found[2] == found[4] == -1  # never a neighbour's unit
    for unit, token in zip(found, asked, strict=True):
        assert unit == -1 or known[unit] == token
    assert found[1] == 0  # the first stored token is still found


def test_long_tokens_are_left_to_the_dictionary() -> None:
    long = "a" * (MAX_TOKEN + 1)
    assert _index_and_lookup([long, "krótki"], [long, "krótki"]) == [-1, 1]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 2**40), unique=True, max_size=300),
    st.lists(st.integers(0, 2**40), max_size=100),
)
def test_int_table_answers_like_a_dictionary(keys: list[int], others: list[int]) -> None:
    table = IntTable(np.asarray(keys, dtype=np.int64), np.arange(len(keys), dtype=np.int64) * 7)
    queries = keys + others
    expected = [keys.index(q) * 7 if q in keys else -1 for q in queries]
    saved = compiled.kernels
    try:
        for kernels in PATHS:
            compiled.kernels = kernels
            assert table.get(np.asarray(queries, dtype=np.int64)).tolist() == expected
    finally:
        compiled.kernels = saved
