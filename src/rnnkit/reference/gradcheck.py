"""Central finite differences against the reference engine's hand-written BPTT, in float64.

For a scalar test loss ``L = sum(out * R) + sum_k sum(final_k * S_k)`` (R, S fixed random weights, so every
output position and every final-state entry carries a distinct gradient), each element of every parameter,
of the input and of the initial state is nudged by ``±eps`` and ``(L(+) - L(-)) / (2 eps)`` is compared with
the analytic gradient. Central differences have truncation error O(eps^2) and rounding error
O(machine_eps |L| / eps); eps = 1e-6 in float64 balances them at ~1e-10 absolute.

Per array the report gives the max absolute error and the relative error ``max|a - n| / max(|a|, |n|)``
(relative to the array's largest gradient, so tiny entries do not blow the ratio up); an array passes when
the relative error is <= ``tol`` or the absolute error <= ``atol`` (for gradients that are legitimately ~0).
Truncated BPTT is checked per chunk: the state entering the window is a constant there, so the finite
differences perturb it as an independent input, exactly the function truncated BPTT differentiates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.layout import CellOptions, init_params, layout, stacked_param_name
from rnnkit.reference import sequence
from rnnkit.registry import get_cell

DEFAULT_TOL = 1e-6  # relative; float64 central differences reach ~1e-9 on these sizes
DEFAULT_ATOL = 1e-8  # absolute floor for gradients that are ~0 (rounding error is ~1e-10)


@dataclass(frozen=True)
class GradcheckEntry:
    """One checked array: its name, shape, max absolute error, relative error and verdict."""

    check: str  # "bptt" or "tbptt"
    name: str
    shape: tuple[int, ...]
    max_abs_err: float
    rel_err: float
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """Every checked array of one configuration; ``passed`` only if all of them passed."""

    title: str
    entries: tuple[GradcheckEntry, ...]
    tol: float
    atol: float

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.entries)

    def failures(self) -> list[GradcheckEntry]:
        return [e for e in self.entries if not e.passed]

    def __str__(self) -> str:
        rows = [
            f"{e.check}:{e.name} rel={e.rel_err:.2e} abs={e.max_abs_err:.2e} {'ok' if e.passed else 'FAIL'}"
            for e in self.entries
        ]
        return "\n".join([self.title, *rows])


def central_differences(f: Callable[[], float], flat, *, eps: float) -> np.ndarray:
    """``(f(+eps) - f(-eps)) / (2 eps)`` for each element of ``flat``, a 1-D view (NumPy array or tensor) of
    the array ``f`` reads, written in place and restored; engine-neutral, both engines' ``numerical_gradient``."""
    grad = np.zeros(len(flat), dtype=np.float64)
    for i in range(len(flat)):
        old = float(flat[i])
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        grad[i] = (fp - fm) / (2.0 * eps)
    return grad


def numerical_gradient(f: Callable[[], float], a: np.ndarray, *, eps: float = 1e-6) -> np.ndarray:
    """dL/da by central differences, perturbing ``a`` in place element by element (restored afterwards)."""
    return central_differences(f, a.reshape(-1), eps=eps).reshape(a.shape)  # reshape(-1) is a view: writes change a


def compare(
    check: str, name: str, analytic: np.ndarray, numeric: np.ndarray, *, tol: float, atol: float
) -> GradcheckEntry:
    """Max abs and relative error of ``analytic`` against ``numeric`` and the pass/fail verdict."""
    if analytic.shape != numeric.shape:
        raise ValueError(f"{name}: analytic gradient shape {analytic.shape} != numeric {numeric.shape}")
    err = float(np.max(np.abs(analytic - numeric))) if analytic.size else 0.0
    scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric)))) if analytic.size else 0.0
    rel = err / scale if scale > 0 else (0.0 if err == 0 else float("inf"))
    return GradcheckEntry(check, name, tuple(analytic.shape), err, rel, bool(rel <= tol or err <= atol))


def check_arrays(
    check: str,
    f: Callable[[], float],
    arrays: dict,
    analytic: dict[str, np.ndarray],
    *,
    numerical,
    eps: float,
    tol: float,
    atol: float,
) -> list[GradcheckEntry]:
    """One entry per array, in order: ``analytic[name]`` against ``numerical(f, arrays[name], eps=eps)``."""
    return [compare(check, k, analytic[k], numerical(f, a, eps=eps), tol=tol, atol=atol) for k, a in arrays.items()]


