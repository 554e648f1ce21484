"""Scalers, train/validation/test spans and forecast windows over a regular series (``rnnkit.data.timeseries``).

Windows: sample ``t`` (the forecast origin) sees inputs at ``[t - L, t)`` and targets at ``[t, t + H)``.
A window belongs to a span ``[lo, hi)`` only if all of ``[t - L, t + H)`` lies inside it, so training
windows never touch validation or test values, and scalers are fitted on the training span only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.data.sources import DataError

# ----------------------------------------------------------------------------------------- scaling


@dataclass
class Scaler:
    """Per-column affine scaling fitted on the training span only: ``"standard"``, ``"minmax"`` or ``"none"``.

    standard: ``(x - mean) / std`` (population std; a constant column keeps scale 1);
    minmax: ``(x - min) / (max - min)`` into [0, 1] on the fitted span.
    """

    kind: str = "standard"
    loc: np.ndarray | None = None  # (C,)
    scale: np.ndarray | None = None  # (C,)

    def __post_init__(self) -> None:
        if self.kind not in ("standard", "minmax", "none"):
            raise ValueError(f"scaler must be 'standard', 'minmax' or 'none', got {self.kind!r}")

    def fit(self, x: np.ndarray) -> Scaler:
        """Fit on ``x`` (T, C): pass only the training span."""
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "standard":
            loc, scale = x.mean(axis=0), x.std(axis=0)
        elif self.kind == "minmax":
            loc, scale = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
        else:
            loc, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
        self.loc, self.scale = loc, np.where(scale > 0, scale, 1.0)
        return self

    def fitted(self) -> tuple[np.ndarray, np.ndarray]:
        """``(loc, scale)``, or RuntimeError before ``fit``."""
        if self.loc is None or self.scale is None:
            raise RuntimeError("Scaler is not fitted: call fit(train_span) first")
        return self.loc, self.scale

    def transform(self, x: np.ndarray) -> np.ndarray:
        loc, scale = self.fitted()
        return (np.asarray(x, dtype=np.float64) - loc) / scale

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo ``transform`` on (..., C) arrays."""
        loc, scale = self.fitted()
        return np.asarray(x, dtype=np.float64) * scale + loc

    def to_dict(self) -> dict:
        loc, scale = self.fitted()
        return {"kind": self.kind, "loc": loc.tolist(), "scale": scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(d["kind"], np.asarray(d["loc"], dtype=np.float64), np.asarray(d["scale"], dtype=np.float64))


# ----------------------------------------------------------------------------------------- windows


def origins(lo: int, hi: int, input_length: int, horizon: int, *, stride: int = 1) -> np.ndarray:
    """Forecast origins ``t`` whose whole window ``[t - L, t + H)`` lies inside ``[lo, hi)``, every ``stride``."""
    first, last = lo + input_length, hi - horizon  # inclusive range of t
    if last < first:
        raise DataError(
            f"too few points: the span [{lo}, {hi}) has {hi - lo} steps but input_length {input_length} + "
            f"horizon {horizon} = {input_length + horizon} are needed for one window; use a shorter "
            f"input_length/horizon or more data"
        )
    return np.arange(first, last + 1, stride)


def windows(
    values: np.ndarray, targets: np.ndarray, future: np.ndarray, t: np.ndarray, input_length: int, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gather windows at origins ``t``: x (N, L, D) = values[t-L:t], y (N, H, C) = targets[t:t+H], f (N, H, F).

    ``values`` (T, D) are the encoder inputs, ``targets`` (T, C), ``future`` (T, F) the known-future covariates.
    """
    t = np.asarray(t)
    if t.size and (t.min() < input_length or t.max() + horizon > len(values)):
        raise DataError(
            f"window origins must lie in [{input_length}, {len(values) - horizon}]; got {t.min()}..{t.max()}"
        )
    past_idx = t[:, None] + np.arange(-input_length, 0)[None, :]  # (N, L)
    fut_idx = t[:, None] + np.arange(horizon)[None, :]  # (N, H)
    return values[past_idx], targets[fut_idx], future[fut_idx]


@dataclass(frozen=True)
class Split:
    """Row boundaries: train ``[0, train_end)``, validation ``[train_end, val_end)``, test ``[val_end, T)``."""

    train_end: int
    val_end: int
    total: int

    def __post_init__(self) -> None:
        if not 0 < self.train_end <= self.val_end <= self.total:
            raise DataError(f"invalid split: need 0 < train_end <= val_end <= total, got {self}")
