"""Evasion-proof normalisation: the text every model sees, with offsets into the original.

People evade word filters with look-alike letters, zero-width characters, leetspeak,
separators, elongation and masks. Every trick is undone here, *before* any model sees the
text, so a head trained on plain spellings also catches the disguised ones.

Work is done per whitespace-separated raw token and cached: comments repeat the same
tokens endlessly, so after warm-up most tokens cost one dictionary lookup. Each output
token keeps the character offsets of its raw token in the *original* text, which is what
explanation spans point at.
"""

from __future__ import annotations

import importlib.abc
import math
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, NamedTuple

from moderation.text.charmaps import (
    CLOSE_TWINS,
    CYRILLIC_FIRST,
    CYRILLIC_LAST,
    CYRILLIC_TO_LATIN,
    HOMOGLYPHS,
    LEET,
    LEET_ONLY_INSIDE,
    MASK_CHARS,
    SEPARATORS,
    fold_diacritics,
    is_invisible,
)

if TYPE_CHECKING:
    from nltk.tokenize.casual import TweetTokenizer

_RAW_TOKEN: Final = re.compile(r"\S+")
#: A plain lower-case word with optional trailing punctuation: the common case, no work.
_PLAIN: Final = re.compile(r"([a-ząćęłńóśźż]+)([.,!?;:]*)")
_EDGE_PUNCT: Final = "\"'„”“«»‚‘’()[]{}<>.,;:!?…*_~"
_ELONGATION: Final = re.compile(r"([^\W\d_])\1{2,}")
_PUNCT_RUN: Final = re.compile(r"([^\w\s])\1{3,}")
_URL: Final = re.compile(r"(?:https?://|www\.)\S+|\{url\}|\burl\b", re.IGNORECASE)
_MENTION: Final = re.compile(r"@\w+|\{username\}|@anonymized_account", re.IGNORECASE)
_TAG: Final = re.compile(r"\[(surname|pseudonym|address|email|phonenumber|number)\]")
_CYRILLIC: Final = re.compile(f"[{CYRILLIC_FIRST}-{CYRILLIC_LAST}]")
_LATIN: Final = re.compile(r"[a-zA-Z]")
_CYRILLIC_OR_GREEK: Final = re.compile("[\u0370-\u03ff\u0400-\u04ff]")
_LETTER: Final = re.compile(r"[^\W\d_]")
_HOMOGLYPH_TABLE: Final = str.maketrans(HOMOGLYPHS)
_TRANSLITERATION_TABLE: Final = str.maketrans(CYRILLIC_TO_LATIN)
#: A word whose mask could not be resolved: kept as one token ("g*wniarz"), not split at "*".
_MASKED_WORD: Final = re.compile(r"[^\W\d_]+(?:\*[^\W\d_]+)+")

URL_TOKEN: Final = "_url_"
USER_TOKEN: Final = "@user"


class Token(NamedTuple):
    """One normalised word and where its raw token sits in the original text."""

    begin: int
    end: int
    word: str


#: The words of one raw token, the characters of edge punctuation before and after them
#: inside the raw token (left out of its span), and whether it is a lone letter, maybe with
#: punctuation ("a," ending "k u r w a,"). A plain tuple on purpose: the normaliser caches
#: tens of thousands of these, and the garbage collector stops tracking plain tuples of
#: strings and ints, but never a NamedTuple (which made every full collection walk them).
RawResult = tuple[tuple[str, ...], int, int, bool]


def _raw_result(words: tuple[str, ...], lead: int, trail: int) -> RawResult:
    single = (
        bool(words)
        and len(words[0]) == 1
        and words[0].isalpha()
        and not any(c.isalnum() for w in words[1:] for c in w)
    )
    return (words, lead, trail, single)


