"""Training: ONE ``fit`` loop for every task (TBPTT language models, forecasting, classification, ...).

Tasks never write their own loop: they supply a model, a ``step`` function and batches. This docstring is
the published contract; the names below are stable.

Public API
----------
::

    from rnnkit.train import fit, StepOutput, FitResult, FitState, Callback
    from rnnkit.train import ProgressBar, EarlyStopping, Periodic, LossPlot
    from rnnkit.train import save_checkpoint, load_checkpoint, load_model, checkpoint_path, CheckpointError
    from rnnkit.train import seed_everything, detach_state, unwrap, as_batches
    from rnnkit.config import RunConfig, TrainConfig, OptimConfig, ScheduleConfig, CheckpointConfig
    from rnnkit.config import ModelConfig, CellConfig, DataConfig, ConfigError, config_from_cli, save_config

    fit(model: nn.Module, step: StepFn, train_data: BatchesLike, *,
        config: TrainConfig = TrainConfig(),
        val_data: BatchesLike | None = None,
        eval_step: StepFn | None = None,        # replaces `step` for evaluation (same signature)
        run_dir: str | Path | None = None,      # None: nothing is written
        callbacks: Sequence[Callback] = (),      # added to the defaults (progress, metrics, loss plot, early stop)
        resume: bool | str | Path = False,      # True: resume from run_dir/last; a path: from that checkpoint
        optimizer: torch.optim.Optimizer | None = None,   # default: built from config.optim over model.parameters()
        run_config: Any = None,                 # the task's whole config dataclass, written to run_dir/config.json
        evaluator: Callable[[nn.Module], dict] | None = None,  # extra whole-set validation metrics, merged
    ) -> FitResult                              # into each evaluation (e.g. {"val_f1": ...}; monitor may name one)

What a task supplies
--------------------
``model``: any ``torch.nn.Module``. fit moves it to ``config.device`` and, under ``torchrun``, wraps it in
DistributedDataParallel; ``step`` receives that (possibly wrapped) module. Call ``model(...)`` for the
training forward (DDP synchronises gradients through it) and ``unwrap(model)`` to reach attributes.

``step(model, batch, state) -> StepOutput | tuple[loss, state, n_items]``
    ``StepOutput(loss, state=None, n_items=1, metrics=None)`` is a NamedTuple; a plain 3-tuple is accepted.
    * ``loss``: scalar tensor, the MEAN loss over the ``n_items`` items of this batch (fit calls backward on it
      as is). Add AR/TAR or other penalties into it; report the pure loss via ``metrics`` if you want both.
    * ``state``: recurrent state to carry into the NEXT batch (stateful TBPTT, e.g. the (h, c) tuple), or
      None for per-sequence tasks. fit passes ``state=None`` at the start of every epoch and every evaluation
      pass; it detaches what you return before the next call (``detach_state``), so return it undetached.
      Tensors, tuples, lists and dicts of tensors are supported (the carried state is checkpointed too).
    * ``n_items``: tokens (LM) or samples (forecasting, classification) in the batch. Weights the running
      averages (so ``val_loss`` is the per-item mean over the whole set) and is the throughput unit
      (``config.unit`` names it: "tokens" or "samples").
    * ``metrics``: optional ``dict[str, float]`` (e.g. ``{"acc": 0.91}``) averaged over batches weighted by
      ``n_items``; at evaluation reported as ``val_<name>`` (``val_loss`` is always there).
    Training calls it with ``model.train()`` and grad enabled; evaluation with ``model.eval()`` and
    ``torch.no_grad()`` (and the unwrapped model, never DDP); ``model.training`` tells you which.

``train_data`` / ``val_data`` (``BatchesLike``), any of:
    * an object with ``epoch(epoch: int, start: int = 0) -> Iterator[batch]`` — the batches of that epoch from
      batch index ``start`` on. Order must depend only on ``epoch`` (and the object's own seed), never on a
      global RNG: that is what makes resume exact. Optional: ``__len__`` (batches per epoch, for ETA),
      ``shard(rank, world_size)`` (custom DDP sharding). ``rnnkit.data.streams.TokenStream`` is one.
    * a list/tuple of batches (same order every epoch; ``as_batches(seq, shuffle=True, seed=s)`` to shuffle
      deterministically per epoch),
    * a ``torch.utils.data.DataLoader`` (its sampler is re-seeded with ``seed + epoch`` every epoch and skipped
      forward on resume; DistributedSampler gets ``set_epoch``),
    * a callable ``epoch -> iterable of batches``.
    A batch is a tensor or a tuple / list / NamedTuple / dict of tensors (moved to the device by fit; other
    leaves are passed through). A batch may have an ``lr_scale`` attribute (awd-lstm variable BPTT:
    ``seq_len / bptt``) that multiplies the learning rate for that step only.
    Under DDP each rank takes its contiguous slice of every global batch along dim 0 (so N must divide by the
    world size) unless the data object has ``shard`` or uses a DistributedSampler.

The loop (``loop.py``), per batch: move to device -> step (forward + loss) -> NaN/inf guard -> backward ->
clip global grad norm (``config.clip_norm``, on by default) -> optimiser step -> weight EMA (``config.ema``) ->
schedule -> log -> evaluate (every ``config.eval_every`` steps, 0 = end of each epoch) -> checkpoint (last; best on
the monitored metric) -> callbacks. With ``config.ema = d`` (Keras's ``use_ema`` / ``ema_momentum``) evaluation,
``best`` and the returned model use the exponential moving average of the weights; ``last`` keeps the live weights
(to resume) with the average beside them, which ``load_model`` serves.
Ctrl-C / SIGTERM finish the current step, save ``last`` and return ``FitResult(interrupted=True)``;
``fit(..., resume=True)`` continues bit-for-bit on CPU (with ``config.lr``: a different lr than the run's applies from
the resume on; ``Task.fit`` refuses that unless asked). A SIGKILL leaves the previous ``last`` whole (checkpoints
are swapped in with one atomic rename). fit holds the run folder's lock (``rnnkit.runfolder``) while it runs and
writes ``config.json`` only once a resume's checkpoint has loaded. Guards: ``max_bad_steps`` non-finite steps in a
row, or as many with the loss above ``max(K * initial, initial + K)`` (``config.diverge_factor``), or one
validation loss above it, raise ``TrainingDiverged``, and nothing is saved after that.

Callbacks
---------
Subclass ``Callback`` and override any of (all default to no-ops)::

    on_fit_start(fs: FitState) -> None
    on_step_end(fs: FitState, logs: dict[str, float]) -> None   # after each optimiser step: loss, lr, n_items
    on_log(fs: FitState, logs: dict[str, float]) -> None        # every config.log_every steps: running means
                                                                # {"loss", "lr", "items_per_s", ...}
    on_evaluate(fs: FitState, metrics: dict[str, float]) -> None  # {"val_loss", "val_<metric>", ...}
    on_epoch_end(fs: FitState) -> None
    on_fit_end(fs: FitState) -> None
    state_dict() -> dict        # JSON-able; saved in checkpoints under "ClassName.k", restored on resume
    load_state_dict(d: dict) -> None

Set ``fs.should_stop = True`` (and ``fs.stop_reason``) to stop after the current step. ``FitState`` fields:
``model`` (as passed to step), ``raw_model`` (unwrapped), ``optimizer``, ``config``, ``step`` (optimiser steps
done), ``epoch``, ``batch`` (next batch index in the epoch), ``run_dir`` (Path | None), ``is_main`` (rank 0),
``rank``, ``world_size``, ``total_steps`` (int | None, for ETA), ``history`` (list of log/eval records),
``best`` (best eval metrics dict or None), ``lr`` (current base lr), ``should_stop``, ``stop_reason``.
Built-ins: ``ProgressBar`` (rich bar with loss, items/s and ETA on a TTY, plain log lines otherwise,
nothing when ``config.quiet``), ``EarlyStopping(patience, metric="val_loss", mode="min", min_delta=0)``,
``Periodic(every_steps, fn)`` (``fn(fs)`` on rank 0, for samples / plots), ``LossPlot`` (``loss.png``, redrawn
after evaluations at most every 30 s and at the end). ProgressBar, metrics.jsonl, LossPlot (with run_dir) and
EarlyStopping (when ``config.patience`` > 0 and val_data is given) are added by default; passing your own
ProgressBar replaces the default one.

``FitResult``: ``model`` (unwrapped), ``step``, ``epoch``, ``history``, ``best``, ``last`` (last eval metrics),
``interrupted`` (bool), ``stop_reason`` (str), ``run_dir``.

Run folder and checkpoints
--------------------------
::

    run_dir/config.json       the task's config (``run_config``), a valid ``--config`` to re-run it
    run_dir/metrics.jsonl     one JSON object per line: {"event": "train"|"eval"|..., "step", "epoch", ...}
    run_dir/loss.png          train and validation loss curves
    run_dir/last/             model.safetensors, optimizer.safetensors, state.json (+ state.safetensors holding
                              the carried TBPTT state when there is one)  -- the resume point
    run_dir/best/             model.safetensors, state.json: best ``config.checkpoint.monitor`` so far (needs val_data)
    run_dir/prev/             the previous ``last``, kept until the next one is written completely

Tensors go to safetensors, everything else (step, epoch, position, RNG states, scheduler, optimiser
hyper-parameters, callback states, file checksums) to JSON. Nothing is pickled; loading never executes
code. Each checkpoint folder is written to a temp folder and renamed into place.

    checkpoint_path(run_dir, which="best"|"last") -> Path   # best falls back to last when there is no best
    save_checkpoint(path, *, model, optimizer=None, state=None, tensors=None) -> Path
    load_checkpoint(path, *, model=None, optimizer=None) -> {"state": dict, "tensors": dict, "path": Path}
                                                                    # verifies checksums first
    load_model(path_or_run_dir, model, *, which="best") -> dict     # for generate / predict / export
    CheckpointError(ValueError)   # missing / truncated / corrupt checkpoint: says which file and what to do

NaN/inf guard: a step whose loss or gradient norm is not finite is skipped and the lr multiplied by
``config.bad_step_lr_factor``; after ``config.max_bad_steps`` in a row fit raises ``TrainingDiverged``
(a FloatingPointError) saying where it happened and what to change.

Other helpers: ``seed_everything(seed, *, deterministic=False)`` (python, numpy, torch; call it before
building the model), ``detach_state(state)``, ``unwrap(model)``, ``as_batches(obj, ...)``.
Distributed: launch the same script with ``torchrun --nproc_per_node=2``; fit initialises the process group
(gloo on CPU, NCCL on GPU) from the environment, shards batches, averages the logged losses, and only rank 0
writes files and prints.
"""

from rnnkit.train.callbacks import Callback, EarlyStopping, LossPlot, Periodic, ProgressBar
from rnnkit.train.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from rnnkit.train.data import as_batches
from rnnkit.train.distributed import unwrap
from rnnkit.train.loop import FitResult, FitState, StepOutput, TrainingDiverged, build_optimizer, fit, seed_everything
from rnnkit.train.tbptt import detach_state

__all__ = [
    "Callback",
    "CheckpointError",
    "EarlyStopping",
    "FitResult",
    "FitState",
    "LossPlot",
    "Periodic",
    "ProgressBar",
    "StepOutput",
    "TrainingDiverged",
    "build_optimizer",
    "as_batches",
    "checkpoint_path",
    "detach_state",
    "fit",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
    "seed_everything",
    "unwrap",
]
