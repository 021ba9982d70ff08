"""Scores to a decision: ``publish``, ``review`` (visible, queued) or ``hold`` (hidden, queued).

Pure functions over plain data, so the web layer, the tests and an operator's dry run all
get the same answer from the same inputs, and every decision names the rule that set it.

Thresholds are *calibrated probabilities* (the bundle's heads are isotonically calibrated),
not raw model outputs, so "0.8" means the same thing for every attribute and language.
A threshold key is either an attribute (``"threat"``: every language) or a
language-qualified attribute (``"pl:threat"``), which wins for that language: the bundle
learns one flag threshold per language and the default policy keeps them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, cast, get_args

from moderation.attributes import ATTRIBUTES
from moderation.errors import PolicyError

Action = Literal["publish", "review", "hold"]
ACTIONS: Final[tuple[str, ...]] = get_args(Action)
_SEVERITY: Final = {"publish": 0, "review": 1, "hold": 2}

#: Attributes whose confident presence hides a comment until a moderator decides.
HOLD_ATTRIBUTES: Final = ("severe_toxicity", "threat", "identity_attack")
#: The calibrated probability at which those attributes hold a comment by default.
DEFAULT_HOLD: Final = 0.8

_OVERRIDE_KEYS: Final = frozenset(
    {
        "review",
        "hold",
        "unsupported_language",
        "premoderate",
        "repeat_offender_rejections",
        "repeat_offender_days",
        "repeat_offender_action",
    }
)


def _check_thresholds(name: str, thresholds: object) -> dict[str, float]:
    """A validated plain-dict copy of one threshold table (PolicyError on any bad entry)."""
    if not isinstance(thresholds, Mapping):
        raise PolicyError(f"{name}: expected an object of attribute -> probability")
    checked: dict[str, float] = {}
    for key, value in thresholds.items():
        if not isinstance(key, str):
            raise PolicyError(f"{name}: keys must be strings, got {key!r}")
        language, _, attribute = key.rpartition(":")
        if attribute not in ATTRIBUTES or (":" in key and not language.isalpha()):
            raise PolicyError(
                f"{name}: unknown attribute {key!r} (use one of {', '.join(ATTRIBUTES)}, "
                "optionally prefixed with a language code, e.g. 'pl:threat')"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"{name}.{key}: expected a probability, got {value!r}")
        if not 0.0 <= float(value) <= 1.0:
            raise PolicyError(f"{name}.{key}: must be between 0 and 1, got {value}")
        checked[key] = float(value)
    return checked


def _check_action(name: str, value: object) -> Action:
    if value not in ACTIONS:
        raise PolicyError(f"{name}: must be one of {', '.join(ACTIONS)}, got {value!r}")
    return cast(Action, value)


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PolicyError(f"{name}: must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class PolicyConfig:
    """A site's (or an article's) policy; validated on construction (PolicyError)."""

    review: Mapping[str, float]
    hold: Mapping[str, float]
    unsupported_language: Action = "review"
    premoderate: bool = False
    repeat_offender_rejections: int = 3
    repeat_offender_days: int = 30
    repeat_offender_action: Action = "review"
    # Effective thresholds per language, worked out once: decide() runs on every submission.
    _by_language: dict[str, tuple[dict[str, float], dict[str, float]]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "review", _check_thresholds("review", self.review))
        object.__setattr__(self, "hold", _check_thresholds("hold", self.hold))
        _check_action("unsupported_language", self.unsupported_language)
        _check_action("repeat_offender_action", self.repeat_offender_action)
        if not isinstance(self.premoderate, bool):
            raise PolicyError(f"premoderate: must be true or false, got {self.premoderate!r}")
        _check_count("repeat_offender_rejections", self.repeat_offender_rejections)
        _check_count("repeat_offender_days", self.repeat_offender_days)

    def thresholds_for(self, language: str) -> tuple[dict[str, float], dict[str, float]]:
        """(review, hold) thresholds by attribute for one language: qualified keys win."""
        cached = self._by_language.get(language)
        if cached is None:
            cached = (_resolve(self.review, language), _resolve(self.hold, language))
            self._by_language[language] = cached
        return cached

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``merge_override`` and ``policy_from_dict`` accept it back."""
        return {
            "review": dict(self.review),
            "hold": dict(self.hold),
            "unsupported_language": self.unsupported_language,
            "premoderate": self.premoderate,
            "repeat_offender_rejections": self.repeat_offender_rejections,
            "repeat_offender_days": self.repeat_offender_days,
            "repeat_offender_action": self.repeat_offender_action,
        }


def _resolve(thresholds: Mapping[str, float], language: str) -> dict[str, float]:
    resolved = {key: value for key, value in thresholds.items() if ":" not in key}
    prefix = f"{language}:"
    for key, value in thresholds.items():
        if key.startswith(prefix):
            resolved[key[len(prefix) :]] = value
    return resolved


@dataclass(frozen=True)
class Decision:
    """What to do with a comment; ``rule`` set the action, ``reasons`` lists every rule that fired.

    ``reasons`` is ordered most severe first, so ``reasons[0] == rule`` whenever a rule fired.
    """

    action: Action
    rule: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "rule": self.rule, "reasons": list(self.reasons)}


def _crossed(kind: str, scores: Mapping[str, Any], thresholds: Mapping[str, float]) -> list[str]:
    """Rules like ``hold:threat>=0.8`` for each attribute at/above its threshold, highest first."""
    hits = []
    for attribute in ATTRIBUTES:
        limit = thresholds.get(attribute)
        score = scores.get(attribute)
        if limit is not None and isinstance(score, int | float) and score >= limit:
            hits.append(
                (-float(score), ATTRIBUTES.index(attribute), f"{kind}:{attribute}>={limit:g}")
            )
    return [rule for *_, rule in sorted(hits)]


