"""Open-loop load on ``POST /v1/comments``, one comment per request, against a real serve.py.

    python bench/load.py                          # SQLite, 300 requests/s for 60 s
    python bench/load.py --database postgres      # a throwaway PostgreSQL database
    python bench/load.py --find-max               # highest rate held at p99 <= 25 ms, no errors
    python bench/load.py --url http://127.0.0.1:8000 --key mk_...   # a server you started

The script starts serve.py itself (full bundle from models/, a fresh SQLite file or PostgreSQL
database, an API key made with the CLI), warms it up (a ramp to the rate over --warmup
seconds), then sends requests on a fixed schedule (see _loadgen.py: latency counts from each
request's due time, so stalls are not hidden).
Comments are the project's own labelled comments (training_data/toxicity/*.jsonl) under unique
ids, spread over 50 articles and 2,000 authors. It prints p50/p90/p99/max, errors, the achieved
rate, and the CPU the generator and the server used, since both share the machine's 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import live_server
from _loadgen import RunResult, http_request, percentile, run_open_loop

REPO = Path(__file__).resolve().parent.parent
P99_TARGET_MS = 25.0


def request_maker(host: str, port: int, key: str, run_id: str) -> Callable[[int], bytes]:
    """Request ``i``: comment ``<run>-<i>`` with the i-th corpus text, its article and author."""
    texts = live_server.corpus_texts()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def make(index: int) -> bytes:
        article = index % 50
        item = {
            "id": f"{run_id}-{index}",
            "article": {"id": f"art-{article}", "title": f"Artykuł numer {article}"},
            "author": {"id": f"user-{(index * 7919) % 2000}"},
            "text": texts[index % len(texts)],
            "created_at": created,
        }
        body = json.dumps({"comments": [item]}, ensure_ascii=False).encode("utf-8")
        return http_request("POST", host, port, "/v1/comments", body, headers)

    return make


def _has_result(index: int, body: bytes) -> bool:
    try:
        results = json.loads(body)["results"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(results, list) and len(results) == 1 and "status" in results[0]


@contextlib.contextmanager
def started_server(args: argparse.Namespace) -> Iterator[tuple[str, int, str, Any]]:
    """(host, port, api key, ServerProcess or None): the given server, or one started here."""
    if args.url:
        host, _, port = args.url.removeprefix("http://").rstrip("/").partition(":")
        yield host, int(port or 80), args.key, None
        return
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        if args.database == "postgres":
            database = stack.enter_context(live_server.throwaway_postgres("moderation_bench"))
        elif args.database == "sqlite":
            database = live_server.sqlite_url(workdir / "moderation.db")
        else:
            database = args.database
        server = live_server.ServerProcess(
            database=database,
            model_dir=Path(args.model),
            workdir=workdir,
            extra_args=("--log-level", "warning"),
        )
        stack.enter_context(server)
        key = live_server.create_api_key(database, "bench-load", "score,submit,read")
        yield "127.0.0.1", server.port, key, server


def run_at(
    host: str,
    port: int,
    key: str,
    server: Any,
    rate: float,
    duration: float,
    offset: int,
    sampler: CpuSampler | None = None,
) -> tuple[RunResult, float | None]:
    """One fixed-rate run; the server's CPU seconds during it when we started the server."""
    make = request_maker(host, port, key, RUN_ID)
    cpu_before = server.cpu_seconds() if server is not None else None
    busy_before = live_server.machine_busy_seconds()
    if sampler is not None:
        sampler.start()
    try:
        result = run_open_loop(
            host, port, make, rate=rate, duration=duration, check=_has_result, first_index=offset
        )
    finally:
        if sampler is not None:
            sampler.stop()
    result.machine_busy = live_server.machine_busy_seconds() - busy_before
    server_cpu = server.cpu_seconds() - cpu_before if cpu_before is not None else None
    return result, server_cpu


class CpuSampler:
    """Every ``interval`` seconds on a thread: (perf_counter, server CPU s, machine busy s).

    For ``--timeline``: a stall of the latencies can then be read against what the server
    and the rest of the machine did in the same tenth of a second.
    """

    def __init__(self, server: Any, interval: float = 0.1) -> None:
        self.server = server
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(
                (time.perf_counter(), self.server.cpu_seconds(), live_server.machine_busy_seconds())
            )
            if self._stop.wait(self.interval):
                return


def write_timeline(path: Path, result: RunResult, sampler: CpuSampler) -> list[dict[str, Any]]:
    """One JSON line per sampling interval: requests due in it, their p50/max latency (ms),
    and the share of a core the server and the whole machine used; the 5 worst, returned."""
    samples = sampler.samples
    rows: list[dict[str, Any]] = []
    order = sorted(range(len(result.dues)), key=result.dues.__getitem__)
    cursor = 0
    for (t0, server0, busy0), (t1, server1, busy1) in itertools.pairwise(samples):
        latencies: list[float] = []
        while cursor < len(order) and result.dues[order[cursor]] < t1:
            if result.dues[order[cursor]] >= t0:
                latencies.append(result.latencies[order[cursor]] * 1000)
            cursor += 1
        span = t1 - t0
        rows.append(
            {
                "t": round(t0 - samples[0][0], 2),
                "due": len(latencies),
                "p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
                "max_ms": round(max(latencies), 2) if latencies else None,
                "server_cores": round((server1 - server0) / span, 2),
                "machine_cores": round((busy1 - busy0) / span, 2),
            }
        )
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return sorted(rows, key=lambda row: -(row["max_ms"] or 0.0))[:5]


