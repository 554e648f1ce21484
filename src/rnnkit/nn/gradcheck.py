"""Finite-difference check of a ``Recurrent``'s gradients (any impl), via ``torch.autograd.gradcheck``.

The module is copied to float64 and put in eval mode (dropout and DropConnect would make the function
random); every parameter, the input and the initial state are checked, through every output and state.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.func import functional_call

from rnnkit.nn.sequence import Recurrent


def gradcheck(
    module: Recurrent,
    x: Tensor,
    state: tuple[Tensor, ...] | None = None,
    lengths: Tensor | Sequence[int] | None = None,
    *,
    impl: str | None = None,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
) -> bool:
    """True if analytic and central-difference gradients agree; raises with the offending entry otherwise."""
    model = copy.deepcopy(module).double().eval()
    if impl is not None:
        model.impl = impl
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    x = x.detach().double().requires_grad_(True)
    if state is None:
        N, L = x.shape[0], model.num_layers * model.dirs
        state = tuple(torch.zeros(L, N, model.hidden_size, dtype=torch.float64) for _ in model.layout.state)
    state = tuple(s.detach().double().requires_grad_(True) for s in state)
    k = len(state)

    def f(x: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        s, p = rest[:k], rest[k:]
        out, final = functional_call(model, dict(zip(names, p, strict=True)), (x, s, lengths))
        return (out, *final)

    return torch.autograd.gradcheck(f, (x, *state, *params), eps=eps, atol=atol, rtol=rtol)