def decide(
    result: Mapping[str, Any], policy: PolicyConfig, *, recent_rejections: int = 0
) -> Decision:
    """The decision for one scored comment (``ScoreResult.to_dict()`` shape).

    Rules, in order of precedence within the same action: ``premoderate``, hold thresholds,
    review thresholds, ``unsupported_language``, ``repeat_offender``. The most severe action
    wins (hold > review > publish); with none firing the rule is ``below_thresholds``.
    """
    scores = result.get("scores")
    if not isinstance(scores, Mapping):
        raise PolicyError("a decision needs a scored result with a 'scores' object")
    review, hold = policy.thresholds_for(str(result.get("language", "")))
    fired: list[tuple[str, str]] = []
    if policy.premoderate:
        fired.append(("hold", "premoderate"))
    fired.extend(("hold", rule) for rule in _crossed("hold", scores, hold))
    fired.extend(("review", rule) for rule in _crossed("review", scores, review))
    if result.get("supported") is False:
        fired.append((policy.unsupported_language, "unsupported_language"))
    if recent_rejections >= policy.repeat_offender_rejections:
        fired.append((policy.repeat_offender_action, "repeat_offender"))
    fired = [(action, rule) for action, rule in fired if action != "publish"]
    if not fired:
        return Decision("publish", "below_thresholds", ())
    fired.sort(key=lambda item: -_SEVERITY[item[0]])  # stable: precedence kept within an action
    return Decision(cast(Action, fired[0][0]), fired[0][1], tuple(rule for _, rule in fired))


def default_policy(manifest: Mapping[str, Any]) -> PolicyConfig:
    """The site default derived from a bundle's manifest (its per-language ``thresholds``).

    * **review** at each language's toxicity flag threshold (``pl:toxicity``, ``en:toxicity``):
      the threshold the training chose for the best F1 on held-out data, i.e. where a
      moderator's look is most likely to be worth it. Toxicity alone is enough because every
      attribute is a kind of toxicity (the scorer only flags an attribute together with
      toxicity), so "queued for review" equals "the scorer flagged something". An unqualified
      ``toxicity`` entry (the highest language's threshold) covers other languages.
    * **hold** (hidden until decided) at a calibrated probability of at least 0.8 for
      ``severe_toxicity``, ``threat`` and ``identity_attack`` — the harms that hurt readers
      while a comment waits in the queue. Hiding a comment silences its author, so it needs
      more confidence than a visible review: with calibrated heads (ECE about 0.02-0.05 in
      the manifest's evaluation) 0.8 means roughly four of five held comments really carry the
      harm, while their F1-optimal flag thresholds (0.2-0.4) would hide many harmless ones.
      Where a language's flag threshold is already above 0.8, that threshold is used.
      Insults and obscenity are reviewed, never held by default: they are the site's call.
    """
    thresholds = manifest.get("thresholds")
    if not isinstance(thresholds, Mapping) or not thresholds:
        raise PolicyError("the bundle manifest has no per-language 'thresholds'")
    review: dict[str, float] = {}
    hold: dict[str, float] = {}
    for language, table in thresholds.items():
        if not isinstance(table, Mapping) or not isinstance(table.get("toxicity"), int | float):
            raise PolicyError(f"manifest thresholds for {language!r} have no toxicity threshold")
        review[f"{language}:toxicity"] = float(table["toxicity"])
        for attribute in HOLD_ATTRIBUTES:
            flag = table.get(attribute)
            floor = float(flag) if isinstance(flag, int | float) else 0.0
            hold[f"{language}:{attribute}"] = max(DEFAULT_HOLD, floor)
    review["toxicity"] = max(review.values())
    for attribute in HOLD_ATTRIBUTES:
        hold[attribute] = max(v for k, v in hold.items() if k.endswith(f":{attribute}"))
    return PolicyConfig(review=review, hold=hold)


def merge_override(policy: PolicyConfig, override: Mapping[str, Any]) -> PolicyConfig:
    """``policy`` with ``override`` applied (a site policy file or a per-article override).

    ``review``/``hold`` are merged key by key (a ``null`` value removes that threshold); the
    other keys replace. Unknown keys or bad values raise PolicyError and change nothing.
    """
    if not isinstance(override, Mapping):
        raise PolicyError("a policy override must be a JSON object")
    unknown = sorted(set(override) - _OVERRIDE_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown policy keys: {', '.join(map(str, unknown))} "
            f"(known: {', '.join(sorted(_OVERRIDE_KEYS))})"
        )
    changes: dict[str, Any] = {}
    for name in ("review", "hold"):
        if name in override:
            given = override[name]
            if not isinstance(given, Mapping):
                raise PolicyError(f"{name}: expected an object of attribute -> probability")
            merged = {**getattr(policy, name), **given}
            changes[name] = {k: v for k, v in merged.items() if v is not None}
    for name in _OVERRIDE_KEYS - {"review", "hold"}:
        if name in override:
            changes[name] = override[name]
    return replace(policy, **changes)


def policy_from_dict(data: Mapping[str, Any]) -> PolicyConfig:
    """A whole policy from its JSON form (``PolicyConfig.to_dict``); PolicyError when invalid."""
    return merge_override(PolicyConfig(review={}, hold={}), data)


__all__ = [
    "ACTIONS",
    "Action",
    "Decision",
    "PolicyConfig",
    "decide",
    "default_policy",
    "merge_override",
    "policy_from_dict",
]
