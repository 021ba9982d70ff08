"""PostgreSQL: the submission's statements run on psycopg's cursor, rendered and typed once.

Why: SQLAlchemy's execution machinery (execution context, compiled-cache look-up, parameter
and result processing, a new cursor each time) cost about 70 µs of CPU per statement on top
of psycopg's own 25-35 µs, and a one-comment submission runs two statements; that CPU is
what limits the service at 300 requests/s on this machine. ``DriverStatement`` does once
what SQLAlchemy redoes on every execution: it compiles the statement with the engine's
dialect (the very SQL text SQLAlchemy would send, so the same server-side prepared
statement) and looks up each parameter's bind processor (UTC times, JSONB), which it then
applies exactly as SQLAlchemy would (``tests/test_store.py`` compares the two).

Errors keep SQLAlchemy's handling: a DBAPI error goes through the Connection's own handler,
which wraps it (so ``translate_errors`` maps it as before) and, for a lost connection,
invalidates it and the pool's older connections, as any statement executed through
SQLAlchemy would. Only the hot path uses this; everything else stays SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

#: Key of the pooled connection's ``info``: (driver connection, its reusable cursor).
CURSOR: Final = "moderation_driver_cursor"


class DriverStatement:
    """A statement compiled once for ``dialect``, with its bind processors resolved."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql: str = compiled.string
        self.processors: dict[str, Callable[[Any], Any]] = {}
        constants: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                if process is not None:
                    self.processors[name] = process
            else:  # a literal of the statement ('rejected', 1): bound the same every time
                constants[name] = (
                    bind.effective_value if process is None else process(bind.effective_value)
                )
        self.constants = constants

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The driver's parameters for ``values`` (every required bind by its name)."""
        params = dict(self.constants)
        processors = self.processors
        for name, value in values.items():
            process = processors.get(name)
            params[name] = value if process is None else process(value)
        return params


def fetchone(conn: Connection, statement: DriverStatement, values: Mapping[str, Any]) -> Any:
    """Run ``statement`` on ``conn``'s driver connection: its first row (a tuple) or None."""
    params = statement.parameters(values)
    record = conn.connection
    driver = record.driver_connection
    cached = record.info.get(CURSOR)
    if cached is not None and cached[0] is driver and not cached[1].closed:
        cursor = cached[1]
    else:
        cursor = driver.cursor()  # type: ignore[union-attr]
        record.info[CURSOR] = (driver, cursor)
    try:
        cursor.execute(statement.sql, params)
        return cursor.fetchone()  # every statement run here is a SELECT (or WITH ... SELECT)
    except BaseException as error:
        if isinstance(error, Exception) and not isinstance(error, conn.dialect.loaded_dbapi.Error):
            raise
        # SQLAlchemy's own handling, as for any statement: wrap, and invalidate on disconnect.
        conn._handle_dbapi_exception(error, statement.sql, params, cursor, None)
