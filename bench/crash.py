"""Crash safety with volume: ``kill -9`` serve.py mid-stream, again and again; count what is lost.

    python bench/crash.py                         # SQLite file, 5 rounds
    python bench/crash.py --database postgres --rounds 10

Each round starts serve.py on the same database (full bundle), streams submissions from
``--senders`` threads (1-3 comments per request), sends SIGKILL to the server's process
group at a random moment, restarts it, and then checks, straight in the database, that every
comment whose request got a 2xx is stored with its scores and a ``submit`` audit entry. The
publishing system's retry follows: every comment sent is posted again, which must store the
unanswered ones once and never an acknowledged one twice. tests/test_crash.py is the same
check at test size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx
import live_server
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent


def stored(database: str) -> tuple[dict[str, float | None], dict[str, int]]:
    """(comment id -> toxicity score, comment id -> number of 'submit' audit entries)."""
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            scores: dict[str, float | None] = {
                row[0]: row[1] for row in conn.execute(text("SELECT id, toxicity FROM comments"))
            }
            audited: dict[str, int] = {
                row[0]: row[1]
                for row in conn.execute(
                    text(
                        "SELECT comment_id, count(*) FROM audit_log WHERE action = 'submit' "
                        "GROUP BY comment_id"
                    )
                )
            }
    finally:
        engine.dispose()
    return scores, audited


def retry_all(url: str, key: str, attempted: dict[str, dict[str, Any]]) -> set[str]:
    """Post every comment again (50 per request); the ids stored by this retry."""
    created: set[str] = set()
    ids = sorted(attempted)
    with httpx.Client(base_url=url, headers=live_server.bearer(key), timeout=60) as client:
        for start in range(0, len(ids), 50):
            batch = [attempted[comment_id] for comment_id in ids[start : start + 50]]
            response = client.post("/v1/comments", json={"comments": batch})
            if response.status_code not in (200, 201):
                raise RuntimeError(f"retry failed: {response.status_code} {response.text}")
            created.update(r["id"] for r in response.json()["results"] if r["created"])
    return created


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", default="sqlite", help="sqlite | postgres")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--min-seconds", type=float, default=2.0, help="earliest kill (2 s)")
    parser.add_argument("--max-seconds", type=float, default=8.0, help="latest kill (8 s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model", default=os.environ.get("MODERATION_MODEL_DIR", str(REPO / "models"))
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    texts = live_server.corpus_texts()
    rounds: list[dict[str, Any]] = []
    load_before = os.getloadavg()

    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-crash-")))
        if args.database == "postgres":
            database = stack.enter_context(live_server.throwaway_postgres("moderation_bench"))
        else:
            database = live_server.sqlite_url(workdir / "crash.db")
        key = None
        for number in range(1, args.rounds + 1):
            server = live_server.ServerProcess(
                database, Path(args.model), workdir, extra_args=("--log-level", "warning")
            )
            server.start()
            if key is None:
                key = live_server.create_api_key(database, "bench-crash", "submit,read")
            stream = live_server.SubmissionStream(
                server.url, key, texts, args.senders, prefix=f"r{number}"
            ).start()
            kill_at = rng.uniform(args.min_seconds, args.max_seconds)
            time.sleep(kill_at)
            server.kill()
            stream.join()
            restarted = time.perf_counter()
            server = live_server.ServerProcess(
                database, Path(args.model), workdir, extra_args=("--log-level", "warning")
            )
            server.start()
            restart_seconds = time.perf_counter() - restarted
            scores, audited = stored(database)
            acked = set(stream.acked)
            missing = sorted(acked - set(scores))
            unscored = sorted(c for c in acked if c in scores and scores[c] is None)
            unaudited = sorted(c for c in acked if audited.get(c, 0) == 0)
            created = retry_all(server.url, key, stream.attempted)
            server.stop()
            after, audited_after = stored(database)
            row = {
                "round": number,
                "killed_after_s": round(kill_at, 2),
                "sent": len(stream.attempted),
                "acknowledged": len(acked),
                "unanswered": len(stream.attempted) - len(acked),
                "non_2xx": sum(1 for status in stream.statuses if not 200 <= status < 300),
                "missing_after_restart": len(missing),
                "without_scores": len(unscored),
                "without_audit": len(unaudited),
                "stored_again_on_retry": len(created & acked),
                "stored_by_retry": len(created),
                "not_stored_after_retry": len(set(stream.attempted) - set(after)),
                "double_submit_audit": sum(1 for count in audited_after.values() if count > 1),
                "restart_to_ready_s": round(restart_seconds, 2),
            }
            rounds.append(row)
            print(
                f"round {number}: killed after {kill_at:.1f} s; "
                f"{row['acknowledged']} acknowledged, "
                f"{row['unanswered']} unanswered; missing {row['missing_after_restart']}, "
                f"without scores {row['without_scores']}, without audit {row['without_audit']}; "
                f"retry stored {row['stored_by_retry']} (acknowledged again: "
                f"{row['stored_again_on_retry']}); ready again in {restart_seconds:.1f} s",
                flush=True,
            )

    bad_keys = (
        "missing_after_restart",
        "without_scores",
        "without_audit",
        "stored_again_on_retry",
        "not_stored_after_retry",
        "double_submit_audit",
        "non_2xx",
    )
    total_acked = sum(row["acknowledged"] for row in rounds)
    bad = {name: sum(row[name] for row in rounds) for name in bad_keys}
    print(
        f"{args.database}, {args.rounds} kill -9 rounds: {total_acked:,} acknowledged comments, "
        + ", ".join(f"{name} {value}" for name, value in bad.items())
        + f"\nload average before {load_before}, after {os.getloadavg()}"
    )
    if args.json:
        report = {"database": args.database, "rounds": rounds, "totals": bad}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if not any(bad.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
