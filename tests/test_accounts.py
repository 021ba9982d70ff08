"""API keys, moderator accounts and tokens on real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from review_helpers import Clock
from sqlalchemy import select

from moderation.errors import AuthError, ConflictError, NotFoundError
from moderation.review import InvalidRequestError, Principal, Store
from moderation.review.accounts import digest, hash_password, parse_scopes, verify_password
from moderation.review.schema import api_keys, moderators, tokens


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[Store]:
    store = Store(database_url, clock=clock)
    yield store
    store.close()


def stored_column(store: Store, column: object) -> list[str]:
    with store.db.read() as conn:
        return [str(value) for value in conn.execute(select(column)).scalars()]  # type: ignore[call-overload]


def test_api_key_is_shown_once_and_stored_as_a_digest(store: Store) -> None:
    info, secret = store.accounts.create_api_key("cms", "submit,score")
    assert secret.startswith("mk_") and len(secret) > 40
    assert info.prefix == secret[:8] and info.scopes == ("score", "submit")
    assert stored_column(store, api_keys.c.digest) == [digest(secret)]
    assert secret not in str(store.accounts.list_api_keys()) + str(store.audit())
    assert store.accounts.authenticate(secret) == Principal("api_key", "cms", ("score", "submit"))
    assert [e.action for e in store.audit()] == ["api_key_created"]


def test_revoked_and_unknown_keys_are_rejected(store: Store) -> None:
    info, secret = store.accounts.create_api_key("cms", ["read"])
    revoked = store.accounts.revoke_api_key(info.id)
    assert revoked.revoked_at is not None
    assert store.accounts.revoke_api_key(info.id) == revoked  # idempotent
    for bad in (secret, secret + "x", "mk_nope", "Bearer abc", ""):
        with pytest.raises(AuthError):
            store.accounts.authenticate(bad)
    with pytest.raises(NotFoundError):
        store.accounts.revoke_api_key(999)
    assert [k.revoked_at is not None for k in store.accounts.list_api_keys()] == [True]


def test_a_key_records_its_last_use_coarsely(store: Store, clock: Clock) -> None:
    from datetime import timedelta

    from moderation.review.accounts import LAST_USED_RESOLUTION

    _, secret = store.accounts.create_api_key("cms", "submit")
    unused, other = store.accounts.create_api_key("old-cms", "submit")
    assert [k.last_used_at for k in store.accounts.list_api_keys()] == [None, None]
    store.accounts.authenticate(secret)
    first = store.accounts.list_api_keys()[0].last_used_at
    assert first is not None
    clock.advance(60)  # within the resolution: no write
    store.accounts.authenticate(secret)
    assert store.accounts.list_api_keys()[0].last_used_at == first
    clock.advance(LAST_USED_RESOLUTION.total_seconds())
    store.accounts.authenticate(secret)
    later = store.accounts.list_api_keys()[0].last_used_at
    assert later is not None and later - first >= LAST_USED_RESOLUTION + timedelta(seconds=60)
    assert store.accounts.list_api_keys()[1].last_used_at is None  # never used: tells which
    with pytest.raises(AuthError):  # a revoked key is refused and not marked as used
        store.accounts.revoke_api_key(unused.id)
        store.accounts.authenticate(other)
    assert store.accounts.list_api_keys()[1].last_used_at is None


@pytest.mark.parametrize("scopes", ["", "admin", "score,delete", []])
def test_scopes_are_checked(scopes: str | list[str]) -> None:
    with pytest.raises(InvalidRequestError):
        parse_scopes(scopes)


def test_moderator_password_is_scrypt_hashed_and_login_gives_a_token(store: Store) -> None:
    info, password = store.accounts.create_moderator("ola", "moderator")
    assert (info.username, info.role, info.disabled) == ("ola", "moderator", False)
    (stored,) = stored_column(store, moderators.c.password_hash)
    assert stored.startswith("scrypt$") and password not in stored
    token, _ = store.accounts.login("ola", password)
    assert token.startswith("mt_") and stored_column(store, tokens.c.digest) == [digest(token)]
    principal = store.accounts.authenticate(token)
    assert principal == Principal("moderator", "ola", ("read",), "moderator")
    assert not principal.is_admin and not principal.has_scope("submit")
    with pytest.raises(AuthError):
        store.accounts.login("ola", "wrong")
    with pytest.raises(AuthError):
        store.accounts.login("nobody", password)
    with pytest.raises(ConflictError):
        store.accounts.create_moderator("ola", "admin")
    with pytest.raises(InvalidRequestError):
        store.accounts.create_moderator("kto", "owner")


def test_token_expiry_logout_disable_and_reset(store: Store, clock: Clock) -> None:
    _, password = store.accounts.create_moderator("szefowa", "admin", password="tajne-haslo-1")
    assert password == "tajne-haslo-1"
    token, _ = store.accounts.login("szefowa", password, ttl_seconds=60)
    assert store.accounts.authenticate(token).is_admin
    clock.advance(61)
    with pytest.raises(AuthError):
        store.accounts.authenticate(token)

    token, _ = store.accounts.login("szefowa", password)
    store.accounts.logout(token)
    with pytest.raises(AuthError):
        store.accounts.authenticate(token)

    token, _ = store.accounts.login("szefowa", password)
    new_password = store.accounts.reset_password("szefowa")
    with pytest.raises(AuthError):  # a new password ends old sessions
        store.accounts.authenticate(token)
    with pytest.raises(AuthError):
        store.accounts.login("szefowa", password)
    token, _ = store.accounts.login("szefowa", new_password)

    store.accounts.disable_moderator("szefowa")
    with pytest.raises(AuthError):
        store.accounts.authenticate(token)
    with pytest.raises(AuthError):
        store.accounts.login("szefowa", new_password)
    store.accounts.enable_moderator("szefowa")
    assert store.accounts.login("szefowa", new_password)
    with pytest.raises(NotFoundError):
        store.accounts.disable_moderator("nobody")
    assert [e.action for e in store.audit()] == [
        "moderator_created",
        "password_reset",
        "moderator_disabled",
        "moderator_enabled",
    ]
    assert new_password not in str(store.audit())


def test_password_hash_round_trip() -> None:
    stored = hash_password("zażółć")
    assert verify_password("zażółć", stored)
    assert not verify_password("zazolc", stored)
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "garbage")