class Normalizer:
    """Turns comments into normalised tokens; one instance per model (it caches).

    ``unmask_words`` are the words a masked token (``k*rwa``, ``ch#j``) may stand for, most
    likely first: the built-in profanity list and, when a model is loaded, its vocabulary.
    """

    def __init__(self, unmask_words: Iterable[str] = (), *, cache_size: int = 50_000) -> None:
        self.unmask_words = tuple(
            dict.fromkeys(fold_diacritics(w.casefold()) for w in unmask_words)
        )
        self.cache_size = cache_size
        # Candidates for a masked word by (length, first letter), most likely first.
        by_shape: dict[tuple[int, str], list[str]] = {}
        for word in self.unmask_words:
            by_shape.setdefault((len(word), word[:1]), []).append(word)
        # Tuples, and a dict for the set: the garbage collector stops tracking those once
        # their contents are all strings, where a set or a list (57,000 words here) is
        # walked by every full collection for as long as the scorer lives.
        self._by_shape = {shape: tuple(words) for shape, words in by_shape.items()}
        self._unmask_set = dict.fromkeys(self.unmask_words)
        # Word-break costs for letters spaced out across tokens ("s p i e r d a l a j s t a d"):
        # a word's cost grows with the log of its rank, so common words win.
        self._break_cost = {
            word: 1.0 + math.log(rank + 1)
            for rank, word in enumerate(self.unmask_words)
            if word.isalpha()
        }
        self._longest = max((len(w) for w in self._break_cost), default=0)
        self._caches: tuple[dict[str, RawResult], dict[str, RawResult]] = ({}, {})
        # nltk's package import is slow (about a second): pay it when a normaliser is built.
        self._tweet_tokenizer = _tweet_tokenizer()

    # -- public -------------------------------------------------------------------------

    def tokens(self, text: str) -> list[Token]:
        """Normalised tokens of ``text`` with offsets into ``text`` itself."""
        map_glyphs = self.maps_glyphs(text)
        out: list[Token] = []
        singles: list[bool] = []  # per token: its raw token is one lone letter
        for match in _RAW_TOKEN.finditer(text):
            words, lead, trail, single_letter = self.cached_raw(match.group(), map_glyphs)
            if not words:
                continue
            begin, end = match.start() + lead, match.end() - trail
            if end <= begin:  # a raw token of pure punctuation: point at all of it
                begin, end = match.start(), match.end()
            out.extend(Token(begin, end, word) for word in words)
            singles.append(single_letter)
            singles.extend([False] * (len(words) - 1))
        return self._join_spaced_letters(out, singles)

    def words(self, text: str) -> list[str]:
        """The same words as ``tokens`` without their offsets: the fast path for scoring.

        Splitting on whitespace in C and looking each raw token up in the cache is what
        makes scoring fast; offsets are worked out (by ``tokens``) only for the comments
        that need explanation spans.
        """
        map_glyphs = self.maps_glyphs(text)
        out: list[str] = []
        run = 0
        for raw in text.split():
            words, _, _, single_letter = self.cached_raw(raw, map_glyphs)
            if single_letter:
                run += 1
                if run >= 3:  # "k u r w a": let the offset-keeping path join them
                    return [token.word for token in self.tokens(text)]
            elif words:
                run = 0
            out.extend(words)
        return out

    # -- one raw token ----------------------------------------------------------------

    def raw(self, raw: str, map_glyphs: bool) -> RawResult:
        """Normalise one raw (whitespace-free) token; ``map_glyphs`` as ``maps_glyphs(text)``."""
        plain = _PLAIN.fullmatch(raw)
        if plain is not None:
            word, punct = plain.groups()
            plain_words: tuple[str, ...] = (self._collapse(fold_diacritics(word)),)
            if punct:
                plain_words += (_PUNCT_RUN.sub(r"\1\1\1", punct),)
            return _raw_result(plain_words, 0, len(punct))
        text = raw.translate(_INVISIBLE_TABLE)
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
            text = "".join(c for c in text if not is_invisible(c))
        text = text.casefold()
        if not text.isascii():
            if map_glyphs or _mixed_script(text):
                text = text.translate(_HOMOGLYPH_TABLE)
            elif _CYRILLIC.search(text) is not None:
                # A word of a comment written in Cyrillic: spelt the Polish way (charmaps).
                text = text.translate(_TRANSLITERATION_TABLE)
        text = fold_diacritics(text)
        text = _MENTION.sub(USER_TOKEN, _URL.sub(URL_TOKEN, _TAG.sub(r"\1", text)))
        core, lead, trail = _strip_edges(text)
        if core:
            core = _join_separated(core)
            core = self._unmask_and_unleet(core)
            core = self._collapse(core)
        words: list[str] = []
        if lead:
            words.append(_PUNCT_RUN.sub(r"\1\1\1", text[:lead]))
        if core:
            words.extend(self._split_words(core))
        if trail:
            words.append(_PUNCT_RUN.sub(r"\1\1\1", text[len(text) - trail :]))
        lead_raw, trail_raw = _raw_edges(raw)
        return _raw_result(tuple(w for w in words if w), lead_raw, trail_raw)

    def _split_words(self, core: str) -> list[str]:
        if (
            core in (URL_TOKEN, USER_TOKEN)
            or _LETTER.fullmatch(core)
            or core.isalnum()
            or _MASKED_WORD.fullmatch(core)
        ):
            return [core]
        return [_PUNCT_RUN.sub(r"\1\1\1", w) for w in self._tweet_tokenizer.tokenize(core)]

    def _unmask_and_unleet(self, core: str) -> str:
        """Replace symbol runs inside a word: masks via the lexicon, leetspeak via LEET."""
        if core.isalpha() or core in (URL_TOKEN, USER_TOKEN) or not _LETTER.search(core):
            return core
        chars = list(core)
        n = len(chars)
        letter = [c.isalpha() for c in chars]
        if not any(letter):  # letter-like numerals only ("〇〇"): _LETTER matched, isalpha not
            return core
        first = letter.index(True)
        last = n - 1 - letter[::-1].index(True)
        masked = False
        inside_leet: list[int] = []
        i = 0
        while i < n:
            if letter[i]:
                i += 1
                continue
            j = i
            while j < n and not letter[j] and not chars[j].isspace():
                j += 1
            if j == i:  # whitespace left by NFKC (e.g. a spacing accent): not a run
                i += 1
                continue
            run = "".join(chars[i:j])
            inside = first < i and j <= last
            if inside and any(c in MASK_CHARS for c in run):
                masked = True
            elif all(c in LEET for c in run) and (
                inside
                or (i > last and not any(c in LEET_ONLY_INSIDE for c in run) and len(run) <= 2)
                or (j == first and len(run) == 1 and run not in LEET_ONLY_INSIDE and n - j >= 3)
            ):
                for k in range(i, j):
                    chars[k] = LEET[chars[k]]
                if inside:
                    inside_leet.extend(range(i, j))
            i = j
        word = "".join(chars)
        if masked:
            return self._unmask(word)
        if inside_leet and word not in self._unmask_set:
            return self._confirm_leet(word, inside_leet)
        return word

    def _confirm_leet(self, word: str, positions: list[int]) -> str:
        """k0rwa -> kurwa: a leet character inside a word may stand for another letter.

        The usual reading ("0" is "o") gave a word outside the lexicon; if a lexicon word of
        the same length differs only at the leet positions, the writer meant that word.
        """
        free = set(positions)
        pattern = re.compile(
            "".join(r"[^\W\d_]" if k in free else re.escape(c) for k, c in enumerate(word))
        )
        initials = sorted({s[1] for s in self._by_shape}) if 0 in free else [word[:1]]
        candidates = (c for i in initials for c in self._by_shape.get((len(word), i), ()))
        for candidate in candidates:
            if pattern.fullmatch(candidate):
                return candidate
        return word

    def _unmask(self, word: str) -> str:
        """Find the lexicon word a masked spelling stands for; keep the mask if none fits."""
        parts = re.split(r"([\W\d_]+)", word)
        pattern_parts: list[str] = []
        for part in parts:
            if not part:
                continue
            if part.isalpha():
                pattern_parts.append(re.escape(part))
            else:
                pattern_parts.append(f"[^\\W\\d_]{{0,{len(part) + 1}}}")
        pattern = re.compile("".join(pattern_parts))
        letters = sum(len(p) for p in parts if p.isalpha())
        first = parts[0][:1] if parts[0].isalpha() else None
        initials = [first] if first else sorted({shape[1] for shape in self._by_shape})
        # One letter per mask character is the likeliest reading; then shorter, then longer.
        lengths = [len(word), *range(letters, len(word)), len(word) + 1]
        for length in lengths:
            for initial in initials:
                for candidate in self._by_shape.get((length, initial), ()):
                    if pattern.fullmatch(candidate):
                        return candidate
        return re.sub(r"[\W\d_]+", "*", word)

    def _join_spaced_letters(self, tokens: list[Token], singles: list[bool]) -> list[Token]:
        """'k u r w a' -> one token 'kurwa' spanning the letters: three or more lone letters.

        When several spaced-out words run together ("s p i e r d a l a j s t a d") the letters
        are split back into known words (cheapest segmentation by word rank), each word
        spanning its own letters.
        """
        if len(tokens) < 3:
            return tokens
        out: list[Token] = []
        run: list[Token] = []
        for token, single in zip(tokens, singles, strict=True):
            if single:
                run.append(token)
                continue
            self._flush(run, out)
            run = []
            out.append(token)
        self._flush(run, out)
        return out

    def _flush(self, run: list[Token], out: list[Token]) -> None:
        if len(run) < 3:
            out.extend(run)
            return
        letters = "".join(t.word for t in run)
        for begin, end in self._segment(letters):
            out.append(Token(run[begin].begin, run[end - 1].end, letters[begin:end]))

    def _segment(self, letters: str) -> list[tuple[int, int]]:
        """Cheapest split of ``letters`` into known words; the whole run when none fits."""
        if letters in self._break_cost or not self._break_cost:
            return [(0, len(letters))]
        n = len(letters)
        unknown = 25.0  # cost of a letter left over: any split into words beats it
        best = [0.0] + [math.inf] * n
        back = [0] * (n + 1)
        for end in range(1, n + 1):
            for begin in range(max(0, end - self._longest), end):
                piece = letters[begin:end]
                cost = self._break_cost.get(
                    piece, unknown * len(piece) if end - begin == 1 else math.inf
                )
                if best[begin] + cost < best[end]:
                    best[end], back[end] = best[begin] + cost, begin
        if best[n] >= unknown * n:
            return [(0, n)]
        pieces: list[tuple[int, int]] = []
        end = n
        while end > 0:
            pieces.append((back[end], end))
            end = back[end]
        pieces.reverse()
        # Letters no word claimed stay joined with their neighbours' run as one token.
        merged: list[tuple[int, int]] = []
        for begin, end in pieces:
            if merged and end - begin == 1 and letters[begin:end] not in self._break_cost:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((begin, end))
        return merged

    def _collapse(self, word: str) -> str:
        """kuuurwaaa -> kurwa: three or more of one letter become one, or two where the doubled
        spelling is the more frequent known word (English "goooood" -> "good", not "god")."""
        if _ELONGATION.search(word) is None:
            return word
        single = _ELONGATION.sub(r"\1", word)
        double = _ELONGATION.sub(r"\1\1", word)
        unknown = math.inf
        # Both known ("god"/"good"): the more frequent word is the likelier one.
        if self._break_cost.get(double, unknown) < self._break_cost.get(single, unknown):
            return double
        return single

    @staticmethod
    def maps_glyphs(text: str) -> bool:
        """Whether look-alike letters are mapped to Latin in this comment (Latin-dominant).

        Only a comment with Cyrillic or Greek letters can need it; most cannot, and one
        regex search tells (the full letter count is only made for those that can).
        """
        if text.isascii() or _CYRILLIC_OR_GREEK.search(text) is None:
            return False
        return Normalizer._latin_dominant(text)

    def cached_raw(self, raw: str, map_glyphs: bool) -> RawResult:
        """``raw`` through the cache."""
        cache = self._caches[map_glyphs]
        result = cache.get(raw)
        if result is None:
            result = self.raw(raw, map_glyphs)
            if len(cache) >= self.cache_size:
                cache.clear()
            cache[raw] = result
        return result

    @staticmethod
    def _latin_dominant(text: str) -> bool:
        return disguised_latin(text)


