"""Library exceptions.

Every error the library raises on purpose derives from ``ModerationError`` and carries a
stable machine-readable ``code``; the CLI (and later the web layer) maps them to output in
one place instead of catching ``Exception``.
"""


class ModerationError(Exception):
    """Base class: ``code`` is stable and documented, ``str(exc)`` is for people."""

    code = "moderation_error"


class InvalidTextError(ModerationError, ValueError):
    """A text that cannot be scored: not a string, empty, or not valid Unicode."""

    code = "invalid_text"


class TextTooLongError(InvalidTextError):
    """A text over the configured limit when the policy is to reject, not window."""

    code = "text_too_long"


class BundleError(ModerationError):
    """A model bundle that is missing, altered, or built for another library version."""

    code = "bundle_error"


class CorpusError(ModerationError):
    """An external corpus that is missing, altered, or unreadable; the message names it."""

    code = "corpus_error"
