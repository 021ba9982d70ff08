"""API keys, moderator accounts and bearer tokens.

Secrets are random (``secrets.token_urlsafe(32)``) with a visible prefix (``mk_`` keys,
``mt_`` tokens) so a leaked one is recognisable in a log or a repository scan. Only their
SHA-256 digests are stored: a secret with 256 bits of entropy needs no slow hash, and a
digest lookup costs one indexed read per request. Passwords, chosen by people, are
hashed with scrypt and a random salt. Nothing here logs or stores a secret in clear.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Row, insert, select, update

from moderation.errors import AuthError, ConflictError, NotFoundError
from moderation.review import rows
from moderation.review.database import Database
from moderation.review.records import (
    API_KEY_SCOPES,
    ROLES,
    SYSTEM,
    ApiKeyInfo,
    InvalidRequestError,
    ModeratorInfo,
    Principal,
    Role,
)
from moderation.review.schema import api_keys, audit_log, moderators, tokens

API_KEY_PREFIX: Final = "mk_"
TOKEN_PREFIX: Final = "mt_"
TOKEN_TTL_SECONDS: Final = 12 * 3600
#: An API key's ``last_used_at`` is rewritten only when older than this (see _note_use).
LAST_USED_RESOLUTION: Final = timedelta(minutes=5)
#: scrypt cost: n=2**14, r=8, p=1 (16 MiB, tens of milliseconds) — the usual interactive choice.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def digest(secret: str) -> str:
    """SHA-256 hex digest of a key or token: what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64 parts), self-describing so the cost can grow."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encode = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(key)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(12))


def parse_scopes(scopes: str | Sequence[str]) -> tuple[str, ...]:
    """Validated scopes in canonical order, from ``"score,submit"`` or a sequence."""
    given = [s.strip() for s in (scopes.split(",") if isinstance(scopes, str) else scopes)]
    given = [s for s in given if s]
    unknown = sorted(set(given) - set(API_KEY_SCOPES))
    if unknown or not given:
        raise InvalidRequestError(
            f"scopes must be some of {', '.join(API_KEY_SCOPES)}; got {','.join(given) or 'none'}"
        )
    return tuple(scope for scope in API_KEY_SCOPES if scope in given)


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidRequestError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return cast(Role, role)


