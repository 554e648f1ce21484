"""The registry of cells: one line puts a cell into the tests, the CLI choices and the benchmarks.

A cell is registered once per engine::

    @register_cell("lstm", engine="nn")
    class LSTMCell(CellBase): ...

and the reference (NumPy) engine registers the module that holds its pure functions::

    register_cell("lstm", engine="reference")(sys.modules[__name__])

``cell_names()`` imports both engines' cell packages, so every registered cell is visible.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from rnnkit.moved import names

T = TypeVar("T")

ENGINES = ("reference", "nn")
_CELLS: dict[str, dict[str, Any]] = {}
_ENGINE_PACKAGES = {"reference": "rnnkit.reference.cells", "nn": "rnnkit.nn.cells"}


def register_cell(name: str, *, engine: str) -> Callable[[T], T]:
    """Register ``obj`` as the implementation of cell ``name`` in ``engine`` ('reference' or 'nn')."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")

    def decorator(obj: T) -> T:
        from rnnkit.layout import LAYOUTS

        if name not in LAYOUTS:
            raise ValueError(f"cell {name!r} has no layout: add it to rnnkit.layout.LAYOUTS first")
        slot = _CELLS.setdefault(name, {})
        if engine in slot and slot[engine] is not obj:
            raise ValueError(f"cell {name!r} is already registered for engine {engine!r}")
        slot[engine] = obj
        return obj

    return decorator


def _load(engine: str) -> None:
    importlib.import_module(_ENGINE_PACKAGES[engine])


def cell_names(engine: str | None = None) -> list[str]:
    """Sorted names of registered cells (in ``engine``, or in every engine if None)."""
    engines = ENGINES if engine is None else (engine,)
    for e in engines:
        _load(e)
    return sorted(n for n, slot in _CELLS.items() if all(e in slot for e in engines))


def get_cell(name: str, *, engine: str) -> Any:
    """The implementation of cell ``name`` in ``engine``, with a clear error listing what exists."""
    _load(engine)
    try:
        return _CELLS[name][engine]
    except KeyError:
        known = ", ".join(sorted(n for n, s in _CELLS.items() if engine in s))
        raise ValueError(f"unknown cell {name!r} for engine {engine!r}; known: {known}") from None


__getattr__ = names(__name__)  # get_task, task_names: moved to rnnkit.tasks (0.2)
