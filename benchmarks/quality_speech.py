"""Isolated-digit accuracy on the Free Spoken Digit Dataset with the speech task's defaults.

    python benchmarks/quality_speech.py official --seconds 300        # FSDD's split: index 0-4 test, 5-49 training
    python benchmarks/quality_speech.py speakers --seconds 120        # train on 5 speakers, test on the 6th, each

Each run prints one JSON line (accuracy, wall time, settings, machine) and appends it to
``benchmarks/results/quality_speech.jsonl``. Any config field can be overridden with dotted keys after ``--``.
Needs the data root ($RNNKIT_DATA or ../shared/data) with fsdd/recordings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnkit.config import apply_overrides
from rnnkit.tasks.speech import SpeechRecognizer
from rnnkit.tasks.speech.data import list_recordings

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "quality_speech.jsonl"


def _root() -> Path:
    root = Path(os.environ.get("RNNKIT_DATA") or HERE.parents[1] / "shared" / "data")
    if not (root / "fsdd" / "recordings").is_dir():
        sys.exit(f"no fsdd/recordings under {root}: set RNNKIT_DATA (see ../shared/data/SOURCES.md)")
    return root / "fsdd" / "recordings"


def run(name: str, overrides: dict, seconds: float) -> dict:
    """Train with the defaults (plus ``overrides``) for ``seconds``, score the test part, record one line."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        task = SpeechRecognizer.from_options(
            data=str(_root()), seconds=seconds, out=f"{tmp}/run", overrides={"train.quiet": True, **overrides}
        )
        t0 = time.time()
        report = task.fit_and_test()
    line = {
        "run": name,
        "accuracy": report["accuracy"],
        "n": report["n"],
        "wall_s": round(time.time() - t0, 1),
        "overrides": overrides,
        "seconds": seconds,
        "load_start": load,
        "load_end": os.getloadavg()[0],
        "threads": torch.get_num_threads(),
        "host": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(json.dumps(line), flush=True)
    OUT.parent.mkdir(exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["official", "speakers"])
    ap.add_argument("--seconds", type=float, default=300.0, help="training budget per run")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. model.hidden_size=64")
    a = ap.parse_intermixed_args()
    torch.set_num_threads(a.threads)
    extra = dict(o.split("=", 1) for o in a.overrides)
    apply_overrides(SpeechRecognizer.Config(), extra)  # a bad key fails here, before any training
    if a.what == "official":
        run("official", extra, a.seconds)
        return
    speakers = sorted({r.speaker for r in list_recordings(_root())})
    lines = [
        run(f"speaker {s}", {"data.split": "speaker", "data.test_speaker": s, **extra}, a.seconds) for s in speakers
    ]
    mean = sum(x["accuracy"] for x in lines) / len(lines)
    print(json.dumps({"speakers": {x["run"]: x["accuracy"] for x in lines}, "mean": mean}))


if __name__ == "__main__":
    main()
