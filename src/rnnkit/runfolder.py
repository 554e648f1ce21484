"""The run folder is rnnkit's: what may be written where, by whom, and what a resume may change.

* A folder is a run when it holds the marker ``.rnnkit-run`` (written when a run claims it), or, for runs written
  before the marker existed, ``config.json`` beside a checkpoint / task.json / metrics.jsonl.
* ``check_out`` (read-only) refuses an ``--out`` that is a file, a non-empty folder that is not a run, or an
  existing run without ``--resume`` / ``--overwrite``. ``claim`` then takes the folder: ``--overwrite`` renames the
  old run aside whole (``RUN.old-<UTC time>``, never file by file), the lock is taken, temp files of killed writers
  are removed and the marker written.
* One writer per run folder: ``fcntl.flock`` on ``.rnnkit-lock``, held for the whole run. The kernel drops the lock
  when its process dies, so a lock left by a killed run is simply taken over (the file still names the dead pid,
  which the new writer reports). A second live writer gets "RUN is being written by process P since T".
* ``resume_changes`` compares a run's config with the one requested: only ``RESUMABLE`` keys may differ
  (``train.lr`` too when ``new_lr`` is given); anything else is refused with a per-key diff.

Import-light on purpose (no torch): the CLI checks ``--out`` before loading anything heavy.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.durable import clean_stale, fsync_dir, write_text
from rnnkit.errors import RunFolderError, RunLockedError  # noqa: F401 - re-exported where it used to be defined

MARKER = ".rnnkit-run"
LOCK = ".rnnkit-lock"
OURS = (MARKER, LOCK)  # files rnnkit keeps in a folder it owns; not "user files"
LEGACY_SIGNS = ("task.json", "last", "best", "metrics.jsonl", "prev")

# What may change when a run is resumed: how long it goes on, where it reads the same data from, how it reports.
# Everything else (model shape, cell, data, vocabulary, optimiser, schedule, seed, ...) is fixed for a run.
RESUMABLE = frozenset(
    {
        "run_dir",
        "train.epochs",
        "train.max_steps",
        "time_limit",
        "train.quiet",
        "train.log_every",
        "train.device",
        "train.checkpoint.every_steps",
        "data.data_root",
    }
)
NEEDS_FLAG = {"train.lr": "--resume-with-new-lr"}  # may change, but only when asked for explicitly


def is_run(folder: str | os.PathLike) -> bool:
    """True if ``folder`` is an rnnkit run folder (the marker, or an older run's config.json + checkpoint)."""
    d = Path(folder)
    if (d / MARKER).is_file():
        return True
    return (d / "config.json").is_file() and any((d / n).exists() for n in LEGACY_SIGNS)


def _user_entries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name not in OURS)


def _free_name(d: Path, suffix: str) -> Path:
    cand = d.with_name(f"{d.name}{suffix}")
    k = 2
    while cand.exists():
        cand, k = d.with_name(f"{d.name}{suffix}-{k}"), k + 1
    return cand


def describe(folder: Path) -> str:
    """A few words on what an existing run holds (for messages)."""
    try:
        state = json.loads((folder / "last" / "state.json").read_text())["state"]
        return f" ({_task_of(folder)}run at step {state['step']}, epoch {state['epoch']})"
    except (OSError, ValueError, KeyError, TypeError):
        return f" ({_task_of(folder)}run, no checkpoint yet)"


def _task_of(folder: Path) -> str:
    for name in (MARKER, "task.json"):
        try:
            task = json.loads((folder / name).read_text()).get("task")
        except (OSError, ValueError, AttributeError):
            continue
        if task:
            return f"{task} "
    return ""


