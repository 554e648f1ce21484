"""Hyper-parameter search over a task's config with Optuna (``rnnkit tune TASK ...``, issue #24).

A search space is JSON keyed by the dotted config keys the CLI overrides take::

    {"train.lr": {"log": [1e-4, 1e-2]},          # float, log-uniform
     "model.dropout": {"uniform": [0, 0.5]},     # float, uniform
     "train.epochs": {"int": [1, 5]},            # integer, both ends included
     "model.hidden_size": [16, 32, 64]}          # a list: categorical

Each trial is one run folder ``STUDY/trial-0007/`` trained through the task's ``fit`` on the configured data; its
objective is the validation metric that picks ``best`` (``Task.default_monitor`` or ``train.checkpoint.monitor``),
never the test split. ``Pruner`` reports that metric at every evaluation and stops a run Optuna prunes. The study
lives in a database (``sqlite:///STUDY/study.db`` by default) loaded if it exists, so a search can be interrupted and
resumed; a trial that raises is recorded failed with its message and the search goes on. Every trial folder gets a
``trial.json`` (state, params, value, error); the study folder gets ``study.json`` (how to reopen it) and
``best-config.json`` (a ready ``--config``). A process killed mid-trial leaves a RUNNING trial; the next ``tune`` on
that host sees its worker's lock free (``_Worker``), marks it failed ("interrupted", not counted) and queues its params
again (``reclaim``). Reading a study back (tables, plots) is ``rnnkit.tune_report``.

Optuna is optional (``pip install rnnkit[tune]``) and imported only here and in ``tune_report``, inside functions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError, apply_overrides, save_config, write_json
from rnnkit.errors import TuneError  # noqa: F401 - re-exported where it used to be defined
from rnnkit.train.callbacks import Callback
from rnnkit.tune_study import (  # noqa: F401 - the study side; importable from here as before
    FINISHED,
    STUDY_FILE,
    TRIAL_FILE,
    WORKERS,
    _setting_up,
    _Worker,
    default_storage,
    finished,
    open_study,
    reclaim,
    require_optuna,
    trial_dir,
    worker_alive,
)

BEST_FILE = "best-config.json"
KINDS = ("log", "uniform", "int")


# ---- the search space ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """One dimension: ``kind`` is "log", "uniform", "int" (``low``..``high``) or "choice" (``choices``)."""

    kind: str
    low: Any = None
    high: Any = None
    choices: tuple[Any, ...] = ()

    def corners(self) -> list[Any]:
        """Values that must each make a valid config: both ends of a range, every choice."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]

    def suggest(self, trial: Any, key: str) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(key, self.low, self.high)
        return trial.suggest_float(key, self.low, self.high, log=self.kind == "log")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_dist(key: str, spec: Any) -> Dist:
    """One space entry as a ``Dist``; TuneError naming ``key`` and what is allowed."""
    where = f"search space {key!r}"
    if isinstance(spec, list):
        if not spec or not all(v is None or isinstance(v, (bool, int, float, str)) for v in spec):
            raise TuneError(f"{where}: a list is a categorical choice of numbers, strings or booleans; got {spec!r}")
        return Dist("choice", choices=tuple(spec))
    if not isinstance(spec, dict) or len(spec) != 1:
        raise TuneError(
            f'{where}: give a list (categorical) or one of {{"log"|"uniform"|"int": [low, high]}}; got {spec!r}'
        )
    ((kind, rng),) = spec.items()
    if kind not in KINDS:
        raise TuneError(f"{where}: unknown distribution {kind!r}; use one of {', '.join(KINDS)} or a list")
    if not (isinstance(rng, list) and len(rng) == 2 and all(_number(v) for v in rng) and rng[0] <= rng[1]):
        raise TuneError(f"{where}: {kind} needs [low, high] with low <= high; got {rng!r}")
    low, high = rng
    if kind == "int" and not all(float(v).is_integer() for v in rng):
        raise TuneError(f"{where}: int needs whole-number bounds; got {rng!r}")
    if kind == "int":
        low, high = int(low), int(high)
    if kind == "log" and low <= 0:
        raise TuneError(f"{where}: log needs low > 0; got {rng!r}")
    if kind in ("log", "uniform"):
        low, high = float(low), float(high)
    return Dist(kind, low, high)


