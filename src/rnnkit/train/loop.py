"""``fit``: the one training loop. The loop itself fits on a screen; setup, evaluation and checkpointing
are the small helpers around it. See the rnnkit.train package docstring for the contract a task codes to.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.config import TrainConfig, save_config
from rnnkit.errors import TrainingDiverged  # noqa: F401 - re-exported where it used to be defined
from rnnkit.nn import precision as amp
from rnnkit.runfolder import locked
from rnnkit.train import distributed as ddp
from rnnkit.train.callbacks import Callback, EarlyStopping, LossPlot, MetricsLog, ProgressBar, improves
from rnnkit.train.checkpoint import EMA_PREFIX, ema_weights, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from rnnkit.train.data import as_batches, num_batches, shard, to_device
from rnnkit.train.metrics import RunningMean
from rnnkit.train.schedule import Schedule
from rnnkit.train.tbptt import detach_state, flatten_state, unflatten_state


class StepOutput(NamedTuple):
    """What a task's ``step`` returns; a plain ``(loss, state, n_items)`` tuple is accepted too."""

    loss: Tensor  # scalar: mean loss over the n_items of this batch
    state: Any = None  # recurrent state carried into the next batch (TBPTT), else None
    n_items: int = 1  # tokens or samples: weights running means, unit of throughput
    metrics: dict[str, float] | None = None  # extra per-batch means, e.g. {"acc": 0.9}


StepFn = Callable[[nn.Module, Any, Any], Any]


@dataclass
class FitState:
    """Everything the loop knows; callbacks read it and may set ``should_stop`` / ``stop_reason``."""

    model: nn.Module
    raw_model: nn.Module
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    run_dir: Path | None = None
    rank: int = 0
    world_size: int = 1
    step: int = 0  # optimiser steps done
    epoch: int = 0
    batch: int = 0  # index of the next batch within the epoch
    total_steps: int | None = None
    lr: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, float] | None = None
    last: dict[str, float] | None = None  # last evaluation's metrics
    should_stop: bool = False
    stop_reason: str = ""
    carry: Any = None  # the detached recurrent state carried into the next batch
    guard_factor: float = 1.0  # NaN guard's lr multiplier (lowered on every skipped step)
    bad_steps: int = 0  # consecutive non-finite steps
    initial_loss: float | None = None  # the first finite training loss: the divergence guard's reference
    high_steps: int = 0  # consecutive steps with the loss above the divergence limit
    interrupt: str | None = None  # set by the SIGINT / SIGTERM handler
    mid_step: bool = False  # True between taking a batch and finishing its update (position not saveable)
    saved_at: tuple[int, int, int] | None = None  # (step, epoch, batch) of the last `last` checkpoint
    ema: WeightEMA | None = None  # train.ema > 0: the averaged weights
    evaluator: Callable[[nn.Module], dict[str, float]] | None = None  # the task's own validation metrics

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class FitResult:
    model: nn.Module
    step: int
    epoch: int
    history: list[dict[str, Any]]
    best: dict[str, float] | None
    last: dict[str, float] | None
    interrupted: bool
    stop_reason: str
    run_dir: Path | None


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed python, NumPy and torch (all devices). ``deterministic`` sets the documented torch flags:
    ``torch.use_deterministic_algorithms(True)``, ``cudnn.deterministic = True``, ``cudnn.benchmark = False``
    and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (see PyTorch's "Reproducibility" notes)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG user code may draw from
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def build_optimizer(params: Any, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, nesterov), Adam or AdamW from ``config.optim`` with ``config.lr``."""
    o = config.optim
    if o.name == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay
        )
    cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)


def _asgd(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.Optimizer:
    # NT-ASGD's averaging phase (Merity et al. 2017, sec. 3): ASGD with t0=0, lambd=0 from the switch on
    params = [p for g in optimizer.param_groups for p in g["params"]]
    return torch.optim.ASGD(params, lr=config.lr, t0=0, lambd=0.0, weight_decay=config.optim.weight_decay)


class WeightEMA:
    """Exponential moving average of a model's parameters (Polyak averaging; Keras's ``use_ema``), updated after
        every optimiser step: ``avg <- d * avg + (1 - d) * w``. The decay ramps as ``min(d, 1 - 1/(t+1))``, so for the
        first ``1/(1-d)`` steps ``avg`` is the plain mean of the initial and updated weights so far (not an average
    pulled toward the init), and an EMA after that."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.params = dict(model.named_parameters())
        self.avg = {n: p.detach().clone() for n, p in self.params.items()}
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        w = 1.0 - min(self.decay, 1.0 - 1.0 / (self.updates + 1))
        for n, p in self.params.items():
            self.avg[n].lerp_(p.detach(), w)

    @torch.no_grad()
    def apply(self) -> None:
        """Put the averaged weights into the model (for good: ``_averaged_weights`` swaps them in for a block)."""
        for n, p in self.params.items():
            p.copy_(self.avg[n])

    def tensors(self) -> dict[str, Tensor]:
        return {EMA_PREFIX + n: a for n, a in self.avg.items()}  # "ema." + parameter name

    def load(self, tensors: dict[str, Tensor], updates: int) -> None:
        """Restore from a checkpoint's tensors; a checkpoint written without EMA restarts the average here."""
        found = ema_weights(tensors)
        with torch.no_grad():
            for n, p in self.params.items():
                self.avg[n].copy_(found[n] if n in found else p.detach())
        self.updates = updates if found else 0


