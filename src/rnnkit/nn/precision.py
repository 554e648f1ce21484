"""Mixed precision: ``precision="bf16"`` runs the matrix products in bfloat16 under ``torch.autocast``.

What stays float32: the parameters (the "master weights" the optimiser updates), the optimiser state, the
gradients that reach the parameters (autocast's casts are differentiable, so a bf16 product's gradient is cast
back), the recurrent states a ``Recurrent`` returns, the losses (cross-entropy and log-softmax are on autocast's
float32 list; ``fit`` also casts the loss), and checkpoints. bfloat16 keeps float32's 8-bit exponent (no loss
scaling needed, unlike float16) and an 8-bit significand: each product input is rounded to ~3 significant
digits (relative error <= 2^-9 ~ 0.2%), while the sums inside a product accumulate in float32.

How each impl of ``rnnkit.nn.Recurrent`` runs under it:

* ``fused``: torch's own autocast rules: the oneDNN LSTM kernel (``mkldnn_rnn_layer``) runs in bf16; GRU / RNN
  run their per-step ``linear`` / ``addmm`` in bf16.
* ``loop``: the cells' ``F.linear`` products run in bf16, the gate arithmetic in float32.
* ``bptt`` (rnn / lstm / gru): the hand-written Functions keep autocast off inside (``torch.amp.custom_fwd`` /
  ``custom_bwd``) and run their products through ``gemm.products(torch.bfloat16)``: bf16 inputs, float32
  accumulation and results, so states, gates and their derivatives stay float32 (finer than torch.nn's bf16 LSTM,
  which keeps its gates in bf16).
* ``scan`` and the other BPTT Functions (layer-norm LSTM, IndRNN): float32 throughout (correct, no faster).

``auto`` measures under the autocast dtype (the dtype is part of the autotune key), so it picks the fastest.

Where it pays: on a CPU with AMX (Intel Sapphire Rapids and later) bf16 GEMMs ran ~9x float32 (PERF-NOTES.md);
with AVX512-BF16 only (AMD Zen 4/5) the gain is smaller (benchmarks/RESULTS.md); without either, oneDNN
emulates bf16 and it is slower than float32: we warn. Where torch has no bf16 CPU kernels at all we refuse.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from rnnkit.errors import PrecisionError  # noqa: F401 - re-exported where it used to be defined

PRECISIONS = ("fp32", "bf16")


@functools.cache
def bf16_support() -> str:
    """'native' (AMX or AVX512-BF16 instructions), 'emulated' (torch runs bf16 without them: slow), or 'none'."""
    from rnnkit.host import cpu_flags

    try:
        ok = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        ok = False
    if not ok:
        return "none"
    flags = set(cpu_flags())
    return "native" if {"amx_bf16", "avx512_bf16"} & flags else "emulated"


def check(precision: str, device: torch.device | str = "cpu") -> None:
    """Raise ``PrecisionError`` when ``precision`` cannot run on ``device``; warn when it will be slow."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32" or torch.device(device).type != "cpu":
        return
    support = bf16_support()
    if support == "none":
        raise PrecisionError(
            "precision='bf16' needs a CPU whose oneDNN build supports bfloat16 (AVX-512 with AVX512-BF16 or AMX; "
            "torch.ops.mkldnn._is_mkldnn_bf16_supported() is False here); use precision='fp32'"
        )
    if support == "emulated":
        warnings.warn(
            "precision='bf16': this CPU has neither AMX nor AVX512-BF16 instructions (/proc/cpuinfo flags), so "
            "bfloat16 is emulated and will likely be slower than fp32; use precision='fp32' here",
            stacklevel=2,
        )


def autocast(precision: str, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """The context a forward pass (and its loss) runs in: nothing for fp32, ``torch.autocast`` to bf16 for bf16.
    Call ``backward`` outside it, as torch recommends; the optimiser step needs nothing."""
    check(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


@contextlib.contextmanager
def inference(model: torch.nn.Module, precision: str) -> Iterator[None]:
    """Run ``model`` for inference at ``precision``: nothing changes for fp32; for bf16 the products run in
    bfloat16 under ``torch.autocast`` and every submodule's floating-point outputs are cast back to float32 as it
    returns (a forward hook), so what a caller receives (logits, probabilities, states) is float32 and the
    element-wise work and reductions between modules (softmax, sums, the CRF's and CTC's dynamic programmes) run
    in float32, as in training (``fit``). Re-entering it for the same model is a no-op; gradients are not
    touched (callers add ``torch.no_grad``). Raises ``PrecisionError`` where bf16 cannot run (``check``)."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    check(precision, device)
    if precision == "fp32" or getattr(model, "_rnnkit_inference_precision", None) == precision:
        yield
        return
    handles = [m.register_forward_hook(_outputs_to_float32) for m in model.modules()]
    # nested calls (evaluate -> predict) keep the outer hooks. torch types Module.__setattr__ for tensors and
    # modules only, but any attribute is accepted (a plain one here)
    model._rnnkit_inference_precision = precision  # type: ignore[assignment]
    try:
        with autocast(precision, device):
            yield
    finally:
        del model._rnnkit_inference_precision
        for h in handles:
            h.remove()


def _outputs_to_float32(module: torch.nn.Module, args: Any, output: Any) -> Any:
    """Forward hook: bf16 / fp16 tensors in a module's output (a tensor, or a tuple / list of them, nested) back to
    float32; anything else (ints, PackedSequence, None) as it is. Returning None keeps the output unchanged."""

    def conv(o: Any) -> Any:
        if isinstance(o, torch.Tensor):
            return o.float() if o.dtype in (torch.bfloat16, torch.float16) else o
        if type(o) in (tuple, list):
            return type(o)(conv(v) for v in o)
        return o

    return conv(output)


def active(device_type: str = "cpu") -> torch.dtype | None:
    """The autocast dtype in force for ``device_type`` ('cpu' or 'cuda'), or None."""
    if device_type not in ("cpu", "cuda") or not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


def to_dtype(dtype: torch.dtype, x: torch.Tensor, state):
    """x and the state (a tensor, a tuple of them, or None) in ``dtype`` where autocast handed them over in a low
    precision (bf16 / fp16); other dtypes (float64) are left alone for the entry checks to report."""
    low = (torch.bfloat16, torch.float16)

    def conv(t):
        return t.to(dtype) if isinstance(t, torch.Tensor) and t.dtype in low else t

    if isinstance(state, (tuple, list)):
        state = tuple(conv(s) for s in state)
    return conv(x), conv(state)
