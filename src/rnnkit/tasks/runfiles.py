"""A task's run folder, once for every task: ``config.json`` and ``task.json`` written and read back, which weights
the model holds (and saying so), the test report, and ``load`` / ``load_any`` that rebuild a trained task. A mixin of
``rnnkit.tasks.base.Task``."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rnnkit.config import ConfigError, load_config, save_config, write_json
from rnnkit.errors import NotARunError

if TYPE_CHECKING:
    from torch import nn

TASK_FILE = "task.json"
REPORT_FILE = "eval.json"
T = TypeVar("T", bound="RunFiles")


class RunFiles:
    """``save``, ``load``, ``weights`` / ``describe_weights`` and ``write_report`` of a Task."""

    name: ClassVar[str]
    Config: ClassVar[type]
    legacy_task_files: ClassVar[tuple[str, ...]]
    config: Any
    fit_result: Any
    decided: dict[str, Any]
    _loaded: dict[str, Any]  # set by load: which checkpoint it read

    if TYPE_CHECKING:  # what the Task this is mixed into gives (base.Task and the Inference mixin define them)
        model: nn.Module | None
        inference_precision: str

        def __init__(self, config: Any = None) -> None: ...

        @property
        def run_dir(self) -> Path | None: ...

        def build_model(self) -> nn.Module: ...

        def state_dict(self) -> dict[str, Any]: ...

        def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def weights(self) -> dict[str, Any]:
        """Which weights ``.model`` holds after fit/load: ``{"which": "best", "step": S, "epoch": E}``."""
        r = self.fit_result
        if r is None:
            return getattr(self, "_loaded", {"which": "none"})
        if r.best is not None and getattr(self, "_best", False):
            return {"which": "best", "step": r.best.get("step"), "metrics": _rounded(r.best)}
        return {"which": "last", "step": r.step, "epoch": r.epoch}

    def describe_weights(self) -> str:
        w = self.weights()
        if w["which"] == "best":
            mon = self.config.train.checkpoint.monitor
            v = (w.get("metrics") or {}).get(mon)
            return f"best checkpoint (step {w['step']}, {mon} {v})" if v is not None else f"best (step {w['step']})"
        if w["which"] == "last":
            return f"last weights (step {w.get('step')})"
        return "untrained weights"

    def save(self, run_dir: str | os.PathLike | None = None) -> Path:
        """Write ``config.json`` and ``task.json`` into the run folder (weights are fit's checkpoints)."""
        d = Path(run_dir) if run_dir is not None else self.run_dir
        if d is None:
            raise ConfigError("save needs a folder: pass run_dir or set config.run_dir")
        d.mkdir(parents=True, exist_ok=True)
        save_config(self.config, d / "config.json")
        state = {"task": self.name, **self.state_dict(), **({"decided": self.decided} if self.decided else {})}
        return write_json(d / TASK_FILE, state, indent=None)

    def _read_task_file(self, run: Path) -> None:
        for name in (TASK_FILE, *self.legacy_task_files):
            p = run / name
            if p.is_file():
                try:
                    state = json.loads(p.read_text(encoding="utf-8"))
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise NotARunError(f"{p} is not valid JSON ({e}); the run folder is damaged") from None
                if state.get("task", self.name) != self.name:
                    raise NotARunError(
                        f"{run} is a {state['task']!r} run, not {self.name!r}: use `rnnkit {state['task']} ...`"
                    )
                state.pop("task", None)
                decided = state.pop("decided", {})
                if decided:  # the run's choices win over a command line's "auto" (a resume rebuilds the same net)
                    self.decided = dict(decided)
                    self.config = replace(self.config, model=replace(self.config.model, **decided))
                self.load_state_dict(state)
                return
        raise NotARunError(
            f"{run} is not a {self.name} run folder (no {TASK_FILE}); pass the --out folder of "
            f"`rnnkit {self.name} train`"
        )

    @classmethod
    def load(cls: type[T], run_dir: str | os.PathLike, *, which: str = "best", precision: str = "fp32") -> T:
        """Rebuild a trained task from its run folder: config.json, task.json and the ``which`` checkpoint;
        ``precision`` is its ``inference_precision`` (fp32, or bf16)."""
        from rnnkit.train import load_model

        d = Path(run_dir)
        hint = f"pass the --out folder of `rnnkit {cls.name} train`"
        if not d.is_dir():
            raise NotARunError(f"{d} does not exist or is not a folder; {hint}")
        if not (d / "config.json").is_file():
            raise NotARunError(f"{d} is not a run folder (no config.json); {hint}")
        self = cls(replace(load_config(cls.Config, d / "config.json"), run_dir=str(d)))
        self.inference_precision = precision  # checked before the weights are read
        self._read_task_file(d)
        self.model = self.build_model()
        state = load_model(d, self.model, which=which)
        self.model.eval()
        self._loaded = {"which": which if (d / which).is_dir() else "last", "step": state.get("step")}
        return self

    def write_report(self, report: dict[str, Any], *, name: str = REPORT_FILE) -> Path | None:
        """Write a test report into the run folder, saying which weights produced it."""
        if self.run_dir is None:
            return None
        return write_json(self.run_dir / name, {**report, "weights": self.weights()}, indent=1)


def _rounded(m: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items()}


def load_any(run_dir: str | os.PathLike, *, which: str = "best") -> Any:
    """A trained task of whatever kind ``run_dir`` holds (the ``task`` named in its task.json)."""
    from rnnkit.tasks import get_task

    p = Path(run_dir) / TASK_FILE
    try:
        name = json.loads(p.read_text(encoding="utf-8")).get("task")
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        name = None
    if not name:
        raise NotARunError(
            f"{run_dir} is not a run folder with a readable {TASK_FILE} naming its task; pass the --out "
            "folder of `rnnkit <task> train`"
        )
    return get_task(name).load(run_dir, which=which)
