"""Tiny trained runs of five tasks (a few seconds in all, once per session) and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="serve tests need `pip install rnnkit[serve]` (fastapi, uvicorn, httpx)")

REPO = Path(__file__).resolve().parents[2]


def _train(task: str, root: Path, data_args: dict, **options) -> Path:
    """Train a tiny run of ``task`` into root/task through the Python API the CLI uses; returns the run folder."""
    import torch

    from rnnkit.tasks import get_task

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        overrides = {"train.quiet": True, **options.pop("overrides", {})}
        get_task(task).from_options(
            out=str(root / task), seed=0, overrides=overrides, **data_args, **options
        ).fit_and_test()
    finally:
        torch.set_num_threads(threads)
    return root / task


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """task -> run folder: lm (char LSTM), classify (attention pooling), tag (IOB), translate (GRU + attention),
    forecast (monthly sine, quantile likelihood)."""
    d = tmp_path_factory.mktemp("serve-runs")
    (d / "l.txt").write_text("to be or not to be that is the question\n" * 40, encoding="utf-8")
    rows = [("pos", "good fun film"), ("neg", "dull bad film"), ("pos", "great fun"), ("neg", "bad plot")] * 5
    (d / "c.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    (d / "t.conll").write_text("Juan B-PER\nvive O\nen O\nMadrid B-LOC\n.\tO\n\nAna B-PER\nama O\nRoma B-LOC\n\n" * 4)
    pairs = [
        ("I am here .", "je suis là ."),
        ("you are here .", "tu es là ."),
        ("I am tired .", "je suis fatigué ."),
        ("you are tired .", "tu es fatigué ."),
    ] * 6
    (d / "p.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    t = np.arange(120)
    y = 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t
    dates = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in t]
    (d / "f.csv").write_text("month,value\n" + "".join(f"{a},{b:.4f}\n" for a, b in zip(dates, y, strict=True)))
    small = {"hidden": 8, "epochs": 1}
    return {
        "lm": _train(
            "lm",
            d,
            {"data": str(d / "l.txt")},
            batch_size=4,
            bptt=8,
            embedding=4,
            overrides={"model.impl": "loop", "train.max_steps": 30},
            **small,
        ),
        "classify": _train(
            "classify", d, {"data": str(d / "c.tsv")}, batch_size=4, overrides={"model.pooling": "attention"}, **small
        ),
        "tag": _train("tag", d, {"data": str(d / "t.conll"), "test": str(d / "t.conll")}, batch_size=2, **small),
        "translate": _train(
            "translate", d, {"data": str(d / "p.tsv"), "test": str(d / "p.tsv")}, batch_size=4, **small
        ),
        "forecast": _train("forecast", d, {"data": str(d / "f.csv")}, batch_size=8, likelihood="quantile", **small),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(runs, tmp_path_factory):
    """`rnnkit serve` of every run as a user starts it (a subprocess, --port 0), its URL read from its output."""
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rnnkit.cli",
                "--threads",
                "1",
                "serve",
                *map(str, runs.values()),
                "--port",
                "0",
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
    url, t0 = None, time.monotonic()
    while url is None and time.monotonic() - t0 < 120:
        if proc.poll() is not None:
            pytest.fail(f"rnnkit serve exited with {proc.returncode}:\n{log.read_text()}")
        for line in log.read_text().splitlines():
            if line.startswith("serving ") and " on http://" in line:
                url = line.split(" on ")[1].split()[0].rstrip("/")
        time.sleep(0.1)
    if url is None:
        proc.kill()
        pytest.fail(f"rnnkit serve did not start in 120 s:\n{log.read_text()}")
    import httpx

    while time.monotonic() - t0 < 120:  # the socket listens before uvicorn answers: wait for /health
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
