"""Comment moderation: evasion-proof normalisation, toxicity attributes, explanations.

Nothing heavy is imported or loaded here: ``Scorer.load`` reads a bundle when asked to.
"""

from moderation.attributes import ATTRIBUTES

__all__ = ["ATTRIBUTES", "__version__"]
__version__ = "0.1.0"
