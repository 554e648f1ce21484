"""``rnnkit explain trace``: the reference engine run step by step on a tiny example, every intermediate named.

A textbook's worked example, computed for real. Nothing here re-derives a cell's math: the forward values
are the fields of the cache each reference cell's ``step`` returns, and the backward values are what its
``step_backward`` returns, walked in the same order as ``rnnkit.reference.sequence.backward`` (one layer,
one direction, no lengths), so a test can check the trace against the runner bit for bit.

Two quantities are *presented* from cache fields rather than read off them:

* ``preact``: the affine parts ``a_ih = x W_ih^T + b_ih`` and ``a_hh = h W_hh^T + b_hh`` of each gate
  block (the reference caches keep the step's inputs and parameters but not these sums); for the Elman
  cell and the LSTM the gate pre-activation is ``a_ih + a_hh`` (a test checks ``σ(a) = i`` etc. against
  the cache), for the GRU ``n = tanh(a_ih.n + r ⊙ a_hh.n)`` (torch form).
* ``dpreact``: the gradient of the pre-activations of a step. With one sequence (N = 1) it *is* the
  step's bias gradient ``db_ih`` returned by ``step_backward`` (``db = Σ_n da_n``); with N > 1 it is that
  sum over the batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions, init_params, layout
from rnnkit.reference import losses
from rnnkit.registry import FactView, facts, get_cell

# What each field of a reference cache means, and the names of plain-tuple caches' entries: each cell's
# ``CellFacts.field_meanings`` / ``cache_fields``, declared with its registration (live views of them).
CACHE_FIELDS: FactView[dict[str, str]] = FactView(lambda f: f.field_meanings or None)
TUPLE_CACHE_FIELDS: FactView[tuple[str, ...]] = FactView(lambda f: f.cache_fields or None)
_NOT_ARRAYS = ("params", "options", "variant", "W_ih", "has_bias")


def _named(cache: Any, cell: str | None) -> dict[str, Any]:
    """Name -> entry of a reference cell's step cache: a NamedTuple's own fields, else ``CellFacts.cache_fields``."""
    if hasattr(cache, "_asdict"):
        return dict(cache._asdict())
    names = TUPLE_CACHE_FIELDS.get(cell, ()) if cell is not None else ()
    if not names:
        raise TypeError(
            f"cannot name the entries of a {type(cache).__name__} cache for cell {cell!r}: "
            "give the cell's CellFacts cache_fields"
        )
    if len(names) != len(cache):
        raise ValueError(
            f"the {cell} cache has {len(cache)} entries, rnnkit.explain names {len(names)}: update "
            "the cell's CellFacts cache_fields to its step"
        )
    return dict(zip(names, cache, strict=True))


def cache_quantities(cache: Any, cell: str | None = None) -> dict[str, np.ndarray]:
    """Name -> array of every quantity in a reference cell's step cache, parameters excluded.

    The classic cells return a NamedTuple whose fields are named after the textbook quantities; the others a
    plain tuple, named by the cell's ``CellFacts.cache_fields``.
    """
    return {k: v for k, v in _named(cache, cell).items() if k not in _NOT_ARRAYS and isinstance(v, np.ndarray)}


def gate_activations(cell: str, cache: Any) -> dict[str, np.ndarray]:
    """The gate activations a cache holds, by gate name (LSTM: i, f, g, o; GRU: r, z, n; Elman: none)."""
    q = cache_quantities(cache, cell)
    alias = facts(cell).gate_fields
    return {g: q[alias.get(g, g)] for g in layout(cell).gates if alias.get(g, g) in q}


def preactivations(cell: str, cache: Any) -> dict[str, np.ndarray]:
    """Affine parts of each gate block from the cache's inputs and parameters: ``a_ih.<gate>``, ``a_hh.<gate>``.

    Cells with ``CellFacts.affine_gates`` only (rnn, lstm, gru; empty for others, e.g. the layer-norm LSTM,
    normalised before the sum); see the module docstring for how they combine.
    """
    f = facts(cell)
    named = _named(cache, cell)
    p = named.get("params")
    if not f.affine_gates or p is None or W_HH not in p:
        return {}
    lay, q = f.layout, cache_quantities(cache, cell)
    H = p[W_HH].shape[1]
    a_ih = q["x"] @ p[W_IH].T + (p[B_IH] if B_IH in p else 0.0)  # (N, G*H)
    a_hh = q["h"] @ p[W_HH].T + (p[B_HH] if B_HH in p else 0.0)  # (N, G*H)
    out: dict[str, np.ndarray] = {}
    for gate in lay.gates:
        s = lay.gate_slice(gate, H)
        out[f"a_ih.{gate}"], out[f"a_hh.{gate}"] = a_ih[:, s], a_hh[:, s]
        if gate in f.affine_gates:  # not GRU's n: a_n = a_ih.n + r ⊙ a_hh.n, shown through its parts
            out[f"a.{gate}"] = a_ih[:, s] + a_hh[:, s]  # the gate's pre-activation
    return out


def run_steps(
    cell: str, params: dict[str, np.ndarray], x: np.ndarray, state0: tuple | None = None, *, options=CellOptions()
) -> tuple[list[tuple], list[Any]]:
    """Unroll one reference cell over x (N, T, D): the states after each step and each step's cache."""
    module = get_cell(cell, engine="reference")
    N, T, _ = x.shape
    H = params[W_IH].shape[0] // layout(cell).G
    state = state0 if state0 is not None else module.init_state(N, H, dtype=x.dtype)
    states, caches = [], []
    for t in range(T):
        state, cache = module.step(params, x[:, t], state, options)  # (N, H) each
        states.append(state)
        caches.append(cache)
    return states, caches


