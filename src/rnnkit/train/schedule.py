"""Learning-rate schedules as a multiplier of the base lr, with JSON state for exact resume.

fit sets ``group["lr"] = base_lr_of_group * schedule.factor(step) * guard_factor * batch.lr_scale`` before
every optimiser step, so schedules never fight each other or a user's per-group learning rates.
"""

from __future__ import annotations

import math
from typing import Any

from rnnkit.config import ScheduleConfig


class Schedule:
    """``factor(step)`` before each step; ``observe(metric)`` after each evaluation (plateau, NT-ASGD)."""

    def __init__(self, cfg: ScheduleConfig, *, total_steps: int | None = None, mode: str = "min") -> None:
        if cfg.name == "cosine" and not total_steps:
            raise ValueError(
                "schedule 'cosine' needs the run length: set train.max_steps, or give train_data a __len__"
            )
        self.cfg, self.total_steps, self.mode = cfg, total_steps, mode
        self.plateau_scale = 1.0  # plateau: product of `factor` reductions so far
        self.best: float | None = None
        self.bad_evals = 0
        self.history: list[float] = []  # ntasgd: every validation metric seen
        self.switched = False  # ntasgd: True once averaging has started
        self.switch_now = False  # ntasgd: set by observe(); fit switches the optimiser and clears it

    def factor(self, step: int) -> float:
        """Multiplier of the base lr for optimiser step ``step`` (0-based)."""
        c = self.cfg
        warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps else 1.0  # linear warm-up
        if c.name == "step":
            return warm * c.gamma ** (step // c.step_size)
        if c.name == "cosine":
            # cosine from 1 to min_lr_ratio over the steps after warm-up (Loshchilov & Hutter 2017, eq. 5)
            span = max(1, self.total_steps - c.warmup_steps)
            t = min(1.0, max(0, step - c.warmup_steps) / span)
            return warm * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))
        if c.name == "plateau":
            return warm * max(self.plateau_scale, c.min_lr_ratio)
        return warm  # constant, ntasgd

    def _better(self, a: float, b: float) -> bool:
        thr = self.cfg.threshold * abs(b)
        return a < b - thr if self.mode == "min" else a > b + thr

    def observe(self, metric: float) -> None:
        """Feed an evaluation's monitored metric (plateau patience, NT-ASGD trigger)."""
        c = self.cfg
        if c.name == "plateau":
            if self.best is None or self._better(metric, self.best):
                self.best, self.bad_evals = metric, 0
            else:
                self.bad_evals += 1
                if self.bad_evals > c.patience:
                    self.plateau_scale *= c.factor
                    self.bad_evals = 0
        elif c.name == "ntasgd":
            # Non-monotonically triggered ASGD (Merity et al. 2017, sec. 3, Algorithm 1): switch when the metric
            # is worse than the best of all evaluations except the last `nonmono` ones.
            h = self.history
            if not self.switched and len(h) > c.nonmono and metric > min(h[: -c.nonmono]):
                self.switched = self.switch_now = True
            h.append(metric)

    def state_dict(self) -> dict[str, Any]:
        return {
            "plateau_scale": self.plateau_scale,
            "best": self.best,
            "bad_evals": self.bad_evals,
            "history": list(self.history),
            "switched": self.switched,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.plateau_scale, self.best, self.bad_evals = d["plateau_scale"], d["best"], d["bad_evals"]
        self.history, self.switched = list(d["history"]), d["switched"]
