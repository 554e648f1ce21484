"""ONNX export of a trained task, with an onnxruntime parity check.

How the recurrence gets into ONNX. ``Recurrent``'s implementations are not exportable as they are: ``bptt`` and
``scan`` are hand-written ``autograd.Function``\\ s / a C kernel, ``fused`` calls oneDNN, and tracing ``loop``
unrolls a Python ``for`` over the example's T steps (a graph for one length only). So the export swaps every
``Recurrent`` for ``ExportRecurrent``, which computes the same function as ``impl="loop"`` on the same parameters:

* the hoisted input projection ``W_ih x + b_ih`` for all steps, traced (one MatMul, any T);
* one cell step ``cell.recur`` traced into a TorchScript graph (the cell's own code, any registered cell);
* the time loop *scripted* (``torch.jit.script``), so it becomes an ONNX ``Loop`` over a dynamic T.

The legacy TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) is used: it turns a scripted loop into
an ONNX ``Loop`` and needs only ``onnx``; the dynamo exporter needs ``onnxscript`` and specialises Python loops on
the example's length.

Parity is checked against the task's model in its normal forward (whatever ``impl`` it trained with), at two
sequence lengths, on the export's own example inputs.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.errors import ExportError  # noqa: F401 - re-exported where it used to be defined
from rnnkit.nn.sequence import Recurrent

OPSET = 17
INSTALL_HINT = "ONNX export needs onnx and onnxruntime: pip install rnnkit[export]"


def require_onnx() -> tuple[Any, Any]:
    """``(onnx, onnxruntime)``, imported lazily; ExportError naming the extra when missing."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise ExportError(f"{INSTALL_HINT} ({e})") from None
    return onnx, onnxruntime


@dataclass
class OnnxSpec:
    """What a task's ``onnx_spec`` gives the base: a module whose ``forward(*inputs)`` returns the outputs, example
    inputs for a sequence length T, the names, which axes are dynamic, and the JSON pre/post-processing."""

    module: nn.Module
    example: Callable[[int], tuple[Tensor, ...]]  # T -> inputs (batch N=3 with ragged lengths where there are any)
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    meta: dict[str, Any] = field(default_factory=dict)  # written beside the model as <model>.json


# ---- the recurrence as an exportable graph ---------------------------------------------------------------------


