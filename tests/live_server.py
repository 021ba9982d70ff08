"""Real server processes for the browser, scale-out and crash tests and for bench/ scripts.

These checks are only worth something against the real thing: ``serve.py`` in its own process,
a real SQLite file or a throwaway PostgreSQL database, accounts made with the real CLI. This
module starts and stops those pieces and nothing else; assertions stay in the tests.

bench/ scripts import it too (``sys.path`` gets ``tests/``), so a benchmark and a test start
the server the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parent.parent
SERVE = REPO / "serve.py"
POSTGRES_ADMIN_URL = os.environ.get(
    "MODERATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def postgres_available() -> bool:
    """True when the local PostgreSQL answers (tests skip otherwise, fail under CI=true)."""
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def throwaway_postgres(prefix: str = "moderation_live") -> Iterator[str]:
    """A new, empty PostgreSQL database for one run; dropped afterwards (even if in use)."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def cli(database: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run the ``moderation`` CLI against ``database``; its standard output, stripped."""
    full_env = {**os.environ, **(env or {}), "MODERATION_DATABASE": database}
    completed = subprocess.run(
        [sys.executable, "-m", "moderation.cli", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"moderation {' '.join(args)} exited {completed.returncode}: {completed.stderr}"
        )
    return completed.stdout.strip()


def secret_from(output: str, prefix: str) -> str:
    """The first whitespace-separated word of a CLI's output that starts with ``prefix``."""
    for word in output.replace('"', " ").replace("'", " ").split():
        if word.startswith(prefix):
            return word.strip(".,;")
    raise ValueError(f"no {prefix}... secret in CLI output: {output!r}")


def create_api_key(database: str, name: str, scopes: str = "score,submit,read") -> str:
    """A new API key made by ``moderation keys create``."""
    return secret_from(cli(database, "keys", "create", "--name", name, "--scopes", scopes), "mk_")


def create_moderator(database: str, username: str, role: str = "moderator") -> str:
    """A new moderator account made by ``moderation moderators create``; its first password."""
    output = cli(database, "moderators", "create", "--username", username, "--role", role)
    return password_from(output)


def password_from(output: str) -> str:
    """The password in ``moderators create``'s output (a ``password: X`` line or the last word)."""
    for line in output.splitlines():
        key, _, value = line.partition(":")
        if "password" in key.lower() and value.strip():
            return value.strip().split()[0]
    with contextlib.suppress(json.JSONDecodeError):
        data = json.loads(output)
        if isinstance(data, dict) and "password" in data:
            return str(data["password"])
    return output.split()[-1]


def login(base_url: str, username: str, password: str) -> str:
    """A moderator token from ``POST /v1/auth/login``."""
    response = httpx.post(
        f"{base_url}/v1/auth/login", json={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    token: str = body.get("token") or body["access_token"]
    return token


@dataclass
class ServerProcess:
    """One ``serve.py`` process on a port of its own, with its log in a file."""

    database: str
    model_dir: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    env: Mapping[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None, "server not started"
        return self.process.pid

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start serve.py and wait until ``/readyz`` says the model and database are ready."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        command = [
            sys.executable,
            str(SERVE),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--model",
            str(self.model_dir),
            "--database",
            self.database,
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 reaches any workers too
        )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"serve.py exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise TimeoutError(f"serve.py not ready after {timeout} s ({last}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """``kill -9`` the whole process group: no shutdown handler gets to run."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)  # also any child left behind
            self.process.wait(timeout=30)
        self._close_log()

    def stop(self, timeout: float = 15.0) -> None:
        """A clean stop (SIGTERM), escalating to SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its children so far (Linux /proc)."""
        total = 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in _process_tree(self.pid):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header for a key or token."""
    return {"Authorization": f"Bearer {secret}"}


def comment(
    comment_id: str, text: str, *, article: str = "a-1", author: str = "u-1", title: str = ""
) -> dict[str, Any]:
    """One item of ``POST /v1/comments`` in the documented shape."""
    return {
        "id": comment_id,
        "article": {"id": article, "title": title or f"Artykuł {article}"},
        "author": {"id": author},
        "text": text,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class SubmissionStream:
    """Sender threads posting 1-3 comments per request until stopped or the server dies.

    Records every comment sent (``attempted``, the full items, for retries) and every one
    whose request got a 2xx (``acked``: id -> text): what a crash test must find afterwards.
    """

    def __init__(
        self, url: str, key: str, texts: list[str], senders: int = 4, prefix: str = "crash"
    ) -> None:
        self.url = url
        self.key = key
        self.texts = texts
        self.prefix = prefix
        self.acked: dict[str, str] = {}
        self.attempted: dict[str, dict[str, Any]] = {}
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(senders)
        ]

    def start(self) -> SubmissionStream:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, acks: int, seconds: float) -> None:
        """Until ``acks`` comments were acknowledged or ``seconds`` passed."""
        deadline = time.monotonic() + seconds
        while self.acked_count() < acks and time.monotonic() < deadline:
            time.sleep(0.005)

    def join(self, timeout: float = 30.0) -> None:
        """Stop sending and wait for the senders (after a kill they end on their own)."""
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def _send(self, sender: int) -> None:
        with httpx.Client(base_url=self.url, headers=bearer(self.key), timeout=10) as client:
            for n in itertools.count():
                if self.stopped.is_set():
                    return
                batch = [
                    comment(
                        f"{self.prefix}-{sender}-{n}-{i}",
                        self.texts[(sender * 997 + n * 3 + i) % len(self.texts)],
                        article=f"{self.prefix}-article-{n % 5}",
                        author=f"{self.prefix}-author-{(sender + n) % 17}",
                    )
                    for i in range(1 + n % 3)
                ]
                with self.lock:
                    self.attempted.update({item["id"]: item for item in batch})
                try:
                    response = client.post("/v1/comments", json={"comments": batch})
                except httpx.HTTPError:
                    return  # the server is gone: this request's fate is unknown
                with self.lock:
                    self.statuses.append(response.status_code)
                    if 200 <= response.status_code < 300:
                        self.acked.update({item["id"]: item["text"] for item in batch})


def corpus_texts(limit: int | None = None) -> list[str]:
    """The own corpus's comments (both languages, civil and toxic), in file order."""
    texts = []
    for path in sorted((REPO / "training_data" / "toxicity").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts[:limit] if limit else texts


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (Linux /proc/stat).

    Sampled around a benchmark and less the server's and the generator's own CPU, it says
    how much the rest of this shared machine used meanwhile.
    """
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def audit_log(url: str, admin: str) -> list[dict[str, Any]]:
    """The whole audit log through ``GET /v1/audit``, page by page (tests and benchmarks)."""
    entries: list[dict[str, Any]] = []
    after: int | None = None
    with httpx.Client(base_url=url, headers=bearer(admin), timeout=60) as client:
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if after is not None:
                params["after_id"] = after
            page = client.get("/v1/audit", params=params).json()
            entries.extend(page["items"])
            if not page["items"] or page["next_after_id"] is None:
                return entries
            after = page["next_after_id"]


def wait_ready_popen(
    url: str, process: subprocess.Popen[str], timeout: float = 90.0
) -> dict[str, str]:
    """``/readyz``'s body once a ``serve.py`` started by a test (not ``ServerProcess``) is
    ready; fails with its output if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"serve.py exited: {out}")
        try:
            answer = httpx.get(f"{url}/readyz", timeout=1.0)
            if answer.status_code == 200:
                body: dict[str, str] = answer.json()
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve.py at {url} did not become ready in {timeout:.0f} s")
