"""``python serve.py``: settings from flags and ``MODERATION_*``, then uvicorn.

One worker process on purpose: scoring runs in the process's thread pool, the model is
loaded once, and more throughput comes from more processes behind a load balancer sharing
one PostgreSQL (each ``serve.py`` is such a process), not from forking here. uvloop and
httptools keep the per-request cost of the server itself small; the access log is off
because at hundreds of requests a second it costs more than the request (``/metrics``
counts requests instead).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from moderation import config

#: Idle keep-alive connections are kept this long (uvicorn's default is 5 s). Longer than the
#: usual load balancer idle timeout (60 s), so the balancer, not the server, closes an idle
#: connection: otherwise a request sent on a connection the server is just closing is lost,
#: and a publishing system with a connection pool would see such errors at low traffic.
KEEP_ALIVE_SECONDS = 65

#: Flags of serve.py -> setting names (every other setting: its MODERATION_* variable).
FLAGS = {"host": "host", "port": "port", "model": "model_dir", "database": "database"}


def _describe(name: str) -> str:
    row = config.setting(name)
    return f"{row.help} Default: {row.env} if set, else {row.default_text()!r}."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serve.py",
        description=(
            "Run the moderation service (HTTP API under /v1, moderator page under /ui, "
            "/healthz, /readyz, /metrics). Runs the database migrations at start. Every "
            "setting is also a MODERATION_<NAME> environment variable (README: Settings); "
            "a flag wins over its variable. SIGHUP reloads the model bundle."
        ),
    )
    parser.add_argument("--host", metavar="ADDRESS", help=_describe("host"))
    parser.add_argument("--port", metavar="PORT", help=_describe("port"))
    parser.add_argument("--model", metavar="DIR", help=_describe("model_dir"))
    parser.add_argument("--database", metavar="URL", help=_describe("database"))
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

    from moderation.web.app import create_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(overrides)  # resolved again there: one place reads the table
    uvicorn.run(
        app,
        host=values["host"],
        port=values["port"],
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level=args.log_level,
        lifespan="on",
    )
    return 0
