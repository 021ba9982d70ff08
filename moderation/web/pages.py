"""The moderator's web page: login, the queue, claimed comments (``router``, mounted at ``/ui``).

The page is a thin shell: Jinja2 renders two small HTML documents and a few static files, and
the page's JavaScript does all its work through the same ``/v1`` JSON API as any other client,
so there is one set of rules for queues, leases and decisions. What lives here is only what a
browser needs on top of the API:

* **Session cookie.** After ``POST /v1/auth/login`` the page hands the token to
  ``POST /ui/session``, which stores it in an ``HttpOnly; SameSite=Strict`` cookie, so no script
  (and no injected comment) can read it afterwards.
* **CSRF.** A cookie alone must never authorise a state change, so ``/v1`` accepts the cookie
  only together with the ``X-CSRF-Token`` header whose value is derived from the session token
  (``csrf_token``); the page gets that value in a ``<meta>`` tag. ``session_token`` is the one
  check, used by the API's auth dependency too.
* **Hostile text.** Comments contain HTML and script on purpose. Templates autoescape, the
  script builds comment text from DOM text nodes only, and every page carries a strict
  Content-Security-Policy (no inline script, no inline style attributes) as a second wall.

The module imports nothing from the rest of the app (``auth`` imports the cookie rule from
here), so it can be included by ``create_app`` or tested on its own:
``app.include_router(pages.router)``.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from moderation.attributes import ATTRIBUTES, SUPPORTED_LANGUAGES
from moderation.errors import ModerationError, NotFoundError

#: Name of the HttpOnly cookie that holds the moderator's bearer token.
SESSION_COOKIE: Final = "moderation_session"
#: Header that must accompany the cookie on every /v1 call (and on the page's own POSTs).
CSRF_HEADER: Final = "X-CSRF-Token"
#: Reason codes used when the app's settings do not say (the documented default list).
DEFAULT_REASON_CODES: Final = (
    "spam",
    "insult",
    "threat",
    "hate",
    "obscene",
    "off_topic",
    "personal_data",
    "other",
)
#: The /v1 routes the page's script calls; ``{id}`` is filled in (URL-encoded) by the script.
API_URLS: Final[Mapping[str, str]] = {
    "login": "/v1/auth/login",
    "logout_api": "/v1/auth/logout",
    "queue": "/v1/queue",
    "stats": "/v1/queue/stats",
    "claim": "/v1/queue/claim",
    "decide": "/v1/queue/{id}/decision",
    "release": "/v1/queue/{id}/release",
    "author_history": "/v1/authors/{id}/history",
    "comment": "/v1/comments/{id}",
    "reopen": "/v1/comments/{id}/reopen",
}

_HERE: Final = Path(__file__).resolve().parent
_STATIC_DIR: Final = _HERE / "static"
_TEMPLATE_DIR: Final = _HERE / "templates"
_STATIC_SUFFIXES: Final = frozenset({".js", ".css", ".svg", ".png", ".ico"})

#: Sent with every page: no inline script or style, nothing from elsewhere, no framing.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def csrf_token(session: str) -> str:
    """The CSRF value that goes with a session token.

    Derived rather than stored, so neither the page routes nor the API keep any state for it:
    whoever can read the page (same origin) gets it from the ``<meta>`` tag, while a cross-site
    request, which can make the browser send the cookie but cannot read the page, cannot know
    it. Keyed with the token itself, so it differs from the token digest the store keeps.
    """
    return hmac.new(session.encode("utf-8"), b"moderation-csrf", hashlib.sha256).hexdigest()


def session_token(request: Request, *, require_csrf: bool = True) -> str | None:
    """The bearer token from the session cookie, if the request may use it; else ``None``.

    ``require_csrf`` is dropped only for page GETs (navigations cannot carry headers and change
    nothing); every other use of the cookie needs the matching ``X-CSRF-Token`` header.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if not require_csrf:
        return token
    given = request.headers.get(CSRF_HEADER, "")
    if given and hmac.compare_digest(given.encode("utf-8"), csrf_token(token).encode()):
        return token
    return None


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    version: str


