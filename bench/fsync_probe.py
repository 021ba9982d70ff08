"""Tail latency of an 8 KiB write + fdatasync, as PostgreSQL's WAL flush at each commit does.

    python bench/fsync_probe.py /var/lib/postgresql/fsync_probe 200000

A diagnostic for the load benchmark's stalls: if the disk under PostgreSQL's data directory had
fsync outliers of 0.1 s and more, every commit waiting on one would stall with it. The file is
written in place (16 MiB, reused) and removed at the end.
"""

from __future__ import annotations

import os
import sys
import time

path = sys.argv[1]
n = int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
block = os.urandom(8192)
lat: list[float] = []
start = time.monotonic()
for i in range(n):
    t0 = time.perf_counter()
    os.pwrite(fd, block, (i % 2048) * 8192)
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t0) * 1000)
os.close(fd)
os.unlink(path)
lat.sort()


def q(p: float) -> float:
    return lat[min(len(lat) - 1, int(p / 100 * len(lat)))]


print(
    f"{n} fdatasync in {time.monotonic() - start:.1f} s: p50 {q(50):.2f} ms, p99 {q(99):.2f} ms, "
    f"p99.9 {q(99.9):.2f} ms, max {lat[-1]:.1f} ms, over 50 ms: {sum(x > 50 for x in lat)}, "
    f"over 100 ms: {sum(x > 100 for x in lat)}"
)
