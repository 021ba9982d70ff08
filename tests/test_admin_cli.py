"""``moderation keys|moderators|export-decisions`` against real databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from review_helpers import OLA, put

from moderation.cli import main
from moderation.errors import AuthError
from moderation.review import QueueQuery, Store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_keys_create_list_revoke(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database", database_url)
    status, out, err = run(
        capsys, "keys", "create", "--name", "cms", "--scopes", "score,submit", *db
    )
    assert status == 0 and "shown only this once" in err
    secret = out.strip()
    assert secret.startswith("mk_") and out == secret + "\n"  # the key alone on stdout

    status, out, _ = run(capsys, "keys", "list", *db)
    assert status == 0 and secret not in out
    columns = out.splitlines()[1].split()
    assert columns[:4] == ["1", "cms", secret[:8] + "...", "score,submit"]
    assert columns[-1] == "-"  # not revoked

    store = Store(database_url)
    try:
        assert store.authenticate(secret).scopes == ("score", "submit")
        assert run(capsys, "keys", "revoke", "1", *db)[0] == 0
        with pytest.raises(AuthError):
            store.authenticate(secret)
    finally:
        store.close()
    status, _, err = run(capsys, "keys", "revoke", "42", *db)
    assert status == 1 and err == "moderation: error: not_found: no API key with id 42\n"
    status, _, err = run(capsys, "keys", "create", "--name", "x", "--scopes", "admin", *db)
    assert status == 1 and "invalid_request" in err


def test_moderators(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database", database_url)
    status, out, _ = run(
        capsys, "moderators", "create", "--username", "ola", "--role", "admin", *db
    )
    password = out.strip()
    assert status == 0 and len(password) >= 12
    assert run(capsys, "moderators", "create", "--username", "ola", *db)[0] == 1  # exists
    store = Store(database_url)
    try:
        assert store.accounts.login("ola", password)
        status, out, _ = run(capsys, "moderators", "reset-password", "ola", *db)
        new_password = out.strip()
        assert status == 0 and new_password != password
        with pytest.raises(AuthError):
            store.accounts.login("ola", password)
        assert run(capsys, "moderators", "disable", "ola", *db)[0] == 0
        with pytest.raises(AuthError):
            store.accounts.login("ola", new_password)
        status, out, _ = run(capsys, "moderators", "list", *db)
        assert out.splitlines()[1].split()[:4] == ["1", "ola", "admin", "disabled"]
        assert password not in out and new_password not in out
        assert run(capsys, "moderators", "enable", "ola", *db)[0] == 0
        assert store.accounts.login("ola", new_password)
    finally:
        store.close()
    assert run(capsys, "moderators", "disable", "nobody", *db)[0] == 1


def test_export_decisions(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(database_url)
    try:
        put(store, "c-1", toxicity=0.9, text="ty idioto")
        store.claim("ola", 1, 60, QueueQuery())
        store.decide("c-1", OLA, "reject", "insult", None)
    finally:
        store.close()
    out_file = tmp_path / "decisions.jsonl"
    status, _, err = run(
        capsys, "export-decisions", "--out", str(out_file), "--database", database_url
    )
    assert status == 0 and err == "exported 1 decisions\n"
    (line,) = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert (line["text"], line["labels"]["insult"], line["source"]) == ("ty idioto", 1, "moderator")
    status, out, _ = run(capsys, "export-decisions", "--database", database_url)
    assert json.loads(out) == line


def test_database_defaults_to_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODERATION_DATABASE", raising=False)
    assert run(capsys, "keys", "create", "--name", "a", "--scopes", "read")[0] == 0
    assert (tmp_path / "moderation.db").is_file()  # sqlite:///moderation.db, in the cwd
    monkeypatch.setenv("MODERATION_DATABASE", f"sqlite:///{tmp_path / 'other.db'}")
    assert run(capsys, "keys", "list")[1].count("\n") == 1  # the header only: another file
