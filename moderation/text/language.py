"""Language identification with py3langid, whose model ships inside the wheel.

Short comments fool any n-gram identifier ("kurwa mac" is not Shona), so the candidate
languages are limited to those that plausibly appear under Polish news articles, and a
Latin-script comment without confident evidence for another language is taken as Polish
or English, whichever scores higher. Cyrillic comments are never mapped to pl/en: they
are honestly reported as ru/uk/... and unsupported; so are comments in other scripts
(Arabic, Chinese...: ar, zh..., by their script).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from moderation.attributes import SUPPORTED_LANGUAGES
from moderation.text.charmaps import CLOSE_TWINS, HOMOGLYPHS
from moderation.text.normalize import disguised_latin

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

    from moderation.text.langid_batch import BatchRanker

#: Languages a Polish news site's readers write in, often enough to be told apart.
CANDIDATES: Final[tuple[str, ...]] = (
    "pl",
    "en",
    "ru",
    "uk",
    "be",
    "bg",
    "kk",
    "de",
    "cs",
    "sk",
    "lt",
    "lv",
    "et",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "hu",
    "ro",
    "hr",
    "sr",
    "sl",
    "tr",
)
_CYRILLIC: Final = re.compile(r"[\u0400-\u04ff]")
_LATIN: Final = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD: Final = re.compile(r"[^\W\d_]{2,}")
_TWIN_TABLE: Final = str.maketrans({c: HOMOGLYPHS[c.lower()] for c in CLOSE_TWINS})
#: How sure py3langid must be before a Latin-script comment is called neither pl nor en.
OTHER_LANGUAGE_CONFIDENCE: Final = 0.95
MIN_WORDS_FOR_OTHER: Final = 4
#: Only the start of a long comment is needed to tell its language; cost grows with length.
PREFIX_CHARS: Final = 200
#: Markup and links say nothing about the reader's language, yet their English-looking words
#: ("script", "alert", "https", "www") tipped "<script>...</script> Ty d3b1lu!" to English,
#: so the Polish insult was scored by the English model. Script/style blocks go whole.
_MARKUP: Final = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>|<[^<>]{1,300}>|(?:https?://|www\.)\S+",
    re.IGNORECASE | re.DOTALL,
)
#: Mentions and anonymisation placeholders ("@Nick", "{USERNAME}", "{URL}", "[surname]") are
#: not the reader's language either: "{USERNAME} chuj" went to py3langid as mostly English
#: letters and the Polish insult was scored by the English model (BAN-PL writes a mention as
#: "{USERNAME}"; the normaliser reads all of these as one user/URL token, not as words).
_PLACEHOLDERS: Final = re.compile(
    r"@\w+|\{(?:username|url)\}|\[(?:surname|pseudonym|address|email|phonenumber|number)\]",
    re.IGNORECASE,
)
#: Letters only Polish uses among the languages above (Lithuanian has ą/ę, but not these).
_POLISH_LETTERS: Final = re.compile(r"[łśźżćńŁŚŹŻĆŃ]")
#: ą/ę are Polish unless Lithuanian's own letters are there too (its texts rarely lack them).
_NASAL_VOWELS: Final = re.compile(r"[ąęĄĘ]")
_LITHUANIAN_LETTERS: Final = re.compile(r"[ėįųūšžčĖĮŲŪŠŽČ]")
#: Frequent short words that are words in one language only (no "to", "a", "i", "na"...).
_POLISH_WORDS: Final = frozenset(
    [
        "się",
        "sie",
        "że",
        "jest",
        "już",
        "juz",
        "tylko",
        "czy",
        "który",
        "ktory",
        "która",
        "ktora",
        "które",
        "ktore",
        "może",
        "moze",
        "będzie",
        "bedzie",
        "było",
        "bylo",
        "oraz",
        "też",
        "tez",
        "jeszcze",
        "wszystko",
        "więc",
        "wiec",
        "żeby",
        "zeby",
        "niech",
        "bardzo",
        "gdzie",
        "tego",
        "jego",
        "przez",
        "dla",
        "jestem",
        "jesteś",
        "jestes",
        "nawet",
    ]
)
_ENGLISH_WORDS: Final = frozenset(
    [
        "the",
        "and",
        "are",
        "you",
        "that",
        "this",
        "with",
        "not",
        "they",
        "what",
        "would",
        "there",
        "their",
        "about",
        "which",
        "been",
        "just",
        "your",
        "don't",
        "it's",
        "of",
    ]
)
#: The fast path decides only when one side has this many hits and the other none.
_FAST_MIN_HITS: Final = 2


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """The detected language, how sure py3langid was, and whether we have models for it."""

    language: str
    confidence: float

    @property
    def supported(self) -> bool:
        return self.language in SUPPORTED_LANGUAGES


@dataclass(frozen=True, slots=True)
class _Pending:
    """A sample the rules could not decide: py3langid ranks it (``_decide`` reads that)."""

    sample: str
    cyrillic: int  # Cyrillic letters (0 when there are none)
    latin: int


#: The guesses the rules make, made once: nine comments in ten get one of these, and a new
#: object each would be one more for the garbage collector to carry through the batch.
_POLISH: Final = LanguageGuess("pl", 1.0)
_ENGLISH: Final = LanguageGuess("en", 1.0)
_NO_LETTERS: Final = LanguageGuess("pl", 0.0)

#: Scripts that name their language, for comments with letters in none of Latin, Cyrillic
#: and Greek (by the first word of a letter's Unicode name). py3langid is limited to the
#: languages of Polish news comments, so it would rank such a comment among those; its script
#: is the honest answer. Other letters (IPA in a "( ͡° ͜ʖ ͡°)", fullwidth or mathematical Latin,
#: rarer scripts) keep the rules for Latin text.
_SCRIPT_LANGUAGES: Final[dict[str, str]] = {
    "ARABIC": "ar",
    "HEBREW": "he",
    "CJK": "zh",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "HANGUL": "ko",
    "DEVANAGARI": "hi",
    "THAI": "th",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
}
_ANY_LETTER: Final = re.compile(r"[^\W\d_]")
_GREEK: Final = re.compile("[\u0370-\u03ff]")


class LanguageDetector:
    """Wraps py3langid; the model (about 5 MB) is read on first use, not at import."""

    def __init__(self) -> None:
        self._ranker: BatchRanker | None = None
        self._lock = threading.Lock()

    def _model(self) -> BatchRanker:
        if self._ranker is None:
            with self._lock:
                if self._ranker is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    from moderation.text.langid_batch import BatchRanker

                    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                    identifier.set_languages(list(CANDIDATES))
                    # py3langid keeps the all-language table (about 28 MB) to allow another
                    # set_languages call; we never make one, so let it go.
                    if hasattr(identifier, "_full_model"):
                        identifier._full_model = None
                    _compact_tables(identifier)
                    self._ranker = BatchRanker(identifier)
        return self._ranker

    def detect(self, text: str) -> LanguageGuess:
        """Guess the language of one comment (already stripped of invisible characters)."""
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        """``detect`` for every text; the ones the rules leave open are ranked by py3langid
        together (``BatchRanker``: one walk of its automaton for all, same probabilities)."""
        guesses = [_rules(text) for text in texts]
        pending = [(i, guess) for i, guess in enumerate(guesses) if isinstance(guess, _Pending)]
        if pending:
            rankings = self._model().rank_many([guess.sample.lower() for _, guess in pending])
            for (i, guess), ranking in zip(pending, rankings, strict=True):
                guesses[i] = _decide(guess, ranking)
        return [guess for guess in guesses if isinstance(guess, LanguageGuess)]  # all, now


def _rules(text: str) -> LanguageGuess | _Pending:
    """What is decided without py3langid: no letters, clear Polish or English (``_fast_guess``);
    otherwise the sample py3langid must rank and its script counts."""
    sample = _without_markup(text[:PREFIX_CHARS])
    cyrillic = 0 if sample.isascii() or _CYRILLIC.search(sample) is None else -1
    if cyrillic == 0:
        if _LATIN.search(sample) is None:
            other = _other_script(sample)
            if other is not None:
                return other
            # Emoji, numbers, punctuation only: nothing to tell; the Polish model scores it.
            return _NO_LETTERS
        fast = _fast_guess(sample)
        if fast is not None:
            return fast
        latin = 1
        # Only what py3langid reads needs the placeholders out (the rules above ignore them).
        sample = _without_placeholders(sample)
    else:
        cyrillic = len(_CYRILLIC.findall(sample))
        latin = len(_LATIN.findall(sample))
    if cyrillic > latin and disguised_latin(sample):
        # Polish or English behind Cyrillic look-alikes: identify the mapped text.
        return _rules(sample.lower().translate(_TWIN_TABLE))
    return _Pending(sample, cyrillic, latin)


def _other_script(sample: str) -> LanguageGuess | None:
    """The language of a comment written in a script other than Latin, Cyrillic or Greek
    (Arabic, Chinese...), by its most frequent letters' script; None unless that script is one
    of :data:`_SCRIPT_LANGUAGES`.

    Greek stays with the rules for Latin text: a comment in Greek letters only is more
    likely Polish or English behind look-alikes here than Greek.
    """
    if _GREEK.search(sample) is not None:
        return None
    scripts: dict[str, int] = {}
    for letter in _ANY_LETTER.findall(sample):
        script = unicodedata.name(letter, "").split(" ")[0]
        scripts[script] = scripts.get(script, 0) + 1
    if not scripts:
        return None
    language = _SCRIPT_LANGUAGES.get(max(scripts, key=lambda script: scripts[script]))
    return None if language is None else LanguageGuess(language, 1.0)


def _decide(pending: _Pending, ranking: list[tuple[str, float]]) -> LanguageGuess:
    """The guess for a sample from py3langid's ranking of it."""
    if pending.cyrillic > pending.latin:
        for language, probability in ranking:
            if language not in SUPPORTED_LANGUAGES:
                return LanguageGuess(language, float(probability))
    top_language, top_probability = ranking[0]
    if top_language in SUPPORTED_LANGUAGES:
        return LanguageGuess(top_language, float(top_probability))
    if (
        top_probability >= OTHER_LANGUAGE_CONFIDENCE
        and len(_WORD.findall(pending.sample)) >= MIN_WORDS_FOR_OTHER
    ):
        return LanguageGuess(top_language, float(top_probability))
    scores = dict(ranking)
    best = max(SUPPORTED_LANGUAGES, key=lambda lang: scores.get(lang, 0.0))
    return LanguageGuess(best, float(scores.get(best, 0.0)))