def check_out(folder: str | os.PathLike, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse an unusable ``--out`` before anything is written (this writes nothing). See the module docstring."""
    d = Path(folder)
    if d.resolve() in _HELD:  # this process owns it already (fit inside fit_and_test)
        return
    if d.exists() and not d.is_dir():
        raise RunFolderError(f"{d} is a file, not a folder: --out needs a folder; pick another, e.g. {d}-run")
    if resume or not d.exists():
        return  # what resume needs (task.json, a checkpoint) is checked by the task, with its own messages
    entries = _user_entries(d)
    if not entries:
        return
    if not is_run(d):
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise RunFolderError(
            f"{d} is not empty ({shown}) and is not an rnnkit run folder: rnnkit will not write into it or move "
            f"your files; pick a new or empty --out, e.g. {d / 'run'}"
        )
    if not overwrite:
        raise RunFolderError(
            f"{d} already holds a run{describe(d)}: pass --resume to continue it, --overwrite to move it aside "
            f"(to {d.name}.old-<time>) and start again, or pick another --out, e.g. {_free_name(d, '-2')}"
        )


@contextlib.contextmanager
def claim(
    folder: str | os.PathLike, *, resume: bool = False, overwrite: bool = False, task: str = ""
) -> Iterator[list[str]]:
    """Take ``folder`` for one run: check it, move an old run aside (``overwrite``), lock it for the block, remove
    stale temp files, write the marker. Yields notes (what was done) for the user. Re-entrant in one process."""
    d = Path(folder)
    if held(d):
        with locked(d) as notes:
            yield notes
        return
    check_out(d, resume=resume, overwrite=overwrite)
    moved: list[str] = []
    if overwrite and not resume and d.is_dir() and _user_entries(d):  # check_out: it is a run
        with RunLock(d):  # nobody may be writing the run being moved
            aside = _free_name(d, time.strftime(".old-%Y%m%d-%H%M%S", time.gmtime()))
            os.replace(d, aside)
        fsync_dir(d.parent)
        moved.append(f"moved the previous run aside to {aside}")
    with locked(d) as notes:
        if not resume and not overwrite and (_user_entries(d) or (d / MARKER).is_file()):
            raise RunFolderError(f"{d} was written by another run while this one started; pick another --out")
        if not (d / MARKER).is_file():
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            write_text(d / MARKER, json.dumps({"format": "rnnkit.run/1", "task": task, "created": stamp}) + "\n")
        yield moved + notes


@contextlib.contextmanager
def locked(folder: str | os.PathLike) -> Iterator[list[str]]:
    """Hold ``folder``'s run lock for the block (re-entrant in one process); on taking it, remove the temp files
    killed writers left. Yields notes for the user. No checks: ``claim`` is the front door for a new run."""
    d = Path(folder)
    key = d.resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield []
        finally:
            _HELD[key][1] -= 1
        return
    d.mkdir(parents=True, exist_ok=True)
    lock = RunLock(d)
    notes = lock.acquire()
    _HELD[key] = [lock, 1]
    try:
        notes += [f"removed {p.name}, left by a run killed while writing it" for p in clean_stale(d)]
        yield notes
    finally:
        _HELD.pop(key, None)
        lock.release()


_HELD: dict[Path, list[Any]] = {}  # run folders this process holds the lock of -> [RunLock, depth]


def held(folder: str | os.PathLike) -> bool:
    """True while this process holds ``folder``'s run lock."""
    return Path(folder).resolve() in _HELD


class RunLock:
    """``fcntl.flock`` on ``<folder>/.rnnkit-lock``; the file records the holder's pid and start time."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.fd: int | None = None

    def acquire(self) -> list[str]:
        """Take the lock or raise RunLockedError naming the holder; returns notes (a stale lock taken over)."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):  # a file system without locks (some NFS)
                self.fd = fd
                return [f"{self.folder}'s file system cannot lock files: make sure only one process writes it"]
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid, since = _holder(self.path)
            raise RunLockedError(
                f"{self.folder} is being written by process {pid} since {since}: wait for it to finish (or stop it), "
                f"or pick another --out"
            ) from None
        notes = []
        pid, _ = _holder(self.path)
        if pid not in ("?", str(os.getpid())):
            notes.append(f"took over the lock of process {pid}, which is no longer running")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return notes

    def release(self) -> None:
        if self.fd is not None:  # the file stays: deleting a lock file lets two writers lock two different files
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(path: Path) -> tuple[str, str]:
    try:
        pid, _, since = path.read_text().strip().partition(" ")
    except OSError:
        return "?", "?"
    return (pid or "?"), (since or "?")


# ---- resume -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    key: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.key}: {self.old!r} in the run, {self.new!r} requested"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, f"{key}."))
        else:
            out[key] = v
    return out


def resume_changes(run: dict[str, Any], requested: dict[str, Any], *, new_lr: bool = False) -> list[Change]:
    """The settings ``requested`` changes from the ``run``'s config (both as nested dicts). Raises RunFolderError
    listing every change a resume cannot make; returns the allowed ones (to record)."""
    a, b = _flat(run), _flat(requested)
    changes = [Change(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    allowed = RESUMABLE | ({"train.lr"} if new_lr else set())
    bad = [c for c in changes if c.key not in allowed]
    if bad:
        flags = [f"{NEEDS_FLAG[c.key]} to change {c.key}" for c in bad if c.key in NEEDS_FLAG]
        fixed = [c for c in bad if c.key not in NEEDS_FLAG]
        advice = []
        if fixed:
            advice.append(
                "these settings are fixed for a run: resume with the run's own (drop the options, or --config "
                "RUN/config.json), or train a new run (another --out, or --overwrite)"
            )
        if flags:
            advice.append("pass " + " and ".join(flags))
        raise RunFolderError(
            "cannot resume: the run was trained with other settings:\n  "
            + "\n  ".join(map(str, bad))
            + "\n"
            + "; ".join(advice)
            + f". Allowed on resume: {', '.join(sorted(RESUMABLE - {'run_dir'}))}."
        )
    return [c for c in changes if c.key != "run_dir"]
