"""Training: load -> normalise -> vectorise -> fit each head -> calibrate -> evaluate -> save.

Per language, one featurizer and one stack of heads. Each head trains on the records that
carry its attribute (labels are partial: BAN-PL says "harmful" and nothing about threats),
is calibrated and given its threshold on the development split, and is evaluated on the
test split only, per corpus.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np
from numpy.typing import NDArray

from moderation.attributes import ATTRIBUTES, SUPPORTED_LANGUAGES
from moderation.corpora.base import LabelledText, split_for
from moderation.evaluation import Evaluation, summarise, tune_threshold
from moderation.model.bundle import Bundle, LanguageModel, save_bundle
from moderation.model.features import TextFeaturizer
from moderation.model.heads import SCORE_DECIMALS, HeadStack, Mixture, displayed, fit_calibrator
from moderation.model.stance import Article, describe
from moderation.stance_training import (
    StanceComment,
    article_vocabulary,
    featurize,
    read_stance_corpus,
    train_stance_heads,
)
from moderation.text.normalize import Normalizer

OWN_CORPUS = "own"
STANCE_CORPUS = "own_stance"
PROFANITY_FILE = Path(__file__).parent / "text" / "data" / "profanity.txt"
#: The project's own comments are the target register: they count more than tweets.
SOURCE_WEIGHTS: dict[str, float] = {OWN_CORPUS: 3.0}
#: Lexicons that give weak ``obscene`` labels to external corpora (train/dev only, never test).
OBSCENE_LEXICONS: dict[str, tuple[str, ...]] = {"pl": ("polish_vulgarisms",), "en": ("ldnoobw_en",)}
#: Lexicons whose words a masked token (k*rwa) may stand for, after the built-in list.
UNMASK_LEXICONS: dict[str, str] = {"pl": "polish_vulgarisms", "en": "ldnoobw_en"}


#: Which corpora train each language's *toxicity* head. Chosen on development data
#: (BENCHMARKS.md): PolEval's narrow "cyberbullying" label, IPI PAN's minority-only sample
#: and Davidson's keyword-sampled tweets lower the in-domain figures when mixed into
#: toxicity, so they train only the attributes they label well (insult, identity_attack...).
TOXICITY_SOURCES: dict[str, frozenset[str]] = {
    "pl": frozenset({OWN_CORPUS, "ban_pl", "hate_war_pl"}),
    "en": frozenset({OWN_CORPUS, "olid"}),
}


@dataclass
class TrainingConfig:
    """Hyper-parameters of one training run (chosen on development data; see BENCHMARKS.md).

    Heads are NB-LR: features scaled by their naive-Bayes log-count ratio, then logistic
    regression; the ratio folds into the coefficients, so scoring stays one linear model.
    """

    c: float = 4.0
    #: Per language, the smoothing of the naive-Bayes ratio, added to each class's summed
    #: TF-IDF values. Those sums are small (L2-normalised rows), so Wang & Manning's 1.0 (meant
    #: for binary counts) flattens the ratio of every rare n-gram; for Polish 0.25 lets them
    #: count (BAN-PL CV +0.5 pt F1). English keeps 1.0: 0.25 lowered OLID's ROC AUC and
    #: quintupled false positives on civil identity-term sentences (BENCHMARKS.md).
    nb_alpha: dict[str, float] = field(default_factory=lambda: {"pl": 0.25, "en": 1.0})
    featurizer: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"pl": {"char_weight": 1.5}, "en": {"char_weight": 1.0}}
    )
    min_positives: int = 5
    #: Article folds of the stance/sentiment cross-validation (evaluation and temperatures).
    stance_folds: int = 4
    #: Corpora of each language's toxicity head; None trains it on every corpus given.
    toxicity_sources: dict[str, frozenset[str]] | None = field(
        default_factory=lambda: dict(TOXICITY_SOURCES)
    )
    #: Split the toxicity head's harmful class into components where its labels carry the
    #: moderators' reasons (BAN-PL, HATE-WAR-PL): one NB-LR per reason, combined with the head
    #: through their maximum (``heads.Mixture``); languages without reasons get none. On by
    #: default since thresholds are tuned on the displayed scores (before, 4-decimal rounding
    #: unflagged the isotonic step its threshold was tuned at): BAN-PL CV F1 +0.3 pt, pooled dev
    #: F1 +0.2 pt, BAN-PL test F1 0.908 -> 0.913, identity-term false positives unchanged
    #: (BENCHMARKS.md). A component for harmful texts without a reason (the own corpus's)
    #: tripled false positives on civil identity-term sentences, so there is none.
    toxicity_mixture: bool = True
    #: Folds of the out-of-fold decisions behind a mixture's combination.
    mixture_folds: int = 5

    def alpha_for(self, language: str) -> float:
        """The naive-Bayes smoothing of ``language``'s heads (Wang & Manning's 1.0 if unset)."""
        return self.nb_alpha.get(language, 1.0)


class Progress:
    """Stage-by-stage progress lines with elapsed time, on stderr by default."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self.started
            print(f"[{elapsed:7.1f}s] {message}", file=self.stream, flush=True)


