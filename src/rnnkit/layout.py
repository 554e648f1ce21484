"""Parameter names, shapes, gate order and initialisation of cells: the one source of truth.

Both engines (``reference`` NumPy and ``nn`` PyTorch), checkpoints and the ``torch.nn`` weight mapping
read this file, so a gate order or weight orientation cannot drift between them. Each cell declares its
``CellLayout`` once, with its registration (``rnnkit.registry.CellFacts``, in ``reference/cells/<name>.py``);
``layout(name)`` finds it.

Shape letters (see docs/conventions.md): N batch, T time, D input features, H hidden units,
G gates per cell, V vocabulary, L layers.

Weights are laid out as ``torch.nn`` lays them out, so the fused path is a direct copy:
``W_ih (G*H, D)``, ``W_hh (G*H, H)``, biases ``b_ih (G*H,)`` and ``b_hh (G*H,)``; gate blocks are
stacked along the first axis in the order given by ``CellLayout.gates``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Names of the per-cell parameters, in a fixed order (checkpoints and flat lists use this order).
W_IH, W_HH, B_IH, B_HH = "W_ih", "W_hh", "b_ih", "b_hh"


@dataclass(frozen=True)
class CellOptions:
    """Options that change a cell's math (not its size). Every engine honours every field it reads.

    nonlinearity: Elman activation, ``"tanh"`` or ``"relu"``.
    gru_variant: ``"torch"`` (reset gate applied after the recurrent product, torch.nn/cuDNN form) or
        ``"paper"`` (Cho et al. 2014: reset gate applied to h before the product).
    forget_bias: added to the LSTM forget-gate slice of ``b_ih`` at init (Jozefowicz et al. 2015 use 1).
    """

    nonlinearity: str = "tanh"
    gru_variant: str = "torch"
    forget_bias: float = 0.0
    # IndRNN (Li et al. 2018 §3): |u| <= recurrent_max_abs, applied as a clamp of the element-wise recurrent
    # weight inside the step (gradient 0 where clamped); None = unconstrained. Other cells ignore it.
    recurrent_max_abs: float | None = None

    def __post_init__(self) -> None:
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}")
        if self.gru_variant not in ("torch", "paper"):
            raise ValueError(
                f"gru_variant must be 'torch' (torch.nn form) or 'paper' (Cho et al. 2014), got {self.gru_variant!r}"
            )
        if self.recurrent_max_abs is not None and not self.recurrent_max_abs > 0:
            raise ValueError(f"recurrent_max_abs must be a positive number or None, got {self.recurrent_max_abs!r}")


@dataclass(frozen=True)
class CellLayout:
    """What a cell looks like from outside: its gates, its state tensors and its parameter shapes."""

    name: str
    gates: tuple[str, ...]  # gate blocks stacked in W_ih / W_hh, in this order
    state: tuple[str, ...]  # state tensors, each (N, H); state[0] is always h, the cell's output
    # Extra parameters beyond W_ih/W_hh/b_ih/b_hh, as name -> shape factory (D, H) -> shape.
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    has_hh: bool = True  # False for cells with no recurrent matrix (minGRU / minLSTM)
    hh_diagonal: bool = False  # True when W_hh is element-wise, shape (G*H,) (IndRNN)

    @property
    def G(self) -> int:  # noqa: N802 - the shape letter
        return len(self.gates)

    def param_shapes(self, input_size: int, hidden_size: int, *, bias: bool = True) -> dict[str, tuple]:
        """Name -> shape of every parameter of one cell (one layer, one direction), in canonical order."""
        D, H, G = input_size, hidden_size, self.G
        shapes: dict[str, tuple] = {W_IH: (G * H, D)}
        if self.has_hh:
            shapes[W_HH] = (G * H,) if self.hh_diagonal else (G * H, H)
        if bias:
            shapes[B_IH] = (G * H,)
            if self.has_hh:
                shapes[B_HH] = (G * H,)
        dims = {"D": D, "H": H, "G": G, "GH": G * H}
        for name, shape in self.extra.items():
            shapes[name] = tuple(dims[s] for s in shape)
        return shapes

    def gate_slice(self, gate: str, hidden_size: int) -> slice:
        """Rows of W_ih / W_hh / biases that belong to ``gate``."""
        k = self.gates.index(gate)
        return slice(k * hidden_size, (k + 1) * hidden_size)


def layout(cell: str) -> CellLayout:
    """The layout of a registered cell (declared with its registration, ``rnnkit.registry.CellFacts``), with a
    clear error for an unknown one."""
    from rnnkit.registry import facts  # here, not at the top: the registry imports this module for its types

    return facts(cell).layout


def __getattr__(name: str) -> Any:
    """``LAYOUTS``: name -> layout of every registered cell, a live view of the registry (``registry.LAYOUTS``)."""
    if name == "LAYOUTS":
        from rnnkit.registry import LAYOUTS

        return LAYOUTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def init_params(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    bias: bool = True,
    options: CellOptions | None = None,
    rng: np.random.Generator | None = None,
    dtype: np.dtype | type = np.float64,
) -> dict[str, np.ndarray]:
    """Fresh parameters for one cell: ``U(-1/sqrt(H), 1/sqrt(H))`` for everything, like torch.nn.

    Extra parameters named ``*_gain`` start at 1 and ``*_shift`` at 0 (layer-norm style); the LSTM
    forget-gate slice of ``b_ih`` gets ``options.forget_bias`` added.
    """
    options = options or CellOptions()
    rng = rng if rng is not None else np.random.default_rng()
    lay = layout(cell)
    k = 1.0 / math.sqrt(hidden_size)
    params: dict[str, np.ndarray] = {}
    for name, shape in lay.param_shapes(input_size, hidden_size, bias=bias).items():
        if name.endswith("_gain"):
            params[name] = np.ones(shape, dtype=dtype)
        elif name.endswith("_shift"):
            params[name] = np.zeros(shape, dtype=dtype)
        else:
            params[name] = rng.uniform(-k, k, size=shape).astype(dtype)
    if options.forget_bias and "f" in lay.gates and B_IH in params:
        params[B_IH][lay.gate_slice("f", hidden_size)] += options.forget_bias
    return params


def stacked_param_name(name: str, layer: int, reverse: bool) -> str:
    """Name of a cell parameter inside a stacked network: ``layers.{layer}.{fwd|bwd}.{name}``."""
    return f"layers.{layer}.{'bwd' if reverse else 'fwd'}.{name}"


# torch.nn.{RNN,LSTM,GRU} parameter names for our four classic parameters.
TORCH_NAMES = {W_IH: "weight_ih", W_HH: "weight_hh", B_IH: "bias_ih", B_HH: "bias_hh"}


def torch_param_name(name: str, layer: int, reverse: bool) -> str:
    """The torch.nn name of a classic parameter, e.g. ``weight_ih_l1_reverse``."""
    return f"{TORCH_NAMES[name]}_l{layer}{'_reverse' if reverse else ''}"
