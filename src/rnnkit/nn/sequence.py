"""The runner: a stack of cells unrolled over time, layers and directions, with lengths and state carry.

``Recurrent`` owns the parameters (``layers.{l}.{fwd|bwd}.{name}``) and picks one of several
implementations of the same math:

* ``"loop"``  — the readable twin: hoisted input projection, then one ``cell.recur`` per step (autograd);
* ``"fused"`` — torch.nn's kernels on our parameters (``nn/fused.py``; oneDNN LSTM on CPU, cuDNN on GPU);
* ``"bptt"``  — our hand-written BPTT ``autograd.Function`` (``nn/bptt.py``), one layer and direction a call;
* ``"scan"``  — parallel scans for cells gated on the input only (``nn/scan.py``), same call as bptt;
* ``"auto"``  — the fastest correct one on this host: measured once per key and cached (``nn/autotune.py``),
  or the static table ``_auto_impl`` where tuning is off (``RNNKIT_AUTOTUNE=0``, deterministic mode, ...).

All of them receive the parameters as one dict per (layer, direction), built once per forward, so
DropConnect on ``W_hh`` (``weight_drop``, Merity et al. 2017 §4.1, applied once per forward in training
mode) is just another tensor in that dict and every implementation keeps working.

Lengths: positions ``t >= lengths[n]`` give zero output and leave the state unchanged, so a padded batch
gives the same outputs and final states as running each sequence alone; the backward direction of a
bidirectional layer starts at ``lengths[n] - 1``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from rnnkit.layout import W_HH, CellOptions, layout
from rnnkit.nn import autotune, fused, gemm, precision
from rnnkit.nn.cells.base import CellBase, Params
from rnnkit.registry import facts, get_cell

IMPLS = ("auto", "loop", "fused", "bptt", "scan")


def _fast_module(name: str) -> Any:
    """The fast-path module ``name`` (e.g. ``rnnkit.nn.scan``) if its file exists (imported lazily), else None."""
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)  # a real import error inside the module surfaces here


def _impl_module(impl: str, cell: str) -> Any:
    """The module behind ``impl`` for ``cell``, as the cell's facts name it (``CellFacts.fast_paths``), or None."""
    name = facts(cell).fast_paths.get(impl)
    return None if name is None else _fast_module(name)


def _auto_impl(cell: str, options: CellOptions, x: Tensor) -> str:
    """The static default implementation for this cell, options and input: what ``auto`` uses where autotuning is
    off (``RNNKIT_AUTOTUNE=0``, deterministic mode, off the CPU; see nn/autotune.py) and the choice the autotuner
    keeps unless another impl measures faster by more than ``autotune.MARGIN``.

    The first of the cell's fast paths that supports the options and input, in the order its facts list them
    (``CellFacts.fast_paths``, each cell's measured reason beside it), else the loop. LSTM lists torch's fused
    kernel first (oneDNN on CPU is hard to beat); GRU / RNN list our BPTT first (torch.nn does not use oneDNN
    for them on CPU). Measured (benchmarks/RESULTS.md, bench_cells, T=128 N=32 H=512 fwd+bwd, 2 threads):
    bptt/torch.nn = 0.51x GRU, 0.64x RNN, 1.14x LSTM. On CUDA the cuDNN kernels run every cell they can.
    """
    order = list(facts(cell).fast_paths)
    fused_first = order[:1] == ["fused"]
    if fused_first and x.shape[1] == 1:
        return "loop"  # one step (generation): oneDNN's per-call setup costs ms, a step costs µs (PERF-NOTES)
    if (fused_first or x.device.type == "cuda") and fused.supports(cell, options, x=x):
        return "fused"  # oneDNN LSTM on CPU; cuDNN for rnn / lstm / gru on GPU
    for impl in order:
        mod = _impl_module(impl, cell)
        if mod is not None and mod.supports(cell, options, x=x):
            return impl
    return "loop"