def backward_steps(cell: str, caches: list[Any], dout: np.ndarray, dfinal: tuple | None = None) -> list[dict]:
    """BPTT over the caches of ``run_steps``, newest step first, returning every quantity of every step.

    dout (N, T, H) is dL/d(output h_t) from the loss. Per step t (in processing order T-1 .. 0):
    ``dnew_state`` = the total gradient reaching the step's new state (loss at t + the step after),
    then ``step_backward``'s ``dx``, ``dstate`` (to the previous state) and ``dparams``; ``dparams_sum``
    accumulates them as the runner does.
    """
    module = get_cell(cell, engine="reference")
    names = layout(cell).state
    N, T, H = dout.shape
    dstate = tuple(np.zeros((N, H), dout.dtype) for _ in names) if dfinal is None else tuple(dfinal)
    acc: dict[str, np.ndarray] = {}
    out = []
    for t in range(T - 1, -1, -1):
        dnew = (dstate[0] + dout[:, t],) + tuple(dstate[1:])  # h_t feeds the loss at t and the step t+1
        dx, dprev, dp = module.step_backward(dnew, caches[t])
        for k, v in dp.items():
            acc[k] = acc[k] + v if k in acc else v.copy()
        out.append(
            {
                "t": t,
                "dnew_state": dict(zip(names, dnew, strict=True)),
                "dx": dx,
                "dstate": dict(zip(names, dprev, strict=True)),
                "dparams": dp,
                "dparams_sum": {k: v.copy() for k, v in acc.items()},
            }
        )
        dstate = dprev
    return out