def parse_space(raw: Any, base: Any) -> dict[str, Dist]:
    """The space as ``{dotted key: Dist}``, checked against ``base`` (the task's config): every key must exist and
    every range end and choice must make a valid config (TuneError naming the key), before any trial runs."""
    if not isinstance(raw, dict) or not raw:
        raise TuneError(f"a search space is a non-empty JSON object of dotted config keys; got {raw!r}")
    space = {key: parse_dist(key, spec) for key, spec in raw.items()}
    for key, dist in space.items():
        for value in dist.corners():
            try:
                apply_overrides(base, {key: value})
            except ConfigError as e:
                raise TuneError(f"search space {key!r}: {value!r} does not make a valid config: {e}") from None
    return space


def read_space(path: str | Path, base: Any) -> dict[str, Dist]:
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TuneError(f"search space file {p} does not exist") from None
    except json.JSONDecodeError as e:
        raise TuneError(f"search space file {p} is not valid JSON ({e})") from None
    return parse_space(raw, base)


# ---- pruning -------------------------------------------------------------------------------------------------


class Pruner(Callback):
    """Reports ``monitor`` to the trial at each evaluation; stops the run (``fs.should_stop``) when Optuna prunes."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor, self.pruned = trial, monitor, False

    def on_evaluate(self, fs: Any, metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), fs.step)
        if self.trial.should_prune():
            self.pruned = True
            fs.should_stop = True
            fs.stop_reason = f"pruned by the study at step {fs.step} ({self.monitor} {value:.4g})"


# ---- the study -----------------------------------------------------------------------------------------------


def objective_of(task_cls: type, base: Any) -> tuple[str, str]:
    """``(metric, mode)`` the trials are judged by: the config's ``train.checkpoint.monitor`` or, for "auto", the
    task's ``default_monitor()`` after ``prepare`` on the training data. TuneError without validation data."""
    task = task_cls(base)
    splits = task.load_data()
    if splits.val is None:
        raise TuneError(
            "tuning needs validation data: set data.val_fraction > 0 or give --val FILE "
            "(the test split is never used to choose)"
        )
    ck = base.train.checkpoint
    if ck.monitor != "auto":
        return ck.monitor, ck.mode
    task.prepare(splits.train)
    return task.default_monitor()


def _trial_config(base: Any, params: dict[str, Any], run: Path) -> Any:
    cfg = apply_overrides(base, params)
    return replace(cfg, run_dir=str(run), train=replace(cfg.train, quiet=True))


def _objective(
    task_cls: type, base: Any, space: dict[str, Dist], study_dir: Path, monitor: str, echo: Any, worker: str
) -> Any:
    optuna = require_optuna()

    def objective(trial: Any) -> float:
        trial.set_user_attr("worker", worker)  # first: a resume can then tell whether this trial's process died
        params = {key: dist.suggest(trial, key) for key, dist in space.items()}
        run = trial_dir(study_dir, trial.number)
        record = {"number": trial.number, "params": params, "monitor": monitor}
        try:
            task = task_cls(_trial_config(base, params, run))
            pruner = Pruner(trial, monitor)
            result = task.fit(callbacks=[pruner], overwrite=True)
        except Exception as e:  # recorded failed (Optuna's catch), the study goes on
            msg = f"{type(e).__name__}: {e}"
            trial.set_user_attr("error", msg)
            run.mkdir(parents=True, exist_ok=True)
            write_json(run / TRIAL_FILE, {**record, "state": "FAIL", "error": msg}, indent=1)
            echo(f"trial {trial.number}: failed: {msg}")
            raise
        if result.interrupted:  # Ctrl-C: stop the study; Optuna marks the trial failed, a resume does not count it
            trial.set_user_attr("interrupted", True)
            write_json(run / TRIAL_FILE, {**record, "state": "INTERRUPTED", "reason": result.stop_reason}, indent=1)
            raise KeyboardInterrupt
        metrics = result.best or result.last or {}
        value = metrics.get(monitor)
        if pruner.pruned:
            write_json(run / TRIAL_FILE, {**record, "state": "PRUNED", "reason": result.stop_reason}, indent=1)
            echo(f"trial {trial.number}: pruned ({result.stop_reason}) {_short(params)}")
            raise optuna.TrialPruned(result.stop_reason)
        if value is None or not math.isfinite(value):
            msg = f"TuneError: trial {trial.number} gave no finite {monitor} (metrics: {sorted(metrics)})"
            trial.set_user_attr("error", msg)
            write_json(run / TRIAL_FILE, {**record, "state": "FAIL", "error": msg}, indent=1)
            raise TuneError(msg)
        write_json(run / TRIAL_FILE, {**record, "state": "COMPLETE", "value": value}, indent=1)
        echo(f"trial {trial.number}: {monitor} {value:.4g} {_short(params)}")
        return float(value)

    return objective


