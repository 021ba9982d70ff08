"""The one place where failures become HTTP: one JSON shape, one status per error code.

Library errors (``moderation.errors``), request validation, malformed JSON, invalid UTF-8,
unknown routes and oversize bodies all leave the service as
``{"error": {"code": "...", "message": "...", "details": [...]}}`` with the status of
``STATUS[code]``. Bad input never turns into a 5xx: anything this module does not know is a
bug and answers ``500 internal_error`` (logged with its traceback), never a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moderation.errors import ModerationError

log = logging.getLogger("moderation.web")

#: Every error code the API answers with, and its status (docs/service.md "Errors").
STATUS: Final[Mapping[str, int]] = {
    "malformed_json": 400,
    "invalid_utf8": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "not_lease_holder": 409,
    "lease_expired": 409,
    "body_too_large": 413,
    "batch_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_request": 422,
    "empty_text": 422,
    "invalid_text": 422,
    "invalid_unicode": 422,
    "text_too_long": 422,
    "invalid_article": 422,
    "invalid_reason": 422,
    "invalid_policy": 422,
    "internal_error": 500,
    "model_unavailable": 503,
    "bundle_error": 503,
    "database_unavailable": 503,
}


class MalformedJSONError(ModerationError):
    """The body is not JSON."""

    code = "malformed_json"


class InvalidUTF8Error(ModerationError):
    """A JSON body that is not valid UTF-8 (RFC 8259 requires it)."""

    code = "invalid_utf8"


class BodyTooLargeError(ModerationError):
    code = "body_too_large"


class BatchTooLargeError(ModerationError):
    code = "batch_too_large"


class ModelUnavailableError(ModerationError):
    """No scorer is loaded (start-up not finished) or a new bundle failed to load."""

    code = "model_unavailable"


class InvalidRequestError(ModerationError, ValueError):
    """Input that passed the schema but is still wrong (e.g. duplicate ids with other text)."""

    code = "invalid_request"


class ItemsRejectedError(ModerationError):
    """Items of a batch that cannot be accepted; ``details`` names each (index, id, code)."""

    def __init__(self, code: str, message: str, details: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(message)
        self.code = code if code in STATUS else "invalid_text"
        self.details = list(details)


def error_body(code: str, message: str, details: Sequence[Any] = ()) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "details": list(details)}},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def error_response(
    code: str,
    message: str,
    details: Sequence[Any] = (),
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one JSON error shape, with the status the code maps to (or an explicit one)."""
    status = status if status is not None else STATUS.get(code, 500)
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", "Bearer")
    if status == 503:
        extra.setdefault("Retry-After", "5")
    return Response(
        error_body(code, message, details),
        status_code=status,
        media_type="application/json",
        headers=extra,
    )


def details_of(exc: ModerationError) -> list[Any]:
    details = getattr(exc, "details", None)
    return list(details) if details else []


def _validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # Never echo "input": it may be a megabyte of text or a secret.
    return [
        {
            "loc": [part for part in error.get("loc", ())],
            "type": error.get("type"),
            "message": error.get("msg"),
        }
        for error in errors
    ]


async def _moderation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModerationError)
    code = exc.code if exc.code in STATUS else "internal_error"
    if code == "internal_error":
        log.error("unmapped library error %s: %s", type(exc).__name__, exc)
        return error_response(code, "internal error")
    return error_response(code, str(exc), details_of(exc))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", None))[-1]
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            return error_response(
                "malformed_json",
                f"request body is not valid JSON: {reason} at character {position}",
            )
    return error_response(
        "invalid_request", "request does not match the schema", _validation_details(errors)
    )


_HTTP_CODES: Final[Mapping[int, str]] = {
    400: "malformed_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(
        exc.status_code, "internal_error" if exc.status_code >= 500 else "invalid_request"
    )
    message = str(exc.detail) if exc.detail else code
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    return error_response(code, message, status=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("internal_error", "internal error")


def install(app: FastAPI) -> None:
    """Register every handler on ``app``: the only error mapping of the service."""
    app.add_exception_handler(ModerationError, _moderation_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _is_json(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class BodyGuardMiddleware:
    """Pure ASGI: reads the whole body first, counting bytes as they arrive.

    Why not trust ``Content-Length``: a chunked body has none and a client may lie. A body
    past ``max_bytes`` is answered 413 at once, before the app sees a byte of it; a JSON
    body that is not UTF-8 is answered 400 ``invalid_utf8`` (JSON is UTF-8 by RFC 8259).
    Everything else is replayed to the app unchanged, so handlers read it as usual.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        for name, value in headers:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away mid-body
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(headers):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _send(
                    send,
                    400,
                    error_body(
                        "invalid_utf8",
                        f"request body is not valid UTF-8 (byte {exc.start})",
                    ),
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        # The rest of the body is never read: the connection closes after the answer.
        await _send(
            send,
            413,
            error_body(
                "body_too_large",
                f"request body is larger than {self.max_bytes} bytes (max_body_bytes)",
            ),
            close=True,
        )


async def _send(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
