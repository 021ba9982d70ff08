"""Character tables used by normalisation: look-alikes, leetspeak, diacritics, invisibles.

Kept apart from the normalisation logic so the tables can be read (and reviewed) as data.
"""

from __future__ import annotations

import unicodedata
from typing import Final

#: Cyrillic and Greek letters that look like Latin ones. Mapped only when a word mixes
#: scripts or the whole comment is Latin-dominant, so genuine Russian text stays Russian.
HOMOGLYPHS: Final[dict[str, str]] = {
    # Cyrillic (lower case; text is case-folded first)
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "и": "u",
    "й": "u",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "п": "n",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "ԁ": "d",
    "ɡ": "g",
    "ԛ": "q",
    "ԝ": "w",
    "ь": "b",
    "ы": "bi",
    "г": "r",
    "д": "d",
    "л": "n",
    "ц": "u",
    "ш": "w",
    "щ": "w",
    "ъ": "b",
    "я": "r",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "σ": "o",
    "ς": "c",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "μ": "u",
    "λ": "l",
    "π": "n",
    "θ": "o",
    "ϲ": "c",
    # Latin look-alikes NFKC leaves alone
    "ı": "i",
    "ȷ": "j",
    "ɑ": "a",
    "ɩ": "i",
    "ʀ": "r",
    "ᴋ": "k",
    "ᴜ": "u",
    "ᴡ": "w",
    "ꭓ": "x",
    "ø": "o",
    "đ": "d",
    "ħ": "h",
    "ŧ": "t",
}

#: Cyrillic letters that are near-perfect twins of Latin ones (lower and upper case).
CLOSE_TWINS: Final[frozenset[str]] = frozenset("аеорсухкмтнвіјѕАЕОРСУХКМТНВІЈЅ")

#: Letters of the Cyrillic block: used to decide whether a comment is Cyrillic-dominant.
CYRILLIC_FIRST, CYRILLIC_LAST = "\u0400", "\u04ff"

#: Cyrillic letters written the Polish way (х -> ch, ш -> sz, в -> w), for comments written in
#: Cyrillic (Russian, Ukrainian, Belarusian). No model is trained on those languages, but the
#: words they share with Polish, above all the insults and the vulgar ones ("хуй" -> "chuj",
#: "курва" -> "kurwa", "дебил" -> "debil", "сука" -> "suka"), then reach the Polish features
#: instead of none: an unsupported comment gets scores that read its words, not a prior.
#: Lower case only (the text is case-folded first); г and и keep their Russian values.
CYRILLIC_TO_LATIN: Final[dict[str, str]] = {
    "а": "a", "б": "b", "в": "w", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "jo",
    "є": "je", "ж": "z", "з": "z", "и": "i", "і": "i", "ї": "ji", "й": "j", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ў": "u", "ф": "f", "х": "ch", "ц": "c", "ч": "cz", "ш": "sz", "щ": "szcz",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "ju", "я": "ja", "ј": "j", "ѕ": "dz",
    "ђ": "dz", "ћ": "c", "љ": "lj", "њ": "nj", "џ": "dz", "ѓ": "g", "ќ": "k",
}  # fmt: skip

#: Digits and symbols standing for letters inside words.
LEET: Final[dict[str, str]] = {
    "4": "a",
    "@": "a",
    "3": "e",
    "€": "e",
    "1": "i",
    "!": "i",
    "|": "i",
    "0": "o",
    "5": "s",
    "$": "s",
    "7": "t",
    "+": "t",
    "8": "b",
    "9": "g",
    "6": "g",
    "2": "z",
}

#: Leet characters that are also ordinary punctuation at a word's edge ("debil!", "@user").
LEET_ONLY_INSIDE: Final[frozenset[str]] = frozenset("!@|+$€")

#: Symbols people put in place of letters to mask a word (k*rwa, k&^$wa, ch#j).
MASK_CHARS: Final[frozenset[str]] = frozenset("*#%&^?_~")

#: Separators placed between the letters of a word (k.u.r.w.a, ch-u-j, k_u_r_w_a).
SEPARATORS: Final[frozenset[str]] = frozenset(".-_·•,|/+:'")

#: Polish (and a few other Latin) diacritics folded away for the model's features, so
#: "zalosny" and "żałosny" give the same features. NFKD alone misses "ł".
_FOLD_EXTRA: Final[dict[str, str]] = {"ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d"}


def fold_char(char: str) -> str:
    """Return ``char`` without diacritics (ż -> z, ł -> l, é -> e)."""
    if char in _FOLD_EXTRA:
        return _FOLD_EXTRA[char]
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_POLISH_FOLD: Final[dict[int, str]] = {
    ord(c): fold_char(c) for c in "ąćęłńóśźżéèêëáàâäíìîïúùûüýÿçñšžčřěůťďň"
}


def fold_diacritics(text: str) -> str:
    """Fold diacritics of an already case-folded text; ASCII passes through untouched.

    Cyrillic is left alone: й, ё, ї are letters of their own, not accented и, е, і ("мой" is
    not "мои"). The normaliser has already spelt Cyrillic words the Polish way
    (CYRILLIC_TO_LATIN, which keeps those apart: "moj", "moi") or mapped look-alikes in Latin
    words (HOMOGLYPHS) before this runs.
    """
    if text.isascii():
        return text
    folded = text.translate(_POLISH_FOLD)
    if folded.isascii():
        return folded
    return "".join(
        c if c.isascii() or CYRILLIC_FIRST <= c <= CYRILLIC_LAST else fold_char(c) for c in folded
    )


def is_invisible(char: str) -> bool:
    """True for characters that render as nothing: zero-width, bidi controls, combining marks.

    Combining marks are checked *after* NFKC, which has already composed every Polish
    letter, so what is left (strike-through overlays, stacked "zalgo" marks) is noise.
    """
    category = unicodedata.category(char)
    return category in ("Cf", "Mn", "Me", "Cc") or char in "\u115f\u1160\u3164\uffa0"
