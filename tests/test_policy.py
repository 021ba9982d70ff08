"""Policy: thresholds on calibrated probabilities -> publish | review | hold, with the rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from moderation.errors import PolicyError
from moderation.policy import (
    Decision,
    PolicyConfig,
    decide,
    default_policy,
    merge_override,
    policy_from_dict,
)

# The ``thresholds`` block of a manifest written by ``train.py`` (own corpus), with the English
# identity_attack threshold raised to 0.85 to show a flag threshold above 0.8 is kept.
MANIFEST: dict[str, Any] = {
    "thresholds": {
        "pl": {
            "toxicity": 0.6239,
            "severe_toxicity": 0.3157,
            "insult": 0.3855,
            "threat": 0.2574,
            "obscene": 0.9988,
            "identity_attack": 0.3242,
        },
        "en": {
            "toxicity": 0.4668,
            "severe_toxicity": 0.1816,
            "insult": 0.3582,
            "threat": 0.3592,
            "obscene": 0.3625,
            "identity_attack": 0.85,
        },
    }
}


def result(language: str = "pl", supported: bool = True, **scores: float) -> dict[str, Any]:
    base = dict.fromkeys(
        ("toxicity", "severe_toxicity", "insult", "threat", "obscene", "identity_attack"), 0.0
    )
    return {"language": language, "supported": supported, "scores": {**base, **scores}}


POLICY = default_policy(MANIFEST)


def test_default_policy_reviews_at_flag_threshold_and_holds_severe_harms() -> None:
    assert POLICY.to_dict() == {
        "review": {"pl:toxicity": 0.6239, "en:toxicity": 0.4668, "toxicity": 0.6239},
        "hold": {
            "pl:severe_toxicity": 0.8,
            "pl:threat": 0.8,
            "pl:identity_attack": 0.8,
            "en:severe_toxicity": 0.8,
            "en:threat": 0.8,
            "en:identity_attack": 0.85,  # a flag threshold above 0.8 is kept
            "severe_toxicity": 0.8,
            "threat": 0.8,
            "identity_attack": 0.85,
        },
        "unsupported_language": "review",
        "premoderate": False,
        "repeat_offender_rejections": 3,
        "repeat_offender_days": 30,
        "repeat_offender_action": "review",
    }


def test_default_policy_needs_thresholds() -> None:
    with pytest.raises(PolicyError, match="thresholds"):
        default_policy({"model_version": "x"})


@pytest.mark.parametrize(
    ("scored", "expected"),
    [
        (result(toxicity=0.1), Decision("publish", "below_thresholds", ())),
        (
            result(toxicity=0.7, insult=0.9),
            Decision("review", "review:toxicity>=0.6239", ("review:toxicity>=0.6239",)),
        ),
        # The language's own threshold applies: 0.5 reviews English, not Polish.
        (
            result("en", toxicity=0.5),
            Decision("review", "review:toxicity>=0.4668", ("review:toxicity>=0.4668",)),
        ),
        (result("pl", toxicity=0.5), Decision("publish", "below_thresholds", ())),
        (
            result(toxicity=0.99, threat=0.85, severe_toxicity=0.9),
            Decision(
                "hold",
                "hold:severe_toxicity>=0.8",  # highest score first
                ("hold:severe_toxicity>=0.8", "hold:threat>=0.8", "review:toxicity>=0.6239"),
            ),
        ),
        # An unqualified key covers a language the bundle has no threshold for.
        (
            result("de", supported=False, toxicity=0.3),
            Decision("review", "unsupported_language", ("unsupported_language",)),
        ),
        (
            result("de", supported=False, toxicity=0.9, identity_attack=0.9),
            Decision(
                "hold",
                "hold:identity_attack>=0.85",
                ("hold:identity_attack>=0.85", "review:toxicity>=0.6239", "unsupported_language"),
            ),
        ),
    ],
)
def test_decide(scored: dict[str, Any], expected: Decision) -> None:
    assert decide(scored, POLICY) == expected


def test_threshold_is_inclusive() -> None:
    assert decide(result(toxicity=0.6239), POLICY).action == "review"
    assert decide(result(toxicity=0.6238), POLICY).action == "publish"


def test_premoderate_holds_everything() -> None:
    policy = merge_override(POLICY, {"premoderate": True})
    assert decide(result(toxicity=0.0), policy) == Decision("hold", "premoderate", ("premoderate",))
    assert decide(result(toxicity=0.9), policy).reasons == (
        "premoderate",
        "review:toxicity>=0.6239",
    )


def test_repeat_offender() -> None:
    clean = result(toxicity=0.0)
    assert decide(clean, POLICY, recent_rejections=2).action == "publish"
    assert decide(clean, POLICY, recent_rejections=3) == Decision(
        "review", "repeat_offender", ("repeat_offender",)
    )
    strict = merge_override(POLICY, {"repeat_offender_action": "hold"})
    assert decide(result(toxicity=0.9), strict, recent_rejections=5).rule == "repeat_offender"


def test_a_publish_action_is_no_rule() -> None:
    lenient = merge_override(POLICY, {"unsupported_language": "publish"})
    assert decide(result("de", supported=False), lenient) == Decision(
        "publish", "below_thresholds", ()
    )


def test_merge_override_merges_thresholds_and_removes_with_null() -> None:
    policy = merge_override(
        POLICY, {"hold": {"threat": 0.5, "pl:threat": None}, "review": {"pl:insult": 0.9}}
    )
    assert policy.hold["threat"] == 0.5
    assert "pl:threat" not in policy.hold
    assert policy.review["pl:insult"] == 0.9
    assert decide(result(threat=0.6), policy).rule == "hold:threat>=0.5"
    assert POLICY.hold["pl:threat"] == 0.8  # the original is untouched


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"colour": "red"}, "unknown policy keys: colour"),
        ({"hold": {"rudeness": 0.5}}, "unknown attribute 'rudeness'"),
        ({"hold": {"p-l:threat": 0.5}}, "unknown attribute"),
        ({"review": {"threat": 1.5}}, "between 0 and 1"),
        ({"review": {"threat": "high"}}, "expected a probability"),
        ({"review": {"threat": True}}, "expected a probability"),
        ({"review": [0.5]}, "expected an object"),
        ({"unsupported_language": "delete"}, "must be one of publish, review, hold"),
        ({"premoderate": "yes"}, "true or false"),
        ({"repeat_offender_rejections": 0}, "positive integer"),
        ({"repeat_offender_days": 1.5}, "positive integer"),
    ],
)
def test_merge_override_rejects_bad_input(override: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        merge_override(POLICY, override)


def test_round_trip_through_json() -> None:
    assert policy_from_dict(json.loads(json.dumps(POLICY.to_dict()))) == POLICY


def test_decide_needs_scores() -> None:
    with pytest.raises(PolicyError):
        decide({"error": {"code": "empty_text"}}, POLICY)


def test_decision_to_dict() -> None:
    decision = decide(result(toxicity=0.9), POLICY)
    assert decision.to_dict() == {
        "action": "review",
        "rule": "review:toxicity>=0.6239",
        "reasons": ["review:toxicity>=0.6239"],
    }


def test_construction_validates() -> None:
    with pytest.raises(PolicyError):
        PolicyConfig(review={"toxicity": -0.1}, hold={})