def describe(result: RunResult, server_cpu: float | None) -> dict[str, Any]:
    summary = result.summary()
    if server_cpu is not None and result.wall:
        summary["server_cpu_s"] = round(server_cpu, 2)
        summary["server_cpu_share"] = round(server_cpu / result.wall, 3)
        others = result.machine_busy - server_cpu - result.client_cpu
        summary["other_cpu_share"] = round(max(0.0, others) / result.wall, 3)
    return summary


def print_run(label: str, summary: dict[str, Any]) -> None:
    print(
        f"{label}: target {summary['target_rate']:.0f}/s for {summary['duration_s']:.0f} s -> "
        f"achieved {summary['achieved_rate']:.1f}/s, ok {summary['ok']}, "
        f"errors {summary['errors']} {summary['statuses']} {summary['failures'] or ''}\n"
        f"  latency from due time: p50 {summary['p50_ms']:.2f} ms, p90 {summary['p90_ms']:.2f} ms, "
        f"p99 {summary['p99_ms']:.2f} ms, max {summary['max_ms']:.2f} ms "
        f"(service time p50 {summary['service_p50_ms']:.2f}, p99 {summary['service_p99_ms']:.2f})\n"
        f"  CPU: generator {summary['client_cpu_share']:.0%} of a core"
        + (
            f", server {summary['server_cpu_share']:.0%} of a core, "
            f"everything else on the machine {summary['other_cpu_share']:.0%} of a core"
            if summary.get("server_cpu_share") is not None
            else ""
        )
        + f"; {summary['connections']} connection(s)",
        flush=True,
    )


RUN_ID = f"load-{uuid.uuid4().hex[:8]}"


def find_max(
    host: str, port: int, key: str, server: Any, args: argparse.Namespace, offset: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Steps of ``--step-duration`` s: up by 20% from ``--start-rate`` until p99 > 25 ms or an
    error, then two bisections between the last rate held and the first one missed."""
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None

    def attempt(rate: float) -> bool:
        nonlocal offset, best
        result, server_cpu = run_at(host, port, key, server, rate, args.step_duration, offset)
        offset += result.sent
        summary = describe(result, server_cpu)
        print_run(f"step {rate:.0f}/s", summary)
        steps.append(summary)
        held = bool(summary["errors"] == 0 and summary["p99_ms"] <= P99_TARGET_MS)
        if held and (best is None or rate > best["target_rate"]):
            best = summary
        return held

    rate = float(args.start_rate)
    while attempt(rate):
        rate = float(round(rate * 1.2))
    low = best["target_rate"] if best else 0.0
    high = rate
    for _ in range(2):
        middle = float(round((low + high) / 2))
        if middle in (low, high):
            break
        if attempt(middle):
            low = middle
        else:
            high = middle
    return steps, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second (300)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured (60)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=20.0,
        help="seconds of warm-up first, not counted: a ramp in four equal steps up to the "
        "rate (20)",
    )
    parser.add_argument("--database", default="sqlite", help="sqlite | postgres | a database URL")
    parser.add_argument(
        "--model", default=os.environ.get("MODERATION_MODEL_DIR", str(REPO / "models"))
    )
    parser.add_argument("--url", help="use this running server instead of starting one")
    parser.add_argument("--key", help="API key (with --url)")
    parser.add_argument(
        "--find-max", action="store_true", help="raise the rate until p99 > 25 ms or errors"
    )
    parser.add_argument(
        "--start-rate", type=float, default=50.0, help="first --find-max rate (50/s)"
    )
    parser.add_argument(
        "--step-duration", type=float, default=20.0, help="seconds per --find-max step (20)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument(
        "--timeline",
        metavar="FILE",
        help="(fixed-rate run, server started here) write per-0.1-s JSON lines to FILE: "
        "latency of the requests due then, server and machine CPU",
    )
    args = parser.parse_args(argv)
    if args.url and not args.key:
        parser.error("--url needs --key")

    report: dict[str, Any] = {"database": args.database, "load_before": os.getloadavg()}
    with started_server(args) as (host, port, key, server):
        offset = 0
        if args.warmup > 0:
            # A running service has warm caches (tokens, articles, connections): a ramp gets
            # there without the backlog a cold server takes on at the full rate at once.
            top = args.start_rate if args.find_max else args.rate
            for share in (0.25, 0.5, 0.75, 1.0):
                warm, _ = run_at(host, port, key, server, top * share, args.warmup / 4, offset)
                offset += warm.sent
                print(f"warm-up at {top * share:.0f}/s: {warm.ok}/{warm.sent} ok", flush=True)
        if not args.find_max:
            sampler = CpuSampler(server) if args.timeline and server is not None else None
            result, server_cpu = run_at(
                host, port, key, server, args.rate, args.duration, offset, sampler
            )
            summary = describe(result, server_cpu)
            print_run(f"POST /v1/comments ({args.database})", summary)
            if sampler is not None:
                for row in write_timeline(Path(args.timeline), result, sampler):
                    print(f"  worst tenth of a second: {row}")
            report["run"] = summary
            met = summary["errors"] == 0 and summary["p50_ms"] <= 5 and summary["p99_ms"] <= 25
            print(
                "issue 4 targets (p50 <= 5 ms, p99 <= 25 ms, no errors): "
                + ("met" if met else "NOT met")
            )
            failed = not met
        else:
            report["steps"], best = find_max(host, port, key, server, args, offset)
            report["max_rate_held"] = best["target_rate"] if best else None
            print(
                f"highest rate held at p99 <= {P99_TARGET_MS:.0f} ms with no errors: "
                + (f"{best['target_rate']:.0f}/s (p99 {best['p99_ms']:.2f} ms)" if best else "none")
            )
            failed = best is None
    report["load_after"] = os.getloadavg()
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
