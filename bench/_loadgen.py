"""Open-loop HTTP/1.1 load: requests leave on a fixed schedule, whatever the server does.

A closed-loop client (send, wait, send) slows down with the server and so hides its stalls
("coordinated omission"); here request ``i`` is due at ``start + i / rate`` and its latency is
counted from that moment, so a stall shows up in every request that should have left during it.

It is one asyncio process speaking raw HTTP/1.1 over keep-alive sockets (uvloop when
installed): building a request is a bytes concatenation and reading a response is two
``readuntil``/``readexactly`` calls, which keeps the generator's own CPU small next to the
server's on a 2-core machine. The bench scripts print that CPU so the reader can judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: At most this many sockets at once; more requests than this in flight wait for a free one.
MAX_CONNECTIONS = 256
#: After the last request is due, answers are awaited this long; later ones count as failures.
DRAIN_SECONDS = 30.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (the value below which ``q``% of the samples lie); nan if none."""
    data = sorted(values)
    if not data:
        return float("nan")
    return data[min(len(data) - 1, max(0, math.ceil(q / 100 * len(data)) - 1))]


@dataclass
class RunResult:
    """What one fixed-rate run measured; latencies in seconds, from each request's due time."""

    rate: float
    duration: float
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    service_times: list[float] = field(default_factory=list)
    dues: list[float] = field(default_factory=list)  # answered requests' due times (perf_counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    client_cpu: float = 0.0
    connections: int = 0
    machine_busy: float = 0.0  # CPU seconds all processes used meanwhile (set by the caller)

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def errors(self) -> int:
        return self.sent - self.ok

    @property
    def achieved_rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def percentile(self, q: float, values: Sequence[float] | None = None) -> float:
        return percentile(self.latencies if values is None else values, q)

    def summary(self) -> dict[str, Any]:
        ms = 1000.0
        return {
            "target_rate": self.rate,
            "duration_s": self.duration,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "failures": dict(self.failures),
            "achieved_rate": round(self.achieved_rate, 1),
            "p50_ms": round(self.percentile(50) * ms, 2),
            "p90_ms": round(self.percentile(90) * ms, 2),
            "p99_ms": round(self.percentile(99) * ms, 2),
            "max_ms": round(max(self.latencies, default=float("nan")) * ms, 2),
            "service_p50_ms": round(self.percentile(50, self.service_times) * ms, 2),
            "service_p99_ms": round(self.percentile(99, self.service_times) * ms, 2),
            "client_cpu_s": round(self.client_cpu, 2),
            "client_cpu_share": round(self.client_cpu / self.wall, 3) if self.wall else None,
            "connections": self.connections,
        }


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
            raise ConnectionResetError("server closed the connection")
        return status, body

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def http_request(
    method: str, host: str, port: int, path: str, body: bytes, headers: dict[str, str]
) -> bytes:
    """The bytes of one HTTP/1.1 request with a keep-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _run(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    rate: float,
    duration: float,
    check: Callable[[int, bytes], bool] | None,
    first_index: int,
) -> RunResult:
    result = RunResult(rate=rate, duration=duration)
    idle: list[_Connection] = []
    slots = asyncio.Semaphore(MAX_CONNECTIONS)
    total = int(rate * duration)
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    # Built before the clock starts: the generator's CPU during the run is then mostly sockets.
    payloads = [make_request(first_index + index) for index in range(total)]
    clock = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds

    async def one(index: int, due: float) -> None:
        payload = payloads[index]
        async with slots:
            connection = idle.pop() if idle else None
            try:
                if connection is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    connection = _Connection(reader, writer)
                    result.connections += 1
                started = clock()
                status, body = await connection.request(payload)
                finished = clock()
                idle.append(connection)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if connection is not None:
                    connection.close()
                result.failures[type(exc).__name__] += 1
                return
        if check is not None and 200 <= status < 300 and not check(index, body):
            result.failures["bad_body"] += 1
            status = 599
        result.statuses[status] += 1
        result.latencies.append(finished - due)
        result.service_times.append(finished - started)
        result.dues.append(due)

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = clock() + 0.05
    for index in range(total):
        due = start + index / rate
        delay = due - clock()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = loop.create_task(one(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        result.sent += 1
    if tasks:
        # Answers still owed after the schedule: wait a while, then count the rest as timeouts
        # (a saturated server could otherwise keep the run going for minutes).
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            result.failures["no answer within the drain time"] += len(pending)
    result.wall = clock() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    for connection in idle:
        connection.close()
    return result


def run_open_loop(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    rate: float,
    duration: float,
    check: Callable[[int, bytes], bool] | None = None,
    first_index: int = 0,
) -> RunResult:
    """Send ``rate * duration`` requests on schedule; ``make_request(i)`` builds request i."""
    try:
        import uvloop
    except ImportError:
        runner: Callable[..., Any] = asyncio.run
    else:
        runner = uvloop.run
    started = time.perf_counter()
    result: RunResult = runner(_run(host, port, make_request, rate, duration, check, first_index))
    result.wall = result.wall or time.perf_counter() - started
    return result


@dataclass
class ClosedLoopResult:
    """Back-to-back requests over ``concurrency`` connections: throughput, not latency."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    service_times: list[float] = field(default_factory=list)
    wall: float = 0.0
    client_cpu: float = 0.0

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)


async def _closed(
    host: str, port: int, payloads: Sequence[bytes], concurrency: int, duration: float
) -> ClosedLoopResult:
    result = ClosedLoopResult()
    clock = time.perf_counter
    counter = iter(range(10**12))
    stop_at = clock() + duration

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        connection = _Connection(reader, writer)
        try:
            while clock() < stop_at:
                payload = payloads[next(counter) % len(payloads)]
                started = clock()
                status, _ = await connection.request(payload)
                result.service_times.append(clock() - started)
                result.statuses[status] += 1
                result.requests += 1
        finally:
            connection.close()

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    began = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall = clock() - began
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    return result


def run_closed_loop(
    host: str, port: int, payloads: Sequence[bytes], *, concurrency: int, duration: float
) -> ClosedLoopResult:
    """Send ``payloads`` round-robin, back to back, over ``concurrency`` keep-alive connections."""
    return asyncio.run(_closed(host, port, payloads, concurrency, duration))
