"""Language detection for comments under Polish news articles (no training, py3langid only)."""

from __future__ import annotations

import pytest

from moderation.attributes import SUPPORTED_LANGUAGES
from moderation.model import compiled
from moderation.text.langid_batch import WALK_TOGETHER
from moderation.text.language import LanguageDetector, LanguageGuess
from moderation.text.normalize import strip_invisible


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


POLISH = [
    "Zgadzam się z autorem, to był bardzo dobry artykuł.",
    "Zgadzam sie z autorem, to byl bardzo dobry artykul.",
    "zgadzam sie z autorem",
    "zgadzam się z autorem",
    "kurwa mac",
    "kurwa mać",
    "brawo",
    "Brawo!",
    "nie wiem",
    "co za bzdury",
    "ty debilu",
    "jestes idiota",
    "super",
    "zenada",
    "masakra",
    "to nie jest prawda",
    "a ja mysle ze autor ma racje",
    "kurwa co za debil to pisal",
    "ten rzad to banda zlodziei i klamcow",
]


@pytest.mark.parametrize("text", POLISH)
def test_polish(detector: LanguageDetector, text: str) -> None:
    guess = detector.detect(text)
    assert guess.language == "pl"
    assert guess.supported
    assert 0.0 <= guess.confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I completely agree with the author.",
        "This is a great article, thank you.",
        "you are an idiot",
        "fuck off",
        "great job",
    ],
)
def test_english(detector: LanguageDetector, text: str) -> None:
    guess = detector.detect(text)
    assert (guess.language, guess.supported) == ("en", True)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Ты просто идиот, понимаешь?", "ru"),
        ("Я полностью согласен с автором этой статьи.", "ru"),
        ("Что ты несешь, придурок?", "ru"),
        ("Это просто fake news, не верьте", "ru"),
        ("Я повністю згоден з автором цієї статті.", "uk"),
        ("Дякую за статтю, дуже цікаво.", "uk"),
        ("Слава Україні!", "uk"),
    ],
)
def test_cyrillic_is_reported_honestly_and_unsupported(
    detector: LanguageDetector, text: str, language: str
) -> None:
    guess = detector.detect(text)
    assert (guess.language, guess.supported) == (language, False)


@pytest.mark.parametrize(
    "text",
    [
        "Ich bin mit dem Autor völlig einverstanden.",
        "Das ist ein sehr guter Artikel, danke schön.",
        "Das ist doch Unsinn, was du schreibst.",
        "Der Artikel ist wirklich sehr gut geschrieben.",
    ],
)
def test_clear_german_is_unsupported(detector: LanguageDetector, text: str) -> None:
    guess = detector.detect(text)
    assert (guess.language, guess.supported) == ("de", False)
    assert guess.confidence >= 0.95


@pytest.mark.parametrize("text", ["😀😀😀", "👍", "🤬🤬🤬 😡", "", "   ", "!!!", "123 456"])
def test_no_letters_gives_a_supported_language(detector: LanguageDetector, text: str) -> None:
    guess = detector.detect(text)
    assert guess == LanguageGuess("pl", 0.0)
    assert guess.supported


def test_invisible_characters_do_not_change_the_language(detector: LanguageDetector) -> None:
    text = "zgadzam\u200b sie\u2060 z au\u00adtorem\ufeff"
    assert detector.detect(strip_invisible(text)).language == "pl"


def test_supported_follows_the_supported_languages() -> None:
    assert SUPPORTED_LANGUAGES == ("pl", "en")
    assert LanguageGuess("pl", 0.5).supported
    assert LanguageGuess("en", 0.5).supported
    assert not LanguageGuess("ru", 0.9).supported


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("<script>alert(1)</script> Ty d3b1lu!", "pl"),
        ("https://example.com/world/news Ty d3b1lu!", "pl"),
        ('<a href="https://www.example.com/world/news">link</a> ty debilu jeden', "pl"),
        ("<b>You are a complete idiot</b>", "en"),
        ("<p></p> https://example.com", "pl"),  # nothing but markup: as emoji-only text
    ],
)
def test_markup_and_links_do_not_decide_the_language(
    detector: LanguageDetector, text: str, language: str
) -> None:
    assert detector.detect(text).language == language


@pytest.mark.parametrize("compiled_walk", [True, False])
def test_batched_ranking_is_py3langids_own_bit_for_bit(
    detector: LanguageDetector, compiled_walk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BatchRanker`` walks py3langid's automaton for many texts at once (in NumPy, or in
    the compiled kernel when built): every text's ranking must be the one
    ``LanguageIdentifier.rank`` gives it alone, to the last bit."""
    if compiled_walk and compiled.kernels is None:
        pytest.skip("the compiled kernels were not built (no C compiler at install)")
    if not compiled_walk:
        monkeypatch.setattr(compiled, "kernels", None)
    ranker = detector._model()
    texts = [
        *POLISH,
        "Ich bin mit dem Autor völlig einverstanden.",
        "Ты просто идиот, понимаешь?",
        "I completely agree with the author.",
        "ZGADZAM SIĘ Z AUTOREM",  # all upper case: py3langid lowers it first
        "",
        "😀",
        "a",
        "\ufb01nal caf\u0065\u0301",  # NFC changes it
        "x" * 400,
        "Pójdźże, kiń tę chmurność w głąb flaszy! " * 5,
    ]
    texts = texts * 2  # enough to walk the automaton in step (fewer go one by one)
    assert len(texts) >= WALK_TOGETHER
    assert ranker.rank_many(texts) == [ranker.identifier.rank(text) for text in texts]
    assert ranker.rank_many([]) == []


def test_detect_many_is_detect_one_by_one(detector: LanguageDetector) -> None:
    texts = [*POLISH, "Слава Україні!", "Das ist doch Unsinn, was du schreibst.", "👍", "ok"]
    assert detector.detect_many(texts) == [detector.detect(text) for text in texts]



@pytest.mark.parametrize(
    ("text", "language"),
    [
        # BAN-PL writes a mention as "{USERNAME}": py3langid read it as English letters and
        # these went to the English model (issue 2's report/Scorer difference).
        ("{USERNAME}: bordo a taki debil", "pl"),
        ("@Kowalski: bordo a taki debil", "pl"),
        # Nothing but mentions in the first 200 characters: read as before.
        ("@USER " * 40 + "you are so right", "en"),
    ],
)
def test_mentions_and_placeholders_do_not_decide_the_language(
    detector: LanguageDetector, text: str, language: str
) -> None:
    assert detector.detect(text).language == language



@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("شكرا جزيلا على هذا المقال المفيد", "ar"),
        ("谢谢你的文章，非常有意思", "zh"),
        ("ありがとうございます", "ja"),
        ("감사합니다 좋은 기사", "ko"),
        ("תודה על הכתבה", "he"),
    ],
)
def test_other_scripts_are_named_by_their_script_not_ranked_as_polish(
    detector: LanguageDetector, text: str, language: str
) -> None:
    """py3langid only ranks the languages of Polish news comments: an Arabic comment once came
    out as Polish and supported, and was scored and flagged as if it were."""
    guess = detector.detect(text)
    assert guess.language == language and not guess.supported


def test_emoji_and_greek_look_alikes_keep_the_latin_rules(detector: LanguageDetector) -> None:
    assert detector.detect("😀😀 123 !!!").language == "pl"
    assert detector.detect("ΤΥ ΚΑΡΑ").language == "pl"  # Greek letters only: a disguise here
    assert detector.detect("( ͡° ͜ʖ ͡°)").language == "pl"  # an IPA letter in a face, no script
