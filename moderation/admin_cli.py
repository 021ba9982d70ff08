"""Operator commands: ``moderation keys``, ``moderators`` and ``export-decisions``.

They work on the review store directly (no server needed) and migrate it first, so the
first key can be made before the service ever started. A new secret (API key, password)
is printed once on stdout, alone on its line so a script can capture it; everything said
about it goes to stderr. Nothing else ever prints or logs a secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TextIO

from moderation import config
from moderation.errors import ModerationError

COMMANDS: Final = frozenset({"keys", "moderators", "export-decisions"})


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="review store URL (default: MODERATION_DATABASE, else sqlite:///moderation.db)",
    )


def add_commands(commands: Any) -> None:
    """Add the operator commands to the ``moderation`` parser's subcommands."""
    keys = commands.add_parser(
        "keys",
        help="create, list or revoke API keys for the publishing system",
        description="API keys (mk_...) authenticate the publishing system; scopes limit them.",
    )
    keys_commands = keys.add_subparsers(dest="action", required=True)
    create = keys_commands.add_parser("create", help="make a key and print it once")
    create.add_argument("--name", required=True, help="who the key is for, e.g. cms-prod")
    create.add_argument(
        "--scopes", required=True, help="comma-separated: score, submit, read (e.g. score,submit)"
    )
    _database_option(create)
    listing = keys_commands.add_parser("list", help="list keys (never their secrets)")
    _database_option(listing)
    revoke = keys_commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id", type=int, help="the key's id (see keys list)")
    _database_option(revoke)

    moderators = commands.add_parser(
        "moderators",
        help="create, list, disable moderator accounts or reset their passwords",
        description="Moderator accounts log in to the queue; admins also manage policy and keys.",
    )
    moderator_commands = moderators.add_subparsers(dest="action", required=True)
    create = moderator_commands.add_parser("create", help="make an account, print its password")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=("moderator", "admin"), default="moderator")
    _database_option(create)
    listing = moderator_commands.add_parser("list", help="list accounts")
    _database_option(listing)
    for name, text in (
        ("disable", "lock an account out and end its sessions"),
        ("enable", "let a disabled account log in again"),
        ("reset-password", "set a new random password, print it once, end all sessions"),
    ):
        sub = moderator_commands.add_parser(name, help=text)
        sub.add_argument("username")
        _database_option(sub)

    export = commands.add_parser(
        "export-decisions",
        help="write moderators' decisions as JSON-lines training data",
        description=(
            "One line per moderator decision that says something about toxicity: "
            '{"id", "text", "lang", "labels", "source": "moderator", "tags"} (approvals: '
            "all labels 0; rejections for insult, threat, hate, obscene: toxicity and that "
            "attribute 1). Review before adding to training_data/."
        ),
    )
    export.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    _database_option(export)


@contextmanager
def _open_store(url: str | None) -> Iterator[Any]:
    from moderation.review import Store

    store = Store(url or config.resolve()["database"])
    try:
        store.migrate()
        yield store
    finally:
        store.close()


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _when(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _keys(args: argparse.Namespace, store: Any, out: TextIO) -> None:
    accounts = store.accounts
    if args.action == "create":
        info, secret = accounts.create_api_key(args.name, args.scopes)
        out.write(secret + "\n")
        print(
            f"created API key {info.id} ({info.name}, scopes {','.join(info.scopes)}); "
            "it is shown only this once",
            file=sys.stderr,
        )
    elif args.action == "list":
        rows = [["id", "name", "prefix", "scopes", "created", "revoked", "last used"]]
        for key in accounts.list_api_keys():
            rows.append(
                [
                    str(key.id),
                    key.name,
                    key.prefix + "...",
                    ",".join(key.scopes),
                    _when(key.created_at),
                    _when(key.revoked_at),
                    _when(key.last_used_at),
                ]
            )
        _table(rows, out)
    else:
        info = accounts.revoke_api_key(args.id)
        print(f"revoked API key {info.id} ({info.name})", file=sys.stderr)


def _moderators(args: argparse.Namespace, store: Any, out: TextIO) -> None:
    accounts = store.accounts
    if args.action == "create":
        info, password = accounts.create_moderator(args.username, args.role)
        out.write(password + "\n")
        print(
            f"created {info.role} {info.username}; the password is shown only this once",
            file=sys.stderr,
        )
    elif args.action == "list":
        rows = [["id", "username", "role", "status", "created"]]
        for account in accounts.list_moderators():
            status = "disabled" if account.disabled else "active"
            rows.append(
                [str(account.id), account.username, account.role, status, _when(account.created_at)]
            )
        _table(rows, out)
    elif args.action == "disable":
        accounts.disable_moderator(args.username)
        print(f"disabled {args.username}; their sessions ended", file=sys.stderr)
    elif args.action == "enable":
        accounts.enable_moderator(args.username)
        print(f"enabled {args.username}", file=sys.stderr)
    else:
        out.write(accounts.reset_password(args.username) + "\n")
        print(f"new password for {args.username}; their sessions ended", file=sys.stderr)


def _write_decisions(store: Any, target: TextIO) -> int:
    count = 0
    for line in store.export_decisions():
        target.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count


def _export(args: argparse.Namespace, store: Any, out: TextIO) -> None:
    if args.out:
        with Path(args.out).open("w", encoding="utf-8") as target:
            count = _write_decisions(store, target)
    else:
        count = _write_decisions(store, out)
    print(f"exported {count} decisions", file=sys.stderr)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one operator command; library errors become one line on stderr and status 1."""
    out = out or sys.stdout
    handlers = {"keys": _keys, "moderators": _moderators, "export-decisions": _export}
    try:
        with _open_store(args.database) as store:
            handlers[args.command](args, store, out)
    except ModerationError as exc:
        print(f"moderation: error: {exc.code}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:  # a setting that does not parse, an unwritable --out
        print(f"moderation: error: {exc}", file=sys.stderr)
        return 1
    return 0
