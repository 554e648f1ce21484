"""Metrics: n_items-weighted running means and the ``metrics.jsonl`` writer (one JSON object per line)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class RunningMean:
    """Weighted means of several named values: ``add({"loss": 2.3}, weight=n_items)``, ``means()``."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weight = 0.0

    def add(self, values: dict[str, float], weight: float = 1.0) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * weight
        self.weight += weight

    def means(self) -> dict[str, float]:
        if self.weight == 0:
            return {}
        return {k: s / self.weight for k, s in self.sums.items()}

    def reset(self) -> None:
        self.sums, self.weight = {}, 0.0


def _clean(v: Any) -> Any:
    # JSON has no NaN/inf: write them as strings so the file stays valid JSON for every reader
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class MetricsWriter:
    """Appends records to ``metrics.jsonl``; flushed per line so a killed run keeps what it logged."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (a resumed run re-logs them), keeping the file consistent."""
        if not self.path.is_file():
            return
        kept = [r for r in read_metrics(self.path) if int(r.get("step", 0)) <= step]
        from rnnkit.durable import write_text

        write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl``; a torn last line (killed mid-write) is ignored."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def series(records: Iterable[dict[str, Any]], event: str, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``key`` over records of type ``event``, skipping non-numeric values."""
    xs, ys = [], []
    for r in records:
        if r.get("event") == event and isinstance(r.get(key), (int, float)):
            xs.append(int(r["step"]))
            ys.append(float(r[key]))
    return xs, ys
