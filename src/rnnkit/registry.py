"""The registry of cells: one registration per engine puts a cell into the tests, the CLI choices, the benchmarks
and the explain tools, with the facts they need about it declared beside it (timm's ``default_cfgs`` beside
``@register_model``).

The reference (NumPy) engine registers the module that holds a cell's pure functions, with the cell's facts::

    FACTS = CellFacts(layout=CellLayout("lstm", gates=("i", "f", "g", "o"), state=("h", "c")), ...)
    register_cell("lstm", engine="reference", facts=FACTS)(sys.modules[__name__])

and the PyTorch engine registers its ``CellBase`` subclass::

    @register_cell("lstm", engine="nn")
    class LSTMCell(CellBase): ...

The facts go with the reference registration: the reference file is the cell's specification, and it needs no
torch, so the layout (which both engines, checkpoints and configs read) is there for everyone. Each engine's
cell package imports every module in its folder, so a new cell is its two files and nothing else;
``cell_names()`` and ``facts()`` import those packages on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rnnkit.layout import CellLayout, CellOptions
from rnnkit.moved import names

T = TypeVar("T")
V = TypeVar("V")

ENGINES = ("reference", "nn")
FAST_PATHS = ("fused", "bptt", "scan")  # the nn engine's impls beyond the loop every cell has (rnnkit.nn.sequence)
_CELLS: dict[str, dict[str, Any]] = {}
_FACTS: dict[str, CellFacts] = {}
_ENGINE_PACKAGES = {"reference": "rnnkit.reference.cells", "nn": "rnnkit.nn.cells"}


@dataclass(frozen=True)
class CellFacts:
    """What the rest of rnnkit needs to know about a cell, declared once, with its reference registration.

    layout: parameter names and shapes, gate order and state (``rnnkit.layout``); both engines build from it.
    fast_paths: impl -> module of the nn engine's fast paths for this cell, in the order ``impl="auto"``'s static
        table prefers them: 'fused' (torch.nn's kernels, ``rnnkit.nn.fused``), 'bptt' (a hand-written backward),
        'scan' (a parallel scan). The loop runs every cell and is not listed; each module's ``supports`` still
        checks the options, dtype and device.
    anchor: the torch.nn layer ``rnnkit bench cells`` times the cell against, as (cell, options) of a cell with
        a 'fused' path: the cell itself where torch.nn computes it, else the layer it would replace (other math,
        so speed only). None: no torch.nn row.
    cache_fields: the names of the entries of the plain tuple ``step`` returns as its cache, in order (a NamedTuple
        cache names its own); ``rnnkit explain trace`` shows them, and a test checks the count against ``step``.
    field_meanings: a line of explanation per cache field for ``rnnkit explain trace`` (others show their name).
    gate_fields: gate -> the cache field holding its activation, where the names differ (minGRU's h: h_tilde).
    affine_gates: gates whose pre-activation is ``x W_ih^T + b_ih + h W_hh^T + b_hh``. When there are any,
        ``explain trace`` shows both affine parts of every gate and their sum for these.
    shown_gates: the gates ``rnnkit explain states`` draws. The LSTM's g and the GRU's n are candidate values,
        not gates.
    forget_gate: gate 'f' is an LSTM forget gate: ``explain gradients`` starts fresh cells with its bias at
        +forget_bias (Jozefowicz et al. 2015).
    """

    layout: CellLayout
    fast_paths: dict[str, str] = field(default_factory=dict)
    anchor: tuple[str, CellOptions] | None = None
    cache_fields: tuple[str, ...] = ()
    field_meanings: dict[str, str] = field(default_factory=dict)
    gate_fields: dict[str, str] = field(default_factory=dict)
    affine_gates: tuple[str, ...] = ()
    shown_gates: tuple[str, ...] = ()
    forget_gate: bool = False

    def __post_init__(self) -> None:
        name, gates = self.layout.name, self.layout.gates
        unknown = [impl for impl in self.fast_paths if impl not in FAST_PATHS]
        if unknown:
            raise ValueError(f"cell {name!r}: fast_paths {unknown} are not impls: use {FAST_PATHS}")
        for what, listed in (
            ("gate_fields", tuple(self.gate_fields)),
            ("affine_gates", self.affine_gates),
            ("shown_gates", self.shown_gates),
        ):
            stray = [g for g in listed if g not in gates]
            if stray:
                raise ValueError(f"cell {name!r}: {what} names {stray}, which are not among its gates {gates}")
        if self.forget_gate and "f" not in gates:
            raise ValueError(f"cell {name!r}: forget_gate=True needs a gate named 'f'; its gates are {gates}")


def register_cell(name: str, *, engine: str, facts: CellFacts | None = None) -> Callable[[T], T]:
    """Register ``obj`` as the implementation of cell ``name`` in ``engine`` ('reference' or 'nn').

    The reference registration carries the cell's ``facts``; the nn registration finds them there (importing the
    reference cells if needed) and refuses a cell that has none.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "reference":
        if facts is None:
            raise ValueError(
                f"cell {name!r}: the reference registration declares the cell's facts: "
                f"register_cell({name!r}, engine='reference', facts=CellFacts(layout=...))"
            )
        if facts.layout.name != name:
            raise ValueError(f"cell {name!r}: its facts describe a layout named {facts.layout.name!r}")
    elif facts is not None:
        raise ValueError(f"cell {name!r}: declare its facts with its reference registration, not with {engine!r}")

    def decorator(obj: T) -> T:
        slot = _CELLS.setdefault(name, {})
        if engine in slot and slot[engine] is not obj:
            raise ValueError(f"cell {name!r} is already registered for engine {engine!r}")
        if facts is not None:
            _FACTS[name] = facts
        else:
            _check_nn(name, obj)
        slot[engine] = obj
        return obj

    return decorator


def _check_nn(name: str, obj: Any) -> None:
    """An nn cell needs its reference twin's facts, and its ``layout`` (if it sets one) must be theirs."""
    _load("reference")
    if name not in _FACTS:
        raise ValueError(
            f"cell {name!r} has no facts: import its reference module first, which registers it with "
            f"register_cell({name!r}, engine='reference', facts=CellFacts(layout=...))"
        )
    own = getattr(obj, "layout", None)
    if own is not None and own != _FACTS[name].layout:
        raise ValueError(f"cell {name!r}: the nn cell's layout differs from the one its facts declare")


def unregister_cell(name: str) -> None:
    """Forget cell ``name`` in every engine, with its facts (for tests and notebooks that add a cell for a while)."""
    _CELLS.pop(name, None)
    _FACTS.pop(name, None)


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


def facts(name: str) -> CellFacts:
    """The facts cell ``name`` declared with its registration, with a clear error for an unknown cell."""
    _load("reference")
    try:
        return _FACTS[name]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; known cells: {', '.join(sorted(_FACTS))}") from None


def fast_path_cells(module: str) -> list[str]:
    """Sorted names of the cells that name ``module`` (e.g. 'rnnkit.nn.scan') among their fast paths."""
    _load("reference")
    return sorted(n for n, f in _FACTS.items() if module in f.fast_paths.values())


class FactView(Mapping[str, V], Generic[V]):
    """Cell name -> one fact, for every registered cell that has it: a live, read-only view of the registry.

    For code that wants a table (``rnnkit.layout.LAYOUTS``, ``rnnkit.bench.ANCHORS``); a cell registered later
    appears in it, one unregistered leaves it.
    """

    def __init__(self, read: Callable[[CellFacts], V | None]) -> None:
        self._read = read

    def _table(self) -> dict[str, V]:
        _load("reference")
        out = {}
        for n in sorted(_FACTS):
            value = self._read(_FACTS[n])
            if value is not None:
                out[n] = value
        return out

    def __getitem__(self, name: str) -> V:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"FactView({self._table()!r})"


LAYOUTS: FactView[CellLayout] = FactView(lambda f: f.layout)

__getattr__ = names(__name__)  # get_task, task_names: moved to rnnkit.tasks (0.2)
