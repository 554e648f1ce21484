"""`rnnkit serve` under a bounded load: N requests released at once against a real uvicorn server on 127.0.0.1.

The server is started as a user starts it (`rnnkit --threads T serve RUN ... --port 0 --workers W`), a first round
warms it up (and checks every endpoint answers 200), then each repeat fires N requests at the same instant, spread
evenly over the loaded runs' endpoints (lm: 50 tokens, not streamed; the others: one input each). Prints the
latency percentiles (seconds from the common start to the whole answer) per repeat and their medians.

    python benchmarks/bench_serve.py RUN [RUN ...] --requests 50 --repeats 3 --workers 1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from statistics import median

from common import host_line

from rnnkit.serve.loadtest import fire

REPO = Path(__file__).resolve().parents[1]
BODIES = {  # one typical request per task (inputs from the datasets RESULTS.md uses)
    "lm": {"prompt": "ROMEO:", "length": 50, "temperature": 0.8, "stream": False},
    "classify": {"inputs": ["Schmidt"]},
    "tag": {"inputs": ["He reckons the current account deficit will narrow to only # 1.8 billion in September ."]},
    "translate": {"inputs": ["je suis très fatigué ce soir ."]},
    "forecast": {},
}


def start(runs: list[str], *, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [
        sys.executable,
        "-m",
        "rnnkit.cli",
        "--threads",
        str(threads),
        "serve",
        *runs,
        "--port",
        "0",
        "--workers",
        str(workers),
        "--queue",
        "1000",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if line.startswith("serving "):
            return proc, line.split(" on ")[1].split()[0].rstrip("/")
    raise SystemExit(f"rnnkit serve did not start (exit {proc.wait()})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(host_line())
    proc, url = start(args.runs, workers=args.workers, threads=args.threads)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/models", timeout=5) as r:
                    models = json.loads(r.read())["models"]
                break
            except OSError:
                time.sleep(0.1)
        kinds = [(m["endpoint"], {"model": m["name"], **BODIES.get(m["task"], {"inputs": ["x"]})}) for m in models]
        print("models:", ", ".join(f"{m['name']} ({m['task']} {m['cell']} H={m['hidden_size']})" for m in models))
        warm = fire(url, kinds)
        assert warm.ok == len(kinds), warm.requests
        rows = []
        for rep in range(args.repeats):
            res = fire(url, [kinds[i % len(kinds)] for i in range(args.requests)])
            assert res.ok == args.requests, [r for r in res.requests if r[1] != 200]
            p = res.percentiles()
            rows.append(p)
            print(
                f"repeat {rep + 1}: {res.ok}/{args.requests} ok, p50 {p['p50']:.3f} s, p95 {p['p95']:.3f} s, "
                f"max {p['max']:.3f} s, {p['rps']:.1f} requests/s"
            )
        m = {k: median(r[k] for r in rows) for k in rows[0]}
        print(
            f"median of {args.repeats}: p50 {m['p50']:.3f} s, p95 {m['p95']:.3f} s, max {m['max']:.3f} s, "
            f"{m['rps']:.1f} requests/s; load after: {os.getloadavg()[0]:.1f}"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
