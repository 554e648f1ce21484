"""The jobs RNNs are used for: one package per task under this folder, all listed once in ``TASKS``.

Every ``tasks/<name>/`` has the same files (docs/contributing.md, "Add a task"): ``__init__.py`` (its ``TaskInfo``,
strings only), ``config.py``, ``model.py``, ``data.py``, ``task.py`` (the library: a ``Task`` subclass),
``cli.py`` (its ``TaskCLI``: flags, printers, extra verbs) and ``onnx.py``. The command line, ``serve``, ``tune``
and ``export`` read ``TASKS``; a task's code is imported the first time it is used, so ``rnnkit --help`` starts
without torch. ``from rnnkit.tasks import Classifier`` imports that task alone.
"""

from __future__ import annotations

from typing import Any

from rnnkit.tasks import classify, forecast, lm, music, speech, speech_ctc, tag, translate
from rnnkit.tasks.info import TaskInfo

TASKS: list[TaskInfo] = [
    lm.TASK,
    classify.TASK,
    tag.TASK,
    translate.TASK,
    forecast.TASK,
    music.TASK,
    speech.TASK,
    speech_ctc.TASK,
]

__all__ = ["TASKS", "TaskInfo", "get_task", "task_info", "task_names"]


def task_names() -> list[str]:
    """The tasks' names, in ``TASKS`` order (the order of ``rnnkit --help``)."""
    return [t.name for t in TASKS]


def task_info(name: str) -> TaskInfo:
    """The ``TaskInfo`` named ``name``; an unknown name is an error listing the known ones."""
    from rnnkit.errors import ConfigError

    for t in TASKS:
        if t.name == name:
            return t
    raise ConfigError(f"unknown task {name!r}; known: {', '.join(task_names())}")


def get_task(name: str) -> Any:
    """The Task class of task ``name`` (importing that task alone)."""
    return task_info(name).load()


def __getattr__(name: str) -> type:
    """``rnnkit.tasks.Classifier`` and the other task classes, by the class name their TaskInfo gives."""
    for t in TASKS:
        if t.class_name == name:
            return t.load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
