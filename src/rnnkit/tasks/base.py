"""The Task contract: a task writes only its own part; this base owns the plumbing every task shares, once.

A task subclass supplies (Darts' template method, without its 3,000-line base)::

    name, Config                        the registry name and the config dataclass (a RunConfig)
    load_data() -> Splits               read + split its data from the config (train, val | None, test | None)
    prepare(train)                      vocabularies / scalers / label sets from the training data only
    build_model() -> nn.Module          the network, from its config section
    make_batches(train, val)            what ``rnnkit.train.fit`` consumes: (train batches, val batches | None)
    step(model, batch, state)           one batch's loss -> StepOutput
    evaluate(data) -> dict              a flat report of its metrics
    predict(...)                        its inference
    state_dict() / load_state_dict(d)   what goes into task.json (JSON only)
    val_metrics(val) -> dict            optional: whole-set validation metrics (F1, BLEU) merged into each eval

and the base gives every task: seeding, the run folder (``config.json``, ``task.json``, checkpoints,
``metrics.jsonl``, ``eval.json``, plots) always from ``config.run_dir``, claimed through ``rnnkit.runfolder``
(refusals, ``overwrite`` moves an old run aside, one writer at a time); ``fit(train=None, val=None, *,
callbacks, resume, overwrite, new_lr) -> FitResult`` (a resume checked against the run before anything is
written) that leaves the ``best`` weights in ``.model`` (so ``train`` and ``eval``
report the same weights, and say which); ``load(run_dir, which=)``; ``export_onnx`` (the task gives ``onnx_spec``);
a length-sorted batched inference driver (``infer``); the test report (``write_report``); one error for
"not trained" and one for "not a run folder". The run-folder side lives in ``runfiles.py`` and the inference side
in ``inference.py``, mixed into ``Task``: this file is the contract and ``fit``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from torch import nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError, load_config
from rnnkit.data.sources import DataError
from rnnkit.errors import NotARunError, NotTrainedError  # noqa: F401 - re-exported where it used to be defined
from rnnkit.tasks.inference import Inference
from rnnkit.tasks.runfiles import REPORT_FILE, TASK_FILE, RunFiles, load_any  # noqa: F401 - their home was here


def stop_on_metric(*, lr: float, patience: int, epochs: int = 30) -> Any:
    """Training defaults for a task judged by a validation metric: up to ``epochs`` epochs, stopping when the task's
    metric (``monitor="auto"``: Task.default_monitor; ties broken by the loss) has not improved for ``patience``
    evaluations, ``best`` chosen by it."""
    from rnnkit.config import CheckpointConfig, TrainConfig

    return TrainConfig(
        unit="samples", epochs=epochs, patience=patience, lr=lr, checkpoint=CheckpointConfig(monitor="auto", mode="max")
    )


@dataclass
class Splits:
    """A task's data: training, validation (None: none) and test (None: none) parts, and what was decided."""

    train: Any
    val: Any = None
    test: Any = None
    notes: list[str] = field(default_factory=list)  # human-readable lines: formats detected, repairs, choices


DataT = TypeVar("DataT")  # what load_data gives per split (e.g. ClassificationData, a token stream, a series)
BatchT = TypeVar("BatchT")  # one batch as ``step`` receives it (e.g. ``(x, lengths, y)`` tensors)
BatchT_co = TypeVar("BatchT_co", covariant=True)


class EpochBatches(Protocol[BatchT_co]):
    """Resumable batches (``BucketBatches``, ``rnnkit.train.Batches``): those of ``epoch`` from index ``start`` on."""

    def epoch(self, epoch: int, start: int = 0) -> Iterator[BatchT_co]: ...


# What ``rnnkit.train.fit`` trains on (its ``BatchesLike``): an object with ``epoch(e, start)``, a list or tuple of
# batches, a DataLoader, or a callable ``epoch -> batches``.
BatchesLike = EpochBatches[BatchT] | Sequence[BatchT] | DataLoader | Callable[[int], Iterable[BatchT]]


