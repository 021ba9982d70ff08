"""One settings table: every setting's name, type, default and help, read once.

Each setting can come from a command-line flag or a ``MODERATION_<NAME>`` environment
variable (flags win). The README's settings reference is generated from / tested
against this table, so documentation cannot drift from code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent


def _default_model_dir() -> str:
    # In a source checkout (the design card's layout) models/ sits at the repository root.
    if (REPO_ROOT / "pyproject.toml").is_file():
        return str(REPO_ROOT / "models")
    return str(Path.cwd() / "models")


def _default_corpora() -> str:
    return str(REPO_ROOT.parent / "shared" / "datasets")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive integer, got {value}")
    return number


def _threads(value: str) -> int:
    """A thread count, or ``auto`` (0): chosen by the database, see ``request_threads_for``."""
    if value.strip().lower() == "auto":
        return 0
    return _positive_int(value)


#: ``request_threads=auto``: SQLite calls return at once, so one thread per process keeps
#: requests in order; a PostgreSQL call waits on the network, and a few threads fill that wait.
AUTO_REQUEST_THREADS: Final = {"sqlite": 1, "postgresql": 4}


def request_threads_for(setting: int, sqlite: bool) -> int:
    """The route threads per server process: the setting, or ``auto`` (0) by database."""
    return setting or AUTO_REQUEST_THREADS["sqlite" if sqlite else "postgresql"]


def _probability(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {value}")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"must be a TCP port (0-65535), got {value}")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not number >= 0.0 or number == float("inf"):
        raise ValueError(f"must be a non-negative number, got {value}")
    return number


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _url_or_empty(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http:// or https:// URL (or empty), got {value!r}")
    return value


def _codes(value: str) -> tuple[str, ...]:
    """A comma-separated list of short lowercase codes (reason codes)."""
    codes = tuple(code.strip() for code in value.split(",") if code.strip())
    bad = [code for code in codes if not code.replace("_", "").isalnum() or not code.islower()]
    if not codes or bad:
        raise ValueError(f"must be comma-separated lowercase codes (a-z, 0-9, _), got {value!r}")
    return codes


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return parse


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    parse: Callable[[str], Any]
    default: Callable[[], str] | str
    help: str
    #: Other environment variable names accepted (after ``env``), e.g. the issue's spelling.
    aliases: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return f"MODERATION_{self.name.upper()}"

    def default_text(self) -> str:
        return self.default() if callable(self.default) else self.default


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "model_dir",
        str,
        _default_model_dir,
        "Directory holding the model bundle (bundle.joblib + manifest.json).",
    ),
    Setting(
        "corpora",
        str,
        _default_corpora,
        "Root folder of the external corpora listed in training_data/sources.toml.",
    ),
    Setting(
        "max_chars",
        _positive_int,
        "10000",
        "Longest text scored whole; longer texts are windowed or rejected (see long_text).",
    ),
    Setting(
        "long_text",
        _choice("window", "reject"),
        "window",
        "Over-long texts: 'window' scores the first and last max_chars/2 characters and says so "
        "in the result; 'reject' returns a text_too_long error.",
    ),
    Setting(
        "span_min_score",
        _probability,
        "0.5",
        "Explanation spans are given for every attribute whose probability is at least this.",
    ),
    Setting(
        "spans_per_attribute",
        _positive_int,
        "3",
        "At most this many spans per attribute, strongest first.",
    ),
    Setting(
        "gc_pause",
        _flag,
        "true",
        "Scorer.score turns CPython's cyclic garbage collector off while it scores a batch "
        "(a batch makes no reference cycles; see moderation/collector.py) and back on after.",
    ),
    # -- the service (issue 4): moderation/web -------------------------------------------
    Setting("host", str, "127.0.0.1", "Address serve.py listens on (--host)."),
    Setting("port", _port, "8000", "TCP port serve.py listens on (--port)."),
    Setting(
        "max_body_bytes",
        _positive_int,
        "1000000",
        "Largest request body in bytes, counted as it arrives; larger -> 413 body_too_large.",
    ),
    Setting(
        "max_batch",
        _positive_int,
        "100",
        "Most comments in one POST /v1/score or /v1/comments; more -> 413 batch_too_large.",
    ),
    Setting(
        "max_text_chars",
        _positive_int,
        "20000",
        "Longest comment text the API accepts (characters); longer -> 422 text_too_long. "
        "Texts over max_chars but within this are windowed by the scorer.",
    ),
    Setting(
        "webhook_url",
        _url_or_empty,
        "",
        "URL that receives every final decision (signed POST, retried until 2xx); empty = off.",
    ),
    Setting(
        "webhook_secret",
        str,
        "",
        "HMAC-SHA256 key for the X-Moderation-Signature header of webhooks; never logged.",
    ),
    Setting(
        "outbox_keep_days",
        _non_negative_float,
        "7",
        "Delivered webhook events are deleted from the outbox table once this many days old "
        "(checked hourly by the webhook worker; 0 keeps them). Undelivered ones always stay; "
        "the audit log keeps every decision either way.",
    ),
    Setting(
        "policy_file",
        str,
        "",
        "Optional JSON policy override applied over the bundle's default thresholds.",
    ),
    Setting(
        "auth_cache_seconds",
        _non_negative_float,
        "2",
        "How long a verified key or token is remembered in memory; a key revoked elsewhere "
        "(the CLI, another replica) stops working within this time. 0 = ask the database "
        "every request.",
    ),
    Setting(
        "workers",
        _positive_int,
        "1",
        "Server processes serve.py runs on one port (--workers); each loads the model and "
        "behaves like a replica of its own (caches; /metrics adds up every worker's counts). "
        "SIGHUP to serve.py, or POST /v1/admin/reload, then replaces the workers one by one "
        "with the bundle in model_dir.",
    ),
    Setting(
        "request_threads",
        _threads,
        "auto",
        "Threads per server process that run the routes (scoring, database); auto = 1 on "
        "SQLite, 4 on PostgreSQL. Python runs one of them at a time, so extra threads queue "
        "on the interpreter lock and each database call waits up to 5 ms to get it back: at "
        "300 submissions/s on SQLite, 40 threads (the framework's default) gave a p99 of "
        "170-470 ms and 1 gave 10-36 ms. On PostgreSQL a call waits on the network, which a "
        "few threads fill (8 moderators: 163 decisions/s with 1 thread, 304/s with 4). "
        "Scale with --workers. A model reload runs on a thread of its own.",
    ),
    Setting(
        "gc_freeze",
        _flag,
        "true",
        "serve.py freezes the objects alive after start-up (the bundle, libraries) out of the "
        "garbage collector's reach, and again after each reload: no ~100 ms full-collection "
        "pauses walking them.",
    ),
    Setting(
        "metrics_public",
        _flag,
        "false",
        "Serve /metrics without authentication (for a scraper on a private network).",
    ),
    # -- the review store (issue 4): moderation/review -------------------------------------
    Setting(
        "database",
        str,
        "sqlite:///moderation.db",
        "Review store URL: sqlite:///FILE (relative to the working directory; WAL mode) or "
        "postgresql://USER@HOST/DB (psycopg 3). Migrated at start. Also read from "
        "MODERATION_DATABASE_URL.",
        aliases=("MODERATION_DATABASE_URL",),
    ),
    Setting(
        "sqlite_checkpoint_seconds",
        _non_negative_float,
        "1",
        "SQLite: how often each server process copies the write-ahead log back into the "
        "database file, in a background thread. Left to SQLite (0), the copy runs inside "
        "whichever commit takes the log past 1,000 pages, and that request and every writer "
        "queued behind it wait for it.",
    ),
    Setting(
        "lease_seconds",
        _positive_int,
        "300",
        "How long a moderator's claim on a queued comment lasts; then it returns to the queue.",
    ),
    Setting(
        "reason_codes",
        _codes,
        "spam,insult,threat,hate,obscene,off_topic,personal_data,other",
        "Reason codes a rejection may give (comma-separated); insult, threat, hate and obscene "
        "also label exported training data.",
    ),
)

_BY_NAME: Final = {setting.name: setting for setting in SETTINGS}


def setting(name: str) -> Setting:
    """The table row for ``name`` (KeyError for a name that is not a setting)."""
    return _BY_NAME[name]


def resolve(
    overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every setting's value: an explicit override, else the environment, else the default.

    Raises ``ValueError`` naming the setting and its source when a value does not parse.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    for row in SETTINGS:
        given = overrides.get(row.name)
        if given is not None:
            raw, source = str(given), f"--{row.name.replace('_', '-')}"
        elif (env := next((n for n in (row.env, *row.aliases) if n in environ), None)) is not None:
            raw, source = environ[env], env
        else:
            raw, source = row.default_text(), "default"
        try:
            values[row.name] = row.parse(raw)
        except ValueError as exc:
            raise ValueError(f"setting {row.name} ({source}): {exc}") from exc
    return values
