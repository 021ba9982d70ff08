"""Evasion-proof normalisation: every trick the product promises to undo, with exact offsets.

The normaliser is built exactly as the service builds it for the built-in list: the words of
moderation/text/data/profanity.txt ('#' lines skipped) are the words a mask may stand for.
No model is trained here; everything runs in well under a second (plus hypothesis).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import moderation.text.normalize as normalize_module
from moderation.text.normalize import Normalizer, Token, strip_invisible

PROFANITY_FILE = Path(normalize_module.__file__).parent / "data" / "profanity.txt"


def _profanity() -> list[str]:
    return [
        line.strip()
        for line in PROFANITY_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


PROFANITY = _profanity()


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(PROFANITY)


def spans(normalizer: Normalizer, text: str) -> list[tuple[str, str]]:
    """(normalised word, the original text its offsets point at) for every token."""
    return [(t.word, text[t.begin : t.end]) for t in normalizer.tokens(text)]


def test_profanity_list_is_read_like_the_service_does() -> None:
    assert PROFANITY[:3] == ["kurwa", "kurwy", "kurwo"]
    assert not any(word.startswith("#") or not word for word in PROFANITY)


# -- NFKC and case folding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("ｋｕｒｗａ", "kurwa"),  # fullwidth
        ("ＫＵＲＷＡ", "kurwa"),  # fullwidth capitals
        ("Ⅽhuj", "chuj"),  # U+216D ROMAN NUMERAL ONE HUNDRED
        ("𝐤𝐮𝐫𝐰𝐚", "kurwa"),  # mathematical bold small
        ("𝐊𝐔𝐑𝐖𝐀", "kurwa"),  # mathematical bold capital
        ("𝓀𝓊𝓇𝓌𝒶", "kurwa"),  # mathematical script small
        ("KURWA", "kurwa"),
        ("Kurwa", "kurwa"),
        ("KURWA MAĆ", "kurwa mac"),
    ],
)
def test_nfkc_and_case_folding(normalizer: Normalizer, text: str, word: str) -> None:
    assert normalizer.words(text) == word.split()


def test_upper_case_equals_lower_case(normalizer: Normalizer) -> None:
    assert normalizer.words("KURWA") == normalizer.words("kurwa") == ["kurwa"]
    # The plain-word fast path and the full path must agree.
    assert normalizer.words("Kurwa, Debilu.") == normalizer.words("kurwa, debilu.")
    assert normalizer.words("kurwa, debilu.") == ["kurwa", ",", "debilu", "."]


# -- invisible characters -----------------------------------------------------------------


@pytest.mark.parametrize(
    "invisible",
    ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200b\u200c\u200d"],
    ids=["ZWSP", "ZWNJ", "ZWJ", "WJ", "BOM", "SHY", "several"],
)
def test_zero_width_characters_inside_words_are_dropped(
    normalizer: Normalizer, invisible: str
) -> None:
    raw = f"k{invisible}ur{invisible}wa"
    assert spans(normalizer, raw) == [("kurwa", raw)]
    text = f"ty {raw}, serio"
    assert spans(normalizer, text) == [
        ("ty", "ty"),
        ("kurwa", raw),
        (",", raw),
        ("serio", "serio"),
    ]


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("k̶u̶r̶w̶a̶", "kurwa"),  # U+0336 long stroke overlay
        ("k̵u̵r̵w̵a̵", "kurwa"),  # U+0335 short stroke overlay
        ("k̲u̲r̲w̲a̲", "kurwa"),  # U+0332 low line
        ("z̷̢a̸l̵o̴s̶n̷y̸", "zalosny"),  # stacked "zalgo" marks
    ],
)
def test_combining_overlay_marks_are_dropped(normalizer: Normalizer, text: str, word: str) -> None:
    # The span keeps the marks: they are part of the word as written.
    assert spans(normalizer, text) == [(word, text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ku\x00rwa", [("kurwa", "ku\x00rwa")]),
        ("ku\x07rwa", [("kurwa", "ku\x07rwa")]),
        ("\x07kurwa\x00", [("kurwa", "kurwa")]),
        ("\x00", []),
        ("\x07\x00\x1b", []),
        ("a \x07 b", [("a", "a"), ("b", "b")]),
        ("ty\x00 debilu\x07!", [("ty", "ty"), ("debilu", "debilu"), ("!", "debilu")]),
    ],
)
def test_control_characters_never_crash_and_vanish(
    normalizer: Normalizer, text: str, expected: list[tuple[str, str]]
) -> None:
    assert spans(normalizer, text) == expected


def test_strip_invisible_keeps_whitespace_and_applies_nfkc() -> None:
    text = "ku\u200brwa\u2060 ｔｅｓｔ\x00\x07\tok\nnl\ufeff"
    assert strip_invisible(text) == "kurwa test\tok\nnl"


# -- homoglyphs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("кurwа", "kurwa"),  # Cyrillic к and а
        ("idiоta", "idiota"),  # Cyrillic о
        ("дebil", "debil"),  # Cyrillic д
        ("κurwa", "kurwa"),  # Greek kappa
        ("idiοta", "idiota"),  # Greek omicron
        ("δebil", "debil"),  # Greek delta
        ("ιdiota", "idiota"),  # Greek iota
    ],
)
def test_homoglyphs_inside_latin_words(normalizer: Normalizer, text: str, word: str) -> None:
    assert spans(normalizer, text) == [(word, text)]


def test_homoglyphs_in_a_latin_comment(normalizer: Normalizer) -> None:
    assert normalizer.words("Ty jesteś idiоta i kurwа") == ["ty", "jestes", "idiota", "i", "kurwa"]


def test_a_comment_written_in_cyrillic_is_spelt_the_polish_way(normalizer: Normalizer) -> None:
    """Not look-alike mapping (that would read "идиот" as garbage): transliteration, so the
    words Russian and Ukrainian share with Polish reach the Polish features."""
    assert normalizer.words("Ты просто идиот, понимаешь?") == [
        "ty",
        "prosto",
        "idiot",
        ",",
        "ponimaesz",
        "?",
    ]
    assert normalizer.words("Путин хуйло, а вы все дебилы") == [
        "putin",
        "chujlo",
        ",",
        "a",
        "wy",
        "wse",
        "debily",
    ]
    # й, ё, ї are letters, not diacritics: they keep words apart after transliteration too.
    assert normalizer.words("Слава Україні!") == ["slawa", "ukrajini", "!"]
    assert normalizer.words("Мой ёжик, мои друзья") == ["moj", "jozik", ",", "moi", "druzja"]


def test_cyrillic_look_alikes_in_a_latin_comment_are_still_mapped(normalizer: Normalizer) -> None:
    """Transliteration is only for comments written in Cyrillic: "kurwа" with a Cyrillic "а"
    in a Polish comment is a disguise, and "сука" there reads as the letters it imitates."""
    assert normalizer.words("Ty jesteś idiоta i kurwа") == ["ty", "jestes", "idiota", "i", "kurwa"]
    assert normalizer.words("to jest сука mowie wam") == ["to", "jest", "cyka", "mowie", "wam"]


# -- leetspeak ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("k0rwa", "kurwa"),  # "0" read as "o" gives no word; the lexicon says "u"
        ("k0rwo", "kurwo"),
        ("kurw4", "kurwa"),
        ("d3b1l", "debil"),
        ("j3bać", "jebac"),
        ("zaj3bisty", "zajebisty"),
        ("sh!t", "shit"),
        ("sh1t", "shit"),
        ("a$$hole", "asshole"),
        ("5pierdalaj", "spierdalaj"),
        ("5uka", "suka"),
        ("f0ck", "fuck"),
        ("c0ck", "cock"),
    ],
)
def test_leetspeak_inside_words(normalizer: Normalizer, text: str, word: str) -> None:
    assert spans(normalizer, text) == [(word, text)]


@pytest.mark.parametrize(
    ("text", "word"),
    [("k0t", "kot"), ("l33t", "leet"), ("w1nd0ws", "windows"), ("h4ck3r", "hacker")],
)
def test_leetspeak_outside_the_lexicon_uses_the_usual_reading(
    normalizer: Normalizer, text: str, word: str
) -> None:
    assert normalizer.words(text) == [word]


def test_lexicon_reading_of_leet_needs_a_lexicon() -> None:
    assert Normalizer().words("k0rwa") == ["korwa"]


def test_punctuation_after_a_word_is_not_leet(normalizer: Normalizer) -> None:
    assert spans(normalizer, "debil!") == [("debil", "debil"), ("!", "debil")]
    assert spans(normalizer, "sh!t!") == [("shit", "sh!t"), ("!", "sh!t")]
    assert spans(normalizer, "!debil") == [("!", "debil"), ("debil", "debil")]
    assert normalizer.words("debil?!") == ["debil", "?!"]
    assert normalizer.words("kurwa!!!!!!") == ["kurwa", "!!!"]


def test_mentions_become_the_user_token(normalizer: Normalizer) -> None:
    assert spans(normalizer, "@Marek") == [("@user", "@Marek")]
    assert spans(normalizer, "@Marek, ty debilu") == [
        ("@user", "@Marek"),
        (",", "@Marek"),
        ("ty", "ty"),
        ("debilu", "debilu"),
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [("20%", ["20", "%"]), ("500+", ["500", "+"]), ("1000", ["1000"])],
)
def test_numbers_are_not_turned_into_letters(
    normalizer: Normalizer, text: str, words: list[str]
) -> None:
    assert spans(normalizer, text) == [(word, text) for word in words]


def test_dates_are_not_turned_into_letters(normalizer: Normalizer) -> None:
    text = "wzrost o 20% od 12.03.2024, ponad 500+ osób"
    words = normalizer.words(text)
    with_letters = [w for w in words if any(c.isalpha() for c in w)]
    assert with_letters == ["wzrost", "o", "od", "ponad", "osob"]
    assert "".join(words) == "wzrosto20%od12.03.2024,ponad500+osob"
    assert "".join(normalizer.words("12.03.2024")) == "12.03.2024"


# -- separators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("k.u.r.w.a", "kurwa"),
        ("ch-u-j", "chuj"),
        ("ch.u.j", "chuj"),
        ("k_u_r_w_a", "kurwa"),
        ("k-u-r-w-a", "kurwa"),
        ("d.e.b.i.l", "debil"),
    ],
)
def test_separated_letters_are_joined(normalizer: Normalizer, text: str, word: str) -> None:
    assert spans(normalizer, text) == [(word, text)]


def test_separated_letters_before_punctuation(normalizer: Normalizer) -> None:
    assert spans(normalizer, "to jest k.u.r.w.a, serio") == [
        ("to", "to"),
        ("jest", "jest"),
        ("kurwa", "k.u.r.w.a"),
        (",", "k.u.r.w.a"),
        ("serio", "serio"),
    ]
    assert spans(normalizer, "p.i.z.d.a!") == [("pizda", "p.i.z.d.a"), ("!", "p.i.z.d.a")]


def test_spaced_letters_become_one_token_spanning_all_of_them(normalizer: Normalizer) -> None:
    assert normalizer.tokens("k u r w a") == [Token(0, 9, "kurwa")]
    text = "ty k u r w o jedna"
    assert normalizer.tokens(text) == [
        Token(0, 2, "ty"),
        Token(3, 12, "kurwo"),
        Token(13, 18, "jedna"),
    ]
    assert text[3:12] == "k u r w o"


def test_abbreviations_and_compounds_are_untouched(normalizer: Normalizer) -> None:
    assert spans(normalizer, "m.in.") == [("m.in", "m.in"), (".", "m.in")]
    assert normalizer.words("polsko-rosyjski") == ["polsko-rosyjski"]
    assert normalizer.words("m.in. polsko-rosyjski spór") == [
        "m.in",
        ".",
        "polsko-rosyjski",
        "spor",
    ]
    # Two lone letters are not a spaced-out word.
    assert normalizer.words("a w domu") == ["a", "w", "domu"]


# -- elongation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kuuurwaaa", ["kurwa"]),
        ("nieeeeee", ["nie"]),
        ("KUUURWAAA!!!!!", ["kurwa", "!!!"]),
        ("debiiiiil", ["debil"]),
        # Doubled letters are real Polish spelling and stay.
        ("zaangażowanie", ["zaangazowanie"]),
    ],
)
def test_elongations_are_collapsed(normalizer: Normalizer, text: str, words: list[str]) -> None:
    assert normalizer.words(text) == words


# -- masks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("k*rwa", "kurwa"),
        ("ch*j", "chuj"),
        ("ch#j", "chuj"),
        ("k&^$wa", "kurwa"),
        ("p*erdolić", "pierdolic"),
        ("sk*rwysyn", "skurwysyn"),
        ("*k*rwa*", "kurwa"),
    ],
)
def test_masked_profanity_is_unmasked_via_the_lexicon(
    normalizer: Normalizer, text: str, word: str
) -> None:
    assert word in normalizer.words(text)
    assert [t for t in spans(normalizer, text) if t[0] == word] == [(word, text.strip("*"))]


@pytest.mark.parametrize(
    ("text", "word"), [("g*wniarz", "g*wniarz"), ("xy*zzq", "xy*zzq"), ("bl&%ah", "bl*ah")]
)
def test_unknown_masked_word_keeps_one_placeholder(
    normalizer: Normalizer, text: str, word: str
) -> None:
    assert spans(normalizer, text) == [(word, text)]


def test_masks_without_a_lexicon_do_not_crash() -> None:
    assert Normalizer().words("k*rwa ch*j") == ["k*rwa", "ch*j"]


# -- diacritics ---------------------------------------------------------------------------


def test_diacritics_are_folded(normalizer: Normalizer) -> None:
    assert normalizer.words("jebac") == normalizer.words("jebać") == ["jebac"]
    assert normalizer.words("zalosny") == normalizer.words("żałosny") == ["zalosny"]
    assert normalizer.words("ŻAŁOSNY") == ["zalosny"]
    assert normalizer.words("łódź Łajza") == ["lodz", "lajza"]
    assert normalizer.words("zażółć gęślą jaźń") == ["zazolc", "gesla", "jazn"]


# -- offsets ------------------------------------------------------------------------------


def test_offsets_point_at_the_raw_word_without_surrounding_punctuation(
    normalizer: Normalizer,
) -> None:
    text = 'Ty k0rwo, "debilu" (ku\u200brwa) ｋｕｒｗａ! k.u.r.w.a, @Marek. *kurwa* _debil_'
    assert spans(normalizer, text) == [
        ("ty", "Ty"),
        ("kurwo", "k0rwo"),
        (",", "k0rwo"),
        ('"', "debilu"),
        ("debilu", "debilu"),
        ('"', "debilu"),
        ("(", "ku\u200brwa"),
        ("kurwa", "ku\u200brwa"),
        (")", "ku\u200brwa"),
        ("kurwa", "ｋｕｒｗａ"),
        ("!", "ｋｕｒｗａ"),
        ("kurwa", "k.u.r.w.a"),
        (",", "k.u.r.w.a"),
        ("@user", "@Marek"),
        (".", "@Marek"),
        ("*", "kurwa"),
        ("kurwa", "kurwa"),
        ("*", "kurwa"),
        ("_", "debil"),
        ("debil", "debil"),
        ("_", "debil"),
    ]


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("kurwa,\u200b", "kurwa"),
        ("\u200b“debil”\u200b", "debil"),
        ("\ufeff«kurwa»", "kurwa"),
        ("(ch\u200buj),\x00", "ch\u200buj"),
    ],
)
def test_invisible_characters_at_the_edges_are_not_in_the_span(
    normalizer: Normalizer, text: str, raw: str
) -> None:
    tokens = normalizer.tokens(text)
    assert {text[t.begin : t.end] for t in tokens} == {raw}


def test_a_token_of_pure_punctuation_points_at_all_of_it(normalizer: Normalizer) -> None:
    assert spans(normalizer, "tak ,\u200b, nie") == [
        ("tak", "tak"),
        (",,", ",\u200b,"),
        ("nie", "nie"),
    ]
    assert spans(normalizer, "?!") == [("?!", "?!")]


def test_letter_like_numerals_do_not_crash(normalizer: Normalizer) -> None:
    # U+3007 is \w but not a letter and not a decimal digit: it used to raise ValueError.
    assert spans(normalizer, "〇〇") == [("〇〇", "〇〇")]


@settings(max_examples=500, deadline=None)
@given(st.text())
@example("〇〇")
@example(",\u200b,")
@example("\x00\u200b\u0336")
@example("k u r w a ! ! ! a b c")
@example("*_~ ** __ ~~")
def test_any_text_gives_valid_tokens(text: str) -> None:
    normalizer = _SHARED
    tokens = normalizer.tokens(text)
    for token in tokens:
        assert 0 <= token.begin < token.end <= len(text)
        assert isinstance(token.word, str)
        assert token.word
    # The cache must not change the answer, and words() is tokens() without offsets.
    assert normalizer.tokens(text) == tokens
    assert normalizer.words(text) == [t.word for t in tokens]


_EDGES = st.sampled_from(["", ",", ".", "!", '"', "(", ")", "„", "”", "...", "?!"])
_INVISIBLES = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\x00"])


@settings(max_examples=300, deadline=None)
@given(
    word=st.sampled_from(PROFANITY),
    data=st.data(),
    before=_EDGES,
    after=_EDGES,
)
def test_any_lexicon_word_survives_invisibles_and_punctuation(
    word: str, data: st.DataObject, before: str, after: str
) -> None:
    position = data.draw(st.integers(min_value=1, max_value=len(word) - 1), label="position")
    invisible = data.draw(_INVISIBLES, label="invisible")
    raw = word[:position] + invisible + word[position:]
    text = f"no to {before}{raw}{after} i tyle"
    found = [(t.word, text[t.begin : t.end]) for t in _SHARED.tokens(text) if t.word == word]
    assert found == [(word, raw)]


_SHARED = Normalizer(PROFANITY)


def test_elongation_keeps_a_known_double_letter() -> None:
    normalizer = Normalizer(["good", "been", "kurwa", "god"])
    assert normalizer.words("goooood beeeen kuuurwaaa nieeeee") == ["good", "been", "kurwa", "nie"]


def test_the_tokenizer_loads_without_scikit_learn() -> None:
    """A scoring process should not pay ~70 MB for nltk's scikit-learn wrapper it never uses,
    and a later scikit-learn import (training in the same process) must still work."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from moderation.text.normalize import Normalizer\n"
        "words = Normalizer().words('Ty d.e.b.i.l.u :) #tag')\n"
        "assert words and 'sklearn' not in sys.modules, (words, 'sklearn' in sys.modules)\n"
        "import sklearn.linear_model\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