class Task(RunFiles, Inference, ABC, Generic[DataT, BatchT]):
    """Base of every task; see the module docstring for what a subclass writes."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object
    legacy_task_files: ClassVar[tuple[str, ...]] = ()  # older runs' name for task.json (read, never written)

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()
        self.model: nn.Module | None = None
        self.fit_result: Any = None
        self.notes: list[str] = []  # what load_data / prepare decided from the data, printed by the CLI
        self.decided: dict[str, Any] = {}  # model settings prepare chose from the data (see ``decide``)
        self._inference_precision = "fp32"  # predict / evaluate (train.precision is training's)

    def __repr__(self) -> str:
        state = "trained" if self.model is not None else "not trained"
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir else ""
        return f"{type(self).__name__}({self.name!r}, {state}{where})"

    # ---- what a task writes ---------------------------------------------------------------------------------

    @abstractmethod
    def load_data(self) -> Splits:
        """Read and split the configured data (``config.data``): training, validation and test parts."""

    def prepare(self, train: DataT) -> None:
        """Fit vocabularies / scalers / label sets on the training data (nothing by default)."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """The network, from the config's model section and what ``prepare`` learnt (vocabulary size, classes)."""

    @abstractmethod
    def make_batches(self, train: DataT, val: DataT | None) -> tuple[BatchesLike[BatchT], BatchesLike[BatchT] | None]:
        """What ``rnnkit.train.fit`` consumes: training batches and validation batches (None: no validation)."""

    @abstractmethod
    def step(self, model: nn.Module, batch: BatchT, state: Any) -> Any:
        """One batch's loss as a ``rnnkit.train.StepOutput`` (``state``: carried recurrent state, or None)."""

    # ``evaluate`` and ``predict`` take one positional argument (its name is the task's: ``pairs``, ``prompts``)
    # and then the task's own options: ``*args: Any, **kwargs: Any`` is how a base says "a subclass adds its own
    # parameters" (mypy accepts any extra parameters in an override, and still checks the first and the result).

    @abstractmethod
    def evaluate(self, data: DataT, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """A flat report of the task's metrics on ``data``."""

    @abstractmethod
    def predict(self, inputs: Any, /, *args: Any, **kwargs: Any) -> Any:
        """The task's inference on inputs as a user holds them (texts, arrays, file paths)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` wrote (vocabularies, classes, scalers)."""

    def val_metrics(self, val: Any) -> Callable[[nn.Module], dict[str, float]] | None:
        """A function scoring the whole validation set (``{"val_f1": ...}``), or None: batch means only."""
        return None

    def callbacks(self) -> list[Any]:
        """Task-specific callbacks added to fit's (none by default)."""
        return []

    def default_monitor(self) -> tuple[str, str]:
        """``(metric, "min"|"max")`` that picks ``best`` and drives early stopping when the config says
        ``train.checkpoint.monitor = "auto"``: the task's own metric (accuracy, F1, BLEU, MAE), not only loss."""
        return "val_loss", "min"

    def decide(self, note: str, **model_fields: Any) -> None:
        """Settle ``auto`` model settings from the training data: the config (hence config.json) gets the chosen
        values, task.json keeps them for a resume, and ``note`` is printed by the CLI ("word input: ...")."""
        self.decided.update(model_fields)
        self.config = replace(self.config, model=replace(self.config.model, **model_fields))
        self.notes.append(note)

    # ---- what the command line and the report read (defaults suit most) --------------------------------

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,}"  # noqa: E731
        return f"{n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test examples"

    def eval_data(self, path: Path | None) -> Any:
        """What ``eval`` scores: ``--data FILE`` read as the task reads its data, else the run's test split."""
        if path is not None:
            return self.read_eval_data(path)
        test = self.load_data().test
        if test is None:
            raise DataError(f"{self.run_dir} has no test split: pass --data FILE to score")
        return test

    def read_eval_data(self, path: Path) -> Any:  # pragma: no cover - per task
        raise NotImplementedError(f"{self.name} eval --data is not supported")

    def read_predict_file(self, path: Path) -> list[Any]:
        """Non-empty lines of a UTF-8 (or the config's encoding) file."""
        from rnnkit.data.readers import lines, read_text_file

        enc = getattr(self.config.data, "encoding", "utf-8")
        return [s for s in lines(read_text_file(path, enc)) if s.strip()]

    def test_report(self, splits: Splits) -> dict[str, Any] | None:
        """The report ``train`` writes as eval.json: ``evaluate`` on the test split (None without one)."""
        return self.evaluate(splits.test) if splits.test is not None else None

    def after_report(self, report: dict[str, Any]) -> None:
        """Extra files from the test report written into the run folder (a confusion-matrix PNG, ...)."""

    # ---- the shared part ---------------------------------------------------------------------------------

    @classmethod
    def from_options(cls, config: str | os.PathLike | None = None, **options: Any) -> Task:
        """A task configured as ``rnnkit <task> train`` would be (``rnnkit.tasks.options.from_options``): the same
        option names (``data="train.tsv", epochs=5, hidden=128, out="runs/x"``), dotted config keys in
        ``overrides={"train.lr": 1e-3}``; unknown names are a ConfigError."""
        from rnnkit.tasks.options import from_options

        return from_options(cls, config, **options)

    @property
    def run_dir(self) -> Path | None:
        return Path(self.config.run_dir) if self.config.run_dir else None

    @property
    def net(self) -> nn.Module | None:
        """Older name of ``model`` (kept so code written against it still runs)."""
        return self.model

    @net.setter
    def net(self, value: nn.Module | None) -> None:
        self.model = value

    def fit(
        self,
        train: Any = None,
        val: Any = None,
        *,
        callbacks: Sequence[Any] = (),
        resume: bool = False,
        overwrite: bool = False,
        new_lr: bool = False,
    ) -> Any:
        """Prepare from ``train`` (default: the configured data), train through ``rnnkit.train.fit`` into
        ``config.run_dir`` and leave the selected weights (``best`` when there was validation) in ``.model``.

        The run folder is checked first (``rnnkit.runfolder``): an existing run is refused unless ``resume`` (go on)
        or ``overwrite`` (move it aside to ``RUN.old-<time>``); a non-empty folder that is not a run always is.
        ``resume``: continue the run folder's last checkpoint; the vocabularies come from its task.json, so the
        ids are the ones the checkpoint was trained on. The requested config and the checkpoint are checked against
        the run before anything is written; ``new_lr`` allows a new ``train.lr``.
        """
        with contextlib.ExitStack() as hold:
            return self._fit(train, val, hold, callbacks=callbacks, resume=resume, overwrite=overwrite, new_lr=new_lr)

    def _fit(
        self,
        train: Any,
        val: Any,
        hold: contextlib.ExitStack,
        *,
        callbacks: Sequence[Any],
        resume: bool,
        overwrite: bool,
        new_lr: bool,
    ) -> Any:
        """``fit``; the run folder's lock is entered into ``hold`` (fit_and_test keeps it while writing eval.json)."""
        from rnnkit.runfolder import check_out, claim
        from rnnkit.train import fit, load_checkpoint, seed_everything
        from rnnkit.train.budget import TimeBudget
        from rnnkit.train.callbacks import RunRecord

        cfg = self.config
        run = self.run_dir
        changes: list[Any] = []
        if run is not None:
            check_out(run, resume=resume, overwrite=overwrite)  # writes nothing: refuse before reading any data
        if resume:
            if run is None:
                raise ConfigError("resume needs config.run_dir: the run folder whose last checkpoint to continue")
            self._read_task_file(run)
            changes = self._resume_changes(run, new_lr=new_lr)
        if train is None:
            splits = self.load_data()
            train, val = splits.train, (val if val is not None else splits.val)
        seed_everything(cfg.train.seed, deterministic=cfg.train.deterministic)
        if not resume:
            self.prepare(train)
        cfg = self.config = self._resolve_monitor(self.config)
        self.model = self.build_model()
        train_b, val_b = self.make_batches(train, val)
        if resume:  # verify the checkpoint (checksums, every weight's shape) before the folder is touched
            assert run is not None  # a resume without a run folder was refused above
            load_checkpoint(run / "last", model=self.model)
        if run is not None:
            self.notes += hold.enter_context(claim(run, resume=resume, overwrite=overwrite, task=self.name))
            self.save(run)
        cbs = [*self.callbacks(), *callbacks]
        if changes:
            self.notes.append("resumed with: " + ", ".join(f"{c.key} {c.old!r} -> {c.new!r}" for c in changes))
            cbs.append(RunRecord("resume", {"changed": {c.key: [c.old, c.new] for c in changes}}))
        if cfg.time_limit:
            cbs.append(TimeBudget(cfg.time_limit, decay=cfg.time_decay))
        # Without a run folder the checkpoints still go somewhere, so that `best` can be restored: a temp folder.
        tmp = tempfile.TemporaryDirectory(prefix=f"rnnkit-{self.name}-") if run is None and val_b is not None else None
        ckpt = run if run is not None else (Path(tmp.name) if tmp else None)
        t0 = time.monotonic()
        try:
            result = fit(
                self.model,
                self.step,
                train_b,
                config=cfg.train,
                val_data=val_b,
                run_dir=ckpt,
                callbacks=cbs,
                resume=resume,
                run_config=cfg,
                evaluator=self.val_metrics(val) if val_b is not None else None,
            )
            self.train_seconds = time.monotonic() - t0
            self.model = result.model
            self.fit_result = result
            self._best = ckpt is not None and (ckpt / "best").is_dir() and not result.interrupted
            if self._best and ckpt is not None:
                from rnnkit.train import load_model

                load_model(ckpt, self.model, which="best")  # what `eval`, `predict` and `load` use
        finally:
            if tmp is not None:
                tmp.cleanup()
        self.model.eval()
        return result

    def _resume_changes(self, run: Path, *, new_lr: bool) -> list[Any]:
        """What the requested config changes from the run's (RunFolderError when a resume cannot change it)."""
        from rnnkit.config import to_dict
        from rnnkit.runfolder import resume_changes

        if not (run / "config.json").is_file():
            raise NotARunError(f"{run} has no config.json: it is not a run folder to resume")
        saved = load_config(type(self.config), run / "config.json")
        return resume_changes(to_dict(saved), to_dict(self.config), new_lr=new_lr)

    def fit_and_test(
        self, *, callbacks: Sequence[Any] = (), resume: bool = False, overwrite: bool = False, new_lr: bool = False
    ) -> dict[str, Any] | None:
        """What ``rnnkit <task> train`` does: read the configured data, fit, score the test part with the weights
        ``load`` will give, write eval.json (saying which weights); returns the report (None: nothing to score).
        The run folder stays locked until eval.json is written."""
        splits = self.load_data()
        self.splits = splits
        with contextlib.ExitStack() as hold:
            self._fit(
                splits.train, splits.val, hold, callbacks=callbacks, resume=resume, overwrite=overwrite, new_lr=new_lr
            )
            if self.fit_result.interrupted:
                return None
            report = self.test_report(splits)
            if report is not None:
                self.write_report(report)
                if self.run_dir is not None:
                    self.after_report(report)
        return report

    def _resolve_monitor(self, cfg: Any) -> Any:
        ck = cfg.train.checkpoint
        if ck.monitor != "auto":
            return cfg
        monitor, mode = self.default_monitor()
        return replace(cfg, train=replace(cfg.train, checkpoint=replace(ck, monitor=monitor, mode=mode)))
