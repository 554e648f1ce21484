"""A bounded load test of a running ``rnnkit serve``: N requests sent by N threads released at the same instant
(standard library only, so it measures the server and not a client library). Used by the tests and by
``benchmarks/bench_serve.py``."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    """Per request: (path, HTTP status, seconds from the common start signal to the last byte read)."""

    requests: list[tuple[str, int, float]]
    wall: float  # seconds from the start signal to the last answer

    @property
    def ok(self) -> int:
        return sum(200 <= s < 300 for _, s, _ in self.requests)

    def percentiles(self) -> dict[str, float]:
        """p50, p95, max latency in seconds (numpy's linear interpolation), and requests per second."""
        t = np.array([x for _, _, x in self.requests])
        return {
            "p50": float(np.percentile(t, 50)),
            "p95": float(np.percentile(t, 95)),
            "max": float(t.max()),
            "rps": len(t) / self.wall,
        }


def fire(url: str, bodies: Sequence[tuple[str, dict[str, Any]]], *, timeout: float = 300.0) -> LoadResult:
    """POST each ``(path, json body)`` to ``url`` at once (one thread each, released together by a barrier)."""
    barrier = threading.Barrier(len(bodies) + 1)

    def one(path: str, body: dict[str, Any]) -> tuple[str, int, float]:
        req = urllib.request.Request(
            url.rstrip("/") + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        barrier.wait()
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        return path, status, time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        futures = [pool.submit(one, p, b) for p, b in bodies]
        barrier.wait()
        t0 = time.perf_counter()
        done = [f.result() for f in futures]
    return LoadResult(done, time.perf_counter() - t0)
