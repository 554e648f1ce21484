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

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError, apply_overrides, save_config, write_json
from rnnkit.errors import TuneError  # noqa: F401 - re-exported where it used to be defined
from rnnkit.train.callbacks import Callback

STUDY_FILE = "study.json"
TRIAL_FILE = "trial.json"
BEST_FILE = "best-config.json"
KINDS = ("log", "uniform", "int")


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise TuneError("rnnkit tune needs Optuna: pip install rnnkit[tune] (or pip install 'optuna>=3.6')") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own one line per trial instead
    return optuna


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


def trial_dir(study_dir: Path, number: int) -> Path:
    return study_dir / f"trial-{number:04d}"


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


@contextlib.contextmanager
def _setting_up(study_dir: Path) -> Iterator[None]:
    """Serialise the set-up of one study folder between processes (``fcntl.flock``, blocking): two workers started
    at once would otherwise both create the SQLite schema and one dies on Optuna's ``alembic_version`` row."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; start the second worker a moment after the first
        yield
        return
    fd = os.open(study_dir / ".rnnkit-study-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):  # a file system without locks: go on unserialised
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock


WORKERS = ".workers"


class _Worker:
    """This process as a worker of a study: ``STUDY/.workers/HOST-PID-RAND.lock`` held (``flock``) while it runs.

    Every trial it runs carries its id (user attr ``worker``), so a later process on the same host can tell a trial
    whose worker died (``kill -9``, a crash, a reboot: the kernel drops the lock) from one still running elsewhere."""

    def __init__(self, study_dir: Path) -> None:
        import socket

        self.id = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self.path = study_dir / WORKERS / f"{self.id}.lock"
        self.fd: int | None = None

    def __enter__(self) -> _Worker:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        with contextlib.suppress(OSError, ImportError):  # no flock: dead workers are then never detected
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            with contextlib.suppress(OSError):
                self.path.unlink()  # a unique name: nobody else ever locks this file


def worker_alive(study_dir: Path, worker: str) -> bool | None:
    """Is ``worker`` (an id from ``_Worker``) still running? None: it ran on another host (cannot tell here)."""
    import socket

    host = worker.rsplit("-", 2)[0]
    if host != socket.gethostname():
        return None
    path = study_dir / WORKERS / f"{worker}.lock"
    try:
        import fcntl

        fd = os.open(path, os.O_RDWR)
    except (FileNotFoundError, ImportError):
        return False  # its lock file is gone: the worker finished (or its folder was cleaned)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # someone holds it
    finally:
        os.close(fd)  # (when we got the lock, closing drops it again)
    return False


def reclaim(study: Any, study_dir: Path, echo: Any = print) -> list[int]:
    """Trials a stopped worker left unfinished, queued again with their params so none is lost; returns their
    numbers. A RUNNING trial whose worker is dead (same host, lock free) is marked FAIL with ``interrupted``; it
    and every trial stopped by Ctrl-C are queued once (``retry_of``). Call it under ``_setting_up``: two resuming
    workers must not queue the same trial twice."""
    optuna = require_optuna()
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    storage, queued = study._storage, []
    for t in trials:
        if t.state.name == "RUNNING":
            worker = t.user_attrs.get("worker")
            if worker is None or worker_alive(study_dir, worker) is not False:
                continue  # still running, just created (no worker yet), or on another host: leave it alone
            msg = f"its worker {worker} stopped mid-trial (killed?); the params are queued again"
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)  # (Optuna has no public call for
            storage.set_trial_user_attr(t._trial_id, "error", msg)  # another process's trial's attrs)
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            run = trial_dir(study_dir, t.number)
            run.mkdir(parents=True, exist_ok=True)
            record = {"number": t.number, "params": t.params, "state": "INTERRUPTED", "reason": msg}
            write_json(run / TRIAL_FILE, record, indent=1)
        elif not (t.state.name == "FAIL" and t.user_attrs.get("interrupted")):
            continue
        if t.number in retried or not t.params:
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
        queued.append(t.number)
        echo(f"trial {t.number} was stopped before it finished: its params are queued again")
    return queued


def default_storage(study_dir: Path) -> str:
    return f"sqlite:///{study_dir.resolve() / 'study.db'}"


def open_study(
    study_dir: Path,
    *,
    storage: str | None = None,
    sampler: Any = None,
    pruner: Any = None,
    direction: str | None = None,
) -> Any:
    """The study of ``study_dir`` (its study.json says which database and name); created when ``direction`` is
    given and it does not exist yet."""
    optuna = require_optuna()
    meta_path = study_dir / STUDY_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    storage = storage or meta.get("storage") or default_storage(study_dir)
    name = meta.get("study_name") or study_dir.resolve().name
    if isinstance(storage, str) and storage.startswith("sqlite:"):
        # workers sharing one SQLite file wait for each other's writes (sqlite3's default gives up after 5 s)
        storage = optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 120}})
    if direction is None:
        if not meta:
            raise TuneError(f"{study_dir} is not a study folder (no {STUDY_FILE}); pass the --out of `rnnkit tune`")
        return optuna.load_study(study_name=name, storage=storage)
    return optuna.create_study(
        study_name=name, storage=storage, sampler=sampler, pruner=pruner, direction=direction, load_if_exists=True
    )


FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def finished(study: Any) -> int:
    """Trials that count towards ``--trials``: completed, pruned or failed (not those stopped by Ctrl-C)."""
    trials = study.get_trials(deepcopy=False)
    return sum(t.state.name in FINISHED and not t.user_attrs.get("interrupted") for t in trials)


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