_INVISIBLE_TABLE: Final = dict.fromkeys(
    (
        *range(0x00, 0x09),
        0x0B,
        0x0C,
        *range(0x0E, 0x20),
        0x7F,
        0xAD,
        0x034F,
        0x061C,
        0x115F,
        0x1160,
        0x17B4,
        0x17B5,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        0x3164,
        0xFEFF,
        0xFFA0,
        *range(0xFE00, 0xFE10),
    ),
)


#: The same characters as one regex class: a C scan tells whether ``translate`` (a dictionary
#: lookup per character, the slow part) is needed at all. Most comments have none.
_INVISIBLE: Final = re.compile("[" + "".join(re.escape(chr(c)) for c in _INVISIBLE_TABLE) + "]")


#: What nltk's package import pulls in without needing it for the tokenizer: scikit-learn
#: (a wrapper module) and scipy.stats (a few metrics; it imports most of SciPy with it).
#: nltk imports both inside ``try``/``except ImportError`` and goes on without them.
_NOT_FOR_THE_TOKENIZER: Final = ("sklearn", "scipy.stats")


class _Unneeded(importlib.abc.MetaPathFinder):
    """Refuses the ``_NOT_FOR_THE_TOKENIZER`` modules (only while nltk's package is first
    imported)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if any(name == top or name.startswith(top + ".") for top in _NOT_FOR_THE_TOKENIZER):
            raise ImportError(f"{name} is not needed by the tokenizer")


def _tweet_tokenizer() -> TweetTokenizer:
    """nltk's TweetTokenizer, imported without the modules nltk's package loads for other uses.

    ``import nltk`` imports every nltk module, among them ``nltk.classify.scikitlearn``,
    which imports scikit-learn when it is installed (it is: training needs it) and skips it
    when not. That alone is about 70 MB of resident memory in every scoring process, which
    never uses it; so the first import of nltk sees scikit-learn as absent. The same for
    scipy.stats, which nltk's association and agreement metrics import and which brings
    scipy.optimize, integrate, interpolate, spatial and ndimage along: some 300 modules
    whose objects every full garbage collection walked while scoring. A process that has
    already imported either (training) is not affected.
    """
    if "nltk" not in sys.modules and not any(m in sys.modules for m in _NOT_FOR_THE_TOKENIZER):
        blocker = _Unneeded()
        sys.meta_path.insert(0, blocker)
        try:
            import nltk.tokenize.casual  # noqa: F401
        finally:
            sys.meta_path.remove(blocker)
    from nltk.tokenize.casual import TweetTokenizer

    return TweetTokenizer(preserve_case=True, reduce_len=False)


def strip_invisible(text: str) -> str:
    """The text without zero-width, bidi and control characters (for language detection)."""
    if _INVISIBLE.search(text) is not None:
        text = text.translate(_INVISIBLE_TABLE)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def written_in_cyrillic(text: str) -> bool:
    """Whether a comment is real Cyrillic writing (Russian, Ukrainian...), not a disguise.

    Its words are transliterated for the features, so their normalised form looks Polish;
    language identification must go by the original letters instead.
    """
    return _CYRILLIC.search(text) is not None and not disguised_latin(text)


def disguised_latin(text: str) -> bool:
    """Whether a comment is Latin-script writing, possibly disguised with Cyrillic look-alikes.

    True when Latin letters are the majority, and also when nearly every Cyrillic letter is
    one of the close look-alikes of Latin (а е о р с у х к м т н в і ј ѕ) and some Latin is
    present: real Russian or Ukrainian uses many letters with no Latin twin (и я л п д ы ж...).
    """
    latin = len(_LATIN.findall(text))
    cyrillic = _CYRILLIC.findall(text)
    if latin >= len(cyrillic):
        return True
    if latin == 0:
        return False
    twins = sum(char in CLOSE_TWINS for char in cyrillic)
    return twins >= 0.95 * len(cyrillic)


# -- helpers shared by the steps above --------------------------------------------------


def _mixed_script(text: str) -> bool:
    return (_LATIN.search(text) is not None and _CYRILLIC.search(text) is not None) or any(
        "\u0370" <= c <= "\u03ff" for c in text
    )


def _strip_edges(text: str) -> tuple[str, int, int]:
    core = text.strip(_EDGE_PUNCT)
    if not core:
        return "", len(text), 0
    lead = len(text) - len(text.lstrip(_EDGE_PUNCT))
    trail = len(text) - len(text.rstrip(_EDGE_PUNCT))
    return core, lead, trail


def _raw_edges(raw: str) -> tuple[int, int]:
    """Edge punctuation of the raw token itself, so spans cover the word, not the comma.

    Invisible and control characters at the edges are skipped too ("kurwa," followed by a
    zero-width space spans "kurwa", not the comma); combining marks are not, they belong to
    the letter before them.
    """
    begin, end = 0, len(raw)
    while begin < end and _is_raw_edge(raw[begin]):
        begin += 1
    while end > begin and _is_raw_edge(raw[end - 1]):
        end -= 1
    if begin == end:
        return 0, 0
    return begin, len(raw) - end


def _is_raw_edge(char: str) -> bool:
    return char in _EDGE_PUNCT or (
        is_invisible(char) and unicodedata.category(char) not in ("Mn", "Me")
    )


_PIECE: Final = r"(?:[^\W_]|[" + re.escape("".join(sorted(set(LEET) - SEPARATORS))) + r"]){1,2}"
_SEPARATED: Final = re.compile(
    _PIECE + r"(?:[" + re.escape("".join(SEPARATORS)) + r"]" + _PIECE + r"){2,}"
)


def _join_separated(core: str) -> str:
    """k.u.r.w.a / ch-u-j / k_u_r_w_a -> the word without separators.

    Requires three or more pieces of one or two characters, so "m.in." and "polsko-rosyjski"
    stay as they are. Pieces of digits only (dates, versions) are left alone.
    """
    if len(core) > 60 or _SEPARATED.fullmatch(core) is None or not _LETTER.search(core):
        return core
    return "".join(c for c in core if c not in SEPARATORS)