def _key_info(row: Row[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        row.id,
        row.name,
        row.prefix,
        tuple(row.scopes.split(",")),
        row.created_at,
        row.revoked_at,
        row.last_used_at,
    )


def _moderator_info(row: Row[Any]) -> ModeratorInfo:
    return ModeratorInfo(
        row.id, row.username, row.role, bool(row.disabled), row.created_at, row.updated_at
    )


class Accounts:
    """Keys, moderators and tokens; every change is one transaction with its audit row."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.now = clock

    def _audit(self, conn: Any, actor: Principal, action: str, **details: Any) -> None:
        conn.execute(
            insert(audit_log), rows.audit_values(self.now(), actor, action, details=details)
        )

    # -- API keys ---------------------------------------------------------------------------
    def create_api_key(
        self, name: str, scopes: str | Sequence[str], actor: Principal = SYSTEM
    ) -> tuple[ApiKeyInfo, str]:
        """A new key: ``(info, secret)``. The secret exists only in this return value."""
        if not name.strip():
            raise InvalidRequestError("an API key needs a name")
        checked = parse_scopes(scopes)
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        values = {
            "name": name,
            "prefix": secret[:8],
            "digest": digest(secret),
            "scopes": ",".join(checked),
            "created_at": now,
        }
        with self.db.write() as conn:
            key_id = conn.execute(
                insert(api_keys).values(values).returning(api_keys.c.id)
            ).scalar_one()
            self._audit(conn, actor, "api_key_created", key_id=key_id, name=name, scopes=checked)
        return ApiKeyInfo(key_id, name, secret[:8], checked, now), secret

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self.db.read() as conn:
            return [
                _key_info(row) for row in conn.execute(select(api_keys).order_by(api_keys.c.id))
            ]

    def revoke_api_key(self, key_id: int, actor: Principal = SYSTEM) -> ApiKeyInfo:
        """Revoke a key at once (idempotent); NotFoundError for an unknown id."""
        now = self.now()
        with self.db.write() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            if row.revoked_at is not None:
                return _key_info(row)
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
            self._audit(conn, actor, "api_key_revoked", key_id=key_id, name=row.name)
        return dataclasses.replace(_key_info(row), revoked_at=now)

    def authenticate_api_key(self, secret: str) -> Principal:
        """The key's principal; AuthError for an unknown or revoked key."""
        if not secret.startswith(API_KEY_PREFIX):
            raise AuthError("not an API key")
        with self.db.read() as conn:
            row = conn.execute(
                select(
                    api_keys.c.id,
                    api_keys.c.name,
                    api_keys.c.scopes,
                    api_keys.c.revoked_at,
                    api_keys.c.last_used_at,
                ).where(api_keys.c.digest == digest(secret))
            ).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("unknown or revoked API key")
        self._note_use(row.id, row.last_used_at)
        return Principal("api_key", row.name, tuple(row.scopes.split(",")))

    def _note_use(self, key_id: int, last_used_at: datetime | None) -> None:
        """Record the key's use, at most once per ``LAST_USED_RESOLUTION``.

        Why coarse: a key is checked against the database on every auth-cache miss (every
        few seconds per worker); a write each time would put the hot path's keys on the
        write lock for a figure operators read in days ("is this key still used?").
        """
        now = self.now()
        if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
            return
        with self.db.write() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))

    # -- moderators -------------------------------------------------------------------------
    def create_moderator(
        self, username: str, role: str, password: str | None = None, actor: Principal = SYSTEM
    ) -> tuple[ModeratorInfo, str]:
        """A new account: ``(info, password)``; a random password unless one is given."""
        if not username.strip():
            raise InvalidRequestError("a moderator needs a username")
        checked = _check_role(role)
        password = password or secrets.token_urlsafe(12)
        now = self.now()
        values = {
            "username": username,
            "role": checked,
            "password_hash": hash_password(password),
            "disabled": False,
            "created_at": now,
            "updated_at": now,
        }
        with self.db.write() as conn:
            exists = conn.execute(select(moderators.c.id).where(moderators.c.username == username))
            if exists.first() is not None:
                raise ConflictError(f"moderator {username!r} already exists")
            new_id = conn.execute(
                insert(moderators).values(values).returning(moderators.c.id)
            ).scalar_one()
            self._audit(conn, actor, "moderator_created", username=username, role=checked)
        return ModeratorInfo(new_id, username, checked, False, now, now), password

    def list_moderators(self) -> list[ModeratorInfo]:
        with self.db.read() as conn:
            found = conn.execute(select(moderators).order_by(moderators.c.id))
            return [_moderator_info(row) for row in found]

    def _change_moderator(
        self, username: str, actor: Principal, action: str, **values: Any
    ) -> ModeratorInfo:
        now = self.now()
        with self.db.write() as conn:
            row = conn.execute(select(moderators).where(moderators.c.username == username)).first()
            if row is None:
                raise NotFoundError(f"no moderator {username!r}")
            conn.execute(
                update(moderators).where(moderators.c.id == row.id).values(updated_at=now, **values)
            )
            # Disabling or a new password ends every session the account had.
            conn.execute(
                update(tokens)
                .where(tokens.c.moderator_id == row.id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._audit(conn, actor, action, username=username)
        changed = {**row._mapping, "updated_at": now, **values}
        return ModeratorInfo(
            changed["id"],
            changed["username"],
            changed["role"],
            bool(changed["disabled"]),
            changed["created_at"],
            now,
        )

    def disable_moderator(self, username: str, actor: Principal = SYSTEM) -> ModeratorInfo:
        """Lock an account out and end its sessions."""
        return self._change_moderator(username, actor, "moderator_disabled", disabled=True)

    def enable_moderator(self, username: str, actor: Principal = SYSTEM) -> ModeratorInfo:
        return self._change_moderator(username, actor, "moderator_enabled", disabled=False)

    def reset_password(
        self, username: str, password: str | None = None, actor: Principal = SYSTEM
    ) -> str:
        """Set a new (random unless given) password, end the account's sessions, return it."""
        password = password or secrets.token_urlsafe(12)
        self._change_moderator(
            username, actor, "password_reset", password_hash=hash_password(password)
        )
        return password

    # -- sessions ---------------------------------------------------------------------------
    def login(
        self, username: str, password: str, ttl_seconds: int = TOKEN_TTL_SECONDS
    ) -> tuple[str, datetime]:
        """Check a password and issue a bearer token: ``(token, expires_at)``; AuthError."""
        with self.db.read() as conn:
            row = conn.execute(select(moderators).where(moderators.c.username == username)).first()
        # Hash even for an unknown user so timing does not reveal which usernames exist.
        stored = row.password_hash if row is not None else _dummy_hash()
        if not verify_password(password, stored) or row is None or row.disabled:
            raise AuthError("wrong username or password, or the account is disabled")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        expires = now + timedelta(seconds=ttl_seconds)
        with self.db.write() as conn:
            conn.execute(
                insert(tokens).values(
                    digest=digest(token), moderator_id=row.id, created_at=now, expires_at=expires
                )
            )
        return token, expires

    def logout(self, token: str) -> None:
        """Revoke one token (unknown tokens are ignored: logging out twice is fine)."""
        with self.db.write() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.digest == digest(token), tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )

    def authenticate_token(self, token: str) -> Principal:
        """The moderator behind a live token; AuthError if unknown, revoked, expired or disabled."""
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError("not a moderator token")
        stmt = (
            select(moderators.c.username, moderators.c.role, moderators.c.disabled)
            .select_from(tokens.join(moderators, tokens.c.moderator_id == moderators.c.id))
            .where(
                tokens.c.digest == digest(token),
                tokens.c.revoked_at.is_(None),
                tokens.c.expires_at > self.now(),
            )
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).first()
        if row is None or row.disabled:
            raise AuthError("unknown, expired or revoked token")
        return Principal("moderator", row.username, ("read",), _check_role(row.role))

    def authenticate(self, secret: str) -> Principal:
        """Any bearer secret: an API key (``mk_``) or a moderator token (``mt_``)."""
        if secret.startswith(API_KEY_PREFIX):
            return self.authenticate_api_key(secret)
        if secret.startswith(TOKEN_PREFIX):
            return self.authenticate_token(secret)
        raise AuthError("unknown credential")