def _averaged_weights(fs: FitState) -> contextlib.AbstractContextManager[None]:
    """Evaluate (and save best) with the averaged weights, then put the live ones back: the EMA's when
    ``train.ema`` is on, ASGD's ``ax`` after an NT-ASGD switch, else the live weights themselves."""
    if fs.ema is not None:
        return _swapped([(p, fs.ema.avg[n]) for n, p in fs.ema.params.items()])
    if isinstance(fs.optimizer, torch.optim.ASGD):
        st = fs.optimizer.state
        ps = [p for g in fs.optimizer.param_groups for p in g["params"]]
        return _swapped([(p, st[p]["ax"]) for p in ps if st.get(p, {}).get("ax") is not None])
    return contextlib.nullcontext()


@contextlib.contextmanager
def _swapped(pairs: list[tuple[Tensor, Tensor]]) -> Iterator[None]:
    """Copy each ``(param, value)``'s value into the parameter for the block, then restore the parameter."""
    saved = []
    with torch.no_grad():
        for p, value in pairs:
            saved.append((p, p.detach().clone()))
            p.copy_(value)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, live in saved:
                p.copy_(live)


def _as_output(out: Any) -> StepOutput:
    if isinstance(out, tuple) and not isinstance(out, StepOutput) and 3 <= len(out) <= 4:
        out = StepOutput(*out)
    if isinstance(out, StepOutput):  # a loss computed under bf16 autocast is summed and backpropagated in float32
        return out if out.loss.dtype not in (torch.bfloat16, torch.float16) else out._replace(loss=out.loss.float())
    raise TypeError(f"step() must return StepOutput(loss, state, n_items[, metrics]) or a 3-tuple, got {out!r}")


def evaluate(
    model: nn.Module, step: StepFn, data: Any, *, device: torch.device, info: ddp.DistInfo, precision: str = "fp32"
) -> dict:
    """Per-item mean loss and metrics over one pass of ``data`` (model.eval(), no grad), as ``val_*``."""
    was_training = model.training
    model.eval()
    mean, state = RunningMean(), None
    with torch.no_grad():
        for batch in data.epoch(0):
            with amp.autocast(precision, device):  # bf16 products; losses come out float32
                out = _as_output(step(model, to_device(batch, device), state))
            state = out.state
            mean.add({"loss": out.loss.item(), **(out.metrics or {})}, out.n_items)
    model.train(was_training)
    keys = sorted(mean.sums)
    sums = ddp.all_reduce_sums([mean.sums[k] for k in keys] + [mean.weight], info, device)
    if sums[-1] == 0:
        raise ValueError("evaluation data gave no batches: check val_data (too short for one batch?)")
    return {f"val_{k}": s / sums[-1] for k, s in zip(keys, sums[:-1], strict=True)}


