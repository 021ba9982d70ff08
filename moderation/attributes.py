"""The attribute names every head, corpus adapter and result shares.

Kept in one tuple so that a new attribute is added in exactly one place.
"""

from typing import Final

#: Toxicity attributes, in the order results list them.
ATTRIBUTES: Final[tuple[str, ...]] = (
    "toxicity",
    "severe_toxicity",
    "insult",
    "threat",
    "obscene",
    "identity_attack",
)

#: Languages the models are trained for; any other detected language is "unsupported".
SUPPORTED_LANGUAGES: Final[tuple[str, ...]] = ("pl", "en")
