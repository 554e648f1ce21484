"""Small matplotlib helpers for the explain figures: Agg backend, compact sizes, atomic PNG writes."""

from __future__ import annotations

from typing import Any

import matplotlib

from rnnkit.plots import save_figure  # the atomic PNG write every rnnkit plot uses

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["DPI", "save_figure", "subplots"]

DPI = 80  # the tutorial's figures stay small PNGs (tens of KB)


def subplots(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` with the explain DPI and a tight layout."""
    kwargs.setdefault("dpi", DPI)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(*args, **kwargs)
