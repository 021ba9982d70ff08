"""Concurrent moderators on PostgreSQL: claim and decide 10,000 queued comments through HTTP.

    python bench/moderators.py                    # 10,000 comments, 8 moderators, claims of 10
    python bench/moderators.py --replicas 2       # two serve.py processes, moderators split
    python bench/moderators.py --database sqlite  # the same on a SQLite file

The script makes a throwaway PostgreSQL database, starts serve.py on it (full bundle), makes an
API key, an admin and the moderators with the CLI, pre-moderates one article and submits the
comments under it (100 per request) so that every one is queued. Then each moderator, one
keep-alive connection each, claims ``--claim`` comments at a time and decides each one
(approve, or reject with a reason and a note, alternately) until the queue is empty.

It prints throughput, the number of comments claimed by two moderators (must be 0), the
number never decided (must be 0), and checks through ``GET /v1/audit`` that every decision
is in the audit log exactly once with the right moderator, action and reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx
import live_server
from _loadgen import _Connection, http_request, percentile

REPO = Path(__file__).resolve().parent.parent
ARTICLE = "bench-moderators"


def fill_queue(url: str, key: str, total: int) -> float:
    """Submit ``total`` comments under the pre-moderated article; seconds taken."""
    texts = live_server.corpus_texts()
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers=live_server.bearer(key), timeout=120) as client:
        for start in range(0, total, 100):
            items = [
                {
                    "id": f"q-{i}",
                    "article": {"id": ARTICLE},
                    "author": {"id": f"author-{i % 500}"},
                    "text": texts[i % len(texts)],
                }
                for i in range(start, min(total, start + 100))
            ]
            response = client.post("/v1/comments", json={"comments": items})
            if response.status_code not in (200, 201):
                raise RuntimeError(f"submission failed: {response.status_code} {response.text}")
    return time.perf_counter() - started


class Moderator:
    """One moderator's loop over a keep-alive connection; what it claimed and decided."""

    def __init__(self, name: str, token: str, host: str, port: int, claim: int, bulk: bool):
        self.name = name
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.host = host
        self.port = port
        self.claim_size = claim
        self.bulk = bulk
        self.claimed: list[str] = []
        self.decided: dict[str, tuple[str, str | None]] = {}
        self.failures: Counter[str] = Counter()
        self.claim_times: list[float] = []
        self.decide_times: list[float] = []

    def _request(self, path: str, body: dict[str, Any]) -> bytes:
        payload = json.dumps(body).encode("utf-8")
        return http_request("POST", self.host, self.port, path, payload, self.headers)

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        connection = _Connection(reader, writer)
        clock = time.perf_counter
        claim = self._request(
            "/v1/queue/claim", {"count": self.claim_size, "article_id": ARTICLE, "order": "oldest"}
        )
        try:
            while True:
                started = clock()
                status, body = await connection.request(claim)
                self.claim_times.append(clock() - started)
                if status != 200:
                    self.failures[f"claim {status}"] += 1
                    return
                ids = [item["id"] for item in json.loads(body)["items"]]
                if not ids:
                    return
                self.claimed.extend(ids)
                if self.bulk:
                    await self._decide_bulk(connection, ids)
                    continue
                for n, comment_id in enumerate(ids):
                    action, reason = ("approve", None) if n % 2 else ("reject", "insult")
                    decision: dict[str, Any] = {"action": action}
                    if reason:
                        decision.update(reason=reason, note=f"{self.name}: wyzwiska")
                    started = clock()
                    status, body = await connection.request(
                        self._request(f"/v1/queue/{comment_id}/decision", decision)
                    )
                    self.decide_times.append(clock() - started)
                    if status == 200:
                        self.decided[comment_id] = (action, reason)
                    else:
                        self.failures[f"decide {status} {body[:80]!r}"] += 1
        finally:
            connection.close()

    async def _decide_bulk(self, connection: _Connection, ids: list[str]) -> None:
        started = time.perf_counter()
        body = {"ids": ids, "action": "reject", "reason": "spam"}
        status, answer = await connection.request(self._request("/v1/queue/decisions", body))
        self.decide_times.append(time.perf_counter() - started)
        if status != 200:
            self.failures[f"bulk {status}"] += len(ids)
            return
        for result in json.loads(answer)["results"]:
            if result["ok"]:
                self.decided[result["id"]] = ("reject", "spam")
            else:
                self.failures[f"bulk item {result['error']['code']}"] += 1