def _save(fs: FitState, schedule: Schedule, callbacks: Sequence[Callback], which: str) -> None:
    """Write ``last`` (everything for an exact resume) or ``best`` (weights + position) on rank 0."""
    if fs.run_dir is None or not fs.is_main:
        return
    carry, carry_spec = flatten_state(fs.carry)
    state = {
        "step": fs.step,
        "epoch": fs.epoch,
        "batch": fs.batch,
        "guard_factor": fs.guard_factor,
        "bad_steps": fs.bad_steps,
        "initial_loss": fs.initial_loss,
        "high_steps": fs.high_steps,
        "best": fs.best,
        "last": fs.last,
        "schedule": schedule.state_dict(),
        "callbacks": {k: cb.state_dict() for k, cb in _callback_keys(callbacks)},
        "carry": carry_spec,
        "rng": rng_state(),
        "optimizer_class": type(fs.optimizer).__name__,
        "world_size": fs.world_size,
        "ema_updates": fs.ema.updates if fs.ema is not None else 0,
    }
    if which == "best":
        with _averaged_weights(fs):
            save_checkpoint(fs.run_dir / "best", model=fs.raw_model, state=state)
    else:  # the live weights (to resume exactly) and the EMA's beside them (load_model serves those)
        extra = {**carry, **(fs.ema.tensors() if fs.ema is not None else {})}
        save_checkpoint(
            fs.run_dir / "last", model=fs.raw_model, optimizer=fs.optimizer, state=state, tensors=extra, keep_prev=True
        )
        fs.saved_at = (fs.step, fs.epoch, fs.batch)


def _resume(
    fs: FitState,
    path: Path,
    schedule: Schedule,
    callbacks: Sequence[Callback],
    config: TrainConfig,
    device: torch.device,
) -> None:
    """Restore model, optimiser, schedule, callbacks, position, carried state and RNG states from ``path``."""
    ck = load_checkpoint(path)  # verify everything before touching the model
    s = ck["state"]
    if s.get("optimizer_class") == "ASGD" and not isinstance(fs.optimizer, torch.optim.ASGD):
        fs.optimizer = _asgd(fs.optimizer, config)
    load_checkpoint(path, model=fs.raw_model, optimizer=fs.optimizer)
    schedule.load_state_dict(s["schedule"])
    saved = s["callbacks"]
    for key, cb in _callback_keys(callbacks):  # callbacks added or removed since the save keep a fresh state
        if key in saved:
            cb.load_state_dict(saved[key])
    fs.step, fs.epoch, fs.batch = s["step"], s["epoch"], s["batch"]
    fs.guard_factor, fs.bad_steps, fs.best, fs.last = s["guard_factor"], s["bad_steps"], s["best"], s["last"]
    fs.initial_loss, fs.high_steps = s.get("initial_loss"), s.get("high_steps", 0)  # absent from older checkpoints
    fs.carry = unflatten_state(s["carry"], ck["tensors"], device)
    if fs.ema is not None:
        fs.ema.load(ck["tensors"], s.get("ema_updates", 0))
    set_rng_state(s["rng"])