def _load_assets() -> dict[str, _Asset]:
    """Every static file, read once: a fixed whitelist instead of serving a directory."""
    assets: dict[str, _Asset] = {}
    if not _STATIC_DIR.is_dir():
        return assets
    for path in sorted(_STATIC_DIR.iterdir()):
        if path.is_file() and path.suffix in _STATIC_SUFFIXES:
            body = path.read_bytes()
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or path.suffix == ".js":
                media_type = "text/javascript" if path.suffix == ".js" else media_type
                media_type += "; charset=utf-8"
            version = hashlib.sha256(body).hexdigest()[:12]
            assets[path.name] = _Asset(body, media_type, version)
    return assets


_ASSETS: Final = _load_assets()


def static_url(name: str) -> str:
    """URL of a static file with its content hash, so browsers may cache it for good."""
    asset = _ASSETS[name]
    return f"/ui/static/{name}?v={asset.version}"


_templates: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATE_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals["static"] = static_url


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=dict(_PAGE_HEADERS))


def _setting(request: Request, name: str) -> Any:
    """A setting from the app, wherever ``create_app`` keeps them (mapping or attributes)."""
    service = getattr(request.app.state, "service", None)
    settings = getattr(service, "settings", None) or getattr(request.app.state, "settings", None)
    if isinstance(settings, Mapping):
        return settings.get(name)
    return getattr(settings, name, None)


@dataclass(frozen=True)
class _Viewer:
    """Who the session belongs to, as far as the page needs to know."""

    name: str
    verified: bool
    role: str = "moderator"  # what the page offers; every /v1 call checks the role again


async def _viewer(request: Request, token: str) -> _Viewer | None:
    """The moderator behind a session token, or None when the token is no (longer) good.

    Uses the app's ``Auth`` (``app.state.service.auth``) when there is one; a router tested
    on its own has none and takes the token on trust, since every /v1 call checks it again.
    """
    auth = getattr(getattr(request.app.state, "service", None), "auth", None)
    if auth is None:
        return _Viewer("", verified=False)
    try:
        principal = auth.cached(token) or await run_in_threadpool(auth.verify, token)
    except ModerationError:
        return None
    if getattr(principal, "kind", None) != "moderator":
        return None
    return _Viewer(
        str(getattr(principal, "name", "")),
        verified=True,
        role=str(getattr(principal, "role", None) or "moderator"),
    )


def reason_codes(request: Request) -> tuple[str, ...]:
    """The configured reason codes (a list or a comma-separated string), else the default."""
    value = _setting(request, "reason_codes")
    if isinstance(value, str):
        codes = tuple(code.strip() for code in value.split(",") if code.strip())
    elif isinstance(value, list | tuple):
        codes = tuple(str(code) for code in value)
    else:
        codes = ()
    return codes or DEFAULT_REASON_CODES


def _same_origin(request: Request) -> bool:
    """True unless the browser says the request comes from another site.

    Guards ``/ui/session`` (login CSRF: a foreign site planting its own session) and
    ``/ui/logout``; browsers send ``Sec-Fetch-Site`` and ``Origin`` on such requests.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _error(status: int, code: str, message: str) -> JSONResponse:
    """The service's one error shape, for the few refusals made here."""
    body = {"error": {"code": code, "message": message, "details": []}}
    return JSONResponse(body, status_code=status, headers=dict(_PAGE_HEADERS))


def _page_urls() -> dict[str, str]:
    return {
        **API_URLS,
        "queue_page": "/ui",
        "login_page": "/ui/login",
        "session": "/ui/session",
        "logout": "/ui/logout",
        "article": "/ui/articles/{id}",
    }