def keep_worst(worst: dict[str, GradcheckEntry], found: list[GradcheckEntry]) -> None:
    """Truncated BPTT: keep, per array name, the entry of the window with the largest relative error."""
    for entry in found:
        if entry.name not in worst or entry.rel_err > worst[entry.name].rel_err:
            worst[entry.name] = entry


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
) -> dict[str, np.ndarray]:
    """Fresh float64 parameters for a whole stack, named ``layers.{l}.{fwd|bwd}.{name}``."""
    dirs = 2 if bidirectional else 1
    params = {}
    for l in range(num_layers):
        for d in range(dirs):
            D_l = input_size if l == 0 else dirs * hidden_size
            for k, v in init_params(cell, D_l, hidden_size, bias=bias, options=options, rng=rng).items():
                params[stacked_param_name(k, l, d == 1)] = v
    return params


def _problem(cell, *, input_size, hidden_size, num_layers, bidirectional, batch, steps, lengths, bias, options, seed):
    """Random parameters, input, initial state, lengths and loss weights for one configuration."""
    rng = np.random.default_rng(seed)
    get_cell(cell, engine="reference")  # a clear error for an unknown cell, before any work
    lay = layout(cell)
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
    x = rng.standard_normal((batch, steps, input_size))  # (N, T, D)
    state0 = tuple(0.5 * rng.standard_normal((num_layers * dirs, batch, hidden_size)) for _ in lay.state)
    if lengths is True:  # varied lengths, the first sequence full so the batch really is T long
        lengths = np.concatenate([[steps], rng.integers(1, steps + 1, batch - 1)]).astype(np.int64)
    elif lengths is False or lengths is None:
        lengths = None
    else:
        lengths = np.asarray(lengths)
    R = rng.standard_normal((batch, steps, dirs * hidden_size))  # weights of the test loss on out
    S = tuple(rng.standard_normal((num_layers * dirs, batch, hidden_size)) for _ in lay.state)  # ... on final
    return params, x, state0, lengths, R, S


def _describe(lengths, bias: bool, options: CellOptions) -> str:
    """Lengths, bias and the options that differ from the defaults, for a report title."""
    changed = [f"{k}={v!r}" for k, v in vars(options).items() if getattr(CellOptions(), k) != v]
    return (
        f"lengths={'full' if lengths is None else [int(n) for n in lengths]}, bias={bias}, "
        f"options: {', '.join(changed) or 'default'}"
    )