def loop_layer(
    cell: CellBase,
    x: Tensor,
    state: tuple[Tensor, ...],
    params: Params,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One layer, one direction, step by step: x (N, T, D), state of (N, H) -> (out (N, T, H), final state)."""
    xp = cell.project_input(x, params).unbind(1)  # T x (N, G*H): one large product, then per-step views
    T = len(xp)
    steps = range(T - 1, -1, -1) if reverse else range(T)
    masks = None
    if lengths is not None:
        times = torch.arange(T, device=x.device)
        masks = (times[None, :] < lengths[:, None]).unsqueeze(2).unbind(1)  # T x (N, 1): True on real steps
    outs: list[Tensor | None] = [None] * T  # filled in processing order, read in time order
    for t in steps:
        new = cell.recur(xp[t], state, params)
        if masks is None:
            state = new
            outs[t] = new[0]
        else:  # padded steps keep the old state and output zero
            m = masks[t]
            state = tuple(torch.where(m, s_new, s_old) for s_new, s_old in zip(new, state, strict=True))
            outs[t] = new[0] * m
    return torch.stack(cast(list[Tensor], outs), dim=1), state  # (N, T, H): every step filled above


class Recurrent(nn.Module):
    """A stack of ``num_layers`` recurrent layers of cell ``cell``, optionally bidirectional, batch first.

    ``forward(x (N, T, D), state=None, lengths=None) -> (out (N, T, dirs*H), state)``; state is a tuple in
    the order of ``layout(cell).state`` of (L*dirs, N, H) tensors, index ``l*dirs + d`` (d = 1 backward).
    ``dropout`` applies to the outputs of every layer but the last (training mode), as torch.nn.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
        options: CellOptions | None = None,
        impl: str = "auto",
        weight_drop: float = 0.0,
    ) -> None:
        super().__init__()
        cls = get_cell(cell, engine="nn")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0 or not 0.0 <= weight_drop < 1.0:
            raise ValueError(f"dropout and weight_drop must be in [0, 1), got {dropout} and {weight_drop}")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        if weight_drop and not layout(cell).has_hh:
            raise ValueError(f"weight_drop drops W_hh, but cell {cell!r} has no recurrent matrix: use weight_drop=0")
        self.cell = cell
        self.layout = layout(cell)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bidirectional, self.dirs = num_layers, bidirectional, 2 if bidirectional else 1
        self.dropout, self.weight_drop, self.bias = float(dropout), float(weight_drop), bias
        self.options = options or CellOptions()
        self.impl = impl
        self.last_impl: str | None = None  # the impl the last forward ran (what 'auto' chose)
        directions = ("fwd", "bwd") if bidirectional else ("fwd",)
        self.layers = nn.ModuleList()
        self.cells: list[CellBase] = []  # index l*dirs + d
        for l in range(num_layers):
            d_in = input_size if l == 0 else hidden_size * self.dirs  # layer l > 0 reads both directions
            cells = {d: cls(d_in, hidden_size, bias=bias, options=self.options) for d in directions}
            self.layers.append(nn.ModuleDict(cells))
            self.cells += [cells[d] for d in directions]

    # ---- entry checks ---------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, cfg: Any, input_size: int) -> Recurrent:
        """The recurrent stack a ``ModelConfig`` (any task's model section) describes, reading ``input_size``."""
        return cls(
            cfg.cell.name,
            input_size,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bidirectional=cfg.bidirectional,
            dropout=cfg.dropout,
            bias=cfg.bias,
            options=cfg.cell.options(),
            impl=cfg.impl,
            weight_drop=cfg.weight_drop,
        )

    def _check(self, x: Tensor, state, lengths) -> tuple[tuple[Tensor, ...] | None, Tensor | None]:
        """Validate the inputs of ``forward`` and return (state tuple or None, lengths tensor or None)."""
        where = f"{type(self).__name__}({self.cell}).forward"
        if not isinstance(x, Tensor) or x.dim() != 3:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"{where}: input must be a batch-first (N, T, D) tensor, got {got}; for one sequence use x.unsqueeze(0)"
            )
        N, T, D = x.shape
        if D != self.input_size:
            raise ValueError(f"{where}: input has D={D} features per step but input_size={self.input_size}")
        if T == 0:
            raise ValueError(f"{where}: input has T=0 time steps; every sequence needs at least one step")
        if N == 0:
            raise ValueError(f"{where}: input has an empty batch (N=0)")
        w = self.cells[0].W_ih
        if x.dtype != w.dtype or x.device != w.device:
            raise ValueError(
                f"{where}: input is {x.dtype} on {x.device} but the parameters are {w.dtype} on {w.device}; "
                "convert one side (x.to(dtype=..., device=...) or module.to(...))"
            )
        if state is not None:
            names = self.layout.state
            if isinstance(state, Tensor):
                state = (state,)
            if not isinstance(state, (tuple, list)) or len(state) != len(names):
                raise ValueError(
                    f"{where}: state must be a tuple of {len(names)} tensor(s) ({', '.join(names)}), "
                    f"got {type(state).__name__} of length {len(state) if isinstance(state, (tuple, list)) else '-'}"
                )
            expected = (self.num_layers * self.dirs, N, self.hidden_size)
            for name, s in zip(names, state, strict=True):
                if not isinstance(s, Tensor) or tuple(s.shape) != expected:
                    shape = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                    raise ValueError(f"{where}: state {name} has shape {shape}, expected (L*dirs, N, H) = {expected}")
            state = tuple(state)
        if lengths is not None:
            lengths = torch.as_tensor(lengths)
            if lengths.dim() != 1 or lengths.shape[0] != N or lengths.is_floating_point():
                raise ValueError(
                    f"{where}: lengths must be an integer tensor of shape (N,) = ({N},), "
                    f"got {lengths.dtype} of shape {tuple(lengths.shape)}"
                )
            bad = (lengths < 1) | (lengths > T)
            if bool(bad.any()):
                n = int(bad.nonzero()[0, 0])
                raise ValueError(
                    f"{where}: lengths[{n}]={int(lengths[n])} is out of range; every length must be in "
                    f"[1, T={T}] (drop empty sequences from the batch, or pad x to the longest length)"
                )
            lengths = lengths.to(device=x.device, dtype=torch.long)
            if bool((lengths == T).all()):
                lengths = None  # every sequence is full length: no masking or packing needed
        return state, lengths

    # ---- forward --------------------------------------------------------------------------------------

    def layer_params(self) -> list[Params]:
        """One param dict per (layer, direction), index l*dirs + d; DropConnect applied to W_hh if training."""
        params = [c.params() for c in self.cells]
        if self.weight_drop and self.training:  # Merity et al. 2017 §4.1: one mask per forward, all steps
            params = [{**p, W_HH: nn.functional.dropout(p[W_HH], self.weight_drop)} for p in params]
        return params

    def check_impl(self, impl: str, x: Tensor) -> str:
        """``impl`` if it runs this cell and options on ``x``, else a ValueError saying what to use instead."""
        if impl == "fused" and not fused.supports(self.cell, self.options, x=x):
            raise ValueError(
                f"impl='fused' does not support cell {self.cell!r} with {self.options}; use impl='loop' or 'auto'"
            )
        if impl in ("bptt", "scan"):
            mod = _impl_module(impl, self.cell)
            if mod is None or not mod.supports(self.cell, self.options, x=x):
                raise ValueError(
                    f"impl={impl!r} is not available for cell {self.cell!r} with {self.options}; "
                    "use impl='loop' or 'auto'"
                )
        return impl

    def resolve_impl(self, x: Tensor) -> str:
        """The implementation for ``x`` without measuring: ``self.impl``, or for 'auto' the static table, checked.
        ``forward`` measures instead where autotuning applies (``nn/autotune.py``); ``last_impl`` tells which ran."""
        return self.check_impl(_auto_impl(self.cell, self.options, x) if self.impl == "auto" else self.impl, x)

    def forward(
        self, x: Tensor, state: tuple[Tensor, ...] | None = None, lengths: Tensor | Sequence[int] | None = None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """x (N, T, D), state of (L*dirs, N, H) or None (zeros), lengths (N,) -> (out (N, T, dirs*H), state).

        Under ``torch.autocast`` (``precision="bf16"``, nn/precision.py) the products run in the autocast dtype
        while the input, the states and the outputs stay in the parameters' float32."""
        amp = precision.active(x.device.type) if isinstance(x, Tensor) else None
        if amp is not None:  # an autocast product upstream may hand us bf16: the recurrence itself keeps float32
            x, state = precision.to_dtype(self.cells[0].W_ih.dtype, x, state)
        state, lengths = self._check(x, state, lengths)
        N = x.shape[0]
        if state is None:  # zeros, one (L*dirs, N, H) tensor per state name
            state = tuple(x.new_zeros(self.num_layers * self.dirs, N, self.hidden_size) for _ in self.layout.state)
        params = self.layer_params()
        if self.impl == "auto" and autotune.applies(x):
            impl = autotune.choose(self, x, state, params, lengths)  # measured once per key on this host
        else:
            impl = self.resolve_impl(x)
        self.last_impl = impl
        out, final = self.run_impl(impl, x, state, params, lengths)
        if amp is not None and out.dtype != x.dtype:  # torch's fused kernels return the autocast dtype
            out, final = out.to(x.dtype), tuple(s.to(x.dtype) for s in final)
        return out, final

    def run_impl(
        self, impl: str, x: Tensor, state: tuple[Tensor, ...], params: list[Params], lengths: Tensor | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The stack with one concrete ``impl`` on checked inputs (``forward`` and the autotuner call this)."""
        if impl == "fused":
            return fused.run_stack(
                self.cell,
                x,
                state,
                params,
                self.options,
                num_layers=self.num_layers,
                bidirectional=self.bidirectional,
                bias=self.bias,
                dropout=self.dropout,
                training=self.training,
                lengths=lengths,
            )
        amp = precision.active(x.device.type)
        amp = amp if amp == torch.bfloat16 and x.device.type == "cpu" else None  # bptt's products then run in bf16
        finals: list[tuple[Tensor, ...]] = []  # index l*dirs + d
        for l in range(self.num_layers):
            if l > 0 and self.dropout:
                x = nn.functional.dropout(x, self.dropout, self.training)  # between layers, not after the last
            outs = []
            for d in range(self.dirs):
                k = l * self.dirs + d
                s0 = tuple(s[k] for s in state)  # (N, H) each
                if impl == "loop":
                    out, fin = loop_layer(self.cells[k], x, s0, params[k], lengths=lengths, reverse=d == 1)
                else:  # bptt / scan share run_layer's signature; float32 element-wise work (autocast off inside)
                    mod = _impl_module(impl, self.cell)
                    low = amp if getattr(mod, "BF16_PRODUCTS", False) else None  # its products in bf16 if it can
                    with torch.autocast(x.device.type, enabled=False), gemm.products(low):
                        out, fin = mod.run_layer(
                            self.cell, x, s0, params[k], self.options, lengths=lengths, reverse=d == 1
                        )
                outs.append(out)
                finals.append(fin)
            x = outs[0] if self.dirs == 1 else torch.cat(outs, dim=2)  # (N, T, dirs*H)
        final = tuple(torch.stack([f[i] for f in finals]) for i in range(len(self.layout.state)))  # (L*dirs, N, H)
        return x, final

    def to_torch(self) -> nn.RNNBase:
        """The equivalent ``torch.nn.RNN/LSTM/GRU`` (batch_first=True) with a copy of these weights."""
        return fused.to_torch(self)

    def extra_repr(self) -> str:
        extra = f", weight_drop={self.weight_drop}" if self.weight_drop else ""
        return (
            f"{self.cell!r}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, bias={self.bias}, impl={self.impl!r}{extra}"
        )


# ---- public classes: the torch.nn calling convention ---------------------------------------------------------


class RecurrentLayer(Recurrent):
    """Base of the public classes: a ``Recurrent`` with torch.nn's calling convention, batch first.

    Args:
        input_size: D, features per input step. hidden_size: H, units per direction.
        num_layers: L; layer l > 0 reads the (dropped-out) outputs of layer l - 1.
        bidirectional: add a backward-in-time direction per layer; outputs are concatenated (dirs*H).
        dropout: on every layer's output except the last, training mode only (as torch.nn).
        nonlinearity: 'tanh' or 'relu' (the Elman RNN only). bias: with b_ih and b_hh.
        options: a full ``CellOptions`` instead of the convenience arguments (not both).
        impl: 'auto' | 'loop' | 'fused' | 'bptt' | 'scan' (see ``Recurrent``); all compute the same function.
        weight_drop: DropConnect probability on W_hh (Merity et al. 2017 §4.1), training mode only.

    Shapes (N batch, T time, dirs = 2 if bidirectional else 1):
        x (N, T, D); hx (L*dirs, N, H), or (h, c) for LSTM, or None for zeros; lengths (N,) ints in [1, T].
        Returns output (N, T, dirs*H), zero at t >= lengths[n], and the final state shaped like hx, taken
        after each sequence's last real step.

    Example::

        lstm = rnnkit.nn.LSTM(10, 20, num_layers=2)
        out, (h, c) = lstm(torch.randn(3, 5, 10))      # out (3, 5, 20), h and c (2, 3, 20)
    """

    cell_name: ClassVar[str]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
        bias: bool = True,
        options: CellOptions | None = None,
        impl: str = "auto",
        weight_drop: float = 0.0,
    ) -> None:
        if options is None:
            options = CellOptions(nonlinearity=nonlinearity)
        elif nonlinearity != "tanh" and nonlinearity != options.nonlinearity:
            raise ValueError(f"nonlinearity={nonlinearity!r} conflicts with options.nonlinearity; give one")
        super().__init__(
            self.cell_name,
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            bias=bias,
            options=options,
            impl=impl,
            weight_drop=weight_drop,
        )

    def forward(self, x: Tensor, hx=None, lengths: Tensor | Sequence[int] | None = None):
        """x (N, T, D), hx as torch.nn (tensor (L*dirs, N, H), or (h, c) for LSTM) -> (out, state likewise)."""
        out, state = super().forward(x, hx, lengths)
        return out, state[0] if len(state) == 1 else state


class RNN(RecurrentLayer):
    """Elman RNN stack: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, f = tanh or relu (``nonlinearity``).

    The torch.nn.RNN convention, batch first; state is one tensor h. Equations: ``nn/cells/rnn.py``.
    """

    cell_name = "rnn"


class LSTM(RecurrentLayer):
    """LSTM stack (gates i, f, g, o; ``c' = f c + i g``, ``h' = o tanh(c')``); state (h, c) as torch.nn.LSTM.

    ``forget_bias`` is added to the forget-gate slice of b_ih at init (1.0 recommended by Jozefowicz et al.
    2015). Equations: ``nn/cells/lstm.py``.
    """

    cell_name = "lstm"

    def __init__(self, input_size: int, hidden_size: int, *, forget_bias: float = 0.0, **kwargs) -> None:
        _tanh_only("LSTM", kwargs)
        if kwargs.get("options") is None:
            kwargs["options"] = CellOptions(forget_bias=forget_bias)
        elif forget_bias:
            raise ValueError("LSTM: give forget_bias or options (with options.forget_bias), not both")
        super().__init__(input_size, hidden_size, **kwargs)


class GRU(RecurrentLayer):
    """GRU stack (gates r, z, n; ``h' = (1 - z) n + z h``); state is one tensor h, as torch.nn.GRU.

    ``variant`` 'torch' (default, torch.nn / cuDNN form: ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``)
    or 'paper' (Cho et al. 2014: ``n = tanh(W_in x + b_in + W_hn (r h) + b_hn)``; loop / BPTT paths only).
    Equations: ``nn/cells/gru.py``.
    """

    cell_name = "gru"

    def __init__(self, input_size: int, hidden_size: int, *, variant: str | None = None, **kwargs) -> None:
        _tanh_only("GRU", kwargs)
        if kwargs.get("options") is None:
            kwargs["options"] = CellOptions(gru_variant=variant or "torch")
        elif variant is not None and variant != kwargs["options"].gru_variant:
            raise ValueError(f"GRU: variant={variant!r} conflicts with options.gru_variant; give one")
        super().__init__(input_size, hidden_size, **kwargs)


def _tanh_only(name: str, kwargs: dict) -> None:
    if kwargs.get("nonlinearity", "tanh") != "tanh":
        raise ValueError(f"{name} has fixed sigmoid/tanh activations; nonlinearity applies to RNN only")


_PUBLIC: dict[str, type[RecurrentLayer]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@functools.cache
def _generated_class(cell: str) -> type[RecurrentLayer]:
    get_cell(cell, engine="nn")  # a clear error for an unknown cell
    doc = f"Stack of the registered {cell!r} cell with the torch.nn calling convention (see RecurrentLayer)."
    return type(cell.upper(), (RecurrentLayer,), {"cell_name": cell, "__doc__": doc, "__module__": __name__})


def public_class(cell: str) -> type[RecurrentLayer]:
    """The public class of a registered cell: RNN / LSTM / GRU, or a generated ``RecurrentLayer`` subclass."""
    return _PUBLIC.get(cell) or _generated_class(cell)