class SessionIn(BaseModel):
    """Body of ``POST /ui/session``: the token ``/v1/auth/login`` returned."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=512)


#: In the OpenAPI document too ("every route"), so the fuzz test covers the pages as well.
router = APIRouter(prefix="/ui", tags=["moderator page"])


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse, include_in_schema=False)  # the same page
async def queue_page(request: Request) -> Response:
    """The queue; without a valid session, the login page instead (and the cookie dropped)."""
    token = session_token(request, require_csrf=False)
    viewer = None if token is None else await _viewer(request, token)
    if token is None or viewer is None:
        response = RedirectResponse("/ui/login", status_code=303, headers=dict(_PAGE_HEADERS))
        if token is not None:
            response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response
    max_batch = _setting(request, "max_batch")
    page_config = {
        "urls": _page_urls(),
        "reasons": list(reason_codes(request)),
        "attributes": list(ATTRIBUTES),
        "max_claim": int(max_batch) if isinstance(max_batch, int) and max_batch > 0 else 50,
        "user": viewer.name,
        "role": viewer.role,
    }
    return _render(
        "queue.html",
        csrf_token=csrf_token(token),
        page_config=page_config,
        attributes=ATTRIBUTES,
        languages=(*SUPPORTED_LANGUAGES, "de", "uk", "ru"),
        max_claim=page_config["max_claim"],
    )


@router.get("/login", response_class=HTMLResponse)
def login_page() -> Response:
    """The login form; it posts to the JSON API, not to this route."""
    urls = _page_urls()
    return _render("login.html", urls={**urls, "queue": urls["queue_page"]})


@router.post("/session", status_code=204)
async def open_session(body: SessionIn, request: Request) -> Response:
    """Keep the token from ``/v1/auth/login`` in an HttpOnly cookie (same-origin calls only).

    Only a valid moderator token is taken, so an API key cannot become a browser session.
    """
    if not _same_origin(request) or "x-requested-with" not in request.headers:
        return _error(403, "forbidden", "cross-site session request refused")
    if not body.token.startswith("mt_"):
        return _error(403, "forbidden", "not a moderator token")
    if await _viewer(request, body.token) is None:
        return _error(401, "unauthorized", "unknown, expired or revoked token")
    secure = request.url.scheme == "https"
    response = Response(status_code=204, headers=dict(_PAGE_HEADERS))
    response.set_cookie(
        SESSION_COOKIE,
        body.token,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


@router.post("/logout", status_code=204)
def close_session(request: Request) -> Response:
    """Forget the cookie. Needs the CSRF header, like every other use of the session."""
    if session_token(request) is None and request.cookies.get(SESSION_COOKIE):
        return _error(403, "forbidden", "missing or wrong CSRF header")
    response = Response(status_code=204, headers=dict(_PAGE_HEADERS))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/articles/{article_id}")
async def article(
    request: Request, article_id: Annotated[str, PathParam(min_length=1, max_length=200)]
) -> Response:
    """An article's id and title, for the heading of a claimed comment.

    Queue items name their article by id only; the page asks here once per article. Same
    rule as the API: the session cookie counts only with the CSRF header.
    """
    token = session_token(request)
    if token is None:
        return _error(401, "unauthorized", f"needs the session cookie and the {CSRF_HEADER} header")
    if await _viewer(request, token) is None:
        return _error(401, "unauthorized", "unknown, expired or revoked token")
    store = getattr(getattr(request.app.state, "service", None), "store", None)
    if store is None:
        return _error(404, "not_found", "no article store in this app")
    try:
        found = await run_in_threadpool(store.get_article, article_id)
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))
    except ModerationError as exc:
        return _error(503, exc.code, str(exc))
    return JSONResponse(
        {"id": found.id, "title": found.title}, headers={"Cache-Control": "private, max-age=60"}
    )


@router.get("/static/{name}")
def static_file(name: str, request: Request) -> Response:
    """A file from ``static/`` (whitelisted at import); cached for good when the hash matches."""
    asset = _ASSETS.get(name)
    if asset is None:
        return _error(404, "not_found", "no such file")
    immutable = request.query_params.get("v") == asset.version
    headers = {
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{asset.version}"',
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
