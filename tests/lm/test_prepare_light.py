"""`rnnkit --help` and `rnnkit lm prepare` start without torch, pandas or matplotlib (each a fresh interpreter: the
test process has them loaded already), so preparing a corpus needs NumPy's memory, not torch's ~300 MB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
# Runs the CLI in-process, then reports which heavy modules it imported and the peak RSS (MB).
PROBE = """
import json, sys
HEAVY = ("torch", "pandas", "matplotlib", "scipy")
from rnnkit.cli import app
code = None
try:
    app(sys.argv[1:], prog_name="rnnkit")
except SystemExit as e:
    code = e.code
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (here a pytest worker holding torch) across exec
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules],
                  "rss_mb": int(hwm[0].split()[1]) / 1024 if hwm else 0.0}))
"""


def probe(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": SRC}
    res = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_help_and_prepare_import_no_torch(tmp_path):
    out = probe("--help")
    assert out["code"] == 0 and out["heavy"] == [], out
    f = tmp_path / "t.txt"
    f.write_text("to be or not to be\n" * 500, encoding="utf-8")
    for level in ("char", "word"):
        out = probe(
            "--threads",
            "1",
            "lm",
            "prepare",
            "--data",
            str(f),
            "--out",
            str(tmp_path / level),
            "--level",
            level,
            "--quiet",
        )
        assert out["code"] == 0 and out["heavy"] == [], out
        assert (tmp_path / level / "meta.json").is_file()
        assert out["rss_mb"] < 200, out  # torch alone adds ~300 MB


def test_a_task_command_still_loads_its_task():
    out = probe("lm", "train", "--help")
    assert out["code"] == 0 and "torch" in out["heavy"]
