"""docs/make_figures.py in its fast mode: the tutorial's figures can always be regenerated."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("make_figures", REPO / "docs" / "make_figures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_make_figures_fast(lm_run, tmp_path):
    mf = _module()
    written = mf.make_figures(tmp_path, run=lm_run, fast=True)
    for key in ("gradients_fresh", "gradients_explode", "gradients_trained", "states"):
        png = Path(written[key])
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size < 150_000, key
    for name in ("gradients_fresh.txt", "gradients_trained.txt", "trace_lstm.txt", "states.html", "states.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "rate/step" in (tmp_path / "gradients_fresh.txt").read_text()
    assert "backward step t=0" in (tmp_path / "trace_lstm.txt").read_text()
    tr = json.loads((tmp_path / "trace_lstm.json").read_text())
    assert tr["cell"] == "lstm" and (tr["input_size"], tr["hidden_size"], tr["steps"]) == (2, 3, 3)


def test_tutorial_quotes_existing_figures():
    """Every image the tutorial links exists in docs/figures (so the committed page renders)."""
    import re

    text = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((figures/[^)]+)\)", text)
    assert {"figures/gradients_fresh.png", "figures/states.png"} <= set(links)
    for link in links:
        assert (REPO / "docs" / link).is_file(), link
