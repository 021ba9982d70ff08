"""Who is calling and may they: bearer credentials, the page's cookie, scopes and roles.

Credentials are ``Authorization: Bearer <secret>`` (``mk_`` API keys, ``mt_`` moderator
tokens), or the moderator page's HttpOnly session cookie, which counts only together with
the ``X-CSRF-Token`` header derived from it (``pages.session_token``: another site can make
the browser send the cookie, but cannot read the page to learn the header).

Each route names one *permission*; ``PERMISSIONS`` says which API-key scopes and which
moderator roles grant it — the table docs/service.md and the README describe. A moderator
token never has ``submit``; an API key never has ``moderate`` or ``admin``.

Verified principals are cached in memory for ``auth_cache_seconds`` (keyed by the secret's
SHA-256, never the secret), so a steady stream of submissions costs no database round trip
for auth; a revoked key or a logged-out token is refused at once by the replica that did it
and by the others within that many seconds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from fastapi import Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from moderation.errors import AuthError, ForbiddenError
from moderation.review.records import Principal
from moderation.web.pages import CSRF_HEADER, SESSION_COOKIE, session_token

#: permission -> (API-key scopes that grant it, moderator roles that grant it)
PERMISSIONS: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    "score": (frozenset({"score"}), frozenset({"moderator", "admin"})),
    "submit": (frozenset({"submit"}), frozenset()),
    "read": (frozenset({"read"}), frozenset({"moderator", "admin"})),
    "articles": (frozenset({"submit"}), frozenset({"admin"})),
    "moderate": (frozenset(), frozenset({"moderator", "admin"})),
    "reopen": (frozenset({"submit"}), frozenset({"admin"})),
    "admin": (frozenset(), frozenset({"admin"})),
    "metrics": (frozenset({"read"}), frozenset({"admin"})),
    "session": (frozenset({"score", "submit", "read"}), frozenset({"moderator", "admin"})),
}

#: For the OpenAPI document (the "Authorize" button, schemathesis); checking is ours.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        "An API key (mk_...) or a moderator token (mt_...). The moderator page's session "
        f"cookie ({SESSION_COOKIE}) is accepted instead only with the {CSRF_HEADER} header."
    ),
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Authenticator(Protocol):
    def authenticate(self, secret: str) -> Principal: ...


def allowed(principal: Principal, permission: str) -> bool:
    scopes, roles = PERMISSIONS[permission]
    if principal.kind == "api_key":
        return bool(scopes.intersection(principal.scopes or ()))
    return principal.role in roles


@dataclass(frozen=True)
class Credential:
    secret: str
    via_cookie: bool


def credential_of(request: Request) -> Credential:
    """The caller's secret from the Authorization header, else a cookie with its CSRF header."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise AuthError("Authorization must be 'Bearer <key or token>'")
        return Credential(secret, via_cookie=False)
    if request.cookies.get(SESSION_COOKIE):
        cookie = session_token(request)  # the one CSRF check, shared with the page routes
        if cookie is None:
            raise ForbiddenError(f"the session cookie needs a valid {CSRF_HEADER} header")
        return Credential(cookie, via_cookie=True)
    raise AuthError("missing credentials: send 'Authorization: Bearer <key or token>'")


class Auth:
    """Verifies secrets against the store, with a short in-memory cache of the answers."""

    def __init__(self, store: Authenticator, cache_seconds: float) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def verify(self, secret: str) -> Principal:
        """The principal for ``secret`` (blocking: may query the database); AuthError if none."""
        key = digest(secret)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = self.store.authenticate(secret)
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (now + self.cache_seconds, principal)
        return principal

    def cached(self, secret: str) -> Principal | None:
        hit = self._cache.get(digest(secret))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def forget(self, secret: str) -> None:
        """Drop a secret from the cache (logout, revocation through this replica)."""
        with self._lock:
            self._cache.pop(digest(secret), None)

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()


async def authorize(request: Request, permission: str) -> Principal:
    """The caller's principal if it has ``permission``; AuthError (401) / ForbiddenError (403).

    Answers from the cache without leaving the event loop; only a cache miss goes to a
    worker thread for the database lookup.
    """
    credential = credential_of(request)
    auth: Auth = request.app.state.service.auth
    principal = auth.cached(credential.secret)
    if principal is None:
        principal = await run_in_threadpool(auth.verify, credential.secret)
    if credential.via_cookie and principal.kind == "api_key":
        raise AuthError("the session cookie holds a moderator token only")
    if not allowed(principal, permission):
        raise ForbiddenError(f"{_describe(principal)} may not {permission}")
    request.state.credential = credential
    return principal


class _Requires(HTTPBearer):
    """The route dependency for one permission: the caller's principal (``authorize``).

    Why a subclass of ``HTTPBearer`` instead of a function depending on ``bearer_scheme``:
    FastAPI documents any security-scheme dependency in the OpenAPI document the same way,
    and this one is a single dependency to solve per request instead of two (the nested
    one parsed the header only for the document's sake).
    """

    def __init__(self, permission: str) -> None:
        super().__init__(
            auto_error=False,
            scheme_name=bearer_scheme.scheme_name,
            description=bearer_scheme.model.description,
        )
        self.permission = permission
        self.__name__ = f"requires_{permission}"

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await authorize(request, self.permission)


def requires(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A route dependency giving the caller's principal; ``permission`` from PERMISSIONS."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)
    return _Requires(permission)


def _describe(principal: Principal) -> str:
    if principal.kind == "api_key":
        scopes = ",".join(sorted(principal.scopes or ())) or "none"
        return f"API key {principal.name!r} (scopes: {scopes})"
    return f"{principal.role} {principal.name!r}"
