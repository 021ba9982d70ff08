"""Tweet features for bench/stance_semeval.py: raw-text word 1-3-grams and character 2-5-grams.

The tweets are read as they are (the adapter has already dropped the collection hashtag
``#SemST``), not through the project's moderation normaliser: hashtags, mentions and
punctuation carry stance here ("#MyBodyMyRights", "@HillaryClinton", "!!!"). Words are
lower-cased; a hashtag is kept as one token and also split at its camel-case boundaries
("#MyBodyMyRights" -> "#mybodymyrights my body my rights"), so its words meet the same words
written out. URLs become one ``<url>`` token. Character n-grams (``char_wb``, within words,
lower-cased) are taken over the raw text. Both blocks are TF-IDF with sublinear term
frequency, each L2-normalised, and put side by side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

_TOKEN: Final = re.compile(r"https?://\S+|[@#]?\w+(?:['’]\w+)*|[^\w\s]+")
_CAMEL: Final = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def tokens(text: str) -> list[str]:
    """Lower-cased word, mention, hashtag (whole and split) and punctuation tokens."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if token.startswith(("http://", "https://")):
            out.append("<url>")
        elif token.startswith("#") and len(token) > 1:
            out.append(token.lower())
            out.extend(part.lower() for part in _CAMEL.findall(token[1:]))
        else:
            out.append(token.lower())
    return out


def word_ngrams(text: str, high: int = 3) -> list[str]:
    """Word 1-``high``-grams of :func:`tokens` (the analyser of the word block)."""
    words = tokens(text)
    grams = list(words)
    for n in range(2, high + 1):
        grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams


class TweetFeaturizer:
    """Word 1-3-gram and character 2-5-gram (within words) TF-IDF blocks, side by side."""

    def fit(self, texts: Sequence[str]) -> TweetFeaturizer:
        self.words_ = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True)
        self.chars_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        self.words_.fit(texts)
        self.chars_.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([self.words_.transform(texts), self.chars_.transform(texts)], format="csr")

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)


class NgramFeaturizer:
    """A re-creation of the organisers' SVM-ngrams features, for reference.

    Word 1-3-grams (scikit-learn's default tokeniser, lower-cased) and character 2-5-grams
    (across words, lower-cased) of the raw text, binary presence, each block L2-normalised.
    The organisers' paper names the n-gram orders, not the weighting, tokeniser or C.
    """

    def fit(self, texts: Sequence[str]) -> NgramFeaturizer:
        self.words_ = TfidfVectorizer(ngram_range=(1, 3), binary=True, use_idf=False)
        self.chars_ = TfidfVectorizer(
            analyzer="char", ngram_range=(2, 5), binary=True, use_idf=False
        )
        self.words_.fit(texts)
        self.chars_.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([self.words_.transform(texts), self.chars_.transform(texts)], format="csr")

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)