@contextlib.contextmanager
def _graceful_interrupts(fs: FitState) -> Iterator[None]:
    """First Ctrl-C / SIGTERM: finish the current step, save ``last``, return. A second Ctrl-C aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if fs.interrupt is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        fs.interrupt = signal.Signals(signum).name

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def fit(
    model: nn.Module,
    step: StepFn,
    train_data: Any,
    *,
    config: TrainConfig | None = None,
    val_data: Any = None,
    eval_step: StepFn | None = None,
    run_dir: str | os.PathLike | None = None,
    callbacks: Sequence[Callback] = (),
    resume: bool | str | os.PathLike = False,
    optimizer: torch.optim.Optimizer | None = None,
    run_config: Any = None,
    evaluator: Callable[[nn.Module], dict[str, float]] | None = None,
) -> FitResult:
    """Train ``model`` with ``step`` on ``train_data``; see the rnnkit.train docstring for the contract."""
    cfg = config or TrainConfig()
    device = ddp.resolve_device(cfg.device)
    created_group = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    info = ddp.setup(device)
    run = Path(run_dir) if run_dir is not None else None
    seed_everything(cfg.seed, deterministic=cfg.deterministic)  # a resume then restores the saved RNG states
    amp.check(cfg.precision, device)  # refuse bf16 where the CPU cannot run it, before any work
    raw = model.to(device)
    wrapped = ddp.wrap(raw, info, device)
    opt = optimizer if optimizer is not None else build_optimizer(raw.parameters(), cfg)
    train = shard(as_batches(train_data, seed=cfg.seed), info.rank, info.world_size)
    val = shard(as_batches(val_data), info.rank, info.world_size) if val_data is not None else None
    per_epoch = num_batches(train)
    limits = [n for n in (cfg.max_steps, per_epoch * cfg.epochs if per_epoch else 0) if n]
    total = min(limits) if limits else None  # optimiser steps in the run, for cosine and the ETA
    schedule = Schedule(cfg.schedule, total_steps=total, mode=cfg.checkpoint.mode)
    cbs = _default_callbacks(cfg, run, val is not None, callbacks)
    fs = FitState(wrapped, raw, opt, cfg, run, info.rank, info.world_size, total_steps=total)
    fs.ema = WeightEMA(raw, cfg.ema) if cfg.ema else None
    fs.evaluator = evaluator
    hold = contextlib.ExitStack()  # one writer per run folder (rnnkit.runfolder; re-entrant for a Task's own lock)
    try:
        if run is not None and fs.is_main:
            hold.enter_context(locked(run))
        if resume:  # first: a checkpoint that does not fit fails here, before config.json is rewritten
            path = Path(resume) if not isinstance(resume, bool) else (run / "last" if run else None)
            if path is None:
                raise ValueError("resume=True needs run_dir (or pass the checkpoint folder as resume=PATH)")
            _resume(fs, path, schedule, cbs, cfg, device)
            if optimizer is None:  # the lr is the config's (a Task refuses a changed lr unless asked for)
                for g in fs.optimizer.param_groups:
                    g["initial_lr"] = cfg.lr
        if run is not None and fs.is_main:
            save_config(run_config if run_config is not None else _TrainOnly(cfg), run / "config.json")
        for g in fs.optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        with _graceful_interrupts(fs):
            _loop(fs, step, eval_step or step, train, val, schedule, cbs, device, info)
    except KeyboardInterrupt:
        fs.interrupt = "KeyboardInterrupt"
        if not fs.mid_step:  # raised between steps (e.g. by a callback): the position is valid, save it
            _save(fs, schedule, cbs, "last")
    except BaseException:
        hold.close()
        raise
    finally:
        ddp.teardown(info, created=created_group)
        for cb in cbs:  # never leave a live progress bar behind, whatever ended the run
            if isinstance(cb, ProgressBar):
                cb.close()
    with hold:  # the last writes (metrics "stop" record, loss.png) still under the lock
        if fs.interrupt:
            fs.stop_reason = f"interrupted ({fs.interrupt}) at step {fs.step}; resume with resume=True"
        if fs.ema is not None:  # as Keras does at the end of fit: the returned model holds the averaged weights
            fs.ema.apply()
        for cb in cbs:
            cb.on_fit_end(fs)
    return FitResult(
        raw, fs.step, fs.epoch, fs.history, fs.best, fs.last, fs.interrupt is not None, fs.stop_reason, run
    )


def _loop(
    fs: FitState,
    step: StepFn,
    eval_step: StepFn,
    train: Any,
    val: Any,
    schedule: Schedule,
    cbs: Sequence[Callback],
    device: torch.device,
    info: ddp.DistInfo,
) -> None:
    cfg, model = fs.config, fs.model
    mean, t_log = RunningMean(), time.perf_counter()
    for cb in cbs:
        cb.on_fit_start(fs)
    model.train()
    while fs.epoch < cfg.epochs and not fs.should_stop:
        start = fs.batch
        for batch in train.epoch(fs.epoch, fs.batch):
            fs.batch, fs.mid_step = fs.batch + 1, True
            batch = to_device(batch, device)
            with amp.autocast(cfg.precision, device):  # bf16: products in bf16; weights, grads, optimiser float32
                out = _as_output(step(model, batch, fs.carry))  # forward + loss, from the carried state
            # TBPTT boundary: the state at the end of this chunk starts the next one as a *value*; detaching it here
            # stops the next backward at this boundary instead of running back through every earlier chunk.
            carry = detach_state(out.state)
            loss = out.loss.item()
            fs.optimizer.zero_grad(set_to_none=True)
            if ddp.any_rank(not math.isfinite(loss), info, device) or not _backward_clip(out.loss, fs):
                fs.carry = carry if math.isfinite(loss) else None
                _bad_step(fs, loss)  # NaN/inf guard: skip the update, lower the lr, stop after K in a row
                fs.mid_step = False
                continue
            fs.bad_steps = 0
            _check_divergence(fs, loss, info, device)  # finite but far above where it started: stop, save nothing
            fs.lr = fs.optimizer.param_groups[0]["initial_lr"] * schedule.factor(fs.step) * fs.guard_factor
            scale = getattr(batch, "lr_scale", 1.0)  # variable-length BPTT: lr * seq_len / bptt (awd-lstm)
            for g in fs.optimizer.param_groups:
                g["lr"] = g["initial_lr"] * schedule.factor(fs.step) * fs.guard_factor * scale
            fs.optimizer.step()
            if fs.ema is not None:
                fs.ema.update()
            fs.step, fs.carry, fs.mid_step = fs.step + 1, carry, False
            mean.add({"loss": loss, **(out.metrics or {})}, out.n_items)
            if fs.step % cfg.log_every == 0:
                _log(fs, mean, t_log, cbs, device, info)
                t_log = time.perf_counter()
            at_limit = cfg.max_steps and fs.step >= cfg.max_steps
            if val is not None and cfg.eval_every and (fs.step % cfg.eval_every == 0 or at_limit):
                _evaluate(fs, eval_step, val, schedule, cbs, device, info)
                t_log = time.perf_counter()
            if cfg.checkpoint.every_steps and fs.step % cfg.checkpoint.every_steps == 0:
                _save(fs, schedule, cbs, "last")
            for cb in cbs:  # last: a callback sees (and may interrupt after) a fully finished step
                cb.on_step_end(fs, {"loss": loss, "lr": fs.lr, "n_items": out.n_items})
            if fs.interrupt or at_limit or ddp.any_rank(fs.should_stop, info, device):
                fs.should_stop = True
                break
        else:  # the epoch ran out of batches
            if fs.batch == start == 0:
                raise ValueError(f"train_data gave no batches for epoch {fs.epoch}: is it shorter than one batch?")
            fs.epoch, fs.batch, fs.carry = fs.epoch + 1, 0, None
            if val is not None and not cfg.eval_every:
                _evaluate(fs, eval_step, val, schedule, cbs, device, info)
                t_log = time.perf_counter()
            for cb in cbs:
                cb.on_epoch_end(fs)
    if val is not None and (fs.last is None or fs.last.get("step") != fs.step) and not fs.interrupt:
        _evaluate(fs, eval_step, val, schedule, cbs, device, info)
    if cfg.checkpoint.save_last and fs.saved_at != (fs.step, fs.epoch, fs.batch):
        _save(fs, schedule, cbs, "last")


def _backward_clip(loss: Tensor, fs: FitState) -> bool:
    """backward, then clip the global gradient norm (Pascanu et al. 2013, sec. 3.2); False if it is not finite."""
    loss.backward()
    params = [p for g in fs.optimizer.param_groups for p in g["params"] if p.grad is not None]
    max_norm = fs.config.clip_norm if fs.config.clip_norm > 0 else math.inf
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return math.isfinite(float(norm))


def _bad_step(fs: FitState, loss: float) -> None:
    fs.optimizer.zero_grad(set_to_none=True)
    fs.bad_steps += 1
    fs.guard_factor *= fs.config.bad_step_lr_factor
    if fs.bad_steps >= fs.config.max_bad_steps:
        raise TrainingDiverged(
            f"training diverged: {fs.bad_steps} consecutive steps with a non-finite loss or gradient (last loss "
            f"{loss}) at step {fs.step}, epoch {fs.epoch}, batch {fs.batch}; the lr was lowered to "
            f"{fs.config.lr * fs.guard_factor:.3g}. {_kept(fs)} Lower train.lr, keep train.clip_norm > 0, or check "
            f"the data for inf/NaN (raise train.max_bad_steps to tolerate more)."
        )


def _divergence_limit(fs: FitState) -> float:
    """max(K * L0, L0 + K): K times the initial loss, and at least K above it (a loss near 0, or negative)."""
    k, l0 = fs.config.diverge_factor, fs.initial_loss
    return math.inf if not k or l0 is None else max(k * l0, l0 + k)


def _check_divergence(fs: FitState, loss: float, info: ddp.DistInfo, device: torch.device) -> None:
    """Divergence guard for finite losses: ``max_bad_steps`` training steps in a row above the limit stop the run
    (on every rank together: a rank's loss above its limit counts for all)."""
    if fs.initial_loss is None:
        fs.initial_loss = loss
    if not fs.config.diverge_factor or not ddp.any_rank(loss > _divergence_limit(fs), info, device):
        fs.high_steps = 0
        return
    fs.high_steps += 1
    if fs.high_steps >= fs.config.max_bad_steps:
        raise _diverged(fs, f"the training loss stayed above it for {fs.high_steps} steps in a row (last {loss:.4g})")


def _diverged(fs: FitState, what: str) -> TrainingDiverged:
    k, l0 = fs.config.diverge_factor, fs.initial_loss
    limit = (
        f"the divergence limit is {_divergence_limit(fs):.4g} (max({k:g} x initial loss {l0:.4g}, initial + {k:g}); "
        f"train.diverge_factor) and "
        if k and l0 is not None
        else ""
    )
    return TrainingDiverged(
        f"training diverged at step {fs.step}, epoch {fs.epoch}: {limit}{what}. {_kept(fs)} Lower train.lr (now "
        f"{fs.config.lr:g}) or keep train.clip_norm > 0; set train.diverge_factor higher (0: off) if such a loss "
        f"is expected."
    )


def _kept(fs: FitState) -> str:
    """Which good weights a diverged run leaves behind (nothing is saved after the guard fires)."""
    if fs.run_dir is None:
        return "Nothing was saved (no run folder)."
    mon = fs.config.checkpoint.monitor
    if fs.best is not None and fs.config.checkpoint.save_best and (fs.run_dir / "best").is_dir():
        b = fs.best
        return f"The last good weights are kept in {fs.run_dir / 'best'} (step {b['step']}, {mon} {b[mon]:.4g})."
    if fs.saved_at is not None:
        return f"The last checkpoint, {fs.run_dir / 'last'} (step {fs.saved_at[0]}), was written before it diverged."
    return "No checkpoint was written before it diverged."


def _log(
    fs: FitState, mean: RunningMean, t0: float, cbs: Sequence[Callback], device: torch.device, info: ddp.DistInfo
) -> None:
    keys = sorted(mean.sums)
    sums = ddp.all_reduce_sums([mean.sums[k] for k in keys] + [mean.weight], info, device)
    logs = {k: s / sums[-1] for k, s in zip(keys, sums[:-1], strict=True)} if sums[-1] else {}
    logs.update(lr=fs.lr, items_per_s=sums[-1] / max(1e-9, time.perf_counter() - t0))
    mean.reset()
    fs.history.append({"event": "train", "step": fs.step, "epoch": fs.epoch, **logs})
    for cb in cbs:
        cb.on_log(fs, logs)


def _evaluate(
    fs: FitState,
    eval_step: StepFn,
    val: Any,
    schedule: Schedule,
    cbs: Sequence[Callback],
    device: torch.device,
    info: ddp.DistInfo,
) -> None:
    with _averaged_weights(fs):
        metrics = evaluate(fs.raw_model, eval_step, val, device=device, info=info, precision=fs.config.precision)
        if fs.evaluator is not None:  # e.g. span F1 or BLEU over the whole validation set (not batch means)
            was_training = fs.raw_model.training
            metrics.update(fs.evaluator(fs.raw_model))
            fs.raw_model.train(was_training)  # a task's evaluate() may leave eval mode: dropout must come back
    mon, mode = fs.config.checkpoint.monitor, fs.config.checkpoint.mode
    if mon not in metrics:
        raise KeyError(f"train.checkpoint.monitor is {mon!r} but evaluation gives {sorted(metrics)}")
    val_loss = metrics.get("val_loss", 0.0)
    if ddp.any_rank(not val_loss <= _divergence_limit(fs), info, device):  # also NaN: never saved as best or last
        raise _diverged(fs, f"the validation loss is {val_loss:.4g}")
    schedule.observe(metrics[mon])
    if schedule.switch_now:  # NT-ASGD trigger fired: continue with averaged SGD
        schedule.switch_now = False
        fs.optimizer = _asgd(fs.optimizer, fs.config)
        for g in fs.optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
    improved = improves(metrics, fs.best, mon, mode)
    fs.last = {**metrics, "step": fs.step}
    if improved:
        fs.best = dict(fs.last)
    fs.history.append({"event": "eval", "step": fs.step, "epoch": fs.epoch, **metrics})
    for cb in cbs:
        cb.on_evaluate(fs, metrics)
    if improved and fs.config.checkpoint.save_best:
        _save(fs, schedule, cbs, "best")
    if fs.config.checkpoint.save_last and not fs.config.checkpoint.every_steps:
        _save(fs, schedule, cbs, "last")


@dataclass(frozen=True)
class _TrainOnly:
    """config.json of a run started without a task config: ``{"train": {...}}``."""

    train: TrainConfig


def _callback_keys(callbacks: Sequence[Callback]) -> list[tuple[str, Callback]]:
    """Stable names for callback states in a checkpoint: ``ClassName.k`` (k-th of that class)."""
    seen: dict[str, int] = {}
    out = []
    for cb in callbacks:
        name = type(cb).__name__
        out.append((f"{name}.{seen.get(name, 0)}", cb))
        seen[name] = seen.get(name, 0) + 1
    return out


def _default_callbacks(cfg: TrainConfig, run: Path | None, has_val: bool, user: Sequence[Callback]) -> list[Callback]:
    cbs: list[Callback] = []
    if not any(isinstance(c, ProgressBar) for c in user):
        cbs.append(ProgressBar("quiet" if cfg.quiet else "auto"))
    if run is not None:
        cbs += [MetricsLog(), LossPlot()]
    if cfg.patience and has_val:
        cbs.append(EarlyStopping(cfg.patience, metric=cfg.checkpoint.monitor, mode=cfg.checkpoint.mode))
    return cbs + list(user)


__all__ = [
    "FitResult",
    "FitState",
    "StepOutput",
    "TrainingDiverged",
    "WeightEMA",
    "build_optimizer",
    "evaluate",
    "fit",
    "seed_everything",
]
