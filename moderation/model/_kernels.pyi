# The compiled kernels (``_kernels.c``, built by setup.py when a C compiler is there).
from typing import Any

def tfidf_product(
    lengths: Any,
    ids: Any,
    char_ptr: Any,
    chars: Any,
    word_rows: Any,
    word_cols: Any,
    idf: Any,
    logs: Any,
    weights: Any,
    out: Any,
    word_scale: Any,
    char_scale: Any,
    n_word: int,
    width: int,
    char_weight: float,
    /,
) -> int: ...
def token_lookup(
    codes: Any,
    begins: Any,
    ends: Any,
    slots: Any,
    hashes: Any,
    units: Any,
    lengths: Any,
    starts: Any,
    stored_codes: Any,
    powers: Any,
    found: Any,
    token_hashes: Any,
    mix: int,
    bits: int,
    probes: int,
    /,
) -> None: ...
def int_lookup(
    keys: Any, values: Any, queries: Any, out: Any, mix: int, bits: int, /
) -> None: ...
def langid_visits(
    data: Any,
    ends: Any,
    nextmove: Any,
    rowbase: Any,
    output: Any,
    features: Any,
    counts: Any,
    sizes: Any,
    /,
) -> None: ...
