"""Raw tokens to unit ids for a whole batch in NumPy: a hash table over code points.

The plain path of ``UnitCache.encode_batch`` looked every raw token of a batch up in a
dictionary: a string made by ``str.split``, hashed, then compared with the stored key — three
dependent cache misses per token once the rest of scoring has pushed the dictionary out of
the cache (8 ms of a batch of 1,000 comments, four times what the same lookups cost warm).
Here the tokens are never made into strings: each one's code points (from the scan that
found the token boundaries) are hashed with vectorised arithmetic, looked up in an
open-addressing table, and then *compared* code point by code point with the stored token,
so a hash collision can only cost a fallback, never a wrong unit. Tokens not found (new
ones, collisions, very long ones) go the dictionary way, and the ones the dictionary knows
are added here. The dictionary stays the reference: this index only ever holds a token
with the unit the dictionary gave it.
"""

from __future__ import annotations

import threading
from typing import Final

import numpy as np
from numpy.typing import NDArray

from moderation.model import compiled
from moderation.model.unit_table import Growing

#: Longer tokens are not indexed (the dictionary serves them): rare, and it bounds the
#: table of powers below.
MAX_TOKEN: Final = 48
#: Polynomial hash base and final mixing constant (odd 64-bit numbers; arithmetic wraps).
_BASE: Final = 0x100000001B3
_MIX: Final = np.uint64(0x9E3779B97F4A7C15)
_POWERS: Final = np.asarray([pow(_BASE, i, 1 << 64) for i in range(MAX_TOKEN)], dtype=np.uint64)
#: Linear-probing rounds before a lookup gives up (a miss: the dictionary answers).
_PROBES: Final = 32


