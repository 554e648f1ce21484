"""Small callbacks that extend ``fit``: progress, metrics file, loss plot, early stopping, periodic hooks.

Every hook receives the ``FitState`` (see rnnkit.train.loop); a callback stops training by setting
``fs.should_stop = True`` and ``fs.stop_reason``. ``state_dict`` / ``load_state_dict`` (JSON-able) make a
callback's memory survive a resume.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rnnkit.train.metrics import MetricsWriter

if TYPE_CHECKING:  # pragma: no cover
    from rnnkit.train.loop import FitState


class Callback:
    """Base class: override the hooks you need; all default to no-ops."""

    def on_fit_start(self, fs: FitState) -> None: ...

    def on_step_end(self, fs: FitState, logs: dict[str, float]) -> None: ...

    def on_log(self, fs: FitState, logs: dict[str, float]) -> None: ...

    def on_evaluate(self, fs: FitState, metrics: dict[str, float]) -> None: ...

    def on_epoch_end(self, fs: FitState) -> None: ...

    def on_fit_end(self, fs: FitState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        return None


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressBar(Callback):
    """A rich progress bar (loss, items/s, ETA) on a terminal; one plain line per log event otherwise.

    ``mode``: "auto" (bar when stderr is a TTY), "bar", "plain" or "quiet". Prints on rank 0 only.
    """

    def __init__(self, mode: str = "auto", *, stream: Any = None) -> None:
        if mode not in ("auto", "bar", "plain", "quiet"):
            raise ValueError(f"ProgressBar mode must be auto, bar, plain or quiet, got {mode!r}")
        self.mode, self.stream = mode, stream
        self._progress: Any = None
        self._task: Any = None

    def _resolved(self, fs: FitState) -> str:
        if self.mode != "auto":
            return self.mode
        if fs.config.quiet:
            return "quiet"
        stream = self.stream or sys.stderr
        return "bar" if getattr(stream, "isatty", lambda: False)() else "plain"

    def on_fit_start(self, fs: FitState) -> None:
        self.kind = self._resolved(fs) if fs.is_main else "quiet"
        self.t0, self.step0 = time.perf_counter(), fs.step
        if self.kind == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}  {task.fields[speed]}"),
                TimeRemainingColumn(),
                console=Console(file=self.stream or sys.stderr),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=fs.total_steps, completed=fs.step, epoch=fs.epoch, loss="-", speed=""
            )

    def on_step_end(self, fs: FitState, logs: dict[str, float]) -> None:
        if self._progress is not None:
            # total_steps can change mid-run (a time budget re-estimates it from the measured speed)
            self._progress.update(self._task, total=fs.total_steps, completed=fs.step, epoch=fs.epoch)

    def on_log(self, fs: FitState, logs: dict[str, float]) -> None:
        speed = f"{logs.get('items_per_s', 0):,.0f} {fs.config.unit}/s"
        if self._progress is not None:
            self._progress.update(self._task, loss=f"{logs['loss']:.4f}", speed=speed)
        elif self.kind == "plain":
            eta = ""
            if fs.total_steps:
                rate = (fs.step - self.step0) / max(1e-9, time.perf_counter() - self.t0)
                eta = f" eta {_fmt_time((fs.total_steps - fs.step) / rate) if rate > 0 else '?'}"
            total = f"/{fs.total_steps}" if fs.total_steps else ""
            print(
                f"step {fs.step}{total} epoch {fs.epoch} loss {logs['loss']:.4f} lr {logs['lr']:.3g} {speed}{eta}",
                file=self.stream or sys.stderr,
                flush=True,
            )

    def on_evaluate(self, fs: FitState, metrics: dict[str, float]) -> None:
        if self.kind == "quiet":
            return
        text = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, (int, float)))
        line = f"eval step {fs.step} epoch {fs.epoch}: {text}"
        if self._progress is not None:
            self._progress.console.print(line)
        else:
            print(line, file=self.stream or sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the live bar (idempotent); fit calls it even when training ends with an exception."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_fit_end(self, fs: FitState) -> None:
        self.close()
        if self.kind != "quiet" and fs.stop_reason:
            print(f"stopped: {fs.stop_reason}", file=self.stream or sys.stderr, flush=True)


class MetricsLog(Callback):
    """Writes ``run_dir/metrics.jsonl``: one "train" record per log event and one "eval" per evaluation."""

    def on_fit_start(self, fs: FitState) -> None:
        self.writer = MetricsWriter(fs.run_dir / "metrics.jsonl") if fs.run_dir and fs.is_main else None
        if self.writer is not None:
            self.writer.truncate_after(fs.step)  # a resumed run re-logs what came after its checkpoint

    def _write(self, fs: FitState, event: str, values: dict[str, float]) -> None:
        if self.writer is not None:
            self.writer.write({"event": event, "step": fs.step, "epoch": fs.epoch, **values, "time": time.time()})

    def on_log(self, fs: FitState, logs: dict[str, float]) -> None:
        self._write(fs, "train", logs)

    def on_evaluate(self, fs: FitState, metrics: dict[str, float]) -> None:
        self._write(fs, "eval", metrics)

    def on_fit_end(self, fs: FitState) -> None:
        if fs.stop_reason:
            self._write(fs, "stop", {"reason": fs.stop_reason})


class RunRecord(Callback):
    """Writes one ``{"event": event, "step": S, **values}`` record into metrics.jsonl when fit starts (after
    MetricsLog trimmed a resumed log), e.g. what a resume changed."""

    def __init__(self, event: str, values: dict[str, Any]) -> None:
        self.event, self.values = event, values

    def on_fit_start(self, fs: FitState) -> None:
        if fs.run_dir is not None and fs.is_main:
            record = {"event": self.event, "step": fs.step, "epoch": fs.epoch, **self.values, "time": time.time()}
            MetricsWriter(fs.run_dir / "metrics.jsonl").write(record)


class LossPlot(Callback):
    """Redraws ``run_dir/loss.png`` (train and validation loss) after an evaluation, at most once every
    ``min_interval`` seconds (a plot costs ~0.1 s), and always at the end."""

    def __init__(self, filename: str = "loss.png", *, min_interval: float = 30.0) -> None:
        self.filename, self.min_interval = filename, min_interval
        self._last = -math.inf

    def _draw(self, fs: FitState) -> None:
        if fs.run_dir is None or not fs.is_main or not (fs.run_dir / "metrics.jsonl").is_file():
            return
        from rnnkit.train.metrics import plot_loss

        plot_loss(fs.run_dir / "metrics.jsonl", fs.run_dir / self.filename)
        self._last = time.monotonic()

    def on_evaluate(self, fs: FitState, metrics: dict[str, float]) -> None:
        if time.monotonic() - self._last >= self.min_interval:
            self._draw(fs)

    def on_fit_end(self, fs: FitState) -> None:
        self._draw(fs)


def improves(
    metrics: dict[str, float], best: dict[str, float] | None, metric: str, mode: str, *, min_delta: float = 0.0
) -> bool:
    """Whether an evaluation beats the best so far on ``metric``. A tie on a metric other than the loss is broken
    by a lower ``val_loss``: accuracy on a small validation set moves in steps of 1/n and sits on plateaus, where
    the loss still tells a better model from a worse one."""
    if best is None:
        return True
    v, b = metrics[metric], best[metric]
    if v == b and metric != "val_loss" and "val_loss" in metrics and "val_loss" in best:
        return metrics["val_loss"] < best["val_loss"]
    return v < b - min_delta if mode == "min" else v > b + min_delta


class EarlyStopping(Callback):
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` evaluations (ties broken by
    ``val_loss``, as ``improves`` says)."""

    def __init__(self, patience: int, *, metric: str = "val_loss", mode: str = "min", min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"EarlyStopping patience must be >= 1, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.metric, self.mode, self.min_delta = patience, metric, mode, min_delta
        self.best: float | None = None
        self.best_loss: float | None = None  # val_loss at the best evaluation (the tie-break)
        self.bad = 0

    def on_evaluate(self, fs: FitState, metrics: dict[str, float]) -> None:
        if self.metric not in metrics:
            raise KeyError(f"EarlyStopping monitors {self.metric!r} but evaluation gave {sorted(metrics)}")
        v = metrics[self.metric]
        best = None if self.best is None else {self.metric: self.best}
        if best is not None and self.best_loss is not None:
            best["val_loss"] = self.best_loss
        if improves(metrics, best, self.metric, self.mode, min_delta=self.min_delta):
            self.best, self.best_loss, self.bad = v, metrics.get("val_loss"), 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            fs.should_stop = True
            fs.stop_reason = (
                f"early stopping: {self.metric} did not improve on {self.best:.6g} for {self.patience} evaluations"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_loss": self.best_loss, "bad": self.bad}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.best, self.best_loss, self.bad = d["best"], d.get("best_loss"), d["bad"]


class Periodic(Callback):
    """``fn(fs)`` every ``every_steps`` optimiser steps on rank 0 (text samples, plots, probes)."""

    def __init__(self, every_steps: int, fn: Callable[[FitState], None], *, at_end: bool = False) -> None:
        if every_steps < 1:
            raise ValueError(f"Periodic every_steps must be >= 1, got {every_steps}")
        self.every_steps, self.fn, self.at_end = every_steps, fn, at_end

    def on_step_end(self, fs: FitState, logs: dict[str, float]) -> None:
        if fs.is_main and fs.step % self.every_steps == 0:
            self.fn(fs)

    def on_fit_end(self, fs: FitState) -> None:
        if fs.is_main and self.at_end:
            self.fn(fs)
