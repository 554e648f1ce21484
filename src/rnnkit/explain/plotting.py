"""Small matplotlib helpers for the explain figures: Agg backend, compact sizes, atomic PNG writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 80  # the tutorial's figures stay small PNGs (tens of KB)


def subplots(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` with the explain DPI and a tight layout."""
    kwargs.setdefault("dpi", DPI)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(*args, **kwargs)


def save_figure(fig: Any, out: str | Path) -> Path:
    """Write ``fig`` to ``out`` (PNG) through a temporary file and close it; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out