def _compact_tables(identifier: LanguageIdentifier) -> None:
    """py3langid's tables laid out for how they are read; the values stay the same.

    The per-feature class weights come out of ``set_languages`` column-major, so reading one
    feature's weights (a row) touched one cache line per language: made row-major, a
    comment's ranking costs a third as much. The automaton's two per-state tables become
    tuples instead of lists (read by index only): a list is walked by every full garbage
    collection, element by element (these two held 209,000 of the million references such
    a walk followed in a loaded scorer); a tuple of ints is untracked once seen.
    """
    import numpy as np

    identifier.nb_ptc = np.ascontiguousarray(identifier.nb_ptc)
    for name in ("_rowbase", "tk_output"):
        table = getattr(identifier, name, None)
        if isinstance(table, list):
            setattr(identifier, name, tuple(table))


def _without_placeholders(sample: str) -> str:
    """The sample without mentions and placeholders (``_PLACEHOLDERS``), unless they are all
    there is to it: a reply whose first characters are only mentions (OLID opens some with
    forty "@USER") keeps them, as py3langid read it before."""
    if "@" not in sample and "{" not in sample and "[" not in sample:
        return sample
    stripped = _PLACEHOLDERS.sub(" ", sample)
    return stripped if _LATIN.search(stripped) is not None else sample