def _loop(cell: nn.Module, n_state: int, reverse: bool) -> Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The time loop of one layer and direction as a scripted function (an ONNX Loop over the T of ``xp``):
    ``(xp (N, T, G*H), s (N, S*H), lengths (N,)) -> (out (N, T, H), s_T)``, the state packed S tensors wide.

    The step is ``cell.recur`` traced with the cell's weights as constants; padded steps (t >= lengths[n]) keep the
    state and output zero, as ``loop_layer``; ``reverse`` walks t = T-1 .. 0 (the backward direction).
    A scripted *function* closing over a traced one: the legacy exporter inlines both (a scripted module called
    from a traced one is refused: "not part of the active trace")."""
    H = cell.hidden_size
    params = {k: v.detach() for k, v in cell.params().items()}

    def step(xp_t: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:  # (N, G*H), (N, S*H) -> (N, S*H), h (N, H)
        new = cell.recur(xp_t, tuple(s.chunk(n_state, dim=1)), params)
        return torch.cat(new, dim=1), new[0]

    G = cell.project_input(torch.zeros(1, cell.input_size), params).shape[1]
    with torch.no_grad():
        traced = torch.jit.trace(step, (torch.zeros(2, G), torch.zeros(2, n_state * H)))

    # two functions, not one with a flag: TorchScript cannot close over a Python bool
    def forward_loop(xp: Tensor, s: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        outs: list[Tensor] = []
        for t in range(xp.size(1)):
            new, h = traced(xp[:, t], s)  # (N, S*H), (N, H)
            m = (lengths > t).unsqueeze(1)  # (N, 1): True on real steps
            s = torch.where(m, new, s)
            outs.append(h * m.to(h.dtype))
        return torch.stack(outs, dim=1), s  # (N, T, H)

    def reverse_loop(xp: Tensor, s: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        T = xp.size(1)
        outs: list[Tensor] = []
        for i in range(T):
            t = T - 1 - i
            new, h = traced(xp[:, t], s)
            m = (lengths > t).unsqueeze(1)
            s = torch.where(m, new, s)
            outs.append(h * m.to(h.dtype))
        return torch.stack(outs, dim=1).flip([1]), s  # collected T-1 .. 0, returned in time order

    return torch.jit.script(reverse_loop if reverse else forward_loop)


def _projection(cell: nn.Module) -> Callable[[Tensor], Tensor]:
    """``cell.project_input`` traced on its own, weights as constants: (N, T, D) -> (N, T, G*H). Traced apart
    so a shape the cell reads (layer norm's ``v.shape[-1:]``) stays a constant of that graph."""
    params = {k: v.detach() for k, v in cell.params().items()}
    with torch.no_grad():
        return torch.jit.trace(lambda x: cell.project_input(x, params), (torch.zeros(2, 3, cell.input_size),))


class ExportRecurrent(nn.Module):
    """``Recurrent`` (eval mode) as an exportable module: the same function as ``impl="loop"``, same parameters."""

    def __init__(self, rec: Recurrent) -> None:
        super().__init__()
        self.rec = rec
        self.n_state = len(rec.layout.state)
        self.projections = [_projection(cell) for cell in rec.cells]
        self.loops = [_loop(cell, self.n_state, reverse=k % rec.dirs == 1) for k, cell in enumerate(rec.cells)]

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | None = None, lengths: Tensor | None = None):
        rec = self.rec
        N = x.shape[0]
        if state is None:
            state = tuple(x.new_zeros(rec.num_layers * rec.dirs, N, rec.hidden_size) for _ in range(self.n_state))
        if lengths is None:
            lengths = _full_lengths(x)
        finals = []
        for l in range(rec.num_layers):
            outs = []
            for d in range(rec.dirs):
                k = l * rec.dirs + d
                xp = self.projections[k](x)  # (N, T, G*H): hoisted
                s0 = torch.cat([s[k] for s in state], dim=1)  # (N, S*H)
                out, fin = self.loops[k](xp, s0, lengths)
                outs.append(out)
                finals.append(fin.chunk(self.n_state, dim=1))
            x = outs[0] if rec.dirs == 1 else torch.cat(outs, dim=2)  # (N, T, dirs*H)
        final = tuple(torch.stack([f[i] for f in finals]) for i in range(self.n_state))  # (L*dirs, N, H)
        return x, final


def _full_lengths(x: Tensor) -> Tensor:
    """(N,) lengths all equal to T, computed from x's shape inside the graph (dynamic N and T)."""
    return torch.ones_like(x[:, :, 0], dtype=torch.long).sum(1)


