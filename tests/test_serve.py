"""``python serve.py`` as a real process: flags, settings, migrations, SIGHUP reload, errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import live_server

from moderation.model.bundle import load_bundle, save_bundle

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "serve.py"), *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _ready(port: int, process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, str]:
    return live_server.wait_ready_popen(f"http://127.0.0.1:{port}", process, timeout)


def test_help_names_every_flag_and_its_variable() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "serve.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    for flag, variable in [
        ("--host", "MODERATION_HOST"),
        ("--port", "MODERATION_PORT"),
        ("--model", "MODERATION_MODEL_DIR"),
        ("--database", "MODERATION_DATABASE"),
    ]:
        assert flag in out and variable in out


def test_bad_settings_and_a_missing_bundle_stop_it_with_a_message(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, str(REPO / "serve.py"), "--port", "99999"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert bad.returncode == 2 and "port" in bad.stderr
    missing = subprocess.run(
        [
            sys.executable,
            str(REPO / "serve.py"),
            "--port",
            str(_free_port()),
            "--model",
            str(tmp_path / "nothing"),
            "--database",
            f"sqlite:///{tmp_path / 'db.sqlite'}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert missing.returncode != 0
    assert "no model bundle" in missing.stdout + missing.stderr


def test_it_serves_migrates_and_reloads_on_sighup(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_bundle_dir, model_dir)
    database = tmp_path / "service.db"
    port = _free_port()
    # Flags and MODERATION_* variables both work; the database comes from the environment.
    process = _serve(
        "--port",
        str(port),
        "--model",
        str(model_dir),
        env={"MODERATION_DATABASE": f"sqlite:///{database}"},
    )
    try:
        first = _ready(port, process)
        assert database.is_file()  # migrated at start
        assert httpx.get(f"http://127.0.0.1:{port}/v1/queue").status_code == 401

        bundle = load_bundle(model_dir)
        bundle.metadata = {**bundle.metadata, "model_version": "after-sighup"}
        save_bundle(bundle, model_dir)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        version = first["model_version"]
        while version != "after-sighup" and time.monotonic() < deadline:
            time.sleep(0.1)
            version = _ready(port, process)["model_version"]
        assert version == "after-sighup"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then ends by the signal it caught (as a process should)
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "after-sighup" in output  # the reload is logged
    assert "start-up objects frozen" in output  # gc_freeze is on by default (gctune)
