"""``TaskInfo``: what the command line and the tools know about a task before importing it (strings only).

Each task package's ``__init__.py`` holds one ``TASK = TaskInfo(...)``; ``rnnkit.tasks.TASKS`` lists them. Names
of modules are strings so that ``rnnkit --help`` (and ``rnnkit lm prepare``) start without importing torch: the
task's class and its CLI record are imported the first time they are used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


def import_object(ref: str) -> Any:
    """``"package.module:Name"`` -> the object (the one way rnnkit turns a TaskInfo string into code)."""
    module, _, name = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split(".") if name else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class TaskInfo:
    """One task as the tools see it.

    name: the command, ``rnnkit <name> train|eval|predict`` (and the ``task`` in a run's task.json).
    help: one line for ``rnnkit --help``.
    task: ``"module:Class"`` of the ``Task`` subclass (the library: fit, evaluate, predict, save, load).
    cli: ``"module:NAME"`` of its ``TaskCLI`` record (flags, help texts, printers, extra verbs).
    light: extra verbs that run without torch, verb -> ``"module:function"`` (``lm prepare``).
    """

    name: str
    help: str
    task: str
    cli: str
    light: dict[str, str] = field(default_factory=dict)

    def load(self) -> Any:
        """The Task class (imports torch)."""
        return import_object(self.task)

    def load_cli(self) -> Any:
        """The task's ``TaskCLI`` record."""
        return import_object(self.cli)

    @property
    def class_name(self) -> str:
        return self.task.rpartition(":")[2]


def lazy_exports(names: dict[str, str]) -> Any:
    """A module ``__getattr__`` giving ``names`` (name -> ``"module"`` holding it) on first use: a task package
    exports its classes without importing torch when only its ``TASK`` is read."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(name)

    return __getattr__
