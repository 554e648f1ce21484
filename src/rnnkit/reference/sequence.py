"""The reference runner: a cell unrolled over time, directions and layers, with lengths; full and truncated BPTT.

Cells know one step (``init_state``, ``step``, ``step_backward``); everything about time lives here:

* **time**: ``step`` is called for t = 0..T-1 (or T-1..0 for the backward direction) and the caches kept;
  ``backward`` walks the same steps in the opposite order, adding the gradient arriving from the output
  at step t to the gradient arriving from step t+1 (that sum is ``dnew_state``).
* **lengths**: a mask ``m[n, t] = t < lengths[n]``; where ``m`` is false the state is carried unchanged
  (``s_t = m s'_t + (1 - m) s_{t-1}``) and the output is zero, so the final state of sequence n is the
  state after its last real step and the backward direction effectively starts at ``lengths[n] - 1``.
* **depth**: layer l > 0 reads the (optionally dropped-out) concatenated outputs of layer l - 1.
* **directions**: d = 0 forward, d = 1 backward in time; outputs concatenated on the feature axis,
  states interleaved as ``l * directions + d``.

Shapes: x (N, T, D); out (N, T, dirs*H); each state tensor (L*dirs, N, H). Parameters use stacked names
``layers.{l}.{fwd|bwd}.{name}`` (``rnnkit.layout.stacked_param_name``); keys not starting with ``layers.``
(an embedding, a head) may share the dict and are ignored. The runner never looks inside a
cell's parameters, so cells without ``W_hh`` or with a diagonal one run unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rnnkit.layout import W_IH, CellLayout, CellOptions, layout, stacked_param_name
from rnnkit.registry import get_cell

State = tuple[np.ndarray, ...]


class _DirCache(NamedTuple):
    """One layer, one direction: the cell module, its parameters and the per-step caches."""

    module: Any
    params: dict[str, np.ndarray]
    order: list[int]  # time indices in processing order
    steps: list[Any]  # cell caches, same order
    D: int


class SequenceCache(NamedTuple):
    """Everything ``backward`` needs from ``forward``; opaque to callers."""

    cell: str
    num_layers: int
    dirs: int
    H: int
    N: int
    T: int
    mask: np.ndarray | None  # (N, T) bool, None when every sequence is full length
    layers: list[list[_DirCache]]
    dropout_masks: list[np.ndarray] | None


# ---------------------------------------------------------------------------------------------------------
# Input checks: raised at the boundary, saying what is wrong, where, and what to do.


def _hidden_size(params: dict[str, np.ndarray], lay: CellLayout) -> int:
    name = stacked_param_name(W_IH, 0, False)
    if name not in params:
        raise ValueError(
            f"params has no {name!r}: pass stacked parameter names layers.{{l}}.{{fwd|bwd}}.{{name}} "
            f"(rnnkit.layout.stacked_param_name); got {sorted(params)[:4]}"
        )
    rows = params[name].shape[0]
    if params[name].ndim != 2 or rows % lay.G:
        raise ValueError(f"{name} must be (G*H, D) with G={lay.G} for cell {lay.name!r}, got {params[name].shape}")
    return rows // lay.G


def _check_params(params: dict[str, np.ndarray], lay: CellLayout, D: int, H: int, L: int, dirs: int, bias: bool):
    expected: dict[str, tuple] = {}
    for l in range(L):
        D_l = D if l == 0 else dirs * H
        for d in range(dirs):
            for name, shape in lay.param_shapes(D_l, H, bias=bias).items():
                expected[stacked_param_name(name, l, d == 1)] = shape
    missing = [k for k in expected if k not in params]
    if missing:
        raise ValueError(
            f"params is missing {missing} for cell {lay.name!r} with num_layers={L}, "
            f"bidirectional={dirs == 2}, bias={bias}; build them with rnnkit.layout.init_params per layer"
        )
    extra = sorted(k for k in params if k.startswith("layers.") and k not in expected)  # other keys: not ours
    if extra:
        raise ValueError(
            f"params has unexpected entries {extra} for cell {lay.name!r} with num_layers={L}, "
            f"bidirectional={dirs == 2}, bias={bias}; check num_layers/bidirectional/bias match the parameters"
        )
    for k, shape in expected.items():
        if tuple(params[k].shape) != tuple(shape):
            raise ValueError(f"{k} has shape {tuple(params[k].shape)}, expected {tuple(shape)} (D={D}, H={H})")


def _check_x(x: np.ndarray, params: dict[str, np.ndarray]) -> None:
    if x.ndim != 3:
        raise ValueError(
            f"x must be (N, T, D) (batch first), got shape {x.shape} with {x.ndim} dims; for one sequence use x[None]"
        )
    N, T, D = x.shape
    if T == 0:
        raise ValueError(f"x has T=0 time steps (shape {x.shape}): an empty sequence has nothing to run; drop it")
    if N == 0:
        raise ValueError(f"x has N=0 sequences (shape {x.shape}): nothing to run")
    w = params[stacked_param_name(W_IH, 0, False)]
    if w.shape[1] != D:
        raise ValueError(
            f"x has D={D} features per step but layers.0.fwd.W_ih expects {w.shape[1]} "
            f"(its shape is {w.shape}); the input size of the first layer must match x.shape[2]"
        )


def _check_lengths(lengths: Any, N: int, T: int, *, allow_zero: bool = False) -> np.ndarray | None:
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.shape != (N,):
        raise ValueError(f"lengths must have shape (N,) = ({N},), got {lengths.shape}")
    if lengths.size and not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    low = 0 if allow_zero else 1
    bad = np.flatnonzero((lengths < low) | (lengths > T))
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"lengths[{k}] = {int(lengths[k])} is out of range: every length must be in [{low}, T={T}] "
            f"(a sequence needs at least one step and cannot be longer than x)"
        )
    return lengths.astype(np.int64)


def _check_state(state0: Any, lay: CellLayout, module: Any, L: int, dirs: int, N: int, H: int, dtype) -> State:
    if state0 is None:
        zeros = [module.init_state(N, H, dtype) for _ in range(L * dirs)]
        return tuple(np.stack([z[k] for z in zeros]) for k in range(len(lay.state)))
    if isinstance(state0, np.ndarray):
        state0 = (state0,)
    state0 = tuple(state0)
    if len(state0) != len(lay.state):
        raise ValueError(
            f"cell {lay.name!r} has state {lay.state} ({len(lay.state)} tensors), got {len(state0)} in state0"
        )
    for k, s in enumerate(state0):
        if np.shape(s) != (L * dirs, N, H):
            raise ValueError(
                f"state0[{k}] ({lay.state[k]!r}) has shape {np.shape(s)}, expected (L*directions, N, H) = "
                f"({L * dirs}, {N}, {H})"
            )
    return state0


# ---------------------------------------------------------------------------------------------------------
# Forward and backward over time for one layer and one direction.


def _run_direction(module, p, x, state, mask, reverse, options) -> tuple[np.ndarray, State, list[int], list]:
    """Unroll one cell over x (N, T, D) from ``state``; returns out (N, T, H), final state, order, caches."""
    T = x.shape[1]
    order = list(range(T - 1, -1, -1)) if reverse else list(range(T))
    outs: list[np.ndarray | None] = [None] * T
    caches = []
    for t in order:
        new, cache = module.step(p, x[:, t], state, options)
        if mask is not None:  # s_t = m s'_t + (1 - m) s_{t-1};  y_t = m h'_t
            m = mask[:, t, None]  # (N, 1)
            new = tuple(np.where(m, s_new, s_old) for s_new, s_old in zip(new, state, strict=True))
            outs[t] = np.where(m, new[0], 0.0)
        else:
            outs[t] = new[0]
        state = new
        caches.append(cache)
    return np.stack(outs, axis=1), state, order, caches  # (N, T, H)


def _backward_direction(dout, dstate, dc: _DirCache, mask) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """Walk the steps of ``dc`` backwards: dout (N, T, H) and d(final state) -> dx (N, T, D), dstate0, dparams."""
    N, T, _ = dout.shape
    dx = np.zeros((N, T, dc.D), dtype=dout.dtype)
    dparams = {k: np.zeros_like(v) for k, v in dc.params.items()}
    for t, cache in zip(reversed(dc.order), reversed(dc.steps), strict=True):
        if mask is not None:
            m = mask[:, t, None]  # (N, 1): where m is false the state went straight through
            dnew = tuple(np.where(m, ds, 0.0) for ds in dstate)
            dnew = (dnew[0] + np.where(m, dout[:, t], 0.0),) + dnew[1:]
        else:
            dnew = (dstate[0] + dout[:, t],) + tuple(dstate[1:])  # total gradient reaching h'_t (and c'_t)
        dx_t, dold, dp = dc.module.step_backward(dnew, cache)
        if mask is not None:
            dold = tuple(a + np.where(m, 0.0, ds) for a, ds in zip(dold, dstate, strict=True))
        dstate = dold
        dx[:, t] = dx_t
        for k, v in dp.items():
            dparams[k] += v
    return dx, dstate, dparams


# ---------------------------------------------------------------------------------------------------------
# The public runner.


def forward(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    state0: State | None = None,
    *,
    cell: str,
    num_layers: int = 1,
    bidirectional: bool = False,
    lengths: np.ndarray | Sequence[int] | None = None,
    options: CellOptions = CellOptions(),
    bias: bool = True,
    dropout_masks: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, State, SequenceCache]:
    """Run ``cell`` over x (N, T, D). Returns out (N, T, dirs*H), final state (tuple of (L*dirs, N, H)), cache.

    ``dropout_masks``: optional inter-layer dropout, ``num_layers - 1`` arrays (N, T, dirs*H) that multiply
    the output of layer l before layer l + 1 reads it; they carry the scaling (values 0 or 1/(1-p)), so the
    reference engine stays deterministic and a test can pass the very mask another engine drew.
    """
    return _forward(
        params,
        x,
        state0,
        cell=cell,
        num_layers=num_layers,
        bidirectional=bidirectional,
        lengths=lengths,
        options=options,
        bias=bias,
        dropout_masks=dropout_masks,
    )


def _forward(
    params,
    x,
    state0,
    *,
    cell,
    num_layers,
    bidirectional,
    lengths,
    options,
    bias,
    dropout_masks,
    allow_zero_lengths=False,
):
    """``forward``; ``allow_zero_lengths`` is for TBPTT windows a sequence has already ended before."""
    lay = layout(cell)
    module = get_cell(cell, engine="reference")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    if not isinstance(options, CellOptions):
        raise TypeError(f"options must be a rnnkit.layout.CellOptions, got {type(options).__name__}")
    x = np.asarray(x)
    H = _hidden_size(params, lay)
    _check_x(x, params)
    N, T, D = x.shape
    L, dirs = num_layers, 2 if bidirectional else 1
    _check_params(params, lay, D, H, L, dirs, bias)
    lengths = _check_lengths(lengths, N, T, allow_zero=allow_zero_lengths)
    state0 = _check_state(state0, lay, module, L, dirs, N, H, x.dtype)
    if dropout_masks is not None:
        dropout_masks = [np.asarray(m) for m in dropout_masks]
        if len(dropout_masks) != L - 1 or any(m.shape != (N, T, dirs * H) for m in dropout_masks):
            raise ValueError(
                f"dropout_masks must be num_layers - 1 = {L - 1} arrays of shape (N, T, dirs*H) = "
                f"({N}, {T}, {dirs * H}), got {[m.shape for m in dropout_masks]}"
            )
    mask = None if lengths is None or np.all(lengths == T) else np.arange(T)[None, :] < lengths[:, None]  # (N, T)

    layer_in, finals, caches = x, [], []
    for l in range(L):
        outs, dir_caches = [], []
        for d in range(dirs):
            p = {name: params[stacked_param_name(name, l, d == 1)] for name in lay.param_shapes(1, 1, bias=bias)}
            s0 = tuple(s[l * dirs + d] for s in state0)  # each (N, H)
            out, final, order, steps = _run_direction(module, p, layer_in, s0, mask, d == 1, options)
            outs.append(out)
            finals.append(final)
            dir_caches.append(_DirCache(module, p, order, steps, layer_in.shape[2]))
        layer_out = np.concatenate(outs, axis=2) if dirs == 2 else outs[0]  # (N, T, dirs*H)
        caches.append(dir_caches)
        layer_in = layer_out * dropout_masks[l] if (dropout_masks is not None and l < L - 1) else layer_out
    final_state = tuple(np.stack([f[k] for f in finals]) for k in range(len(lay.state)))  # (L*dirs, N, H)
    cache = SequenceCache(cell, L, dirs, H, N, T, mask, caches, dropout_masks)
    return layer_out, final_state, cache


def backward(
    dout: np.ndarray, dfinal_state: State | None, cache: SequenceCache
) -> tuple[np.ndarray, State, dict[str, np.ndarray]]:
    """BPTT through ``forward``: dout (N, T, dirs*H) and d(final state) -> dx, dstate0, dparams (stacked names).

    ``dfinal_state`` may be None (no loss on the final state) or a tuple whose entries may be None.
    """
    L, dirs, H, N, T = cache.num_layers, cache.dirs, cache.H, cache.N, cache.T
    dout = np.asarray(dout)
    if dout.shape != (N, T, dirs * H):
        raise ValueError(f"dout has shape {dout.shape}, expected the output's shape (N, T, dirs*H) {(N, T, dirs * H)}")
    S = len(layout(cache.cell).state)
    dfinal = tuple(dfinal_state) if dfinal_state is not None else (None,) * S
    if len(dfinal) != S:
        raise ValueError(f"dfinal_state must have {S} entries (one per state tensor), got {len(dfinal)}")
    dfinal = tuple(np.zeros((L * dirs, N, H), dout.dtype) if g is None else np.asarray(g) for g in dfinal)
    for k, g in enumerate(dfinal):
        if g.shape != (L * dirs, N, H):
            raise ValueError(f"dfinal_state[{k}] has shape {g.shape}, expected (L*dirs, N, H) = {(L * dirs, N, H)}")

    dparams: dict[str, np.ndarray] = {}
    dstate0 = [np.zeros((L * dirs, N, H), dtype=dout.dtype) for _ in range(S)]
    d_layer_out = dout
    for l in range(L - 1, -1, -1):
        d_in = None
        for d in range(dirs):
            dc = cache.layers[l][d]
            ds_fin = tuple(g[l * dirs + d] for g in dfinal)
            dx, ds0, dp = _backward_direction(d_layer_out[:, :, d * H : (d + 1) * H], ds_fin, dc, cache.mask)
            d_in = dx if d_in is None else d_in + dx  # both directions read the same input
            for k in range(S):
                dstate0[k][l * dirs + d] = ds0[k]
            for name, g in dp.items():
                dparams[stacked_param_name(name, l, d == 1)] = g
        if l > 0:
            d_layer_out = d_in * cache.dropout_masks[l - 1] if cache.dropout_masks is not None else d_in
    return d_in, tuple(dstate0), dparams


# ---------------------------------------------------------------------------------------------------------
# Truncated BPTT (Williams & Peng 1990, BPTT(k1, k2)): carry the state forward, stop the gradient.


@dataclass(frozen=True)
class Chunk:
    """One truncated-BPTT update: losses at [start, stop) backpropagated to ``window_start`` and no further."""

    start: int  # first time step whose output gradient this chunk uses
    stop: int  # one past the last
    window_start: int  # the gradient stops here: the state entering it is treated as a constant
    state_in: State  # that constant state, each (L, N, H)
    out: np.ndarray  # (N, stop - start, H) outputs of [start, stop)
    dx: np.ndarray  # (N, stop - window_start, D) gradient w.r.t. x[:, window_start:stop]
    dstate_in: State  # gradient reaching state_in (what full BPTT would pass further back; dropped here)
    dparams: dict[str, np.ndarray]


def tbptt_windows(T: int, k1: int, k2: int | None = None) -> list[tuple[int, int, int]]:
    """(window_start, start, stop) per update: every k1 steps, backpropagate the last k2 (>= k1) steps.

    The losses of the k1 new steps [start, stop) are backpropagated through them and k2 - k1 earlier steps
    (window_start = start - (k2 - k1)); a last, shorter chunk keeps the same overlap. k2 = k1 (the default)
    is the usual chunked scheme: disjoint chunks, the state carried between them.
    """
    k2 = k1 if k2 is None else k2
    if k1 < 1 or k2 < k1:
        raise ValueError(f"truncated BPTT needs 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    return [(max(0, s - (k2 - k1)), s, min(s + k1, T)) for s in range(0, T, k1)]


def tbptt_forward_backward(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    dout: np.ndarray | Callable[[np.ndarray, int, int], np.ndarray],
    state0: State | None = None,
    *,
    cell: str,
    k1: int,
    k2: int | None = None,
    num_layers: int = 1,
    lengths: np.ndarray | Sequence[int] | None = None,
    options: CellOptions = CellOptions(),
    bias: bool = True,
    dfinal_state: State | None = None,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> tuple[np.ndarray, State, list[Chunk]]:
    """Truncated BPTT over x (N, T, D): returns out (N, T, H), the final state and one ``Chunk`` per update.

    ``dout`` is the output gradient (N, T, H), or a function ``dout(out_chunk, start, stop)`` that computes
    it from the chunk's outputs (a loss). ``dfinal_state`` joins the last chunk. ``on_chunk`` is called after
    each chunk (e.g. an optimiser step that updates ``params`` in place); later windows then run with the
    updated parameters from the carried state, as a training loop does. Unidirectional only: a backward
    direction would need the future, which truncation does not have.
    """
    lay = layout(cell)
    x = np.asarray(x)
    H = _hidden_size(params, lay)
    _check_x(x, params)
    N, T, _ = x.shape
    lengths = _check_lengths(lengths, N, T)
    kw = dict(cell=cell, num_layers=num_layers, bidirectional=False, options=options, bias=bias, dropout_masks=None)
    if state0 is None:  # zeros, validated and shaped by the runner
        state0 = _check_state(None, lay, get_cell(cell, engine="reference"), num_layers, 1, N, H, x.dtype)

    def window_lengths(a: int, b: int):  # lengths measured from step a, for the slice [a, b)
        return None if lengths is None else np.clip(lengths - a, 0, b - a)

    carried: dict[int, State] = {0: state0}  # time -> state after that many steps (no gradient flows back)

    def state_at(t: int) -> State:
        b = max(k for k in carried if k <= t)
        if b < t:  # BPTT(k1, k2 > k1): run from the last stored state up to the window start
            _, carried[t], _ = _forward(
                params, x[:, b:t], carried[b], lengths=window_lengths(b, t), allow_zero_lengths=True, **kw
            )
        return carried[t]

    outs, chunks = [], []
    for w, s, e in tbptt_windows(T, k1, k2):
        s_in = state_at(w)
        out_w, final, cache = _forward(
            params, x[:, w:e], s_in, lengths=window_lengths(w, e), allow_zero_lengths=True, **kw
        )
        carried[e] = final  # carried forward as a value: the next chunk's gradient stops here
        out_c = out_w[:, s - w :]  # (N, e - s, H)
        g = dout(out_c, s, e) if callable(dout) else np.asarray(dout)[:, s:e]
        dwin = np.zeros_like(out_w)
        dwin[:, s - w :] = g  # positions before s belong to earlier chunks' losses
        dx, ds_in, dp = backward(dwin, dfinal_state if e == T else None, cache)
        chunk = Chunk(s, e, w, s_in, out_c, dx, ds_in, dp)
        chunks.append(chunk)
        outs.append(out_c)
        if on_chunk is not None:
            on_chunk(chunk)
    return np.concatenate(outs, axis=1), carried[T], chunks
