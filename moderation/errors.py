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


class InvalidArticleError(ModerationError, ValueError):
    """An article context with wrong types or unknown fields."""

    code = "invalid_article"


class NotFoundError(ModerationError, LookupError):
    """An unknown comment, article, key or account."""

    code = "not_found"


class ConflictError(ModerationError):
    """A request that contradicts stored state, e.g. a known comment id with different text."""

    code = "conflict"


class LeaseError(ConflictError):
    """A decision by someone who does not hold the lease, or after it expired."""

    code = "not_lease_holder"


class LeaseExpiredError(LeaseError):
    code = "lease_expired"


class InvalidReasonError(ModerationError, ValueError):
    """A reason code that is not in the configured list."""

    code = "invalid_reason"


class PolicyError(ModerationError, ValueError):
    """A policy or per-article override with unknown keys or out-of-range thresholds."""

    code = "invalid_policy"


class AuthError(ModerationError):
    """A missing, unknown, revoked or expired credential."""

    code = "unauthorized"


class ForbiddenError(ModerationError):
    """A valid credential without the scope or role the action needs."""

    code = "forbidden"


class StorageUnavailableError(ModerationError):
    """The database cannot be reached."""

    code = "database_unavailable"
