"""Every error a user can cause or meet, under one base: ``RnnkitError``.

The command line catches ``RnnkitError`` (and ``OSError``) and prints one line, ``rnnkit <task>: error: ...``,
exit 1 (``UsageError``: exit 2); anything else is a bug and shows its traceback. Each class also keeps the
builtin base it had before this module existed (``ConfigError`` is still a ``ValueError``), so code that caught
those goes on working.

This is the ground floor: it imports nothing from rnnkit, so every module may import it.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ExportError",
    "NotARunError",
    "NotTrainedError",
    "PrecisionError",
    "RnnkitError",
    "RunFolderError",
    "RunLockedError",
    "ServeError",
    "TrainingDiverged",
    "TuneError",
    "UsageError",
]


class RnnkitError(Exception):
    """Base of rnnkit's errors: the message says what, where, and what to do."""

    exit_code = 1


class UsageError(RnnkitError, ValueError):
    """The command line contradicts itself (e.g. --data and --dataset both)."""

    exit_code = 2


class ConfigError(RnnkitError, ValueError):
    """A config value, override or option is invalid; the message names the key."""


class DataError(RnnkitError, ValueError):
    """A dataset or file cannot be found, verified or parsed; the message names the file."""


class NotARunError(DataError):
    """A folder given as a run folder is not one (or is one of another task)."""


class RunFolderError(RnnkitError, ValueError):
    """A run folder cannot be written as asked (it holds another run, files rnnkit did not write, ...)."""


class RunLockedError(RunFolderError):
    """Another process is writing the run folder."""


class CheckpointError(RnnkitError, ValueError):
    """A checkpoint is missing, damaged or does not fit the model."""


class TrainingDiverged(RnnkitError, FloatingPointError):
    """The training loss became non-finite or grew far above its start; ``best`` keeps the last good weights."""


class NotTrainedError(RnnkitError, RuntimeError):
    """A task was asked to predict or evaluate before ``fit`` or ``load``."""


class PrecisionError(RnnkitError, RuntimeError):
    """A precision was asked for that this machine or torch cannot run."""


class ExportError(RnnkitError, RuntimeError):
    """An ONNX export failed, is not supported for the run, or disagrees with the PyTorch model."""


class ServeError(RnnkitError, RuntimeError):
    """``rnnkit serve`` cannot start as asked (an extra missing, no model for an endpoint, ...)."""


class TuneError(ConfigError):
    """A search space or study is invalid or damaged."""
