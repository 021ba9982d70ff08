"""Benchmarks of a trained bundle: evasion robustness, identity-term bias, held-out quality, CV.

Why this lives in the package rather than in the scripts under ``bench/``: the numbers we publish
must be reproducible by anyone with the bundle and the corpora, and the tests must exercise the
same code the scripts run. The scripts only parse arguments, time things and print tables.

Every report measures the service as it is deployed, through :class:`~moderation.scoring.Scorer`:
language detection, normalisation, the per-language model and the bundle's own decision
thresholds. A comment counts as flagged iff ``"toxicity" in result.flagged``; no threshold is
re-tuned on the data being reported, because that would make every figure optimistic.

Reports are plain ``dict`` trees of numbers and strings (``nan`` where a metric is undefined), so
the scripts can print them as tables and dump them as JSON without another layer of types.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from moderation import config
from moderation.corpora.base import LabelledText, Split
from moderation.errors import CorpusError
from moderation.evaluation import binary_metrics
from moderation.scoring import Outcome, Scorer, ScoreResult
from moderation.training import (
    OWN_CORPUS,
    PROFANITY_FILE,
    TrainingConfig,
    read_own_corpus,
    read_word_list,
    train_language,
)

__all__ = [
    "HELDOUT_CORPORA",
    "IDENTITY_FILE",
    "OWN_DIR",
    "TRICKS",
    "cross_validate",
    "evasion_report",
    "evasion_texts",
    "format_cross_validation",
    "format_evasion",
    "format_heldout",
    "format_identity",
    "format_report",
    "format_table",
    "format_value",
    "heldout_report",
    "identity_report",
    "json_safe",
    "load_corpora",
    "obfuscate",
]

OWN_DIR: Final = config.REPO_ROOT / "training_data" / "toxicity"
IDENTITY_FILE: Final = config.REPO_ROOT / "training_data" / "eval" / "identity_terms.jsonl"

#: Corpora with a (hash-bucket) test split that the held-out report scores, in manifest order.
HELDOUT_CORPORA: Final[tuple[str, ...]] = (
    "ban_pl",
    "hate_war_pl",
    "poleval2019_cbd",
    "ipipan_hatespeech",
    "olid",
    "davidson",
)

#: Corpora whose records are the *official training set* of a shared task: our test bucket is a
#: slice of that training set, not the official test set, so these are not leaderboard figures.
_OFFICIAL_TRAIN_ONLY: Final = frozenset({"poleval2019_cbd", "olid"})

#: Shortest word (in letters) an evader bothers to disguise; shorter words are left alone so that
#: the benchmark changes the words that carry the meaning, not "ty" or "a".
MIN_WORD_LETTERS: Final = 4

# --------------------------------------------------------------------------------------------
# Obfuscation
# --------------------------------------------------------------------------------------------

_LEET: Final = str.maketrans(
    {
        "a": "4",
        "e": "3",
        "i": "1",
        "o": "0",
        "s": "5",
        "A": "4",
        "E": "3",
        "I": "1",
        "O": "0",
        "S": "5",
    }
)
_CYRILLIC: Final = str.maketrans(
    {
        "a": "а",
        "e": "е",
        "o": "о",
        "p": "р",
        "c": "с",
        "x": "х",
        "y": "у",
        "k": "к",
        "m": "м",
        "t": "т",
        "h": "н",
        "b": "в",
        "A": "А",
        "E": "Е",
        "O": "О",
        "P": "Р",
        "C": "С",
        "X": "Х",
        "Y": "У",
        "K": "К",
        "M": "М",
        "T": "Т",
        "H": "Н",
        "B": "В",
    }
)
#: ASCII letters -> their fullwidth forms (U+FF21.., U+FF41..); other letters have none.
_FULLWIDTH: Final = str.maketrans(
    {c: chr(ord(c) + 0xFEE0) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
)
_VOWELS: Final = frozenset("aeiouyąęóAEIOUYĄĘÓ")
_ZERO_WIDTH_SPACE: Final = "\u200b"

#: Anonymisation placeholders, mentions and links are not the writer's words: an evader does not
#: disguise "{USERNAME}" or a URL, so the benchmark leaves them as they are. Everything else that is
#: a run of letters is a word.
_WORD_OR_PROTECTED: Final = re.compile(
    r"(?P<protected>(?:https?://|www\.)\S+|@\w+|\{[A-Za-z_]+\}|\[[a-z]+\])|(?P<word>[^\W\d_]+)"
)


def _zero_width(word: str, rng: random.Random) -> str:
    return _ZERO_WIDTH_SPACE.join(word)


def _leet(word: str, rng: random.Random) -> str:
    return word.translate(_LEET)


def _cyrillic(word: str, rng: random.Random) -> str:
    return word.translate(_CYRILLIC)


def _separators(word: str, rng: random.Random) -> str:
    return ".".join(word)


def _spaced(word: str, rng: random.Random) -> str:
    return " ".join(word)


def _elongation(word: str, rng: random.Random) -> str:
    vowels = [i for i, c in enumerate(word) if c in _VOWELS]
    i = rng.choice(vowels) if vowels else rng.randrange(len(word))
    return word[:i] + word[i] * 4 + word[i + 1 :]


def _masked(word: str, rng: random.Random) -> str:
    inner = range(1, len(word) - 1)
    vowels = [i for i in inner if word[i] in _VOWELS]
    # A word with no inner vowel ("psst") gets an inner consonant masked: BAN-PL masks those too.
    candidates = vowels or list(inner)
    chosen = set(rng.sample(candidates, min(rng.choice((1, 2)), len(candidates))))
    return "".join("*" if i in chosen else c for i, c in enumerate(word))


def _fullwidth(word: str, rng: random.Random) -> str:
    return word.translate(_FULLWIDTH)


_TRICK_FUNCTIONS: Final[dict[str, Callable[[str, random.Random], str]]] = {
    "zero_width": _zero_width,
    "leet": _leet,
    "cyrillic": _cyrillic,
    "separators": _separators,
    "spaced": _spaced,
    "elongation": _elongation,
    "masked": _masked,
    "homoglyph_fullwidth": _fullwidth,
}

#: Every trick :func:`obfuscate` knows, in the order reports list them.
TRICKS: Final[tuple[str, ...]] = tuple(_TRICK_FUNCTIONS)


def obfuscate(text: str, trick: str, rng: random.Random) -> str:
    """``text`` with every word of at least four letters disguised by ``trick``.

    The tricks are the ones commenters use against word filters (and that the normaliser claims
    to undo): ``zero_width`` (U+200B between letters), ``leet`` (a/e/i/o/s -> 4/3/1/0/5),
    ``cyrillic`` (Latin letters -> Cyrillic look-alikes), ``separators`` (k.u.r.w.a), ``spaced``
    (k u r w a), ``elongation`` (one vowel written four times), ``masked`` (one or two inner
    vowels -> ``*``, as BAN-PL's own masking) and ``homoglyph_fullwidth`` (fullwidth forms).

    A word is a run of letters; mentions, links and anonymisation placeholders are kept. ``leet``,
    ``cyrillic`` and ``homoglyph_fullwidth`` replace *every* letter they have a substitute for, so
    a word without such a letter (``leet`` on "hmmm") stays as it is: there is nothing to disguise
    with that trick. Randomness (which vowel, how many) comes only from ``rng``, so a seeded
    ``random.Random`` gives the same text every run and every report is reproducible.
    """
    try:
        change = _TRICK_FUNCTIONS[trick]
    except KeyError:
        raise ValueError(f"unknown trick {trick!r} (known: {', '.join(TRICKS)})") from None

    def replace(match: re.Match[str]) -> str:
        word = match.group("word")
        if word is None or len(word) < MIN_WORD_LETTERS:
            return match.group()
        return change(word, rng)

    return _WORD_OR_PROTECTED.sub(replace, text)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _flagged(outcome: Outcome) -> bool:
    """Flagged for toxicity at the bundle's threshold; an item the scorer rejected is not."""
    return isinstance(outcome, ScoreResult) and "toxicity" in outcome.flagged


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _thresholds(scorer: Scorer) -> dict[str, float]:
    models = scorer.bundle.models
    return {lang: float(model.thresholds["toxicity"]) for lang, model in models.items()}


def json_safe(value: Any) -> Any:
    """``value`` with ``nan``/``inf`` as ``None`` and numpy scalars as Python ones.

    JSON has no NaN; ``json.dumps`` would write the non-standard ``NaN`` that strict readers
    (``jq``, browsers) reject, and an undefined metric must read as "no value", not as a number.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# Evasion
# --------------------------------------------------------------------------------------------


def evasion_report(
    scorer: Scorer,
    toxic_texts: Sequence[str],
    tricks: Iterable[str] = TRICKS,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Recall on known-toxic comments before and after each obfuscation trick.

    All texts must be toxic, so recall is the only meaningful figure: the share still flagged.
    ``ratio`` = recall with the trick / recall on the originals says how much of the model's
    catch a trick takes away (1.0 = the normaliser undoes it completely; it can exceed 1 when the
    disguised form happens to score higher). ``changed`` is the share of texts the trick actually
    altered (a text with no long word, or no letter the trick can substitute, stays as it is), and
    ``unsupported`` the share the scorer no longer took for Polish or English: Cyrillic look-alikes
    can change the detected language, which is a way to evade too. Each trick gets its own
    ``random.Random(seed)``, so adding a trick does not change the others' texts.
    """
    originals = list(toxic_texts)
    n = len(originals)
    base = scorer.score(originals)
    base_hits = sum(_flagged(o) for o in base)
    base_recall = _ratio(base_hits, n)
    base_unsupported = sum(isinstance(o, ScoreResult) and not o.supported for o in base)
    per_trick: dict[str, dict[str, float]] = {}
    for trick in tricks:
        rng = random.Random(seed)
        disguised = [obfuscate(text, trick, rng) for text in originals]
        outcomes = scorer.score(disguised)
        hits = sum(_flagged(o) for o in outcomes)
        per_trick[trick] = {
            "recall": _ratio(hits, n),
            "ratio": _ratio(_ratio(hits, n), base_recall),
            "flagged": float(hits),
            "changed": _ratio(sum(a != b for a, b in zip(originals, disguised, strict=True)), n),
            "unsupported": _ratio(
                sum(isinstance(o, ScoreResult) and not o.supported for o in outcomes), n
            ),
            "errors": float(sum(not isinstance(o, ScoreResult) for o in outcomes)),
        }
    rated = {t: r["ratio"] for t, r in per_trick.items() if not math.isnan(r["ratio"])}
    worst = min(rated, key=lambda t: rated[t]) if rated else None
    return {
        "n": n,
        "seed": seed,
        "thresholds": _thresholds(scorer),
        "original": {
            "recall": base_recall,
            "flagged": base_hits,
            "unsupported": _ratio(base_unsupported, n),
            "errors": sum(not isinstance(o, ScoreResult) for o in base),
        },
        "tricks": per_trick,
        "worst": worst,
        "worst_ratio": rated[worst] if worst is not None else math.nan,
    }


# --------------------------------------------------------------------------------------------
# Identity terms
# --------------------------------------------------------------------------------------------


def identity_report(scorer: Scorer, path: Path = IDENTITY_FILE) -> dict[str, Any]:
    """False-positive rate on non-toxic sentences that name an identity group.

    Every sentence in ``identity_terms.jsonl`` is civil ("Obok nas mieszkają Rosjanie i świetnie
    się dogadujemy"), so any toxicity flag is a false positive, and one that falls on a group's
    members: the bias a model picks up from corpora in which a group's name mostly occurs in
    attacks. Rates are given per (language, group) and overall, with the mean toxicity score
    (threshold-free) and the terms flagged most often, which is where to look first.
    """
    rows: list[dict[str, Any]] = []
    for line_number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append({k: str(row[k]) for k in ("lang", "group", "term", "text")})
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{line_number}: not an identity-term row ({exc})") from exc
    outcomes = scorer.score([row["text"] for row in rows])

    def summary(keys: Sequence[int]) -> dict[str, float]:
        scores = [o.scores["toxicity"] for i in keys if isinstance(o := outcomes[i], ScoreResult)]
        flagged = sum(_flagged(outcomes[i]) for i in keys)
        mismatched = sum(
            isinstance(o := outcomes[i], ScoreResult) and o.language != rows[i]["lang"]
            for i in keys
        )
        return {
            "n": float(len(keys)),
            "flagged": float(flagged),
            "fpr": _ratio(flagged, len(keys)),
            "mean_score": float(np.mean(scores)) if scores else math.nan,
            "language_mismatch": _ratio(mismatched, len(keys)),
        }

    by_group: dict[tuple[str, str], list[int]] = {}
    by_language: dict[str, list[int]] = {}
    by_term: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        by_group.setdefault((row["lang"], row["group"]), []).append(i)
        by_language.setdefault(row["lang"], []).append(i)
        by_term.setdefault((row["lang"], row["term"]), []).append(i)
    term_rates = {key: summary(keys) for key, keys in by_term.items()}
    worst = sorted(
        (key for key, rate in term_rates.items() if rate["flagged"]),
        key=lambda key: (-term_rates[key]["fpr"], -term_rates[key]["mean_score"]),
    )[:10]
    worst_terms = [{"lang": lang, "term": term, **term_rates[lang, term]} for lang, term in worst]
    return {
        "n": len(rows),
        "thresholds": _thresholds(scorer),
        "overall": summary(range(len(rows))),
        "languages": {lang: summary(keys) for lang, keys in by_language.items()},
        "groups": [
            {"lang": lang, "group": group, **summary(keys)}
            for (lang, group), keys in sorted(by_group.items())
        ],
        "worst_terms": worst_terms,
    }


# --------------------------------------------------------------------------------------------
# Held-out test splits
# --------------------------------------------------------------------------------------------


def load_corpora(
    root: Path, names: Sequence[str] = HELDOUT_CORPORA
) -> tuple[dict[str, list[LabelledText]], dict[str, str]]:
    """The corpora of ``names`` present under ``root``, split-aligned exactly as training does.

    Training forces a text that occurs in several corpora into the split of its first occurrence
    (``registry.align_splits``); the held-out figures must use those same splits, or a text that
    training saw in one corpus's train bucket would be scored as "held out" in another's test
    bucket. Unlike ``load_all`` a missing or broken corpus is skipped with a note (the second
    value, by corpus name) instead of failing every other corpus.
    """
    from moderation.corpora.registry import align_splits, load_all
    from moderation.corpora.sources import available, load_manifest

    notes: dict[str, str] = {}
    if not root.is_dir():
        return {}, dict.fromkeys(names, f"corpora root {root} does not exist")
    present = {s.name for s in available(root) if s.kind == "records"}
    corpora: dict[str, list[LabelledText]] = {}
    for source in load_manifest():  # manifest order, as load_all, so align_splits agrees
        if source.name not in names:
            continue
        if source.name not in present:
            notes[source.name] = f"skipped: {root / source.directory} does not exist"
            continue
        try:
            corpora.update(load_all(root, [source.name]))
        except CorpusError as exc:
            notes[source.name] = f"skipped: {str(exc).splitlines()[0]}"
    align_splits(corpora)
    return corpora, notes


def _test_metrics(scorer: Scorer, records: Sequence[LabelledText]) -> dict[str, float]:
    """F1 & co. at the bundle threshold (from ``flagged``) and ROC AUC from the scores."""
    labelled = [r for r in records if "toxicity" in r.labels]
    outcomes = scorer.score([r.text for r in labelled])
    pairs = [
        (r.labels["toxicity"], o)
        for r, o in zip(labelled, outcomes, strict=True)
        if isinstance(o, ScoreResult)
    ]
    y = [label for label, _ in pairs]
    # binary_metrics thresholds one probability; the service thresholds per detected language,
    # so the decisions go in as 0/1 "probabilities" at 0.5 and the scores give the curve metrics.
    decided = binary_metrics(y, [float("toxicity" in o.flagged) for _, o in pairs], 0.5)
    curve = binary_metrics(y, [o.scores["toxicity"] for _, o in pairs], 0.5)
    return {
        "n": decided["n"],
        "positives": decided["positives"],
        "precision": decided["precision"],
        "recall": decided["recall"],
        "f1": decided["f1"],
        "macro_f1": decided["macro_f1"],
        "roc_auc": curve["roc_auc"],
        "average_precision": curve["average_precision"],
        "errors": float(len(labelled) - len(pairs)),
        "unsupported": _ratio(sum(not o.supported for _, o in pairs), len(pairs)),
        # scored by another language's model: the service routes by the detected language
        "other_language": _ratio(
            sum(
                o.language != r.language
                for r, o in zip(labelled, outcomes, strict=True)
                if isinstance(o, ScoreResult)
            ),
            len(pairs),
        ),
    }


def heldout_rows(
    scorer: Scorer, sets: Sequence[tuple[str, Sequence[LabelledText]]], trained_on: Iterable[str]
) -> list[dict[str, Any]]:
    """One row of ``_test_metrics`` per (corpus, language) of the test split of each named
    set of records; ``heldout_report`` and training's report both read the service this way."""
    trained = set(trained_on)
    rows: list[dict[str, Any]] = []
    for name, records in sets:
        test = [r for r in records if r.split == "test"]
        for language in sorted({r.language for r in test}):
            subset = [r for r in test if r.language == language]
            metrics = _test_metrics(scorer, subset)
            notes_here = []
            if name in _OFFICIAL_TRAIN_ONLY:
                notes_here.append("bucket of the official TRAIN set, not its test set")
            if metrics["positives"] == metrics["n"]:
                notes_here.append("toxic texts only: read recall")
            rows.append(
                {
                    "corpus": name,
                    "language": language,
                    "in_training": name in trained,
                    **metrics,
                    "note": "; ".join(notes_here),
                }
            )
    return rows


def heldout_report(
    scorer: Scorer,
    root: Path | None,
    *,
    own_dir: Path = OWN_DIR,
    corpora: Sequence[str] = HELDOUT_CORPORA,
) -> dict[str, Any]:
    """Toxicity quality on the test split of every corpus we have, and of the own corpus.

    The test split is the shared hash bucket (``split_for``, BAN-PL's SPLIT.md rule), which no
    training run uses for fitting, calibration or threshold choice, so the bundle's thresholds can
    be applied as they are. Rows are per (corpus, language); ``in_training`` says whether the
    bundle was trained on that corpus at all (when not, the row measures transfer to another
    register, which is worth knowing but is not the same thing). F1 is of the toxic class; macro-F1
    (both classes) is OLID's official metric and is given for every row. A corpus that holds only
    toxic texts (HATE-WAR-PL) has recall as its one meaningful figure.
    """
    trained_on = set(scorer.bundle.metadata.get("corpora", {}))
    notes: dict[str, str] = {}
    loaded: dict[str, list[LabelledText]] = {}
    if root is None:
        notes.update(dict.fromkeys(corpora, "skipped: no corpora root given"))
    else:
        loaded, notes = load_corpora(root, corpora)
    own = read_own_corpus(own_dir)
    sets: list[tuple[str, list[LabelledText]]] = [(OWN_CORPUS, own), *loaded.items()]
    rows = heldout_rows(scorer, sets, trained_on)
    return {
        "model_version": scorer.model_version,
        "thresholds": _thresholds(scorer),
        "rows": rows,
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------
# Cross-validation
# --------------------------------------------------------------------------------------------


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    """``say`` with ``prefix`` before every message (bound now, not at call time)."""
    return lambda message: say(prefix + message)


def cross_validate(
    records: Sequence[LabelledText],
    language: str,
    folds: int = 5,
    seed: int = 0,
    *,
    own: Sequence[LabelledText] | None = None,
    unmask_words: Sequence[str] | None = None,
    training_config: TrainingConfig | None = None,
    dev_fraction: float = 0.1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation of the toxicity head on one corpus.

    Why CV at all: for PolEval 2019 6-1 and OLID we only have the official *training* set, so the
    honest way to put a number beside the published ones is k-fold CV over all of it (train, dev
    and test buckets together), scored with the shared tasks' metrics: F1 of the positive class
    (PolEval, ``f1``) and macro-F1 (OLID, ``macro_f1``). Both are reported for every fold.

    Each fold trains a fresh model with :func:`~moderation.training.train_language`, the same code
    path as a real run: the other folds get split ``train``, a random ``dev_fraction`` of them is
    relabelled ``dev`` (calibration and threshold choice; the held-out fold is never used for
    either) and the held-out fold is ``test``. Splits are relabelled with ``dataclasses.replace``;
    the records themselves are not changed.

    Why the own corpus is merged in: ``train_language`` fits all six heads and refuses to train a
    head without positives, and PolEval/OLID annotate only some attributes (no threats, no
    obscenity). So the own corpus of ``language`` (``own``; default: ``training_data/toxicity``) is
    added to every fold's training data, keeping its own train/dev buckets, and is never evaluated.
    The figures are therefore those of "our model recipe, trained on the other folds plus our own
    comments", which is also what a deployed bundle is. Weak lexicon ``obscene`` labels are not
    added: they only affect the ``obscene`` head, not the toxicity figures reported here.

    The recipe is ``training_config`` (default: the current ``TrainingConfig()``), with one
    change: if it limits which corpora train the toxicity head (``toxicity_sources``), the corpus
    under test is added to that list, or the "CV" would measure transfer from the other corpora.

    Two thresholds per fold, both chosen on the fold's dev slice only: ``threshold`` is the model's
    own (tuned on the pooled dev data, as a bundle flags), and ``f1_threshold`` /
    ``macro_f1_threshold`` are tuned on this corpus's part of the dev slice for each task metric
    (``f1_tuned``, ``macro_f1_tuned``): the protocol of a shared-task submission, and the figures
    to compare with published ones. ``std`` is the sample standard deviation (ddof=1) over folds.
    """
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction}")
    say = progress or (lambda message: None)
    corpus = [r for r in records if r.language == language and "toxicity" in r.labels]
    if not corpus:
        raise ValueError(f"no {language} records with a toxicity label to cross-validate")
    own_all = own if own is not None else read_own_corpus(OWN_DIR)
    own_records = [r for r in own_all if r.language == language]
    # Own records keep their hash bucket for dev; their test bucket trains too (never evaluated).
    own_split: list[LabelledText] = [
        dataclasses.replace(r, split="dev" if r.split == "dev" else "train") for r in own_records
    ]
    unmask = list(unmask_words) if unmask_words is not None else read_word_list(PROFANITY_FILE)
    names = sorted({r.source for r in corpus})
    settings = _with_toxicity_sources(training_config or TrainingConfig(), language, names)
    labels = np.asarray([r.labels["toxicity"] for r in corpus])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    started = time.perf_counter()
    per_fold: list[dict[str, float]] = []
    for fold, (train_index, test_index) in enumerate(splitter.split(np.zeros(len(corpus)), labels)):
        rng = np.random.default_rng([seed, fold])
        dev_size = max(1, round(dev_fraction * len(train_index)))
        dev_rows = set(rng.choice(train_index, size=dev_size, replace=False).tolist())
        test_rows = set(test_index.tolist())
        fold_records: list[LabelledText] = list(own_split)
        for i, record in enumerate(corpus):
            split: Split = "test" if i in test_rows else "dev" if i in dev_rows else "train"
            fold_records.append(dataclasses.replace(record, split=split))
        fold_started = time.perf_counter()
        run = train_language(
            language, fold_records, unmask, settings, _prefixed(say, f"fold {fold + 1}/{folds}: ")
        )
        held_out = [
            e for e in run.evaluations if e.attribute == "toxicity" and e.corpus != OWN_CORPUS
        ]
        y = np.concatenate([e.y_true for e in held_out])
        p = np.concatenate([e.y_prob for e in held_out])
        threshold = run.model.thresholds["toxicity"]
        metrics = binary_metrics(y, p, threshold)
        tuned = _corpus_dev_thresholds(run.corpus_thresholds, names)
        f1_threshold, macro_threshold = tuned.get("f1", math.nan), tuned.get("macro_f1", math.nan)
        per_fold.append(
            {
                "fold": float(fold + 1),
                "n": metrics["n"],
                "positives": metrics["positives"],
                "threshold": float(threshold),
                "f1": metrics["f1"],
                "macro_f1": metrics["macro_f1"],
                "precision": metrics["precision"],
                "recall": metrics["recall"],
                "roc_auc": metrics["roc_auc"],
                "f1_threshold": f1_threshold,
                "f1_tuned": _metric_at(y, p, f1_threshold, "f1"),
                "macro_f1_threshold": macro_threshold,
                "macro_f1_tuned": _metric_at(y, p, macro_threshold, "macro_f1"),
                "seconds": time.perf_counter() - fold_started,
            }
        )
        say(
            f"fold {fold + 1}/{folds}: F1 {per_fold[-1]['f1_tuned']:.3f}, "
            f"macro-F1 {per_fold[-1]['macro_f1_tuned']:.3f} (corpus-dev thresholds)"
        )
    summary_keys = (
        "f1",
        "macro_f1",
        "precision",
        "recall",
        "roc_auc",
        "threshold",
        "f1_tuned",
        "macro_f1_tuned",
        "f1_threshold",
        "macro_f1_threshold",
    )
    return {
        "corpus": ",".join(names),
        "language": language,
        "folds": folds,
        "seed": seed,
        "records": len(corpus),
        "positives": int(labels.sum()),
        "own_records": len(own_split),
        "training_config": repr(settings),
        "per_fold": per_fold,
        "mean": {k: float(np.mean([f[k] for f in per_fold])) for k in summary_keys},
        "std": {k: float(np.std([f[k] for f in per_fold], ddof=1)) for k in summary_keys},
        "seconds": time.perf_counter() - started,
    }


def _with_toxicity_sources(
    settings: TrainingConfig, language: str, names: Sequence[str]
) -> TrainingConfig:
    """``settings`` whose toxicity head of ``language`` also trains on the corpora ``names``."""
    chosen = settings.toxicity_sources
    if chosen is None or language not in chosen or set(names) <= chosen[language]:
        return settings
    widened = {**chosen, language: chosen[language] | frozenset(names)}
    return dataclasses.replace(settings, toxicity_sources=widened)


def _corpus_dev_thresholds(
    corpus_thresholds: Mapping[str, Mapping[str, float]], names: Sequence[str]
) -> dict[str, float]:
    """The per-metric thresholds tuned on the corpus's dev slice (one corpus: its own)."""
    found = [corpus_thresholds[name] for name in names if name in corpus_thresholds]
    return dict(found[0]) if len(found) == 1 else {}


def _metric_at(y: npt.ArrayLike, p: npt.ArrayLike, threshold: float, metric: str) -> float:
    """``metric`` of :func:`binary_metrics` at ``threshold``; ``nan`` when there is none."""
    if math.isnan(threshold):
        return math.nan
    return binary_metrics(y, p, threshold)[metric]


# --------------------------------------------------------------------------------------------
# Texts and tables
# --------------------------------------------------------------------------------------------


def evasion_texts(root: Path | None, *, own_dir: Path = OWN_DIR) -> list[str]:
    """Toxic comments to disguise: BAN-PL's test bucket, else the own corpus's test bucket.

    BAN-PL's toxic test comments are real moderated posts (about 1,200) that no training run
    saw; without the corpora the own corpus's toxic test comments (both languages, about 110)
    keep the report working, with wider error bars. ``bench/evasion.py`` reports both.
    """
    if root is not None:
        corpora, _ = load_corpora(root, ["ban_pl"])
        texts = [
            r.text
            for r in corpora.get("ban_pl", [])
            if r.split == "test" and r.labels.get("toxicity") == 1
        ]
        if texts:
            return texts
    return [
        r.text
        for r in read_own_corpus(own_dir)
        if r.split == "test" and r.labels.get("toxicity") == 1
    ]


#: A formatted cell that reads as a number (right-aligned); n/a and blanks do not break a column.
_NUMBER: Final = re.compile(r"[-+]?[\d,]*\.?\d+(?:s|%| ± [\d.]+)?|n/a|")


def format_value(value: object, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals and thousands separators, ``n/a`` for nan."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: numeric columns right-aligned, text columns left-aligned."""
    cells = [[format_value(c) for c in row] for row in rows]
    numeric = [
        bool(cells) and all(_NUMBER.fullmatch(row[i]) for row in cells) for i in range(len(headers))
    ]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, cells)])


def format_heldout(report: Mapping[str, Any]) -> str:
    """The held-out table of :func:`heldout_report`, with the skipped corpora below it."""
    thresholds = ", ".join(f"{k} {v:.4f}" for k, v in report["thresholds"].items())
    rows = [
        [
            r["corpus"],
            r["language"],
            int(r["n"]),
            int(r["positives"]),
            r["precision"],
            r["recall"],
            r["f1"],
            r["macro_f1"],
            r["roc_auc"],
            r["in_training"],
            r["note"],
        ]
        for r in report["rows"]
    ]
    headers = [
        "corpus",
        "lang",
        "n",
        "pos",
        "precision",
        "recall",
        "F1",
        "macro-F1",
        "ROC AUC",
        "trained on",
        "note",
    ]
    lines = [
        f"== Held-out test splits (model {report['model_version']}) ==",
        f"toxicity thresholds: {thresholds}",
        format_table(headers, rows),
    ]
    lines += [f"  {name}: {note}" for name, note in report["notes"].items()]
    return "\n".join(lines)


def format_identity(report: Mapping[str, Any]) -> str:
    """The per-group false-positive table of :func:`identity_report`."""

    def cells(s: Mapping[str, float]) -> list[object]:
        return [int(s["n"]), int(s["flagged"]), s["fpr"], s["mean_score"], s["language_mismatch"]]

    rows: list[list[object]] = [[g["lang"], g["group"], *cells(g)] for g in report["groups"]]
    rows += [[lang, "(all)", *cells(s)] for lang, s in report["languages"].items()]
    rows.append(["all", "(all)", *cells(report["overall"])])
    lines = [
        f"== Identity terms: false-positive rate on {report['n']:,} civil sentences ==",
        format_table(["lang", "group", "n", "flagged", "FPR", "mean score", "lang mismatch"], rows),
    ]
    if report["worst_terms"]:
        terms = ", ".join(
            f"{t['term']} ({t['lang']}, {int(t['flagged'])}/{int(t['n'])})"
            for t in report["worst_terms"]
        )
        lines.append(f"most often flagged terms: {terms}")
    return "\n".join(lines)


def format_evasion(report: Mapping[str, Any], title: str = "Evasion") -> str:
    """Recall and ratio per trick of :func:`evasion_report`, and the worst trick."""
    original = report["original"]
    rows: list[list[object]] = [
        ["(original)", 0.0, original["recall"], 1.0, original["unsupported"]]
    ]
    rows += [
        [trick, r["changed"], r["recall"], r["ratio"], r["unsupported"]]
        for trick, r in report["tricks"].items()
    ]
    lines = [
        f"== {title}: {report['n']:,} toxic comments ==",
        format_table(["trick", "changed", "recall", "ratio", "unsupported"], rows),
    ]
    if report["worst"] is not None:
        lines.append(
            f"worst trick: {report['worst']} "
            f"(keeps {report['worst_ratio']:.1%} of the original recall)"
        )
    return "\n".join(lines)


def format_cross_validation(result: Mapping[str, Any]) -> str:
    """Per-fold and mean/std rows of :func:`cross_validate`."""

    def cells(f: Mapping[str, Any]) -> list[object]:
        return [
            f["threshold"],
            f["precision"],
            f["recall"],
            f["f1"],
            f["macro_f1"],
            f["roc_auc"],
            f["f1_threshold"],
            f["f1_tuned"],
            f["macro_f1_threshold"],
            f["macro_f1_tuned"],
        ]

    rows: list[list[object]] = [
        [int(f["fold"]), int(f["n"]), int(f["positives"]), *cells(f), f"{f['seconds']:.0f}s"]
        for f in result["per_fold"]
    ]
    rows.append(["mean", "", "", *cells(result["mean"]), f"{result['seconds']:.0f}s"])
    rows.append(["std", "", "", *cells(result["std"]), ""])
    headers = [
        "fold",
        "n",
        "pos",
        "thr",
        "precision",
        "recall",
        "F1",
        "macro-F1",
        "ROC AUC",
        "thr F1*",
        "F1*",
        "thr mF1*",
        "macro-F1*",
        "time",
    ]
    return "\n".join(
        [
            f"{result['corpus']} ({result['language']}): {result['records']:,} records, "
            f"{result['positives']:,} toxic, + {result['own_records']:,} own {result['language']} "
            "comments in every training fold",
            format_table(headers, rows),
        ]
    )


def format_report(figures: Mapping[str, Any]) -> str:
    """Every section present in ``figures`` as text tables (what ``moderation evaluate`` prints).

    Known keys: ``heldout``, ``identity_terms`` (or ``identity``), ``evasion`` (one
    :func:`evasion_report` or a mapping of title -> report) and ``cross_validation`` (corpus ->
    :func:`cross_validate` result). Other keys are ignored, so callers can add metadata freely.
    """
    sections: list[str] = []
    if "model_version" in figures:
        sections.append(f"model {figures['model_version']}")
    if "heldout" in figures:
        sections.append(format_heldout(figures["heldout"]))
    identity = figures.get("identity_terms", figures.get("identity"))
    if identity is not None:
        sections.append(format_identity(identity))
    evasion = figures.get("evasion")
    if evasion is not None:
        if "tricks" in evasion:
            sections.append(format_evasion(evasion))
        else:
            sections += [format_evasion(r, f"Evasion, {title}") for title, r in evasion.items()]
    for result in figures.get("cross_validation", {}).values():
        sections.append(format_cross_validation(result))
    return "\n\n".join(sections) + "\n"