def exportable(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every ``Recurrent`` replaced by ``ExportRecurrent``."""
    model = copy.deepcopy(model).eval()
    for name, mod in list(model.named_modules()):
        if isinstance(mod, Recurrent):
            parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
            setattr(parent, name.rpartition(".")[2], ExportRecurrent(mod))
    return model


# ---- export + parity ------------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    path: Path
    meta_path: Path
    max_abs_diff: dict[int, float]  # T -> max |onnxruntime - torch| over every output

    def lines(self) -> list[str]:
        diffs = ", ".join(f"T={t}: {d:.2e}" for t, d in self.max_abs_diff.items())
        return [f"wrote {self.path} and {self.meta_path.name}", f"onnxruntime vs PyTorch max abs diff: {diffs}"]


@dataclass
class ExportReports:
    """A model exported as several graphs (translate: ``encoder`` and ``decoder``), one report each."""

    parts: dict[str, ExportReport]

    @property
    def max_abs_diff(self) -> dict[int, float]:
        reports = list(self.parts.values())
        return {t: max(r.max_abs_diff[t] for r in reports) for t in reports[0].max_abs_diff}

    def lines(self) -> list[str]:
        return [f"{part}: {line}" for part, r in self.parts.items() for line in r.lines()]


def export(
    spec: OnnxSpec,
    reference: nn.Module,
    path: str | os.PathLike,
    *,
    lengths: tuple[int, int] = (7, 13),
    tol: float | None = 1e-4,
) -> ExportReport:
    """Export ``spec.module`` to ``path`` (+ ``<path>.json``: ``spec.meta``), check the graph, and compare
    onnxruntime with ``reference`` (the task's module in its normal forward) at two sequence lengths."""
    onnx, ort = require_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = spec.example(lengths[0])
    try:
        # The tracer warns where a model checks its inputs in Python (``bool(lengths < 1)``): true of the example
        # only, which is why the parity below runs other lengths and ragged batches; the warnings would only alarm.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                spec.module,
                example,
                str(path),
                input_names=spec.input_names,
                output_names=spec.output_names,
                dynamic_axes=spec.dynamic_axes,
                opset_version=OPSET,
                dynamo=False,
            )
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    except ExportError:
        raise
    except Exception as e:  # noqa: BLE001 - any exporter failure becomes one clear message
        raise ExportError(f"could not export to ONNX: {type(e).__name__}: {str(e).splitlines()[0][:300]}") from e
    meta_path = path.with_suffix(".json")
    meta_path.write_text(
        json.dumps({**spec.meta, "inputs": spec.input_names, "outputs": spec.output_names}), encoding="utf-8"
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diffs = {T: max_abs_diff(sess, reference, spec, spec.example(T)) for T in lengths}
    worst = max(diffs.values())
    if tol is not None and not worst <= tol:
        raise ExportError(f"onnxruntime differs from PyTorch by {worst:.3g} (> {tol}) in {path}: do not use it")
    return ExportReport(path, meta_path, diffs)


def run_onnx(sess: Any, spec: OnnxSpec, inputs: tuple[Tensor, ...]) -> list[np.ndarray]:
    feeds = {n: t.numpy() for n, t in zip(spec.input_names, inputs, strict=True)}
    return sess.run(spec.output_names, feeds)


def max_abs_diff(sess: Any, reference: nn.Module, spec: OnnxSpec, inputs: tuple[Tensor, ...]) -> float:
    with torch.no_grad():
        ref = reference(*inputs)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    got = run_onnx(sess, spec, inputs)
    return max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref, strict=True))


# ---- example inputs every task's spec uses ----------------------------------------------------------------------

N_EXAMPLE = 3  # example batch: lengths T, T-3 and 1 (padding inside the batch is part of what is checked)


def example_lengths(T: int) -> Tensor:
    """Lengths (N_EXAMPLE,) of an example batch at time length T: T, T-3 and 1."""
    return torch.tensor([T, max(1, T - 3), 1])


def example_ids(T: int, high: int, *, seed: int) -> tuple[Tensor, Tensor]:
    """Random ids in [2, high) (no <pad>/<unk>), padded with 0 after each example length: (N, T), (N,)."""
    from rnnkit.data.sequences import lengths_to_mask

    g = torch.Generator().manual_seed(seed)
    lengths = example_lengths(T)
    ids = torch.randint(2, max(high, 3), (N_EXAMPLE, T), generator=g)
    return ids.masked_fill(~lengths_to_mask(lengths, T), 0), lengths


def example_frames(T: int, D: int) -> tuple[Tensor, Tensor]:
    """Random standardised frames (N, T, D), zero after each example length, and the lengths (N,)."""
    from rnnkit.data.sequences import lengths_to_mask

    g = torch.Generator().manual_seed(T)
    lengths = example_lengths(T)
    return torch.randn(N_EXAMPLE, T, D, generator=g) * lengths_to_mask(lengths, T)[:, :, None], lengths