def trace(
    cell: str = "lstm",
    *,
    input_size: int = 2,
    hidden_size: int = 3,
    steps: int = 3,
    batch: int = 1,
    seed: int = 0,
    options: CellOptions = CellOptions(),
) -> dict[str, Any]:
    """Forward and BPTT of one reference cell on a seeded tiny example, every quantity as nested lists.

    Parameters come from ``layout.init_params`` (seed), inputs and targets from ``N(0, 1)`` (seed + 1);
    the loss is ``reference.losses.mse(h, y)`` over all steps, so every step receives a gradient.
    """
    if min(input_size, hidden_size, steps, batch) < 1:
        raise ValueError(
            f"trace: input_size, hidden_size, steps and batch must all be >= 1, got "
            f"{input_size}, {hidden_size}, {steps}, {batch}"
        )
    lay = layout(cell)
    params = init_params(cell, input_size, hidden_size, options=options, rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, steps, input_size))  # (N, T, D)
    y = rng.standard_normal((batch, steps, hidden_size))  # (N, T, H) regression targets
    states, caches = run_steps(cell, params, x, options=options)
    h = np.stack([s[0] for s in states], axis=1)  # (N, T, H)
    loss, lcache = losses.mse(h, y)
    dout = losses.mse_backward(lcache)  # (N, T, H)
    bwd = backward_steps(cell, caches, dout)
    fwd = []
    for t, (s, c) in enumerate(zip(states, caches, strict=True)):
        fwd.append(
            {
                "t": t,
                "cache": cache_quantities(c, cell),
                "preact": preactivations(cell, c),
                "state": dict(zip(lay.state, s, strict=True)),
            }
        )
    result = {
        "cell": cell,
        "input_size": input_size,
        "hidden_size": hidden_size,
        "steps": steps,
        "batch": batch,
        "seed": seed,
        "options": vars(options).copy(),
        "gates": list(lay.gates),
        "state_names": list(lay.state),
        "cache_fields": facts(cell).field_meanings,
        "params": params,
        "x": x,
        "y": y,
        "loss": loss,
        "dout": dout,
        "forward": fwd,
        "backward": bwd,
        "grads": {
            "dparams": bwd[-1]["dparams_sum"],
            "dx": np.stack([b["dx"] for b in bwd[::-1]], axis=1),
            "dstate0": bwd[-1]["dstate"],
        },
    }
    return to_jsonable(result)


def to_jsonable(obj: Any) -> Any:
    """Arrays -> nested lists, numpy scalars -> Python numbers, recursively (for ``json.dumps``)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


# ---- rich rendering -----------------------------------------------------------------------------------------


_PREACT_DOC = {"a_ih": "x W_ih^T + b_ih", "a_hh": "h W_hh^T + b_hh", "a": "pre-activation a_ih + a_hh"}


def _fmt(v: Any) -> str:
    a = np.asarray(v, dtype=float)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    return np.array2string(a, precision=4, suppress_small=True, floatmode="fixed", max_line_width=100)


def render(tr: dict[str, Any], console: Any = None) -> None:
    """Print a trace (as returned by ``trace``) as rich tables: one per forward step, one per backward step."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    console.print(
        f"[bold]{tr['cell']}[/] D={tr['input_size']} H={tr['hidden_size']} T={tr['steps']} N={tr['batch']} "
        f"seed={tr['seed']}   loss = mse(h, y) = {tr['loss']:.6f}"
    )
    p = Table(title="parameters (layout.init_params)", show_lines=False)
    p.add_column("name")
    p.add_column("value")
    for k, v in tr["params"].items():
        p.add_row(k, _fmt(v))
    console.print(p)
    for step in tr["forward"]:
        t = Table(title=f"forward step t={step['t']}  (reference step cache)")
        t.add_column("quantity")
        t.add_column("value")
        t.add_column("meaning", style="dim")
        for k, v in step["preact"].items():
            t.add_row(k, _fmt(v), _PREACT_DOC[k.split(".")[0]])
        for k, v in step["cache"].items():
            t.add_row(k, _fmt(v), tr["cache_fields"].get(k, ""))
        for k, v in step["state"].items():
            t.add_row(f"{k}_t", _fmt(v), "new state")
        console.print(t)
    gates = tr["gates"]
    for step in tr["backward"]:
        t = Table(title=f"backward step t={step['t']}  (reference step_backward)")
        t.add_column("quantity")
        t.add_column("value")
        for k, v in step["dnew_state"].items():
            t.add_row(f"d{k}_t (total)", _fmt(v))
        if B_IH in step["dparams"]:
            H = tr["hidden_size"]
            db = np.asarray(step["dparams"][B_IH])
            for j, g in enumerate(gates):
                t.add_row(f"dpreact.{g} (= db_ih)", _fmt(db[j * H : (j + 1) * H]))
        t.add_row("dx_t", _fmt(step["dx"]))
        for k, v in step["dstate"].items():
            t.add_row(f"d{k}_(t-1)", _fmt(v))
        for k, v in step["dparams_sum"].items():
            t.add_row(f"Σ d{k}", _fmt(v))
        console.print(t)