def _short(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class _StopAt:
    """Stops ``optimize`` once the study holds ``n`` finished trials, also when several processes share it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, study: Any, trial: Any) -> None:
        if finished(study) >= self.n:
            study.stop()


def tune(
    task_cls: type,
    base: Any,
    space: dict[str, Dist],
    study_dir: str | Path,
    *,
    trials: int,
    seconds: float | None = None,
    storage: str | None = None,
    seed: int = 0,
    pruner: Any = None,
    echo: Any = print,
) -> Any:
    """Run the study in ``study_dir`` until it holds ``trials`` finished trials (or ``seconds`` pass); returns it.

    Resuming: the sampler is seeded with ``seed`` + the number of trials already in the study, so a resumed study
    does not repeat the first trials' draws; a fresh study with the same seed draws the same sequence."""
    optuna = require_optuna()
    study_dir = Path(study_dir)
    monitor, mode = objective_of(task_cls, base)
    ck = base.train.checkpoint
    base = replace(base, train=replace(base.train, checkpoint=replace(ck, monitor=monitor, mode=mode)))
    direction = "maximize" if mode == "max" else "minimize"
    if (study_dir / STUDY_FILE).is_file():
        was = json.loads((study_dir / STUDY_FILE).read_text(encoding="utf-8")).get("task")
        if was != task_cls.name:
            raise TuneError(f"{study_dir} holds a {was!r} study, not {task_cls.name!r}: use another --out")
    study_dir.mkdir(parents=True, exist_ok=True)
    with _setting_up(study_dir):
        probe = open_study(study_dir, storage=storage, direction=direction)
        if probe.direction.name.lower() != direction:
            was = probe.direction.name.lower()
            raise TuneError(f"the study in {study_dir} is to {was}, but {monitor} is to {direction}: use another --out")
        done = len(probe.trials)
        sampler = optuna.samplers.TPESampler(seed=seed + done)
        study = open_study(
            study_dir,
            storage=storage,
            direction=direction,
            sampler=sampler,
            pruner=pruner if pruner is not None else optuna.pruners.MedianPruner(),
        )
        meta = {
            "task": task_cls.name,
            "study_name": study.study_name,
            "storage": storage or default_storage(study_dir),
            "monitor": monitor,
            "mode": mode,
            "seed": seed,
            "space": {k: _spec(d) for k, d in space.items()},
        }
        write_json(study_dir / STUDY_FILE, meta, indent=1)
        save_config(base, study_dir / "base-config.json")
        me = _Worker(study_dir).__enter__()  # before reclaim: a worker starting after us must see us alive
        reclaim(study, study_dir, echo)
    try:
        todo = max(0, trials - finished(study))
        if todo:
            objective = _objective(task_cls, base, space, study_dir, monitor, echo, me.id)
            study.optimize(
                objective,
                n_trials=todo,
                timeout=seconds,
                catch=(Exception,),
                callbacks=[_StopAt(trials)],
                gc_after_trial=True,
            )
    finally:
        me.__exit__()
    write_best(study, base, study_dir)
    return study


def _spec(d: Dist) -> Any:
    return list(d.choices) if d.kind == "choice" else {d.kind: [d.low, d.high]}


def write_best(study: Any, base: Any, study_dir: Path) -> Path | None:
    """``best-config.json``: the base config with the best trial's params (a ready ``--config``); None: no trial
    completed yet."""
    try:
        best = study.best_trial
    except ValueError:
        return None
    cfg = apply_overrides(base, best.params)
    cfg = replace(cfg, run_dir=str(study_dir / "best"))
    return save_config(cfg, study_dir / BEST_FILE)
