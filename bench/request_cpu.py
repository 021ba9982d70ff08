"""Server CPU per ``POST /v1/comments`` request: a before/after measure of the service path.

    taskset -c 1 python bench/request_cpu.py                    # SQLite, 2,000 requests
    taskset -c 1 python bench/request_cpu.py --database postgres --requests 3000

Why this and not only ``load.py``: on a shared 2-core machine latency percentiles move with
whatever else runs, but the CPU seconds the server process (and its workers) spends per
request barely do. The script starts serve.py on a fresh database (as load.py does), warms it
up, then sends the requests one after the other on one keep-alive connection and reads the
server's CPU time from /proc before and after. The same comments as load.py, one per request.
Run it pinned to one core (``taskset``) to keep it off a core someone else is timing on.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length body (what serve.py always answers)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    del buffer[:]
    buffer += rest[length:]
    return int(head[9:12]), rest[:length]


def send_sequential(host: str, port: int, key: str, run_id: str, first: int, count: int) -> float:
    """Send ``count`` submissions one after another; the wall seconds it took."""
    make = load.request_maker(host, port, key, run_id)
    buffer = bytearray()
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        for index in range(first, first + count):
            sock.sendall(make(index))
            status, body = _read_response(sock, buffer)
            if status != 201 or not load._has_result(index, body):
                raise RuntimeError(f"request {index}: {status} {body[:300]!r}")
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite", help="sqlite | postgres | a database URL")
    parser.add_argument("--model", default=str(load.REPO / "models"))
    parser.add_argument("--requests", type=int, default=2000, help="requests measured (2000)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="requests first, not counted (default: one pass over the corpus, so the "
        "scorer's token cache is as warm for every round)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (best is kept)")
    args = parser.parse_args(argv)
    args.url = None
    corpus = len(load.live_server.corpus_texts())
    # Every round sends the same texts (request i has text i mod the corpus size), each
    # under new ids: rounds differ only in what the machine did meanwhile.
    stride = corpus * (args.requests // corpus + 1)
    warmup = corpus if args.warmup is None else args.warmup
    with load.started_server(args) as (host, port, key, server):
        send_sequential(host, port, key, load.RUN_ID, 0, warmup)
        offset = stride * (warmup // stride + 1)
        per_request: list[float] = []
        for _ in range(args.rounds):
            before = server.cpu_seconds()
            wall = send_sequential(host, port, key, load.RUN_ID, offset, args.requests)
            cpu = server.cpu_seconds() - before
            offset += stride
            per = cpu / args.requests * 1000
            print(
                f"{args.requests} requests: server CPU {cpu:.2f} s = {per:.2f} ms/request, "
                f"wall {wall / args.requests * 1000:.2f} ms/request",
                flush=True,
            )
            per_request.append(per)
        print(f"best: {min(per_request):.2f} ms CPU/request ({args.database})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