def _without_markup(sample: str) -> str:
    """The sample without HTML tags, script/style blocks and links (``_MARKUP``). Markup
    alone leaves no letters, which ``detect`` treats like emoji or numbers."""
    if "<" not in sample and "://" not in sample and "www." not in sample:
        return sample  # the common case: no regex pass
    return _MARKUP.sub(" ", sample)


def _fast_guess(sample: str) -> LanguageGuess | None:
    """Decide clear Polish or English without running py3langid (a third of scoring time).

    Polish-only letters (ł ś ź ż ć ń, or ą ę without Lithuanian's ė į ų ū š ž č) or at
    least two different Polish-only function words (chosen not to be words of Czech,
    Slovak, German or Dutch too) and no English ones mean Polish, and the reverse means
    English; anything less clear goes to py3langid. The confidence reported for these is
    1.0 by construction, not a model output.
    """
    if _POLISH_LETTERS.search(sample) is not None or (
        _NASAL_VOWELS.search(sample) is not None and _LITHUANIAN_LETTERS.search(sample) is None
    ):
        return _POLISH
    words = sample.lower().split()
    polish = len(_POLISH_WORDS.intersection(words))
    english = len(_ENGLISH_WORDS.intersection(words))
    if polish >= _FAST_MIN_HITS and english == 0:
        return _POLISH
    if english >= _FAST_MIN_HITS and polish == 0:
        return _ENGLISH
    return None
