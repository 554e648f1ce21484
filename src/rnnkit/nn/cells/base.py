"""The base of every PyTorch-engine cell: parameters named by the layout, one step, hoistable input map.

Every method that does math takes an optional ``params`` dict (name -> tensor). The runner passes one dict
per forward, so a transformed weight (DropConnect on ``W_hh``, a float64 copy in gradcheck) flows through
the same code as the module's own parameters; called without it, a cell uses its own parameters.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.layout import B_IH, W_IH, CellLayout, CellOptions

Params = dict[str, Tensor]


class CellBase(nn.Module):
    """One step of a recurrent cell. Subclasses set ``layout`` and implement ``recur``.

    The input map ``W_ih x + b_ih`` is split out as ``project_input`` so a runner can compute it for all
    time steps in one large product (the "hoisted input projection") and call ``recur`` per step.
    """

    layout: CellLayout
    W_ih: Tensor  # (G*H, D): every cell has it (set from the layout in __init__, like the others it has)

    def __init__(
        self, input_size: int, hidden_size: int, *, bias: bool = True, options: CellOptions | None = None
    ) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.options = options or CellOptions()
        for name, shape in self.layout.param_shapes(input_size, hidden_size, bias=bias).items():
            setattr(self, name, nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``U(-1/sqrt(H), 1/sqrt(H))`` like torch.nn; ``*_gain`` = 1, ``*_shift`` = 0; forget bias added."""
        k = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in self.params().items():
                if name.endswith("_gain"):
                    p.fill_(1.0)
                elif name.endswith("_shift"):
                    p.zero_()
                else:
                    p.uniform_(-k, k)
            if self.options.forget_bias and "f" in self.layout.gates and self.bias:
                getattr(self, B_IH)[self.layout.gate_slice("f", self.hidden_size)] += self.options.forget_bias

    def params(self) -> Params:
        """Name -> parameter, in the layout's canonical order."""
        names = self.layout.param_shapes(self.input_size, self.hidden_size, bias=self.bias)
        return {name: getattr(self, name) for name in names}

    def init_state(self, N: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None) -> tuple:
        """Zero state, one (N, H) tensor per name in ``layout.state``."""
        ref = getattr(self, W_IH)
        device = device or ref.device
        dtype = dtype or ref.dtype
        return tuple(torch.zeros(N, self.hidden_size, device=device, dtype=dtype) for _ in self.layout.state)

    def project_input(self, x: Tensor, params: Params | None = None) -> Tensor:
        """(..., D) -> (..., G*H): ``W_ih x + b_ih`` for any number of leading dims."""
        p = self.params() if params is None else params
        return nn.functional.linear(x, p[W_IH], p.get(B_IH))

    def recur(self, xp_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        """One step given the projected input ``xp_t`` (N, G*H) and the state; returns the new state."""
        raise NotImplementedError

    def forward(self, x_t: Tensor, state: tuple, params: Params | None = None) -> tuple:
        """One step from the raw input ``x_t`` (N, D)."""
        p = self.params() if params is None else params
        return self.recur(self.project_input(x_t, p), state, p)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, options={self.options}"