def _loss(out: np.ndarray, final: tuple, R: np.ndarray, S: tuple | None) -> float:
    total = float(np.sum(out * R))
    if S is not None:
        total += sum(float(np.sum(f * s)) for f, s in zip(final, S, strict=True))
    return total


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
    eps: float = 1e-6,
    tol: float = DEFAULT_TOL,
    atol: float = DEFAULT_ATOL,
) -> GradcheckReport:
    """Full BPTT (``sequence.forward``/``backward``) against finite differences on every array."""
    params, x, state0, lengths, R, S = _problem(
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
    )
    kw = dict(
        cell=cell, num_layers=num_layers, bidirectional=bidirectional, lengths=lengths, options=options, bias=bias
    )
    _, _, cache = sequence.forward(params, x, state0, **kw)
    dx, dstate0, dparams = sequence.backward(R, S, cache)

    def f() -> float:
        out, final, _ = sequence.forward(params, x, state0, **kw)
        return _loss(out, final, R, S)

    names = [f"state0.{name}" for name in layout(cell).state]
    arrays = {**params, "x": x, **dict(zip(names, state0, strict=True))}
    analytic = {**dparams, "x": dx, **dict(zip(names, dstate0, strict=True))}
    entries = check_arrays("bptt", f, arrays, analytic, numerical=numerical_gradient, eps=eps, tol=tol, atol=atol)
    title = (
        f"gradcheck {cell}: full BPTT, layers={num_layers}, bidirectional={bidirectional}, H={hidden_size}, "
        f"N={batch}, T={steps}, {_describe(lengths, bias, options)}"
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
    lengths: bool | Sequence[int] = True,
    bias: bool = True,
    options: CellOptions = CellOptions(),
    seed: int = 0,
    eps: float = 1e-6,
    tol: float = DEFAULT_TOL,
    atol: float = DEFAULT_ATOL,
) -> GradcheckReport:
    """Truncated BPTT (``sequence.tbptt_forward_backward``) per chunk against finite differences.

    Chunk c differentiates ``sum(out[start:stop] * R[start:stop])`` (plus the final-state term for the last
    chunk) as a function of the parameters, ``x[window_start:stop]`` and the carried state entering the
    window, held constant. Each entry reports the worst chunk.
    """
    params, x, state0, lengths, R, S = _problem(
        cell,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=False,
        batch=batch,
        steps=steps,
        lengths=lengths,
        bias=bias,
        options=options,
        seed=seed,
    )
    _, _, chunks = sequence.tbptt_forward_backward(
        params,
        x,
        R,
        state0,
        cell=cell,
        k1=k1,
        k2=k2,
        num_layers=num_layers,
        lengths=lengths,
        options=options,
        bias=bias,
        dfinal_state=S,
    )
    T = x.shape[1]
    worst: dict[str, GradcheckEntry] = {}
    for ch in chunks:
        w, s, e = ch.window_start, ch.start, ch.stop
        xw = x[:, w:e].copy()  # (N, e - w, D)
        s_in = tuple(a.copy() for a in ch.state_in)
        lw = None if lengths is None else np.clip(lengths - w, 0, e - w)

        def f(xw=xw, s_in=s_in, lw=lw, w=w, s=s, e=e) -> float:
            out, final, _ = sequence._forward(
                params,
                xw,
                s_in,
                cell=cell,
                num_layers=num_layers,
                bidirectional=False,
                lengths=lw,
                options=options,
                bias=bias,
                dropout_masks=None,
                allow_zero_lengths=True,
            )
            return _loss(out[:, s - w :], final, R[:, s:e], S if e == T else None)

        names = [f"state_in.{name}" for name in layout(cell).state]
        arrays = {**params, "x": xw, **dict(zip(names, s_in, strict=True))}
        analytic = {**ch.dparams, "x": ch.dx, **dict(zip(names, ch.dstate_in, strict=True))}
        keep_worst(
            worst, check_arrays("tbptt", f, arrays, analytic, numerical=numerical_gradient, eps=eps, tol=tol, atol=atol)
        )
    title = (
        f"gradcheck {cell}: truncated BPTT k1={k1} k2={k2 or k1}, {len(chunks)} chunks, layers={num_layers}, "
        f"H={hidden_size}, N={batch}, T={steps}, {_describe(lengths, bias, options)}"
    )
    return GradcheckReport(title, tuple(worst.values()), tol, atol)


def render(report: GradcheckReport):
    """A rich Table of the report: one row per checked array, PASS/FAIL coloured."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(report.title), caption=f"pass: rel err <= {report.tol:g} or abs err <= {report.atol:g}")
    for col, justify in (
        ("check", "left"),
        ("array", "left"),
        ("shape", "left"),
        ("max abs err", "right"),
        ("rel err", "right"),
        ("result", "center"),
    ):
        table.add_column(col, justify=justify)
    for e in report.entries:
        verdict = "[green]PASS[/green]" if e.passed else "[bold red]FAIL[/bold red]"
        table.add_row(e.check, e.name, str(e.shape), f"{e.max_abs_err:.2e}", f"{e.rel_err:.2e}", verdict)
    return table


def print_reports(reports: Sequence[GradcheckReport], console) -> bool:
    """One table per report, then a one-line verdict; True if every array passed."""
    for r in reports:
        console.print(render(r))
    ok = all(r.passed for r in reports)
    bad = sum(len(r.failures()) for r in reports)
    console.print("[green]gradcheck passed[/green]" if ok else f"[bold red]gradcheck FAILED: {bad} arrays[/bold red]")
    return ok


def run(
    cell: str,
    *,
    layers: int = 1,
    bidirectional: bool = False,
    hidden: int = 3,
    seed: int = 0,
    options: CellOptions = CellOptions(),
    k1: int = 2,
    console=None,
) -> bool:
    """What ``rnnkit gradcheck`` does: full BPTT (with lengths) and, unidirectional only, truncated BPTT.

    Prints one table per check and returns True if every array passed.
    """
    from rich.console import Console

    console = console or Console()
    reports = [
        gradcheck_sequence(
            cell, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional, options=options, seed=seed
        )
    ]
    if k1 > 0 and not bidirectional:  # truncated BPTT runs forward in time only
        reports.append(gradcheck_tbptt(cell, k1=k1, hidden_size=hidden, num_layers=layers, options=options, seed=seed))
    return print_reports(reports, console)
