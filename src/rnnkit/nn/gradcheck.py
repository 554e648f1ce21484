"""Finite-difference checks of the PyTorch engine's gradients (autograd, or our BPTT path), in float64.

Two ways in:

* ``gradcheck(module, x, ...)`` wraps ``torch.autograd.gradcheck`` over a ``Recurrent`` and any impl: the
  module is copied to float64, put in eval mode (dropout and DropConnect would make the function random),
  and every parameter, the input and the initial state are checked through every output and final state.
* ``gradcheck_sequence`` / ``gradcheck_tbptt`` / ``run`` mirror ``rnnkit.reference.gradcheck``: the same
  random problem (same seed, same draws), the same test loss ``sum(out * R) + sum_k sum(final_k * S_k)``,
  and the same per-array report (``GradcheckReport``, shared with the reference, engine-neutral).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call

from rnnkit.layout import CellOptions, layout
from rnnkit.nn.sequence import Recurrent
from rnnkit.reference.gradcheck import (
    DEFAULT_ATOL,
    DEFAULT_TOL,
    GradcheckEntry,
    GradcheckReport,
    central_differences,
    check_arrays,
    compare,
    keep_worst,
    print_reports,
    render,
)
from rnnkit.reference.gradcheck import stacked_params as _reference_stacked_params
from rnnkit.reference.sequence import tbptt_windows

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_TOL",
    "GradcheckEntry",
    "GradcheckReport",
    "central_differences",
    "check_arrays",
    "compare",
    "gradcheck",
    "gradcheck_sequence",
    "gradcheck_tbptt",
    "keep_worst",
    "numerical_gradient",
    "print_reports",
    "render",
    "run",
    "stacked_params",
]


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


def numerical_gradient(f: Callable[[], float], a: Tensor, *, eps: float = 1e-6) -> np.ndarray:
    """dL/da by central differences, perturbing ``a`` in place element by element (restored afterwards)."""
    with torch.no_grad():  # view(-1) is a view: writes change a
        return central_differences(f, a.detach().view(-1), eps=eps).reshape(tuple(a.shape))


def stacked_params(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    bias: bool = True,
    options: CellOptions = CellOptions(),
    rng: np.random.Generator,
) -> dict[str, Tensor]:
    """Fresh float64 parameters for a stack, named ``layers.{l}.{fwd|bwd}.{name}`` (the reference's draws)."""
    p = _reference_stacked_params(
        cell,
        input_size,
        hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        bias=bias,
        options=options,
        rng=rng,
    )
    return {k: torch.tensor(v) for k, v in p.items()}


def _problem(
    cell, *, input_size, hidden_size, num_layers, bidirectional, batch, steps, lengths, bias, options, seed, impl
):
    """The reference's random problem (same draws in the same order), as a float64 Recurrent and tensors."""
    rng = np.random.default_rng(seed)
    dirs = 2 if bidirectional else 1
    params = stacked_params(
        cell,
        input_size,
        hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        bias=bias,
        options=options,
        rng=rng,
    )
    x = torch.tensor(rng.standard_normal((batch, steps, input_size)))  # (N, T, D)
    shape = (num_layers * dirs, batch, hidden_size)
    state0 = tuple(torch.tensor(0.5 * rng.standard_normal(shape)) for _ in layout(cell).state)
    if lengths is True:  # varied lengths, the first sequence full so the batch really is T long
        lengths = np.concatenate([[steps], rng.integers(1, steps + 1, batch - 1)]).astype(np.int64)
    elif lengths is False:
        lengths = None
    R = torch.tensor(rng.standard_normal((batch, steps, dirs * hidden_size)))  # weights of the test loss on out
    S = tuple(torch.tensor(rng.standard_normal(shape)) for _ in layout(cell).state)  # ... on the final state
    model = (
        Recurrent(
            cell,
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            bias=bias,
            options=options,
            impl=impl,
        )
        .double()
        .eval()
    )
    model.load_state_dict(params)
    lengths = None if lengths is None else torch.as_tensor(np.asarray(lengths))
    return model, x, state0, lengths, R, S


def _loss(out: Tensor, final: tuple, R: Tensor, S: tuple | None) -> Tensor:
    total = (out * R).sum()
    if S is not None:
        total = total + sum((f * s).sum() for f, s in zip(final, S, strict=True))
    return total


def _title(kind: str, cell: str, impl: str, lengths, bias: bool, **sizes) -> str:
    size = ", ".join(f"{k}={v}" for k, v in sizes.items())
    full = "full" if lengths is None else [int(n) for n in lengths]
    return f"gradcheck nn {cell} (impl={impl}): {kind}, {size}, lengths={full}, bias={bias}"


def gradcheck_sequence(
    cell: str,
    *,
    input_size: int = 3,
    hidden_size: int = 3,
    num_layers: int = 1,
    bidirectional: bool = False,
    batch: int = 3,
    steps: int = 4,
    lengths: bool | Sequence[int] = True,
    bias: bool = True,
    options: CellOptions = CellOptions(),
    seed: int = 0,
    impl: str = "loop",
    eps: float = 1e-6,
    tol: float = DEFAULT_TOL,
    atol: float = DEFAULT_ATOL,
) -> GradcheckReport:
    """Full BPTT through ``Recurrent(impl=impl)`` against finite differences on every array."""
    model, x, state0, lengths, R, S = _problem(
        cell,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch=batch,
        steps=steps,
        lengths=lengths,
        bias=bias,
        options=options,
        seed=seed,
        impl=impl,
    )
    params = dict(model.named_parameters())
    xg = x.clone().requires_grad_(True)
    sg = tuple(s.clone().requires_grad_(True) for s in state0)
    out, final = model(xg, sg, lengths)
    _loss(out, final, R, S).backward()

    def f() -> float:
        out, final = model(x, state0, lengths)
        return float(_loss(out, final, R, S))

    names = [f"state0.{name}" for name in layout(cell).state]
    arrays = {**params, "x": x, **dict(zip(names, state0, strict=True))}
    analytic = {k: a.grad.numpy() for k, a in {**params, "x": xg, **dict(zip(names, sg, strict=True))}.items()}
    entries = check_arrays("bptt", f, arrays, analytic, numerical=numerical_gradient, eps=eps, tol=tol, atol=atol)
    title = _title(
        "full BPTT",
        cell,
        impl,
        lengths,
        bias,
        layers=num_layers,
        bidirectional=bidirectional,
        H=hidden_size,
        N=batch,
        T=steps,
    )
    return GradcheckReport(title, tuple(entries), tol, atol)


def gradcheck_tbptt(
    cell: str,
    *,
    k1: int = 2,
    k2: int | None = None,
    input_size: int = 3,
    hidden_size: int = 3,
    num_layers: int = 1,
    batch: int = 3,
    steps: int = 5,
    lengths: bool | Sequence[int] = False,
    bias: bool = True,
    options: CellOptions = CellOptions(),
    seed: int = 0,
    impl: str = "loop",
    eps: float = 1e-6,
    tol: float = DEFAULT_TOL,
    atol: float = DEFAULT_ATOL,
) -> GradcheckReport:
    """Truncated BPTT as a training loop does it with this engine: per window, the carried state detached.

    Window ``[w, e)`` (``reference.sequence.tbptt_windows``) differentiates ``sum(out[s:e] * R[s:e])`` (plus
    the final-state term for the last one) w.r.t. the parameters, ``x[w:e]`` and the detached state entering
    the window. Each entry reports the worst window. ``lengths`` must be full (False): a window can start after
    a short sequence ended, and ``Recurrent`` requires every length >= 1.
    """
    if lengths is not False and lengths is not None:
        raise ValueError("gradcheck_tbptt (nn): lengths must be False; a window may hold zero-length sequences")
    model, x, state0, _, R, S = _problem(
        cell,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=False,
        batch=batch,
        steps=steps,
        lengths=False,
        bias=bias,
        options=options,
        seed=seed,
        impl=impl,
    )
    T = x.shape[1]
    params = dict(model.named_parameters())
    carried = {0: state0}
    worst: dict[str, GradcheckEntry] = {}
    windows = tbptt_windows(T, k1, k2)
    for w, s, e in windows:
        if w not in carried:  # k2 > k1: run (without gradient) from the last stored state to the window
            b = max(t for t in carried if t <= w)
            with torch.no_grad():
                carried[w] = model(x[:, b:w], carried[b])[1]
        xw, s_in = x[:, w:e].clone(), tuple(a.clone() for a in carried[w])
        Sw = S if e == T else None
        model.zero_grad()
        xg, sg = xw.clone().requires_grad_(True), tuple(a.clone().requires_grad_(True) for a in s_in)
        out, final = model(xg, sg)
        _loss(out[:, s - w :], final, R[:, s:e], Sw).backward()
        with torch.no_grad():
            carried[e] = model(x[:, w:e], s_in)[1]  # detached: the next window's gradient stops here

        def f(xw=xw, s_in=s_in, w=w, s=s, e=e, Sw=Sw) -> float:
            out, final = model(xw, s_in)
            return float(_loss(out[:, s - w :], final, R[:, s:e], Sw))

        names = [f"state_in.{name}" for name in layout(cell).state]
        arrays = {**params, "x": xw, **dict(zip(names, s_in, strict=True))}
        analytic = {k: a.grad.numpy() for k, a in {**params, "x": xg, **dict(zip(names, sg, strict=True))}.items()}
        keep_worst(
            worst, check_arrays("tbptt", f, arrays, analytic, numerical=numerical_gradient, eps=eps, tol=tol, atol=atol)
        )
    title = _title(
        f"truncated BPTT k1={k1} k2={k2 or k1}, {len(windows)} chunks",
        cell,
        impl,
        None,
        bias,
        layers=num_layers,
        H=hidden_size,
        N=batch,
        T=steps,
    )
    return GradcheckReport(title, tuple(worst.values()), tol, atol)


def run(
    cell: str,
    *,
    layers: int = 1,
    bidirectional: bool = False,
    hidden: int = 3,
    seed: int = 0,
    options: CellOptions = CellOptions(),
    k1: int = 2,
    impl: str = "loop",
    console=None,
) -> bool:
    """Full BPTT (with lengths) and, unidirectional only, truncated BPTT; prints tables, True if all passed."""
    from rich.console import Console

    console = console or Console()
    reports = [
        gradcheck_sequence(
            cell,
            hidden_size=hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            options=options,
            seed=seed,
            impl=impl,
        )
    ]
    if k1 > 0 and not bidirectional:
        reports.append(
            gradcheck_tbptt(cell, k1=k1, hidden_size=hidden, num_layers=layers, options=options, seed=seed, impl=impl)
        )
    return print_reports(reports, console)
