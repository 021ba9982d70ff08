"""``python serve.py``: settings from flags and ``MODERATION_*``, then uvicorn.

One worker process by default: scoring runs in the process's thread pool and the model is
loaded once. Python runs one thread at a time, so ``--workers N`` starts N processes on the
port under uvicorn's supervisor, each a replica of its own (own model, caches, ``/metrics``)
listening on a socket of its own (``SO_REUSEPORT``: the kernel spreads the connections;
see ``_run_workers_on_own_sockets``). More machines: more ``serve.py`` behind a load
balancer sharing one PostgreSQL. uvloop and httptools keep the per-request cost of the
server itself small; the access log is off because at hundreds of requests a second it
costs more than the request (``/metrics`` counts requests instead).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import socket
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from uvicorn.supervisors.multiprocess import Process as UvicornWorkerProcess

from moderation import config

if TYPE_CHECKING:
    from fastapi import FastAPI

#: Idle keep-alive connections are kept this long (uvicorn's default is 5 s). Longer than the
#: usual load balancer idle timeout (60 s), so the balancer, not the server, closes an idle
#: connection: otherwise a request sent on a connection the server is just closing is lost,
#: and a publishing system with a connection pool would see such errors at low traffic.
KEEP_ALIVE_SECONDS = 65

#: uvicorn's supervisor kills a worker that does not answer its health-check ping within this
#: many seconds (uvicorn's default: 5). A thread of the worker answers; a worker busy scoring
#: large batches on a loaded machine can be slow to get the interpreter for it, and a killed
#: worker drops its open connections, so the supervisor is given more patience.
WORKER_HEALTHCHECK_SECONDS = 30
#: Flags of serve.py -> setting names (every other setting: its MODERATION_* variable).
FLAGS = {
    "host": "host",
    "port": "port",
    "model": "model_dir",
    "database": "database",
    "workers": "workers",
}
#: The worker processes' log level (serve.py's --log-level), handed over like the settings.
LOG_LEVEL_ENV = "_MODERATION_WORKER_LOG_LEVEL"  # not a setting: serve.py sets it


def _describe(name: str) -> str:
    row = config.setting(name)
    return f"{row.help} Default: {row.env} if set, else {row.default_text()!r}."


def build_parser() -> argparse.ArgumentParser:
    others = [row for row in config.SETTINGS if row.name not in FLAGS.values()]
    parser = argparse.ArgumentParser(
        prog="serve.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings without a flag (environment only):\n"
        + "\n".join(
            textwrap.fill(
                f"{row.env} (default {row.default_text()!r}): {row.help}",
                width=88,
                initial_indent="  ",
                subsequent_indent="      ",
            )
            for row in others
        ),
        description=textwrap.fill(
            "Run the moderation service (HTTP API under /v1, moderator page under /ui, "
            "/healthz, /readyz, /metrics). Runs the database migrations at start. Every "
            "setting is also a MODERATION_<NAME> environment variable (README: Settings); "
            "a flag wins over its variable. SIGHUP reloads the model bundle (with --workers "
            "above 1: replaces the workers one by one).",
            width=88,
        ),
    )
    parser.add_argument("--host", metavar="ADDRESS", help=_describe("host"))
    parser.add_argument("--port", metavar="PORT", help=_describe("port"))
    parser.add_argument("--model", metavar="DIR", help=_describe("model_dir"))
    parser.add_argument("--database", metavar="URL", help=_describe("database"))
    parser.add_argument("--workers", metavar="N", help=_describe("workers"))
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level of the server and the service (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        setting: getattr(args, flag)
        for flag, setting in FLAGS.items()
        if getattr(args, flag) is not None
    }
    try:
        values = config.resolve(overrides)
    except ValueError as exc:
        print(f"serve.py: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    _configure_logging(args.log_level)
    options: dict[str, Any] = {
        "host": values["host"],
        "port": values["port"],
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "log_level": args.log_level,
        "lifespan": "on",
    }
    workers = int(values["workers"])
    if workers == 1:
        from moderation.web.app import create_app

        # Settings resolved again there: one place reads the table.
        uvicorn.run(create_app(overrides, tune_gc=True), workers=1, **options)
        return 0
    _hand_over(overrides, args.log_level, workers)
    _migrate_once(values)
    with _shared_metrics_directory():
        if int(values["port"]) == 0 or not hasattr(socket, "SO_REUSEPORT"):
            uvicorn.run(
                f"{__name__}:worker_app",
                factory=True,
                workers=workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **options,
            )
        else:
            _run_workers_on_own_sockets(workers, options)
    return 0


@contextlib.contextmanager
def _shared_metrics_directory() -> Iterator[None]:
    """Workers count their metrics into one directory, so any of them answers /metrics
    for all (``moderation.web.metrics``); an empty new one per run, removed at the end.

    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used as it is (and left in place):
    prometheus-client's rule is then theirs to keep, to empty it before each start.
    """
    from moderation.web.metrics import MULTIPROCESS_DIR_ENV

    if os.environ.get(MULTIPROCESS_DIR_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="moderation-metrics-")
    os.environ[MULTIPROCESS_DIR_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _run_workers_on_own_sockets(workers: int, options: Mapping[str, Any]) -> None:
    """uvicorn's supervisor, but every worker listens on a socket of its own (SO_REUSEPORT).

    uvicorn hands one listening socket to all its workers, and the first worker to wake
    accepts every connection waiting: a client that opens its few keep-alive connections at
    once finds them all on one worker, which then does all the work (measured: 4,000 against
    12,000 comments/s on ``POST /v1/score``). With a socket per worker bound to the same port,
    the kernel spreads new connections over the workers. The supervisor (restarts, SIGHUP
    rolling replacement, health checks) is uvicorn's own; only the socket its workers get
    is changed, and a bound check in the parent fails early if the port is taken.
    """
    import uvicorn
    from uvicorn.supervisors import multiprocess

    _reuse_port_socket(str(options["host"]), int(options["port"])).close()  # port free?
    config = uvicorn.Config(
        f"{__name__}:worker_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,
    )
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _OwnSocketProcess(UvicornWorkerProcess):
    """uvicorn's worker process, listening on a SO_REUSEPORT socket of its own."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        own = _reuse_port_socket(self.config.host, self.config.port)
        super().target([own])


def worker_app() -> FastAPI:
    """One worker's app (uvicorn's factory with ``--workers`` > 1): settings from the
    ``MODERATION_*`` environment ``main`` prepared, migrations already run."""
    from moderation.web.app import create_app

    _configure_logging(os.environ.get(LOG_LEVEL_ENV, "info"))
    return create_app(tune_gc=True)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _hand_over(overrides: Mapping[str, Any], log_level: str, workers: int) -> None:
    """Flags become the workers' ``MODERATION_*`` variables (workers are fresh processes),
    and the workers learn who supervises them (an admin's reload asks it to replace all)."""
    from moderation.web.reload import SUPERVISOR_PID_ENV, WORKER_COUNT_ENV

    for name, value in overrides.items():
        os.environ[config.setting(name).env] = str(value)
    os.environ[LOG_LEVEL_ENV] = log_level
    os.environ[SUPERVISOR_PID_ENV] = str(os.getpid())
    os.environ[WORKER_COUNT_ENV] = str(workers)


def _migrate_once(values: Mapping[str, Any]) -> None:
    """Migrate before the workers start, so they do not all race to do it at once."""
    from moderation.web.app import open_store

    open_store(values).close()