class TokenIndex:
    """Code points of a raw token -> its unit id; lookups and additions batch-wide.

    Thread-safe: one lock around lookups and additions (each a few NumPy calls per batch).
    """

    def __init__(self, bits: int = 12) -> None:
        self._lock = threading.Lock()
        self._slots = np.full(1 << bits, -1, dtype=np.int32)  # entry index, -1: free
        self._hashes = Growing(np.uint64)  # per entry
        self._units = Growing(np.int64)
        self._lengths = Growing(np.int64)
        self._starts = Growing(np.int64)  # where its code points begin in _codes
        self._codes = Growing(np.uint32, capacity=8192)

    def __len__(self) -> int:
        return self._units.size

    def lookup(
        self, codes: NDArray[np.uint32], begins: NDArray[np.int64], ends: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """Unit id of every token ``codes[begins[i]:ends[i]]`` (-1 when not indexed), and
        the tokens' hashes (``add`` takes them back for the ones it is given)."""
        kernels = compiled.kernels
        if kernels is not None:  # the same lookup, compiled (``_kernels.c``)
            found = np.empty(begins.size, dtype=np.int64)
            hashes = np.empty(begins.size, dtype=np.uint64)
            with self._lock:
                kernels.token_lookup(
                    np.ascontiguousarray(codes, dtype=np.uint32),
                    np.ascontiguousarray(begins, dtype=np.int64),
                    np.ascontiguousarray(ends, dtype=np.int64),
                    self._slots,
                    self._hashes.view(),
                    self._units.view(),
                    self._lengths.view(),
                    self._starts.view(),
                    self._codes.view(),
                    _POWERS,
                    found,
                    hashes,
                    int(_MIX),
                    self._slots.size.bit_length() - 1,
                    _PROBES,
                )
            return found, hashes
        hashes, chars, char_token, offsets = _hash(codes, begins, ends)
        lengths = ends - begins
        with self._lock:
            entries = self._probe(hashes)
            units = self._confirmed(entries, codes, chars, char_token, offsets, lengths)
        return units, hashes

    def add(
        self,
        codes: NDArray[np.uint32],
        begins: NDArray[np.int64],
        ends: NDArray[np.int64],
        hashes: NDArray[np.uint64],
        units: NDArray[np.int64],
    ) -> None:
        """Index distinct tokens (none indexed yet) with the units the dictionary gave them."""
        lengths = ends - begins
        keep = lengths <= MAX_TOKEN
        begins, lengths, hashes, units = begins[keep], lengths[keep], hashes[keep], units[keep]
        if not units.size:
            return
        chars = _positions(begins, lengths)
        with self._lock:
            first = len(self)
            self._starts.extend(self._codes.size + np.cumsum(lengths) - lengths)
            self._codes.extend(codes[chars])
            self._lengths.extend(lengths)
            self._hashes.extend(hashes)
            self._units.extend(units)
            if 2 * len(self) > self._slots.size:  # keep at most half full: short probes
                size = self._slots.size
                while 2 * len(self) > size:
                    size *= 4
                self._slots = np.full(size, -1, dtype=np.int32)
                self._place(np.arange(len(self)))
            else:
                self._place(np.arange(first, len(self)))

    # -- helpers ---------------------------------------------------------------------------

    def _slot(self, hashes: NDArray[np.uint64]) -> NDArray[np.int64]:
        bits = self._slots.size.bit_length() - 1
        mixed = hashes * _MIX
        return (mixed >> np.uint64(64 - bits)).astype(np.int64)

    def _probe(self, hashes: NDArray[np.uint64]) -> NDArray[np.int64]:
        """Entry whose hash equals each token's (-1: none), by linear probing."""
        found = np.full(hashes.size, -1, dtype=np.int64)
        todo = np.arange(hashes.size)
        slot = self._slot(hashes)
        mask = self._slots.size - 1
        stored = self._hashes.view()
        for _ in range(_PROBES):
            entry = self._slots[slot]
            occupied = entry >= 0
            same = occupied.copy()
            same[occupied] = stored[entry[occupied]] == hashes[todo[occupied]]
            found[todo[same]] = entry[same]
            going = occupied & ~same
            todo, slot = todo[going], (slot[going] + 1) & mask
            if not todo.size:
                break
        return found

    def _confirmed(
        self,
        entries: NDArray[np.int64],
        codes: NDArray[np.uint32],
        chars: NDArray[np.int64],
        char_token: NDArray[np.int64],
        offsets: NDArray[np.int64],
        lengths: NDArray[np.int64],
    ) -> NDArray[np.int64]:
        """``entries``' units where the stored token has exactly the token's code points."""
        hit = entries >= 0
        hit[hit] = self._lengths.view()[entries[hit]] == lengths[hit]
        checked = hit[char_token]
        stored_at = self._starts.view()[entries[char_token[checked]]] + offsets[checked]
        differs = self._codes.view()[stored_at] != codes[chars[checked]]
        hit[char_token[checked][differs]] = False
        units = np.full(entries.size, -1, dtype=np.int64)
        units[hit] = self._units.view()[entries[hit]]
        return units

    def _place(self, entries: NDArray[np.int64]) -> None:
        """Put entries in free slots, first come first served, probing linearly."""
        slot = self._slot(self._hashes.view()[entries])
        mask = self._slots.size - 1
        while entries.size:
            free = np.flatnonzero(self._slots[slot] < 0)
            _, first = np.unique(slot[free], return_index=True)
            winners = free[first]
            self._slots[slot[winners]] = entries[winners]
            left = np.ones(entries.size, dtype=bool)
            left[winners] = False
            entries, slot = entries[left], (slot[left] + 1) & mask


def _positions(begins: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Indices of every code point of every token, tokens one after another."""
    total = int(lengths.sum())
    firsts = np.cumsum(lengths) - lengths
    return np.repeat(begins - firsts, lengths) + np.arange(total)


def _hash(
    codes: NDArray[np.uint32], begins: NDArray[np.int64], ends: NDArray[np.int64]
) -> tuple[NDArray[np.uint64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Each token's polynomial hash of its code points (0 for tokens too long to index),
    and for the code points hashed: their index in ``codes``, their token, their offset."""
    lengths = np.where(ends - begins <= MAX_TOKEN, ends - begins, 0)
    chars = _positions(begins, lengths)
    firsts = np.cumsum(lengths) - lengths
    char_token = np.repeat(np.arange(lengths.size), lengths)
    offsets = np.arange(chars.size) - firsts[char_token]
    terms = codes[chars].astype(np.uint64) * _POWERS[offsets]
    hashes = np.zeros(lengths.size, dtype=np.uint64)
    if terms.size:
        hashed = lengths > 0
        hashes[hashed] = np.add.reduceat(terms, firsts[hashed])
    return hashes, chars, char_token, offsets
