"""Scorer: a loaded bundle turned into results, batch-first.

One text is a batch of one. Bad items never sink a batch: each gets a ``ScoreError`` with
a stable code in its place, and the rest are scored. ``score_text`` is the one-text
convenience that raises the typed exception instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np

from moderation import collector, config
from moderation.attributes import ATTRIBUTES
from moderation.errors import InvalidTextError, ModerationError, TextTooLongError
from moderation.model.bundle import Bundle, LanguageModel, load_bundle
from moderation.model.explain import Span, top_spans
from moderation.model.heads import displayed
from moderation.model.stacked import Readout, StackedHeads
from moderation.model.stance import Article, chosen_labels
from moderation.model.units import UnitCache
from moderation.text.language import PREFIX_CHARS, LanguageDetector, LanguageGuess
from moderation.text.normalize import Normalizer, strip_invisible, written_in_cyrillic

#: Below this py3langid confidence, the language is checked again on the normalised words.
CONFIDENT = 0.9
#: How many times likelier one language's vocabulary must make a comment's words before it
#: overrides an unsure py3langid guess (``Scorer._vocabulary_vote``).
VOTE_MARGIN = 10.0
#: The model that reads comments written in Cyrillic (Russian, Ukrainian): the normaliser
#: spells their words the Polish way, so the Polish features know the words they share
#: ("хуйло" -> "chujlo", "дебил" -> "debil"); the English model would read noise.
CYRILLIC_READER = "pl"
#: Placeholder until ``Scorer._identify`` has run on the batch.
_UNKNOWN = LanguageGuess("", 0.0)
_NOTHING_LEFT = "text has nothing to score once invisible and control characters are removed"


def _empty(message: str) -> InvalidTextError:
    error = InvalidTextError(message)
    error.code = "empty_text"
    return error


@dataclass(slots=True)
class ScoreResult:
    """Scores of one text; ``to_dict`` gives the documented JSON shape."""

    language: str
    supported: bool
    scores: dict[str, float]
    flagged: list[str]
    spans: dict[str, list[Span]]
    model_version: str
    window: dict[str, int] | None = None
    id: str | None = None
    stance: dict[str, Any] | None = None
    sentiment: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    ok = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.id is None else {"id": self.id}
        out["language"] = self.language
        out["supported"] = self.supported
        out["scores"] = self.scores
        out["flagged"] = self.flagged
        out["spans"] = {
            name: [span.to_dict() for span in spans] for name, spans in self.spans.items()
        }
        if self.stance is not None:
            out["stance"] = self.stance
        if self.sentiment is not None:
            out["sentiment"] = self.sentiment
        out["model_version"] = self.model_version
        if self.window is not None:
            out["window"] = self.window
        out.update(self.extra)
        return out


@dataclass(slots=True)
class ScoreError:
    """An item that could not be scored, in its place in the batch."""

    code: str
    message: str
    id: str | None = None

    ok = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.id is None else {"id": self.id}
        out["error"] = {"code": self.code, "message": self.message}
        return out


Outcome = ScoreResult | ScoreError


@dataclass(slots=True)
class _Prepared:
    """A valid text ready for the models: the parts to score, its language, its window."""

    index: int
    text: str
    parts: tuple[tuple[str, int], ...]  # (text, offset in the original): whole, or head + tail
    guess: LanguageGuess
    window: dict[str, int] | None
    article: Article | None = None


class Scorer:
    """Scores comments with a loaded bundle. Thread-safe for concurrent ``score`` calls."""

    def __init__(self, bundle: Bundle, settings: Mapping[str, Any] | None = None) -> None:
        values = config.resolve(settings)
        self.bundle = bundle
        self.max_chars: int = values["max_chars"]
        self.long_text: str = values["long_text"]
        self.span_min_score: float = values["span_min_score"]
        self.spans_per_attribute: int = values["spans_per_attribute"]
        self.gc_pause: bool = values["gc_pause"]
        self.detector = LanguageDetector()
        # One normaliser for all languages (normalisation does not depend on the language);
        # feature ids do, so each language model has its own unit cache.
        self.normalizer = Normalizer(
            word for model in bundle.models.values() for word in model.unmask_words
        )
        self.heads = {
            lang: StackedHeads(model, self.normalizer) for lang, model in bundle.models.items()
        }
        # Per language: word -> column, word IDFs, and the log document frequency taken for
        # a word the model does not know (half its rarest kept word's: ``_vocabulary_vote``).
        self._vocabularies = {
            lang: (
                model.featurizer.word_vocab_,
                model.featurizer.word_idf_,
                1.0 - float(np.max(model.featurizer.word_idf_, initial=1.0)) - math.log(1.5),
            )
            for lang, model in bundle.models.items()
        }
        # Each unit's share of every head is kept with it: spans are then a gather.
        self.units = {
            lang: UnitCache(self.normalizer, model.featurizer, self.heads[lang].span_weights)
            for lang, model in bundle.models.items()
        }

    @classmethod
    def load(cls, path: str | Path | None = None, **settings: Any) -> Scorer:
        """Load the bundle in ``path`` (default: the model_dir setting) after verifying it."""
        directory = Path(path) if path is not None else Path(config.resolve(settings)["model_dir"])
        return cls(load_bundle(directory), settings)

    @property
    def model_version(self) -> str:
        return self.bundle.model_version

    # -- public -------------------------------------------------------------------------

    def score(
        self,
        texts: Sequence[object],
        ids: Sequence[str | None] | None = None,
        articles: Sequence[object] | None = None,
    ) -> list[Outcome]:
        """Score a batch; one outcome per input, in order.

        ``articles`` (same length as ``texts``) gives each comment's article as a mapping
        ``{"id", "title", "lead", "target"}`` (or an ``Article``, or None): stance reads it,
        and says ``"context": "comment_only"`` where there is none. A malformed article makes
        that item an ``invalid_article`` error.

        With the ``gc_pause`` setting (default on) the cyclic garbage collector is off while
        the batch is scored (``moderation/collector.py`` says why), and back as it was after.
        """
        if not self.gc_pause:
            return self._score_batch(texts, ids, articles)
        with collector.paused():
            return self._score_batch(texts, ids, articles)

    def _score_batch(
        self,
        texts: Sequence[object],
        ids: Sequence[str | None] | None,
        articles: Sequence[object] | None,
    ) -> list[Outcome]:
        if articles is not None and len(articles) != len(texts):
            raise ValueError(f"{len(articles)} articles for {len(texts)} texts")
        outcomes: list[Outcome | None] = [None] * len(texts)
        valid: list[_Prepared] = []
        for index, text in enumerate(texts):
            try:
                article = Article.parse(articles[index]) if articles is not None else None
                valid.append(self._prepare(index, text, article))
            except ModerationError as exc:
                outcomes[index] = ScoreError(exc.code, str(exc))
        self._identify(valid)
        groups: dict[str, list[_Prepared]] = {}
        unsupported: list[_Prepared] = []
        for prepared in valid:
            if prepared.guess.language in self.bundle.models:
                groups.setdefault(prepared.guess.language, []).append(prepared)
            else:
                unsupported.append(prepared)
        for language, items in groups.items():
            for index, scored in self._score_group(language, items, supported=True):
                outcomes[index] = scored
        if unsupported:
            for index, scored in self._score_unsupported(unsupported):
                outcomes[index] = scored
        if ids is not None:
            for outcome, item_id in zip(outcomes, ids, strict=True):
                assert outcome is not None
                outcome.id = item_id
        return [outcome for outcome in outcomes if outcome is not None]

    def score_text(self, text: str, article: object = None) -> ScoreResult:
        """Score one text; raises ``InvalidTextError`` (or a subclass) instead of an error item."""
        if article is not None:
            Article.parse(article)  # a malformed article raises InvalidArticleError here
        outcome = self.score([text], articles=[article])[0]
        if isinstance(outcome, ScoreError):
            error = TextTooLongError if outcome.code == TextTooLongError.code else InvalidTextError
            raised = error(outcome.message)
            raised.code = outcome.code
            raise raised
        return outcome

    # -- steps --------------------------------------------------------------------------

    def _prepare(self, index: int, text: object, article: Article | None) -> _Prepared:
        if not isinstance(text, str):
            raise InvalidTextError(f"text must be a string, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            error = InvalidTextError(f"text is not valid Unicode (lone surrogate at {exc.start})")
            error.code = "invalid_unicode"
            raise error from None
        if not text or text.isspace():
            raise _empty("text is empty")
        window: dict[str, int] | None = None
        parts: tuple[tuple[str, int], ...] = ((text, 0),)
        if len(text) > self.max_chars:
            if self.long_text == "reject":
                raise TextTooLongError(
                    f"text has {len(text)} characters; the limit is {self.max_chars}"
                )
            half = self.max_chars // 2
            window = {"length": len(text), "head": half, "tail": half}
            parts = ((text[:half], 0), (text[-half:], len(text) - half))
        return _Prepared(index, text, parts, _UNKNOWN, window, article)

    def _identify(self, items: Sequence[_Prepared]) -> None:
        """Each item's language, the whole batch at once (py3langid walks its automaton
        for every comment the rules leave open together)."""
        samples = [item.parts[0][0][:PREFIX_CHARS] for item in items]
        guesses = self.detector.detect_many(
            [s if s.isascii() else strip_invisible(s) for s in samples]
        )
        unsure = [
            i
            for i, guess in enumerate(guesses)
            if guess.confidence < CONFIDENT and not written_in_cyrillic(samples[i])
        ]
        if unsure:
            # Disguised writing ("J.e.s.t.e.s d.e.b.i.l.e.m") fools n-gram language id; its
            # normalised words (no diacritics, but no tricks either) are a second opinion.
            normalised = [self.normalizer.words(samples[i]) for i in unsure]
            seconds = self.detector.detect_many([" ".join(words) for words in normalised])
            for i, second, words in zip(unsure, seconds, normalised, strict=True):
                if second.confidence > guesses[i].confidence:
                    guesses[i] = second
                if guesses[i].confidence < CONFIDENT and guesses[i].supported:
                    voted = self._vocabulary_vote(words)
                    if voted is not None and voted != guesses[i].language:
                        guesses[i] = LanguageGuess(voted, guesses[i].confidence)
        for item, guess in zip(items, guesses, strict=True):
            item.guess = guess

    def _vocabulary_vote(self, words: Sequence[str]) -> str | None:
        """The language whose training texts make these normalised words far likelier, if any.

        py3langid cannot tell a two-word comment's language ("to debil", "jebany XD" came out
        English at 0.1-0.3 and went to the English model, which scores them near 0). The
        models' word IDFs can: ``1 - idf`` is about the log of a word's document frequency in
        that language's training texts (a word a model does not know: below its rarest kept
        word), and the sums over the comment's alphabetic words that some model knows are a
        unigram naive-Bayes language classifier. A language is chosen only when it is
        :data:`VOTE_MARGIN` times likelier than every other; otherwise py3langid's guess stands.
        """
        scores = dict.fromkeys(self._vocabularies, 0.0)
        for word in words:
            if not word.isalpha():
                continue
            found = [
                (vocabulary.get(word), idf, unknown)
                for vocabulary, idf, unknown in self._vocabularies.values()
            ]
            if all(column is None for column, _, _ in found):
                continue  # no model knows it: no evidence either way
            for language, (column, idf, unknown) in zip(scores, found, strict=True):
                scores[language] += unknown if column is None else 1.0 - float(idf[column])
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        if len(ranked) < 2 or ranked[0][1] - ranked[1][1] < math.log(VOTE_MARGIN):
            return None
        return ranked[0][0]

    def _score_group(
        self, language: str, items: Sequence[_Prepared], *, supported: bool
    ) -> list[tuple[int, Outcome]]:
        model = self.bundle.models[language]
        cache = self.units[language]
        encoded = cache.encode_batch([item.parts for item in items])
        heads = self.heads[language]
        articles = [item.article for item in items]
        documents = None
        # Without articles only the product of the rows with the heads is read: the
        # compiled kernel gives it without building the rows (same numbers), when built.
        fast = (
            model.featurizer.weighted_units(
                encoded.view, encoded.ids, encoded.lengths, heads.weights
            )
            if all(article is None for article in articles)
            else None
        )
        if fast is not None:
            raw, layout = fast
        else:
            raw = None
            documents, layout = model.featurizer.transform_units(
                encoded.view, encoded.ids, encoded.lengths
            )
        texts = [item.text for item in items]
        readout = heads.read(documents, texts, articles, layout.row_norms(), raw)
        spans = top_spans(
            heads.span_weights,
            heads.span_names,
            layout,
            lambda: encoded.bounds(self.normalizer),
            texts,
            heads.span_probabilities(readout),
            min_score=self.span_min_score,
            limit=self.spans_per_attribute,
        )
        results = self._results(model, items, readout, spans, supported=supported)
        # A comment with no word left (only symbols and invisible characters) was scored
        # along with the rest, on an empty row: its scores mean nothing, so it is an error.
        return [
            (item.index, result if has_words else ScoreError("empty_text", _NOTHING_LEFT))
            for item, result, has_words in zip(
                items, results, encoded.has_words.tolist(), strict=True
            )
        ]

    def _score_unsupported(self, items: Sequence[_Prepared]) -> list[tuple[int, Outcome]]:
        """No model knows this language: the highest score any model gives, marked unsupported.

        A comment written in Cyrillic is read by :data:`CYRILLIC_READER` alone (on a 32-comment
        Russian/Ukrainian check set, toxicity ROC AUC 0.965 with the Polish model, 0.635 with the
        English one; BENCHMARKS.md).
        """
        best: dict[int, Outcome] = {}
        cyrillic: list[_Prepared] = []
        others: list[_Prepared] = []
        for item in items:
            written = written_in_cyrillic(item.parts[0][0][:PREFIX_CHARS])
            (cyrillic if written and CYRILLIC_READER in self.bundle.models else others).append(item)
        groups = [(CYRILLIC_READER, cyrillic)] if cyrillic else []
        groups += [(language, others) for language in self.bundle.models] if others else []
        for language, group in groups:
            for index, outcome in self._score_group(language, group, supported=False):
                current = best.get(index)
                if (
                    current is None
                    or (isinstance(outcome, ScoreResult) and not isinstance(current, ScoreResult))
                    or (
                        isinstance(outcome, ScoreResult)
                        and isinstance(current, ScoreResult)
                        and outcome.scores["toxicity"] > current.scores["toxicity"]
                    )
                ):
                    best[index] = outcome
        for item in items:
            outcome = best[item.index]
            if isinstance(outcome, ScoreResult):
                outcome.language = item.guess.language
        return list(best.items())

    def _results(
        self,
        model: LanguageModel,
        items: Sequence[_Prepared],
        readout: Readout,
        spans: list[dict[str, list[Span]]],
        *,
        supported: bool,
    ) -> list[ScoreResult]:
        probabilities = readout.toxicity
        attributes = model.heads.attributes
        thresholds = np.asarray([model.thresholds[a] for a in attributes])
        shown = displayed(probabilities)
        rounded = shown.tolist()
        # Flags compare the probabilities as the result shows them (4 decimals), against
        # thresholds tuned on those same values: score >= threshold in a result iff flagged.
        flags_array = shown >= thresholds
        # Every attribute is a kind of toxicity (label guide): an attribute is only flagged
        # together with toxicity, so a rare attribute's low threshold cannot flag "dobry".
        if "toxicity" in attributes:
            flags_array &= flags_array[:, [attributes.index("toxicity")]]
        flags = flags_array.tolist()
        version = self.model_version
        out: list[ScoreResult] = []
        stances = chosen_labels("stance", model.stance, readout.stance)
        sentiments = chosen_labels("sentiment", model.sentiment, readout.sentiment)
        contexts = [
            "article" if context else "comment_only" for context in readout.has_context.tolist()
        ]
        for row, item in enumerate(items):
            # Spans of the chosen stance/sentiment label are keyed "head:label"; what is
            # left in the row's dict are the attributes' own spans.
            row_spans = spans[row]
            result = ScoreResult(
                item.guess.language,
                supported,
                dict(zip(attributes, rounded[row], strict=True)),
                list(compress(attributes, flags[row])),
                row_spans,
                version,
                item.window,
            )
            if stances is not None:
                label = stances.labels[row]
                scores = stances.scores[row]
                result.stance = {"label": label, "scores": scores, "context": contexts[row]}
                stance_spans = row_spans.pop(stances.span_keys[row], [])
            if sentiments is not None:
                label = sentiments.labels[row]
                result.sentiment = {"label": label, "scores": sentiments.scores[row]}
                sentiment_spans = row_spans.pop(sentiments.span_keys[row], [])
            if stances is not None:
                row_spans["stance"] = stance_spans
            if sentiments is not None:
                row_spans["sentiment"] = sentiment_spans
            out.append(result)
        return out


__all__ = ["ATTRIBUTES", "Outcome", "ScoreError", "ScoreResult", "Scorer"]
