"""The options of ``rnnkit <task> train`` as data, and the config they build: one table for the command line
and for ``from_options`` in Python (no typer here, so a notebook configures a task as the CLI would).

    Opt("--hidden", "model.hidden_size", int, "Hidden units (per direction).")

Every task's ``train`` takes ``COMMON``; a task adds its own in its ``TaskCLI.train_options`` (tasks/<t>/cli.py).
A run config is built in one order: ``--config`` (or the task's defaults), then the options given, then the
dotted ``--section.key=value`` overrides, then the options marked ``late``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from rnnkit.tasks.base import Task


@dataclass(frozen=True)
class Opt:
    """One command-line option: ``--flag`` (plus ``aliases``) setting dotted config ``key`` (None: the command
    reads it itself), of ``type``; ``path=True`` stores an absolute path string."""

    flag: str
    key: str | None
    type: Any
    help: str
    aliases: tuple[str, ...] = ()
    path: bool = False
    default: Any = None
    convert: Callable[[Any], Any] | None = None  # command-line value -> config value
    late: bool = False  # applied after the dotted overrides (when it is only valid once they are in)

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


# The options every task's `train` has (the task's own `train_options` follow them in --help).
COMMON: tuple[Opt, ...] = (
    Opt("--data", "data.path", Path, "Training data: a file or folder (formats: docs/formats.md).", path=True),
    Opt("--dataset", "data.dataset", str, "A known dataset instead of --data."),
    Opt("--data-root", "data.data_root", Path, "Folder holding the known datasets (default $RNNKIT_DATA).", path=True),
    Opt(
        "--val", "data.val_path", Path, "Validation file (default: a held-out data.val_fraction of --data).", path=True
    ),
    Opt(
        "--test",
        "data.test_path",
        Path,
        "Test file, scored after training (default: the dataset's test split).",
        path=True,
    ),
    Opt("--out", "run_dir", Path, "Run folder to write.", aliases=("--run-dir",), path=True),
    Opt("--seed", "train.seed", int, "Seed of everything (data order, init, dropout)."),
    Opt("--epochs", "train.epochs", int, "Most passes over the training data (early stopping may stop sooner)."),
    Opt("--seconds", "time_limit", float, "Training time budget in seconds (0: none); final evaluation comes after."),
    Opt("--lr", "train.lr", float, "Learning rate."),
    Opt("--batch-size", "data.batch_size", int, "Examples (LM: columns) per batch."),
    Opt("--cell", "model.cell.name", str, "Any registered cell: lstm, gru, rnn, mingru, minlstm, ..."),
    Opt("--hidden", "model.hidden_size", int, "Hidden units (per direction)."),
    Opt("--layers", "model.num_layers", int, "Stacked recurrent layers."),
    Opt("--precision", "train.precision", str, "fp32, or bf16: products in bfloat16 (CPUs with AMX / AVX512-BF16)."),
)


def get_key(cfg: Any, key: str) -> Any:
    """The value of dotted ``key`` in a config (AttributeError if it does not exist)."""
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def train_options(task_cls: type[Task]) -> tuple[Opt, ...]:
    """``COMMON`` and the task's own ``train`` options (from its TaskCLI record)."""
    from rnnkit.tasks import task_info

    return (*COMMON, *task_info(task_cls.name).load_cli().train_options)


def build_config(task_cls: type[Task], given: dict[str, Any], extra: Sequence[str]) -> Any:
    """The run config: ``--config`` (or the task's defaults), then the options given, then dotted overrides."""
    from rnnkit.config import apply_overrides, load_config, parse_cli

    config = given.pop("config", None)
    cfg = load_config(task_cls.Config, config) if config else task_cls.Config()
    opts = {o.name: o for o in train_options(task_cls)}
    data, dataset = given.get("data"), given.get("dataset")
    if data is not None and dataset is not None:
        raise UsageError("give --data PATH or --dataset NAME, not both")
    if data is not None or dataset is not None:  # a source on the command line replaces the config's
        cfg = replace(cfg, data=replace(cfg.data, path=None, dataset=None))
    values: dict[str, Any] = {}
    late: dict[str, Any] = {}
    for name, v in given.items():
        o = opts.get(name)
        if v is None or o is None or o.key is None:
            continue
        v = str(Path(v).expanduser().resolve()) if o.path else v
        (late if o.late else values)[o.key] = o.convert(v) if o.convert else v
    cfg = apply_overrides(cfg, values)
    cfg = apply_overrides(cfg, parse_cli(list(extra))[1])
    return apply_overrides(cfg, late)


def from_options(task: str | type[Task], config: str | os.PathLike | None = None, **options: Any) -> Any:
    """A task configured as ``rnnkit <task> train`` would be, with the same option names: ``data="train.tsv",
    test="test.tsv", epochs=5, hidden=128, out="runs/x"``, starting from ``config`` (a config.json) or the
    defaults; dotted config keys go in ``overrides={"train.lr": 1e-3}``. Unknown names are a ConfigError.
    ``task`` is a Task class or a task name ("classify")."""
    from rnnkit.config import apply_overrides
    from rnnkit.tasks import get_task

    task_cls = get_task(task) if isinstance(task, str) else task
    overrides = options.pop("overrides", {}) or {}
    known = {o.name for o in train_options(task_cls)}
    bad = sorted(set(options) - known)
    if bad:
        raise ConfigError(f"{task_cls.__name__}.from_options: unknown option(s) {bad}; known: {sorted(known)}")
    cfg = build_config(task_cls, {"config": config, **options}, [])
    return task_cls(apply_overrides(cfg, dict(overrides)))
