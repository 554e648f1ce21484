"""Run configuration: frozen dataclasses, composed, with a JSON round trip and dotted CLI overrides.

One dataclass per component (cell, model, data, optimiser, schedule, checkpoint, training), composed into a
``RunConfig``. Tasks extend by subclassing and replacing a section with their own subclass::

    @dataclass(frozen=True)
    class LMDataConfig(DataConfig):
        bptt: int = 128

    @dataclass(frozen=True)
    class LMConfig(RunConfig):
        task: str = "lm"
        data: LMDataConfig = field(default_factory=LMDataConfig)

    cfg = config_from_cli(LMConfig, ["--config", "runs/lm-001/config.json", "--train.lr=3e-3"])

Validation happens when an object is built (``__post_init__``), so a bad value fails at the boundary with
a message naming the field; ``from_dict`` rejects unknown keys and suggests the closest known one.
A run's ``config.json`` (``save_config``) is itself a valid ``--config``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rnnkit.config_io import (  # noqa: F401 - the config language, importable from here as it always was
    ALIASES,
    apply_overrides,
    config_from_cli,
    from_dict,
    load_config,
    parse_cli,
    read_json,
    save_config,
    to_dict,
    write_json,
)
from rnnkit.errors import ConfigError  # noqa: F401 - re-exported where it used to be defined
from rnnkit.layout import LAYOUTS, CellOptions

C = TypeVar("C")


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"config {key}: {msg}")


def _one_of(value: Any, key: str, allowed: tuple) -> None:
    _check(value in allowed, key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")


# --------------------------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class CellConfig:
    """Which recurrent cell and the options that change its math (see rnnkit.layout.CellOptions)."""

    name: str = "lstm"
    nonlinearity: str = "tanh"  # Elman only: "tanh" | "relu"
    gru_variant: str = "torch"  # "torch" (torch.nn form) | "paper" (Cho et al. 2014)
    forget_bias: float = 0.0  # LSTM forget-gate bias at init (1.0: Jozefowicz et al. 2015)
    recurrent_max_abs: float | None = None  # IndRNN only: clamp |u| <= this (Li et al. 2018 §3.1); None = off

    def __post_init__(self) -> None:
        _one_of(self.name, "cell.name", tuple(sorted(LAYOUTS)))
        _one_of(self.nonlinearity, "cell.nonlinearity", ("tanh", "relu"))
        _one_of(self.gru_variant, "cell.gru_variant", ("torch", "paper"))
        g = self.recurrent_max_abs
        _check(
            g is None or (isinstance(g, (int, float)) and not isinstance(g, bool) and math.isfinite(g) and g > 0),
            "cell.recurrent_max_abs",
            f"must be a positive finite number (e.g. 1.0), or null for no clamp; got {g!r}",
        )

    def options(self) -> CellOptions:
        return CellOptions(
            nonlinearity=self.nonlinearity,
            gru_variant=self.gru_variant,
            forget_bias=self.forget_bias,
            recurrent_max_abs=self.recurrent_max_abs,
        )


@dataclass(frozen=True)
class ModelConfig:
    """The recurrent stack; tasks subclass it to add embeddings, heads, tying."""

    cell: CellConfig = field(default_factory=CellConfig)
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True
    dropout: float = 0.0  # between layers
    weight_drop: float = 0.0  # DropConnect on W_hh (Merity et al. 2017, sec. 2)
    impl: str = "auto"  # rnnkit.nn.Recurrent impl: auto | loop | fused | bptt | scan

    def __post_init__(self) -> None:
        _check(self.hidden_size > 0, "model.hidden_size", f"must be > 0, got {self.hidden_size}")
        _check(self.num_layers > 0, "model.num_layers", f"must be > 0, got {self.num_layers}")
        for k in ("dropout", "weight_drop"):
            v = getattr(self, k)
            _check(0.0 <= v < 1.0, f"model.{k}", f"is a probability in [0, 1), got {v}")
        _one_of(self.impl, "model.impl", ("auto", "loop", "fused", "bptt", "scan"))


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is batched; tasks subclass it (bptt, horizon, ...)."""

    path: str | None = None  # a file or folder; else `dataset` under the data root
    dataset: str | None = None  # a name known to rnnkit.data.sources
    data_root: str | None = None  # else $RNNKIT_DATA
    val_path: str | None = None  # a validation file; else a held-out val_fraction of the training data
    test_path: str | None = None  # a test file; else the dataset's official test split (or the task's own rule)
    batch_size: int = 32
    eval_batch_size: int = 0  # 0: same as batch_size
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        _check(self.batch_size > 0, "data.batch_size", f"must be > 0, got {self.batch_size}")
        _check(self.eval_batch_size >= 0, "data.eval_batch_size", f"must be >= 0, got {self.eval_batch_size}")
        _check(0.0 <= self.val_fraction < 1.0, "data.val_fraction", f"must be in [0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser: SGD (momentum, nesterov), Adam or AdamW. ``lr`` lives in TrainConfig."""

    name: Literal["sgd", "adam", "adamw"] = "adamw"
    momentum: float = 0.0  # SGD only
    nesterov: bool = False  # SGD only
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _one_of(self.name, "train.optim.name", ("sgd", "adam", "adamw"))
        _check(self.momentum >= 0, "train.optim.momentum", f"must be >= 0, got {self.momentum}")
        _check(self.weight_decay >= 0, "train.optim.weight_decay", f"must be >= 0, got {self.weight_decay}")
        _check(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            "train.optim.betas",
            f"must be two numbers in [0, 1), got {self.betas}",
        )
        _check(
            not self.nesterov or (self.name == "sgd" and self.momentum > 0),
            "train.optim.nesterov",
            "needs name='sgd' and momentum > 0",
        )


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule, as a multiplier of TrainConfig.lr (see rnnkit.train.schedule).

    constant; step (x gamma every step_size steps); cosine (linear warm-up for warmup_steps, then cosine to
    min_lr_ratio over the run); plateau (x factor after `patience` evaluations without improvement);
    ntasgd (awd-lstm: constant, switch SGD -> averaged SGD when the validation metric has not improved on
    the best of all but the last `nonmono` evaluations; Merity et al. 2017, sec. 3).
    """

    name: Literal["constant", "step", "cosine", "plateau", "ntasgd"] = "constant"
    warmup_steps: int = 0  # linear warm-up from 0, any schedule
    step_size: int = 1000  # step
    gamma: float = 0.5  # step
    min_lr_ratio: float = 0.0  # cosine floor and plateau floor, as a fraction of lr
    factor: float = 0.5  # plateau
    patience: int = 2  # plateau: evaluations without improvement
    threshold: float = 1e-4  # plateau: relative improvement that counts
    nonmono: int = 5  # ntasgd

    def __post_init__(self) -> None:
        k = "train.schedule"
        _one_of(self.name, f"{k}.name", ("constant", "step", "cosine", "plateau", "ntasgd"))
        _check(self.warmup_steps >= 0, f"{k}.warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        _check(self.step_size > 0, f"{k}.step_size", f"must be > 0, got {self.step_size}")
        _check(0 < self.gamma <= 1, f"{k}.gamma", f"must be in (0, 1], got {self.gamma}")
        _check(0 < self.factor < 1, f"{k}.factor", f"must be in (0, 1), got {self.factor}")
        _check(0 <= self.min_lr_ratio <= 1, f"{k}.min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        _check(self.patience >= 0, f"{k}.patience", f"must be >= 0, got {self.patience}")
        _check(self.nonmono > 0, f"{k}.nonmono", f"must be > 0, got {self.nonmono}")


@dataclass(frozen=True)
class CheckpointConfig:
    """When to write ``last`` and which metric picks ``best``."""

    every_steps: int = 0  # also write `last` every k optimiser steps; 0: at each evaluation and at the end
    monitor: str = "val_loss"  # "auto": the task's own metric and direction (Task.default_monitor)
    mode: Literal["min", "max"] = "min"
    save_best: bool = True
    save_last: bool = True

    def __post_init__(self) -> None:
        _check(self.every_steps >= 0, "train.checkpoint.every_steps", f"must be >= 0, got {self.every_steps}")
        _one_of(self.mode, "train.checkpoint.mode", ("min", "max"))


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``fit`` reads."""

    epochs: int = 1
    max_steps: int = 0  # stop after this many optimiser steps; 0: no limit
    lr: float = 1e-3
    clip_norm: float = 1.0  # global gradient-norm clipping; 0 disables
    ema: float = 0.0  # decay of an exponential moving average of the weights (Keras's ema_momentum; 0.99 is usual):
    # evaluated, saved as `best` and left in the model at the end, while training goes on with the live weights; 0: off
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log_every: int = 50  # optimiser steps between log lines / metrics.jsonl "train" records
    eval_every: int = 0  # optimiser steps between evaluations; 0: end of each epoch
    patience: int = 0  # early stopping: evaluations without improvement of checkpoint.monitor; 0: off
    max_bad_steps: int = 5  # NaN/inf guard: stop after this many consecutive non-finite losses/grads
    bad_step_lr_factor: float = 0.5  # NaN/inf guard: multiply the lr by this on each skipped step
    diverge_factor: float = 10.0  # divergence guard: stop when the loss stays above max(K * initial, initial + K)
    # (K = this; max_bad_steps training steps in a row, or one validation loss); 0: off
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms and friends (see seed_everything)
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", or "auto"
    precision: str = "fp32"  # "bf16": products in bfloat16 under torch.autocast, weights/optimiser/loss float32
    quiet: bool = False
    unit: str = "items"  # throughput unit shown in progress: "tokens", "samples", ...

    def __post_init__(self) -> None:
        _check(self.epochs > 0, "train.epochs", f"must be > 0, got {self.epochs}")
        _check(self.max_steps >= 0, "train.max_steps", f"must be >= 0 (0 = no limit), got {self.max_steps}")
        _check(self.lr > 0, "train.lr", f"must be > 0, got {self.lr}")
        _check(self.clip_norm >= 0, "train.clip_norm", f"must be >= 0 (0 disables clipping), got {self.clip_norm}")
        _check(0 <= self.ema < 1, "train.ema", f"must be in [0, 1) (a per-step decay, 0.99; 0: off), got {self.ema}")
        _check(
            not (self.ema and self.schedule.name == "ntasgd"),
            "train.ema",
            "cannot be combined with schedule 'ntasgd', which averages the weights itself; set one of them",
        )
        _check(self.log_every > 0, "train.log_every", f"must be > 0, got {self.log_every}")
        _check(self.eval_every >= 0, "train.eval_every", f"must be >= 0, got {self.eval_every}")
        _check(self.patience >= 0, "train.patience", f"must be >= 0, got {self.patience}")
        _check(self.max_bad_steps > 0, "train.max_bad_steps", f"must be > 0, got {self.max_bad_steps}")
        _check(
            self.diverge_factor == 0 or self.diverge_factor > 1,
            "train.diverge_factor",
            f"must be > 1 (stop when the loss exceeds max(K * initial, initial + K)) or 0 (off), "
            f"got {self.diverge_factor}",
        )
        _check(
            0 < self.bad_step_lr_factor <= 1,
            "train.bad_step_lr_factor",
            f"must be in (0, 1], got {self.bad_step_lr_factor}",
        )
        _check(
            self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:"),
            "train.device",
            f"must be 'cpu', 'cuda', 'cuda:K' or 'auto', got {self.device!r}",
        )
        _one_of(self.precision, "train.precision", ("fp32", "bf16"))


@dataclass(frozen=True)
class RunConfig:
    """A whole run: what to train, on what, how, and where to write it. Tasks subclass it."""

    task: str = ""
    run_dir: str = "runs/run"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    time_limit: float = 0.0  # wall-clock seconds of training, then stop cleanly (0: no limit); any task
    time_decay: str = "none"  # "cosine" | "wsd": decay the lr to 0 over time_limit (see train/budget.py)

    def __post_init__(self) -> None:
        _check(self.time_limit >= 0, "time_limit", f"must be >= 0 seconds (0 = no limit), got {self.time_limit}")
        _one_of(self.time_decay, "time_decay", ("none", "cosine", "wsd"))
        _check(
            self.time_decay == "none" or self.time_limit > 0,
            "time_decay",
            "needs time_limit > 0 (the decay runs over the time budget)",
        )