async def _all(moderators: list[Moderator]) -> None:
    await asyncio.gather(*(moderator.run() for moderator in moderators))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--moderators", type=int, default=8)
    parser.add_argument("--claim", type=int, default=10, help="comments per claim (10)")
    parser.add_argument("--bulk", action="store_true", help="decide each claim with one bulk call")
    parser.add_argument("--replicas", type=int, default=1, help="serve.py processes (1)")
    parser.add_argument("--database", default="postgres", help="postgres | sqlite")
    parser.add_argument(
        "--model", default=os.environ.get("MODERATION_MODEL_DIR", str(REPO / "models"))
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-mod-")))
        if args.database == "postgres":
            database = stack.enter_context(live_server.throwaway_postgres("moderation_bench"))
        else:
            database = live_server.sqlite_url(workdir / "moderation.db")
        servers = []
        for n in range(args.replicas):
            server = live_server.ServerProcess(
                database, Path(args.model), workdir / f"r{n}", extra_args=("--log-level", "warning")
            )
            servers.append(stack.enter_context(server))
        key = live_server.create_api_key(database, "bench-moderators", "submit,read")
        admin = live_server.login(
            servers[0].url, "boss", live_server.create_moderator(database, "boss", "admin")
        )
        with httpx.Client(base_url=servers[0].url, headers=live_server.bearer(admin)) as client:
            client.put(f"/v1/articles/{ARTICLE}", json={"title": "Benchmark"}).raise_for_status()
            client.put(
                f"/v1/articles/{ARTICLE}/policy", json={"premoderate": True}
            ).raise_for_status()
        fill_seconds = fill_queue(servers[0].url, key, args.comments)
        print(f"queued {args.comments:,} comments in {fill_seconds:.1f} s", flush=True)

        moderators = []
        for n in range(args.moderators):
            name = f"mod-{n}"
            server = servers[n % len(servers)]
            password = live_server.create_moderator(database, name, "moderator")
            token = live_server.login(server.url, name, password)
            moderators.append(
                Moderator(name, token, "127.0.0.1", server.port, args.claim, args.bulk)
            )
        cpu_before = sum(server.cpu_seconds() for server in servers)
        busy_before = live_server.machine_busy_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        asyncio.run(_all(moderators))
        seconds = time.perf_counter() - started
        server_cpu = sum(server.cpu_seconds() for server in servers) - cpu_before
        others = (
            live_server.machine_busy_seconds()
            - busy_before
            - server_cpu
            - (time.process_time() - client_before)
        )
        audit = live_server.audit_log(servers[0].url, admin)

    claims = Counter(comment_id for m in moderators for comment_id in m.claimed)
    double_claims = sum(1 for count in claims.values() if count > 1)
    decided = {cid: (m.name, *d) for m in moderators for cid, d in m.decided.items()}
    expected = {f"q-{i}" for i in range(args.comments)}
    lost = len(expected - set(decided))
    decisions_in_audit: Counter[str] = Counter()
    mismatched = 0
    for entry in audit:
        comment_id = entry.get("comment_id")
        if entry["action"] in ("approve", "reject") and comment_id in decided:
            decisions_in_audit[comment_id] += 1
            name, action, reason = decided[comment_id]
            if (entry["actor"], entry["action"], entry["reason"]) != (name, action, reason):
                mismatched += 1
    missing_in_audit = sum(1 for cid in decided if decisions_in_audit[cid] == 0)
    repeated_in_audit = sum(1 for count in decisions_in_audit.values() if count > 1)
    failures = Counter[str]()
    for m in moderators:
        failures.update(m.failures)

    claim_times = [t for m in moderators for t in m.claim_times]
    decide_times = [t for m in moderators for t in m.decide_times]
    report = {
        "database": args.database,
        "replicas": args.replicas,
        "moderators": args.moderators,
        "claim_size": args.claim,
        "bulk": args.bulk,
        "comments": args.comments,
        "fill_seconds": round(fill_seconds, 1),
        "seconds": round(seconds, 1),
        "decisions_per_s": round(len(decided) / seconds, 1),
        "decided": len(decided),
        "double_claims": double_claims,
        "lost": lost,
        "failures": dict(failures),
        "decisions_missing_from_audit": missing_in_audit,
        "decisions_repeated_in_audit": repeated_in_audit,
        "audit_mismatches": mismatched,
        "claim_p50_ms": round(1000 * percentile(claim_times, 50), 1),
        "claim_p99_ms": round(1000 * percentile(claim_times, 99), 1),
        "decide_p50_ms": round(1000 * percentile(decide_times, 50), 1),
        "decide_p99_ms": round(1000 * percentile(decide_times, 99), 1),
        "server_cpu_share": round(server_cpu / seconds, 3),
        "other_cpu_share": round(max(0.0, others) / seconds, 3),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    print(
        f"{args.moderators} moderators, claims of {args.claim}"
        f"{' (bulk decisions)' if args.bulk else ''}, {args.replicas} replica(s), {args.database}: "
        f"{len(decided):,} decisions in {seconds:.1f} s = {report['decisions_per_s']:.0f}/s\n"
        f"  double claims {double_claims}, lost {lost}, failed calls {dict(failures) or 0}\n"
        f"  audit: {len(decided) - missing_in_audit:,} of {len(decided):,} decisions present, "
        f"{repeated_in_audit} repeated, {mismatched} with the wrong actor/action/reason\n"
        f"  claim p50 {report['claim_p50_ms']} ms, p99 {report['claim_p99_ms']} ms; "
        f"decide p50 {report['decide_p50_ms']} ms, p99 {report['decide_p99_ms']} ms; "
        f"server CPU {report['server_cpu_share']:.0%} of a core (PostgreSQL and everything "
        f"else on the machine: {report['other_cpu_share']:.0%} of a core)\n"
        f"  load average before {load_before}, after {report['load_after']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ok = double_claims == 0 and lost == 0 and missing_in_audit == 0 and not repeated_in_audit
    return 0 if ok and not mismatched else 1


if __name__ == "__main__":
    raise SystemExit(main())
