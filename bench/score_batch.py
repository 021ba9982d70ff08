"""Batched ``POST /v1/score`` throughput: 100 comments per request, against a real serve.py.

    python bench/score_batch.py                    # 2 connections, 30 s, after 5 s of warm-up
    python bench/score_batch.py --concurrency 4 --batch 100 --duration 60

Texts are the project's own comments (training_data/toxicity/*.jsonl), cut into requests of
``--batch`` comments in file order and sent round-robin, back to back, over keep-alive
connections. Prints comments/s, request latency and the CPU of the generator and the server.
The target in issue 4 is at least 10,000 comments/s. /v1/score stores nothing, so no database
work is measured here (the server still needs one to start).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import live_server
from _loadgen import http_request, percentile, run_closed_loop

REPO = Path(__file__).resolve().parent.parent
TARGET = 10_000


def payloads(host: str, port: int, key: str, batch: int) -> list[bytes]:
    """Every request body, built once: ``batch`` comments each, cycling through the corpus."""
    texts = live_server.corpus_texts()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out = []
    for start in range(0, len(texts) - batch + 1, batch):
        items = [
            {"id": f"s-{start + i}", "text": text}
            for i, text in enumerate(texts[start : start + batch])
        ]
        body = json.dumps({"comments": items}, ensure_ascii=False).encode("utf-8")
        out.append(http_request("POST", host, port, "/v1/score", body, headers))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=100, help="comments per request (100)")
    parser.add_argument("--concurrency", type=int, default=2, help="connections (2)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured (30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds first, not counted (5)")
    parser.add_argument(
        "--model", default=os.environ.get("MODERATION_MODEL_DIR", str(REPO / "models"))
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-score-")))
        database = live_server.sqlite_url(workdir / "moderation.db")
        server = stack.enter_context(
            live_server.ServerProcess(
                database=database,
                model_dir=Path(args.model),
                workdir=workdir,
                extra_args=("--log-level", "warning"),
            )
        )
        key = live_server.create_api_key(database, "bench-score", "score")
        bodies = payloads("127.0.0.1", server.port, key, args.batch)
        if args.warmup > 0:
            run_closed_loop(
                "127.0.0.1", server.port, bodies, concurrency=args.concurrency, duration=args.warmup
            )
        cpu_before = server.cpu_seconds()
        busy_before = live_server.machine_busy_seconds()
        result = run_closed_loop(
            "127.0.0.1", server.port, bodies, concurrency=args.concurrency, duration=args.duration
        )
        server_cpu = server.cpu_seconds() - cpu_before
        others = live_server.machine_busy_seconds() - busy_before - server_cpu - result.client_cpu

    def pct(q: float) -> float:
        return percentile(result.service_times, q) * 1000

    comments_per_s = result.ok * args.batch / result.wall
    report: dict[str, Any] = {
        "batch": args.batch,
        "concurrency": args.concurrency,
        "duration_s": round(result.wall, 1),
        "requests": result.requests,
        "statuses": dict(result.statuses),
        "comments_per_s": round(comments_per_s),
        "request_p50_ms": round(pct(50), 1),
        "request_p99_ms": round(pct(99), 1),
        "client_cpu_share": round(result.client_cpu / result.wall, 3),
        "server_cpu_share": round(server_cpu / result.wall, 3),
        "other_cpu_share": round(max(0.0, others) / result.wall, 3),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    print(
        f"POST /v1/score, {args.batch} comments per request, {args.concurrency} connections, "
        f"{result.wall:.0f} s: {comments_per_s:,.0f} comments/s "
        f"({result.requests} requests, statuses {dict(result.statuses)}; target >= {TARGET:,})\n"
        f"  request latency p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms\n"
        f"  CPU: generator {report['client_cpu_share']:.0%} of a core, "
        f"server {report['server_cpu_share']:.0%} of a core, "
        f"everything else on the machine {report['other_cpu_share']:.0%} of a core\n"
        f"  load average before {load_before}, after {report['load_after']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if result.ok == result.requests and result.requests else 1


if __name__ == "__main__":
    raise SystemExit(main())
