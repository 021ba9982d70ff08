"""The README stays true to the code: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

from moderation import config
from moderation.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    for setting in config.SETTINGS:
        assert f"| `{setting.name}` |" in README, setting.name


def test_every_cli_command_is_in_the_readme() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands
    for name in commands:
        assert f"moderation {name}" in README, name


def test_settings_parse_from_the_environment_and_reject_bad_values() -> None:
    values = config.resolve(
        environ={"MODERATION_MAX_CHARS": "123", "MODERATION_LONG_TEXT": "reject"}
    )
    assert values["max_chars"] == 123 and values["long_text"] == "reject"
    for name, bad in [
        ("MODERATION_MAX_CHARS", "-1"),
        ("MODERATION_LONG_TEXT", "truncate"),
        ("MODERATION_SPAN_MIN_SCORE", "2"),
    ]:
        try:
            config.resolve(environ={name: bad})
        except ValueError as exc:
            assert name in str(exc)
        else:
            raise AssertionError(f"{name}={bad} was accepted")
