"""The loaded model and its swap: a new bundle replaces the old without dropping a request.

A ``LoadedModel`` is immutable: the scorer, the site's base policy worked out from that
bundle's thresholds (plus ``policy_file``), and its version. ``ModelHolder.current`` is the
one reference requests read; a request takes it once and uses that object to the end, so a
swap never changes the model under a request in flight, and the old scorer is freed when the
last such request finishes. Loading and verifying (SHA-256, scikit-learn version, a test
score) happen before the swap, off the request path: on SIGHUP in a background thread, on
``POST /v1/admin/reload`` in the admin's own request thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moderation.errors import ModerationError, PolicyError
from moderation.policy import PolicyConfig, default_policy, merge_override
from moderation.scoring import Outcome, Scorer

log = logging.getLogger("moderation.web")

#: Scored once by every new bundle before it is swapped in: a bundle that loads but cannot
#: score is refused while the old one keeps serving.
_PROBE = "Dzień dobry, to jest zwykły komentarz."


def read_policy_file(path: str) -> Mapping[str, Any] | None:
    """The JSON override in ``path`` (the policy_file setting), or None when unset."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"policy_file {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PolicyError(f"policy_file {path}: expected a JSON object")
    return data


@dataclass(frozen=True)
class LoadedModel:
    """A scorer with everything derived from its bundle; never mutated after loading."""

    scorer: Scorer
    policy: PolicyConfig
    takes_articles: bool

    @property
    def version(self) -> str:
        return self.scorer.model_version

    def score(
        self,
        texts: list[str],
        ids: list[str | None] | None = None,
        articles: list[Mapping[str, Any] | None] | None = None,
    ) -> list[Outcome]:
        """Score a batch, with article context when this scorer takes it."""
        if self.takes_articles and articles is not None and any(a for a in articles):
            score: Callable[..., list[Outcome]] = self.scorer.score
            return score(texts, ids, articles=articles)
        return self.scorer.score(texts, ids)


def load_model(settings: Mapping[str, Any]) -> LoadedModel:
    """Load, verify and probe the bundle in ``settings["model_dir"]``; library errors only."""
    scorer = Scorer.load(settings["model_dir"], **_scorer_settings(settings))
    base = default_policy(scorer.bundle.metadata)
    override = read_policy_file(settings.get("policy_file", ""))
    if override is not None:
        base = merge_override(base, override)
    takes_articles = "articles" in inspect.signature(scorer.score).parameters
    probe = scorer.score([_PROBE])[0]
    if not probe.ok:
        raise ModerationError(f"the new bundle cannot score a plain comment: {probe.to_dict()}")
    return LoadedModel(scorer, base, takes_articles)


def _scorer_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    names = ("max_chars", "long_text", "span_min_score", "spans_per_attribute")
    return {name: settings[name] for name in names if name in settings}


class ModelHolder:
    """Holds the current model; ``reload`` swaps it, one reload at a time."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        on_change: Callable[[LoadedModel], None] | None = None,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        self.settings = settings
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()
        self._on_change = on_change
        self._on_failure = on_failure

    def reload(self) -> LoadedModel:
        """Load the bundle in model_dir and swap it in; on any error the old one stays."""
        with self._lock:
            try:
                loaded = load_model(self.settings)
            except Exception as exc:
                if self._on_failure is not None:
                    self._on_failure(exc)
                raise
            previous = self.current
            self.current = loaded  # the swap: one reference assignment, atomic under the GIL
        if previous is None or previous.version != loaded.version:
            log.info("model %s loaded from %s", loaded.version, self.settings["model_dir"])
        if self._on_change is not None:
            self._on_change(loaded)
        return loaded

    def reload_in_background(self) -> threading.Thread:
        """Reload on a worker thread (for SIGHUP): the event loop never waits for a load."""

        def run() -> None:
            try:
                self.reload()
            except ModerationError as exc:
                log.error("reload failed, still serving the old model: %s", exc)
            except Exception:
                log.exception("reload failed, still serving the old model")

        thread = threading.Thread(target=run, name="model-reload", daemon=True)
        thread.start()
        return thread


#: Set by serve.py for its workers when it runs several (not a setting): the supervisor's PID.
SUPERVISOR_PID_ENV = "_MODERATION_SUPERVISOR_PID"
#: The number of workers serve.py started (set with ``SUPERVISOR_PID_ENV``).
WORKER_COUNT_ENV = "_MODERATION_WORKER_COUNT"


def replace_sibling_workers() -> int:
    """Ask serve.py's supervisor to replace every worker; the number of workers, or 0.

    With ``--workers`` above 1 each worker is a process with a model of its own, so an
    admin's reload, answered by one of them, must reach the others too. The supervisor
    already knows how to do that safely on SIGHUP (uvicorn's rolling replacement: each new
    worker loads the bundle and must answer its health check before the old one is told
    to finish its requests and stop; a worker whose bundle fails keeps the old one
    serving). 0 when this process is the only one (no supervisor recorded, or it is gone).
    """
    raw = os.environ.get(SUPERVISOR_PID_ENV, "")
    if not raw.isdigit() or int(raw) != os.getppid():
        return 0
    try:
        os.kill(int(raw), signal.SIGHUP)
    except OSError:
        return 0
    return int(os.environ.get(WORKER_COUNT_ENV, "0") or 0)


def install_sighup(holder: ModelHolder) -> bool:
    """Reload on SIGHUP when running in the main thread's event loop (serve.py); else False."""
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return False
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, holder.reload_in_background)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


def remove_sighup() -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