def read_own_corpus(directory: Path) -> list[LabelledText]:
    """The project's own labelled comments (``training_data/toxicity/*.jsonl``)."""
    records: list[LabelledText] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                labels = {name: int(row["labels"][name]) for name in ATTRIBUTES}
                text = str(row["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{line_number}: not a valid labelled comment ({exc})"
                ) from exc
            tags = ",".join(row.get("tags", []))
            records.append(
                LabelledText(
                    text, str(row["lang"]), labels, split_for(text), OWN_CORPUS, {"tags": tags}
                )
            )
    return records


def read_word_list(path: Path) -> list[str]:
    """One word per line; '#' starts a comment."""
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


#: How many of the most frequent training words a masked or spaced-out word may stand for.
VOCABULARY_SIZE = 40_000


def frequent_words(records: Sequence[LabelledText], normalizer: Normalizer) -> list[str]:
    """The most frequent words of the training split, most frequent first.

    They let the normaliser undo masks and spacing on ordinary words too ("b*dż*t",
    "s t ą d"), not only on the profanity lists.
    """
    from collections import Counter

    counts: Counter[str] = Counter()
    for record in records:
        if record.split == "train":
            counts.update(w for w in normalizer.words(record.text) if w.isalpha())
    return [word for word, n in counts.most_common(VOCABULARY_SIZE) if n >= 2]


def fingerprint(records: Iterable[LabelledText]) -> str:
    """SHA-256 over texts and labels: which data a model saw, independent of file layout."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.text.encode("utf-8"))
        digest.update(json.dumps(record.labels, sort_keys=True).encode())
    return digest.hexdigest()


def add_weak_obscene(
    records: list[LabelledText], normalizer: Normalizer, lexicon: frozenset[str]
) -> list[LabelledText]:
    """Label ``obscene`` from a vulgarity lexicon where a corpus says nothing about it.

    Test records are left alone, so no reported figure is measured against these labels.
    """
    out: list[LabelledText] = []
    for record in records:
        if "obscene" in record.labels or record.split == "test" or not lexicon:
            out.append(record)
            continue
        hit = any(word in lexicon for word in normalizer.words(record.text))
        labels = {**record.labels, "obscene": int(hit)}
        out.append(
            LabelledText(
                record.text, record.language, labels, record.split, record.source, record.extra
            )
        )
    return out


@dataclass
class LanguageRun:
    """What training one language produced: the model and its held-out evaluations."""

    model: LanguageModel
    evaluations: list[Evaluation]
    counts: dict[str, dict[str, int]]
    #: toxicity thresholds tuned on each corpus's own dev split (for per-corpus benchmarks)
    corpus_thresholds: dict[str, dict[str, float]]


def train_language(
    language: str,
    records: Sequence[LabelledText],
    unmask_words: Sequence[str],
    config: TrainingConfig,
    progress: Callable[[str], None],
    normalizer: Normalizer | None = None,
    vocabulary_docs: Sequence[Sequence[str]] = (),
) -> LanguageRun:
    """Fit, calibrate and evaluate every head of one language.

    ``normalizer`` must have been built from ``unmask_words``; passing the one the caller
    already warmed up saves building another and re-normalising from a cold cache.
    ``vocabulary_docs`` (normalised words of unlabelled texts, e.g. the stance corpus) widen
    the shared vocabulary, so the stance and sentiment heads reuse these features.
    """
    normalizer = normalizer or Normalizer(unmask_words)
    progress(f"{language}: normalising {len(records):,} texts")
    words = [normalizer.words(record.text) for record in records]
    splits = np.asarray([record.split for record in records])
    train_rows = np.flatnonzero(splits == "train")
    progress(f"{language}: vectorising ({len(train_rows):,} training texts)")
    featurizer = TextFeaturizer(**config.featurizer.get(language, {})).fit(
        [*(words[i] for i in train_rows), *vocabulary_docs]
    )
    matrix = featurizer.transform(words)
    progress(f"{language}: {featurizer.n_features_:,} features")
    weights = np.zeros((featurizer.n_features_, len(ATTRIBUTES)), dtype=np.float32)
    intercepts = np.zeros(len(ATTRIBUTES), dtype=np.float32)
    sample_weight = np.asarray([SOURCE_WEIGHTS.get(r.source, 1.0) for r in records])
    calibrators = []
    thresholds: dict[str, float] = {}
    evaluations: list[Evaluation] = []
    counts: dict[str, dict[str, int]] = {}
    corpus_thresholds: dict[str, dict[str, float]] = {}
    sources = np.asarray([record.source for record in records])
    mixture: Mixture | None = None
    for column, attribute in enumerate(ATTRIBUTES):
        label = np.asarray([record.labels.get(attribute, -1) for record in records])
        labelled = label >= 0
        known = labelled
        chosen = (config.toxicity_sources or {}).get(language)
        if attribute == "toxicity" and chosen is not None:
            known = labelled & np.isin(sources, sorted(chosen))
        fit_rows = np.flatnonzero(known & (splits == "train"))
        dev_rows = np.flatnonzero(known & (splits == "dev"))
        # Every labelled test row is evaluated, also from corpora the head did not train on:
        # that is the honest out-of-domain figure.
        test_rows = np.flatnonzero(labelled & (splits == "test"))
        y_fit = label[fit_rows]
        counts[attribute] = {
            "train": int(fit_rows.size),
            "train_positive": int(y_fit.sum()),
            "dev": int(dev_rows.size),
            "test": int(test_rows.size),
        }
        if y_fit.sum() < config.min_positives or (y_fit == 0).sum() < config.min_positives:
            raise ValueError(
                f"{language}/{attribute}: only {int(y_fit.sum())} positive training examples; "
                "the own corpus should cover every attribute"
            )
        progress(
            f"{language}: fitting {attribute} on {fit_rows.size:,} texts "
            f"({int(y_fit.sum()):,} positive)"
        )
        alpha = config.alpha_for(language)
        weights[:, column], intercepts[column] = fit_nblr(
            matrix, fit_rows, y_fit, alpha, config.c, sample_weight
        )
        if attribute == "toxicity" and config.toxicity_mixture:
            reasons = np.asarray([str(r.extra.get("reason", "")) for r in records])
            mixture = fit_mixture(
                matrix, fit_rows, (label, reasons, sources), sample_weight, config, alpha
            )
            if mixture is not None:
                progress(
                    f"{language}: toxicity mixture of {len(mixture.labels)} components "
                    f"(reasons {', '.join(mixture.labels)})"
                )
        mixed = mixture if mixture is not None and mixture.column == column else None

        def decide(rows: NDArray[np.int_], column: int = column, mixed: Any = mixed) -> Any:
            """The head's decision on ``rows``, refined by its mixture if it has one."""
            main = np.asarray(matrix[rows] @ weights[:, column]) + intercepts[column]
            if mixed is None:
                return np.asarray(main, dtype=np.float64)
            return mixed.combine(main, np.asarray(matrix[rows] @ mixed.weights))

        dev_decision = decide(dev_rows)
        calibrator = fit_calibrator(dev_decision, label[dev_rows])
        calibrators.append(calibrator)
        thresholds[attribute] = flag_threshold(label[dev_rows], calibrator(dev_decision))
        progress(
            f"{language}: calibrated {attribute} ({calibrator.method}), "
            f"threshold {thresholds[attribute]:.4f}"
        )
        if attribute == "toxicity":
            dev_all = np.flatnonzero(labelled & (splits == "dev"))
            corpus_thresholds = _corpus_thresholds(
                sources[dev_all], label[dev_all], calibrator(decide(dev_all))
            )
        # Evaluated as results show them (and flag them): on the displayed probabilities.
        test_probability = displayed(calibrator(decide(test_rows)))
        evaluations.extend(
            _per_source(
                language,
                attribute,
                sources[test_rows],
                label[test_rows],
                test_probability,
                thresholds[attribute],
            )
        )
    heads = HeadStack(ATTRIBUTES, weights, intercepts, tuple(calibrators), mixture)
    model = LanguageModel(language, tuple(unmask_words), featurizer, heads, thresholds)
    return LanguageRun(model, evaluations, counts, corpus_thresholds)


def _corpus_thresholds(
    sources: NDArray[np.str_], y: NDArray[np.int_], p: NDArray[np.float64]
) -> dict[str, dict[str, float]]:
    """Per corpus, the toxicity thresholds that maximise F1 and macro-F1 on its dev split.

    The flagging threshold of the bundle is tuned on the mixture the head was trained on;
    benchmarks of one corpus may use that corpus's own dev-tuned threshold instead.
    """
    out: dict[str, dict[str, float]] = {}
    for source in sorted(set(sources.tolist())):
        rows = sources == source
        if y[rows].sum() >= 10 and (y[rows] == 0).sum() >= 10:
            out[str(source)] = {
                "f1": flag_threshold(y[rows], p[rows]),
                "macro_f1": flag_threshold(y[rows], p[rows], metric="macro_f1"),
            }
    return out


def flag_threshold(
    y: NDArray[np.int_], p: NDArray[np.float64], metric: Literal["f1", "macro_f1"] = "f1"
) -> float:
    """The threshold to store for flags: tuned on dev probabilities *as results show them*.

    Results show probabilities to 4 decimals and flag ``displayed(p) >= threshold``, so the
    tuning runs on those displayed values and returns one of them: the stored threshold flags
    exactly the dev comments the tuning chose (no rounding after the fact can move it across
    an isotonic step, as rounding a raw tuned value to the nearest 4 decimals once did to 122
    OLID dev comments). Any 4-decimal value above the next lower displayed dev score would do
    the same on dev; the tuned step's own value is taken, like ``tune_threshold``'s ties (fewer
    comments held at the same measured quality). Two steps closer than 1e-4 that show the same
    value can only be flagged together: the tuning then picks the best operating point the
    displayed scale can express instead of one no stored threshold could reproduce.
    """
    return round(float(tune_threshold(y, displayed(p), metric=metric)), SCORE_DECIMALS)


def fit_nblr(
    matrix: Any,
    rows: NDArray[np.int_],
    y: NDArray[np.int_],
    alpha: float,
    c: float,
    sample_weight: NDArray[np.float64],
) -> tuple[NDArray[np.float32], float]:
    """NB-LR on ``matrix[rows]`` (labels ``y``): coefficients (ratio folded in), intercept."""
    from sklearn.linear_model import LogisticRegression

    ratio = nb_ratio(matrix[rows], y, alpha)
    head = LogisticRegression(C=c, solver="liblinear", max_iter=2000)
    head.fit(matrix[rows].multiply(ratio).tocsr(), y, sample_weight=sample_weight[rows])
    return (head.coef_[0] * ratio).astype(np.float32), float(head.intercept_[0])


def fit_mixture(
    matrix: Any,
    fit_rows: NDArray[np.int_],
    columns: tuple[NDArray[np.int_], NDArray[np.str_], NDArray[np.str_]],
    sample_weight: NDArray[np.float64],
    config: TrainingConfig,
    alpha: float,
) -> Mixture | None:
    """Component heads of the harmful class, one per moderation reason, and their combination.

    ``columns`` holds each record's label, reason (``extra["reason"]``, "" if none) and corpus.
    Each component is an NB-LR of the harmful texts given one reason against every negative of
    ``fit_rows`` (harmful texts without a reason, e.g. the own corpus's, train only the head).
    The combination's two scales and offset are a logistic regression on
    out-of-fold decisions of the head and of the components' maximum over ``fit_rows``
    (``config.mixture_folds`` folds stratified by corpus and label, the head's sample
    weights). None when fewer than two reasons are given.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    label, reasons, sources = columns
    harmful = fit_rows[label[fit_rows] == 1]
    given = sorted(set(reasons[harmful].tolist()) - {""})
    if len(given) < 2:
        return None
    names = given

    def components(rows: NDArray[np.int_]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        out = np.zeros((matrix.shape[1], len(names)), dtype=np.float32)
        offsets = np.zeros(len(names), dtype=np.float32)
        for k, name in enumerate(names):
            keep = rows[(label[rows] == 0) | (reasons[rows] == name)]
            y = ((label[keep] == 1) & (reasons[keep] == name)).astype(np.int_)
            out[:, k], offsets[k] = fit_nblr(matrix, keep, y, alpha, config.c, sample_weight)
        return out, offsets

    y_fit = label[fit_rows]
    strata = np.char.add(sources[fit_rows].astype(str), y_fit.astype(str))
    main_oof = np.zeros(fit_rows.size)
    best_oof = np.zeros(fit_rows.size)
    folds = StratifiedKFold(n_splits=config.mixture_folds, shuffle=True, random_state=0)
    for inner, held in folds.split(np.zeros(fit_rows.size), strata):
        rows = fit_rows[inner]
        w, b = fit_nblr(matrix, rows, label[rows], alpha, config.c, sample_weight)
        part, offsets = components(rows)
        main_oof[held] = matrix[fit_rows[held]] @ w + b
        best_oof[held] = (np.asarray(matrix[fit_rows[held]] @ part) + offsets).max(axis=1)
    combiner = LogisticRegression(C=1.0).fit(
        np.column_stack([main_oof, best_oof]), y_fit, sample_weight=sample_weight[fit_rows]
    )
    part, offsets = components(fit_rows)
    return Mixture(
        ATTRIBUTES.index("toxicity"),
        tuple(names),
        part,
        offsets,
        float(combiner.coef_[0, 0]),
        float(combiner.coef_[0, 1]),
        float(combiner.intercept_[0]),
    )


def nb_ratio(matrix: Any, y: NDArray[np.int_], alpha: float) -> NDArray[np.float32]:
    """Naive-Bayes log-count ratio of every feature (Wang & Manning 2012, NB-SVM)."""
    positive = np.asarray(matrix[y == 1].sum(axis=0)).ravel() + alpha
    negative = np.asarray(matrix[y == 0].sum(axis=0)).ravel() + alpha
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum()))
    return np.asarray(ratio, dtype=np.float32)


def _per_source(
    language: str,
    attribute: str,
    sources: NDArray[np.str_],
    y: NDArray[np.int_],
    p: NDArray[np.float64],
    threshold: float,
) -> list[Evaluation]:
    out = []
    for source in sorted(set(sources.tolist())):
        rows = sources == source
        if rows.sum() >= 2:
            out.append(
                Evaluation(
                    language, str(source), attribute, y[rows], np.clip(p[rows], 0.0, 1.0), threshold
                )
            )
    return out


@dataclass
class PreparedLanguage:
    """One language's training input as ``train()`` hands it to ``train_language``."""

    #: the language's records, weak ``obscene`` labels added where a lexicon gives them
    records: list[LabelledText]
    #: words a masked or spaced-out token may stand for (profanity lists, frequent words)
    unmask: list[str]
    normalizer: Normalizer
    #: normalised words of the stance corpus's comments and articles (vocabulary only)
    vocabulary: list[list[str]]
    stance_comments: list[StanceComment]


def prepare_language(
    language: str,
    records: Sequence[LabelledText],
    lexicons: dict[str, frozenset[str]],
    profanity: Sequence[str],
    stance_corpus: tuple[dict[str, Article], dict[str, str], list[StanceComment]] | None = None,
) -> PreparedLanguage:
    """Select ``language``'s records and build its normaliser and extra vocabulary.

    One function for ``train()`` and the candidate benchmark (``bench/toxicity_candidates.py``),
    so a recipe compared there sees exactly the features a bundle would.
    """
    subset = [r for r in records if r.language == language]
    unmask = [*profanity, *sorted(lexicons.get(UNMASK_LEXICONS.get(language, ""), frozenset()))]
    lexicon = frozenset().union(
        *(lexicons.get(name, frozenset()) for name in OBSCENE_LEXICONS.get(language, ()))
    )
    unmask = [*unmask, *frequent_words(subset, Normalizer(unmask))]
    normalizer = Normalizer(unmask)  # the final one: built once, shared by the caller
    if lexicon:
        subset = add_weak_obscene(subset, normalizer, lexicon)
    stance_comments: list[StanceComment] = []
    vocabulary: list[list[str]] = []
    if stance_corpus is not None:
        articles, article_languages, every_comment = stance_corpus
        stance_comments = [c for c in every_comment if c.language == language]
        vocabulary = [normalizer.words(c.text) for c in stance_comments]
        vocabulary += article_vocabulary(
            [a for i, a in articles.items() if article_languages[i] == language], normalizer
        )
    return PreparedLanguage(subset, unmask, normalizer, vocabulary, stance_comments)


def train(
    own_dir: Path,
    out_dir: Path,
    corpora_root: Path | None = None,
    config: TrainingConfig | None = None,
    report_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    languages: Sequence[str] = SUPPORTED_LANGUAGES,
    stance_dir: Path | None = None,
) -> Bundle:
    """Build a bundle from the own corpus (and the external corpora under ``corpora_root``).

    With ``stance_dir`` (the own stance corpus) every language it covers also gets stance
    and sentiment heads on the same features.
    """
    config = config or TrainingConfig()
    progress = progress or Progress()
    progress(f"loading the own corpus from {own_dir}")
    records = read_own_corpus(own_dir)
    corpora_meta: dict[str, Any] = {
        OWN_CORPUS: {"records": len(records), "fingerprint": fingerprint(records)}
    }
    lexicons: dict[str, frozenset[str]] = {}
    if corpora_root is not None:
        from moderation.corpora.registry import load_all, load_lexicons
        from moderation.corpora.sources import available

        progress(f"loading external corpora from {corpora_root}")
        loaded = load_all(corpora_root)
        for name, rows in loaded.items():
            progress(f"  {name}: {len(rows):,} records")
            records.extend(rows)
        lexicons = load_lexicons(corpora_root)
        for source in available(corpora_root):
            corpora_meta[source.name] = {
                "files": {f.path: f.sha256 for f in source.files},
                "records": len(loaded.get(source.name, [])),
                "upstream": f"{source.upstream.repository}@{source.upstream.commit}",
                "licence": source.licence,
            }
    stance_corpus = read_stance_corpus(stance_dir) if stance_dir is not None else None
    if stance_corpus is not None:
        corpora_meta[STANCE_CORPUS] = {
            "articles": len(stance_corpus[0]),
            "comments": len(stance_corpus[2]),
        }
    stance_evaluation: dict[str, Any] = {}
    profanity = read_word_list(PROFANITY_FILE)
    runs: dict[str, LanguageRun] = {}
    for language in languages:
        prepared = prepare_language(language, records, lexicons, profanity, stance_corpus)
        subset, unmask, normalizer = prepared.records, prepared.unmask, prepared.normalizer
        stance_comments = prepared.stance_comments
        run = train_language(
            language, subset, unmask, config, progress, normalizer, prepared.vocabulary
        )
        if stance_corpus is not None and stance_comments:
            progress(f"{language}: stance and sentiment on {len(stance_comments):,} comments")
            data = featurize(stance_comments, stance_corpus[0], run.model.featurizer, normalizer)
            heads = train_stance_heads(data, progress, folds=config.stance_folds)
            run.model.stance, run.model.sentiment = heads.stance, heads.sentiment
            stance_evaluation[language] = heads.evaluation
        runs[language] = run
    created = dt.datetime.now(dt.UTC)
    data_print = fingerprint(records)
    metadata: dict[str, Any] = {
        "model_version": f"{created:%Y.%m.%d-%H%M%S}-{data_print[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "attributes": list(ATTRIBUTES),
        "languages": list(runs),
        "corpora": corpora_meta,
        "thresholds": {lang: run.model.thresholds for lang, run in runs.items()},
        "training": {
            "c": config.c,
            "nb_alpha": config.nb_alpha,
            "featurizer": config.featurizer,
            "source_weights": SOURCE_WEIGHTS,
            "toxicity_sources": {lang: sorted(s) for lang, s in TOXICITY_SOURCES.items()},
            "toxicity_mixture": {
                lang: list(run.model.heads.mixture.labels)
                for lang, run in runs.items()
                if run.model.heads.mixture is not None
            },
        },
        "label_counts": {lang: run.counts for lang, run in runs.items()},
        "corpus_thresholds": {lang: run.corpus_thresholds for lang, run in runs.items()},
        "evaluation": summarise([e for run in runs.values() for e in run.evaluations]),
        "stance": {
            lang: {"stance": describe(run.model.stance), "sentiment": describe(run.model.sentiment)}
            for lang, run in runs.items()
            if run.model.stance is not None
        },
        "stance_evaluation": stance_evaluation,
    }
    bundle = Bundle({lang: run.model for lang, run in runs.items()}, metadata)
    progress(f"saving the bundle to {out_dir}")
    path = save_bundle(bundle, out_dir)
    progress(
        f"bundle written: {path} ({path.stat().st_size / 1e6:.1f} MB), model {bundle.model_version}"
    )
    if report_dir is not None:
        from moderation.evaluation import write_report

        progress(f"writing the evaluation report to {report_dir}")
        report = write_report(
            report_dir,
            [e for run in runs.values() for e in run.evaluations],
            metadata,
            service=_service_rows(out_dir, records),
        )
        progress(f"report: {report}")
    return bundle


def _service_rows(bundle_dir: Path, records: Sequence[LabelledText]) -> list[dict[str, Any]]:
    """The saved bundle's held-out toxicity per (corpus, language) through ``Scorer``, as the
    service scores it and ``bench/quality.py`` reports it (language routing included)."""
    from moderation.benchmark import heldout_rows
    from moderation.model.bundle import load_bundle
    from moderation.scoring import Scorer

    scorer = Scorer(load_bundle(bundle_dir))
    by_source: dict[str, list[LabelledText]] = {}
    for record in records:
        by_source.setdefault(record.source, []).append(record)
    return heldout_rows(scorer, list(by_source.items()), by_source)
