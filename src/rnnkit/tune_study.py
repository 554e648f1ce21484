"""The study behind ``rnnkit tune``: its database (SQLite in the study folder by default, or any SQLAlchemy URL),
set up by one process at a time, and the workers on it: each holds a lock while it runs trials, so a trial left
RUNNING by a killed worker is found, marked failed ("interrupted") and its params queued again (``reclaim``)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnkit.config import write_json
from rnnkit.errors import TuneError

STUDY_FILE = "study.json"
TRIAL_FILE = "trial.json"


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise TuneError("rnnkit tune needs Optuna: pip install rnnkit[tune] (or pip install 'optuna>=3.6')") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own one line per trial instead
    return optuna


def trial_dir(study_dir: Path, number: int) -> Path:
    return study_dir / f"trial-{number:04d}"


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
