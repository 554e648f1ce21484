"""Scans for cells gated on the input only (minGRU, minLSTM): ``h_t = a_t ⊙ h_{t-1} + b_t`` over a sequence.

Because a and b do not read h, a whole layer is: one large input product for all steps, element-wise gates,
then the linear recurrence. Two forms live here, both free of logarithms and of division:

* ``linear_scan`` — a two-level (chunked) parallel scan. Split T into K chunks of C ≈ √T steps; scan every
  chunk from zero at once (C vectorised steps over all chunks), keeping the within-chunk cumulative product
  ``P_t = a_{s+1} ⋯ a_t``; then carry the chunk-entry states over the K boundaries; then add
  ``P_t ⊙ carry`` everywhere. Products only ever multiply a carried state, so an underflowing product is
  the correct tiny value, never a divisor: stable for any T (the division in ``cumsum(b / cumprod(a))``
  and the ``logcumsumexp`` of Feng et al. 2024 §B.3 are what this avoids; the latter is ~45% of the time
  on this CPU, PERF-NOTES). Its backward is the same scan reversed (adjoint of a linear recurrence):
  ``g_t = dh_t + a_{t+1} g_{t+1}``, ``db_t = g_t``, ``da_t = g_t ⊙ h_{t-1}``, ``dh_0 = a_1 g_1``.
* ``run_layer`` — the training path the runner calls (``impl="scan"``): an ``autograd.Function`` with a
  hand-written backward that walks time in blocks of C steps, so the gate arithmetic and the recurrence of
  a block stay in cache, and leaves the heavy work to three large products (input projection forward,
  ``dx`` and ``dW_ih`` backward). Memory traffic, not FLOPs, bounds the element-wise part here, so it saves
  only the projected input (with the gates written over it) and h.

Shapes: N batch, T time, D input, H hidden, G gates (2 minGRU, 3 minLSTM). Lengths: padded steps get
``a = 1, b = 0`` (state unchanged) and zero output, as the runner's contract says.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.layout import B_IH, W_IH, CellOptions
from rnnkit.nn import gemm
from rnnkit.nn.bptt import _AMP_BWD, _AMP_FWD
from rnnkit.registry import facts, fast_path_cells


def supports(cell: str, options: CellOptions, *, x: Tensor) -> bool:
    """True for the cells whose facts name this module: gates that read only the input, so the recurrence is
    linear in h (minGRU, minLSTM)."""
    return facts(cell).fast_paths.get("scan") == __name__


def chunk_size(T: int) -> int:
    """C ≈ √T (a power of two), which balances the C vectorised in-chunk steps against the K = T/C carries."""
    return max(1, min(T, 2 ** round(math.log2(math.sqrt(T))))) if T > 1 else 1


# ---- the generic two-level scan --------------------------------------------------------------------------------


def _scan(a: Tensor, b: Tensor, h0: Tensor, reverse: bool) -> Tensor:
    """h (N, T, H) of ``h_t = a_t ⊙ h_{t∓1} + b_t`` from h0 (N, H); two-level chunked scan, no autograd."""
    if reverse:
        return _scan(a.flip(1), b.flip(1), h0, False).flip(1)
    N, T, H = a.shape
    C = chunk_size(T)
    K = -(-T // C)
    pad = K * C - T
    if pad:  # pad at the end with a = 1, b = 0: leaves every real step unchanged
        a = torch.cat([a, a.new_ones(N, pad, H)], 1)
        b = torch.cat([b, b.new_zeros(N, pad, H)], 1)
    a4, b4 = a.reshape(N, K, C, H), b.reshape(N, K, C, H)
    hl = torch.empty_like(b4)  # (N, K, C, H): scan of each chunk from a zero state
    P = torch.empty_like(a4)  # (N, K, C, H): within-chunk cumulative product a_{s+1} ⋯ a_t
    hl[:, :, 0] = b4[:, :, 0]
    P[:, :, 0] = a4[:, :, 0]
    for j in range(1, C):  # all K chunks at once
        torch.addcmul(b4[:, :, j], a4[:, :, j], hl[:, :, j - 1], out=hl[:, :, j])
        torch.mul(P[:, :, j - 1], a4[:, :, j], out=P[:, :, j])
    carry = torch.empty(N, K, H, dtype=a.dtype, device=a.device)  # state entering chunk k
    carry[:, 0] = h0
    for k in range(1, K):
        torch.addcmul(hl[:, k - 1, -1], P[:, k - 1, -1], carry[:, k - 1], out=carry[:, k])
    hl.addcmul_(P, carry[:, :, None])  # h_t = hl_t + P_t ⊙ carry_k
    return hl.reshape(N, K * C, H)[:, :T]


class _LinearScan(torch.autograd.Function):
    @staticmethod
    @_AMP_FWD
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor, reverse: bool) -> Tensor:
        h = _scan(a, b, h0, reverse)
        ctx.save_for_backward(a, h, h0)
        ctx.reverse = reverse
        return h

    @staticmethod
    @_AMP_BWD
    def backward(ctx, dh: Tensor):
        a, h, h0 = ctx.saved_tensors
        rev = ctx.reverse
        # g_t = dh_t + a_{t+1} g_{t+1}: the same recurrence run the other way, with a shifted by one step.
        one = a.new_zeros(a.shape[0], 1, a.shape[2])
        a_next = torch.cat([one, a[:, :-1]], 1) if rev else torch.cat([a[:, 1:], one], 1)
        g = _scan(a_next, dh.contiguous(), torch.zeros_like(h0), not rev)
        h_prev = torch.cat([h[:, 1:], h0[:, None]], 1) if rev else torch.cat([h0[:, None], h[:, :-1]], 1)
        first = -1 if rev else 0
        return g * h_prev, g, a[:, first] * g[:, first], None


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None, *, reverse: bool = False) -> Tensor:
    """h (N, T, H) with ``h_t = a_t ⊙ h_{t-1} + b_t`` (``reverse``: from t = T-1 down), h0 (N, H) or zeros.

    Differentiable in a, b and h0 (hand-written backward: the reversed scan).
    """
    if a.shape != b.shape or a.dim() != 3:
        raise ValueError(f"linear_scan: a and b must both be (N, T, H), got {tuple(a.shape)} and {tuple(b.shape)}")
    if h0 is None:
        h0 = a.new_zeros(a.shape[0], a.shape[2])
    return _LinearScan.apply(a, b, h0, reverse)


# ---- the native kernel -----------------------------------------------------------------------------------------
#
# The gates and the recurrence of a layer, forward and backward, as one C loop per sequence (scan.c): through
# aten they are ~8 passes over (N, T, H) plus an op per step, each streaming a block through memory again. It is
# compiled on first use with the system C compiler (well under a second, cached per machine) and runs on CPU for
# float32/float64; anywhere else, or without a compiler, the aten blocks of _MinLayer run: the same math,
# storing the same things in xp, so either backward can follow either forward (the tests compare them).
# RNNKIT_NATIVE=0 switches it off.

_SRC = Path(__file__).with_name("scan.c")
# -ffast-math lets gcc vectorise exp/log1p through libmvec; it is given to the compile step only, because
# linking a shared object with it would add crtfastmath.o, which sets flush-to-zero for the whole process.
_CFLAGS = ("-O3", "-march=native", "-ffast-math", "-fPIC", "-std=c11")
_REALS = {torch.float32: "float", torch.float64: "double"}
_LIBS: dict[torch.dtype, ctypes.CDLL | None] = {}
_LOCK = threading.Lock()
_POOL: dict[str, Any] = {}  # the executor and the process that made it (a forked child makes its own)
_P = ctypes.c_void_p
_I64, _I32 = ctypes.c_int64, ctypes.c_int32
_ARGS: list[type[ctypes.c_int64 | ctypes.c_int32 | ctypes.c_void_p]] = [_I64, _I64, _I64, _I64, _I32, _I32, _P]
# n0, n1, T, H, lstm, reverse, xp: the leading arguments of both kernels


def native_enabled() -> bool:
    """Whether the C kernel may be used (RNNKIT_NATIVE=0 turns it off, e.g. to compare or to rule it out)."""
    return os.environ.get("RNNKIT_NATIVE", "1") != "0"


def _cache_dir() -> Path:
    root = os.environ.get("RNNKIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "rnnkit"
    )
    return Path(root)


def _build(real: str) -> Path:
    """Compile scan.c for one float type into the cache (atomically: concurrent first uses may race)."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise OSError(f"no C compiler ({cc!r} is not on PATH; set CC)")
    # the key covers everything the binary depends on: source, flags, compiler, and this machine's CPU
    # (-march=native), so a shared home directory on two kinds of machine keeps two builds
    cpu = platform.processor() + platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpu += next((line for line in f if line.startswith("flags")), "")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    key = hashlib.sha256("\0".join([_SRC.read_text(), " ".join(_CFLAGS), real, version, cpu]).encode()).hexdigest()
    out = _cache_dir() / f"scan-{real}-{key[:16]}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        obj, lib = Path(tmp) / "scan.o", Path(tmp) / "scan.so"
        for cmd in (
            [cc, "-c", *_CFLAGS, f"-DREAL={real}", str(_SRC), "-o", str(obj)],
            [cc, "-shared", str(obj), "-o", str(lib), "-lm"],
        ):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise OSError(f"{' '.join(cmd)} failed:\n{r.stderr.strip()}")
        from rnnkit.durable import fsync_dir, fsync_file

        fsync_file(lib)  # a torn .so after a crash would not fail cleanly: it would crash the process loading it
        os.replace(lib, out)
        fsync_dir(out.parent)
    return out


def _native(dtype: torch.dtype) -> ctypes.CDLL | None:
    """The compiled kernels for dtype, or None (not enabled, not a float type, or the build failed: warned once)."""
    if dtype not in _REALS or not native_enabled():
        return None
    with _LOCK:
        if dtype not in _LIBS:
            try:
                lib = ctypes.CDLL(str(_build(_REALS[dtype])))
                lib.min_forward.argtypes = [*_ARGS, _P, _P, _P]  # h0, mask, h
                lib.min_forward.restype = None
                lib.min_backward.argtypes = [*_ARGS, _P, _P, _P, _P, _P, _P]  # h, h0, dh, mask, dh0, db
                lib.min_backward.restype = _I32
            except (OSError, subprocess.SubprocessError) as e:
                warnings.warn(
                    f"rnnkit: the native min* kernel is unavailable ({e}); minGRU/minLSTM use the slower aten "
                    "path. Install a C compiler (or set CC) for the fast one; RNNKIT_NATIVE=0 silences this.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                lib = None
            _LIBS[dtype] = lib
        return _LIBS[dtype]


def _native_for(*tensors: Tensor) -> ctypes.CDLL | None:
    """The kernels when every tensor is a CPU tensor of one float type, else None (the aten path)."""
    t0 = tensors[0]
    if t0.device.type != "cpu" or any(t.device != t0.device or t.dtype != t0.dtype for t in tensors):
        return None
    return _native(t0.dtype)


def _parallel(fn, N: int, work: int, *args) -> list:
    """fn(n0, n1, *args) over sequences split between torch's thread count (ctypes drops the GIL in the call)."""
    k = min(torch.get_num_threads(), N) if work >= 1 << 16 else 1  # small calls: a thread hop costs more
    if k <= 1:
        return [fn(0, N, *args)]
    with _LOCK:
        if _POOL.get("pid") != os.getpid() or _POOL["workers"] < k - 1:
            pool = ThreadPoolExecutor(max_workers=k - 1, thread_name_prefix="rnnkit-scan")
            _POOL.update(pool=pool, workers=k - 1, pid=os.getpid())
        pool = _POOL["pool"]
    cuts = [N * i // k for i in range(k + 1)]
    futures = [pool.submit(fn, cuts[i], cuts[i + 1], *args) for i in range(1, k)]
    return [fn(cuts[0], cuts[1], *args)] + [f.result() for f in futures]


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


# ---- the fused min* layer -------------------------------------------------------------------------------------
#
# Both cells are a blend, h' = h + w ⊙ (h~ - h) = lerp(h, h~, w): minGRU's w is z (§3.1), minLSTM's is the
# normalised input gate i' = σ(-d), d = log σ(a_f) - log σ(a_i) (§3.2.3, since f' = σ(d) = 1 - i'). So the
# forward step is one addcmul (a = 1 - w, b = w ⊙ h~), and the backward needs only w and h~:
#   g_t = dh_t + (1 - w_{t+1}) g_{t+1}      (the reversed recurrence)
#   dw_t = g_t ⊙ (h~_t - h_{t-1}),  dh~_t = g_t ⊙ w_t,  dh_0 = (1 - w_1) g_1
# The forward writes h~ over its pre-activation a_h in the projected input xp (and minGRU's z over a_z), so the
# backward reads the gates instead of recomputing them: g'(a_h) is recovered from h~ itself (below), and
# σ'(a_z) = z (1 - z). minLSTM keeps a_f and a_i, whose derivatives need both, and recomputes i' per block.
# Every block's element-wise work writes into buffers allocated once per call (fresh 1 MB temporaries per
# op cost page faults: profiled, the same mul ran ~8x slower than on a reused buffer), and the gate
# gradients go straight into their columns of dxp.


_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # (dy, y, grad_input=out): dy ⊙ y ⊙ (1 - y)


class _Work:
    """The (N, C, H) buffers of one layer call; ``view(c)`` gives the first c steps (a shorter last block)."""

    def __init__(self, like: Tensor, N: int, C: int, H: int, n: int) -> None:
        self.bufs = [like.new_empty(N, C, H) for _ in range(n)]

    def view(self, c: int) -> list[Tensor]:
        return [b[:, :c] for b in self.bufs]


def _one_minus(w: Tensor, out: Tensor) -> Tensor:
    """out = 1 - w (the factor on h_{t-1}); torch.rsub has no out=, a 0-dim tensor stands in for the scalar."""
    return torch.sub(w.new_ones(()), w, out=out)


def _min_lstm_gate(xb: Tensor, out: Tensor) -> Tensor:
    """minLSTM's normalised input gate i' = σ(-d) = σ(log σ(a_i) - log σ(a_f)) of a block, into out."""
    H = out.shape[-1]
    F = torch.nn.functional
    return torch.sigmoid(F.logsigmoid(xb[..., H : 2 * H]) - F.logsigmoid(xb[..., :H]), out=out)


def _gates_in_place(cell: str, xb: Tensor, s: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Turn a block of projected inputs xb (N, c, G*H) into its gates: h~ = g(a_h) over a_h's columns, and for
    minGRU z = σ(a_z) over a_z's; returns (w, h~) as views (minLSTM's w is computed into the buffer w)."""
    H = s.shape[-1]
    ht = xb[..., -H:]
    # h~ = g(a_h) (Feng et al. 2024 §B.3, = rnnkit.nn.cells.mingru.g) as max(σ(a), a + 1/2): the same function
    # (a + 1/2 ≥ σ(a) exactly when a ≥ 0) in two fast kernels; torch.where with a scalar was ~18% of a profile
    torch.sigmoid(ht, out=s)
    ht.add_(0.5)
    torch.maximum(ht, s, out=ht)
    if cell == "mingru":
        w = torch.sigmoid(xb[..., :H], out=xb[..., :H])  # z
    else:
        _min_lstm_gate(xb, w)
    return w, ht


def _steps(T: int, C: int, reverse: bool) -> list[tuple[int, int]]:
    """Blocks [t0, t1) of at most C steps, in the order the recurrence visits them."""
    blocks = [(t0, min(t0 + C, T)) for t0 in range(0, T, C)]
    return blocks[::-1] if reverse else blocks


BLOCK = 16  # steps per block: (N, 16, H) float32 buffers stay in cache at N=32, H=512


def _forward_aten(cell: str, xp: Tensor, h0: Tensor, mask: Tensor | None, reverse: bool, h: Tensor) -> None:
    """The forward's gates and recurrence in blocks of aten ops: h~ (and z) over xp, the states into h."""
    N, T, H = h.shape
    work = _Work(h, N, min(BLOCK, T), H, 4)
    state = h0
    for t0, t1 in _steps(T, BLOCK, reverse):
        s, wbuf, a, b = work.view(t1 - t0)
        w, ht = _gates_in_place(cell, xp[:, t0:t1], s, wbuf)
        if mask is not None:  # padded steps: w = 0, state unchanged
            w.mul_(mask[:, t0:t1])
        # h' = a ⊙ h + b with a = 1 - w, b = w ⊙ h~: one addcmul a step (a per-step lerp measured ~4x slower)
        _one_minus(w, out=a)
        torch.mul(w, ht, out=b)
        # unbind makes a block's per-step views in one call (a select per step cost ~4 us, as much as the step)
        av, bv, hv = a.unbind(1), b.unbind(1), h[:, t0:t1].unbind(1)
        for j in range(t1 - t0 - 1, -1, -1) if reverse else range(t1 - t0):
            state = torch.addcmul(bv[j], av[j], state, out=hv[j])


def _backward_aten(
    cell: str, xp: Tensor, h: Tensor, h0: Tensor, dh: Tensor, mask: Tensor | None, reverse: bool
) -> Tensor:
    """The backward's recurrence and gate gradients in blocks of aten ops: dxp over xp; returns dh_0."""
    N, T, H = h.shape
    dxp = xp  # block by block, each after its last read (see _MinLayer.backward)
    work = _Work(h, N, min(BLOCK, T), H, 4)
    a_next = h0.new_zeros(N, H)  # 1 - w_{t+1} and g_{t+1} of the step visited last, carried across blocks
    g_next = h0.new_zeros(N, H)
    for t0, t1 in _steps(T, BLOCK, not reverse):
        c = t1 - t0
        xb = xp[:, t0:t1]
        a, g, tmp, wbuf = work.view(c)
        ht = xb[..., -H:]
        m = None if mask is None else mask[:, t0:t1]
        if cell == "mingru":
            w = xb[..., :H]  # z, masked in the forward
        else:
            w = _min_lstm_gate(xb, wbuf)
            if m is not None:
                w.mul_(m)  # padded steps: w = 0, so a = 1 passes g on and dh~ = 0
        _one_minus(w, out=a)
        av, gv, dhv = a.unbind(1), g.unbind(1), dh[:, t0:t1].unbind(1)
        for j in range(c) if reverse else range(c - 1, -1, -1):  # g_t = dh_t + a_{t+1} g_{t+1}, one op a step
            torch.addcmul(dhv[j], a_next, g_next, out=gv[j])
            a_next, g_next = av[j], gv[j]
        a_next, g_next = a_next.clone(), g_next.clone()  # the buffers are rewritten by the next block
        # tmp = h~ - h_prev; h_prev of step t is h_{t-1} (h_{t+1} when reversed), h0 at the sequence's start
        if reverse:
            torch.sub(ht[:, :-1], h[:, t0 + 1 : t1], out=tmp[:, :-1])
            torch.sub(ht[:, -1], h[:, t1] if t1 < T else h0, out=tmp[:, -1])
        else:
            torch.sub(ht[:, 1:], h[:, t0 : t1 - 1], out=tmp[:, 1:])
            torch.sub(ht[:, 0], h[:, t0 - 1] if t0 > 0 else h0, out=tmp[:, 0])
        dw = tmp.mul_(g)
        if m is not None:
            dw.mul_(m)  # a padded step's gate had no effect
        torch.mul(g, w, out=g)  # dh~ = g ⊙ w (g is no longer needed)
        if cell == "mingru":
            _sigmoid_backward(dw, w, grad_input=dxp[:, t0:t1, :H])  # dz ⊙ z (1 - z), written over z
        else:  # w = σ(d'), d' = log σ(a_i) - log σ(a_f): ∂d'/∂a_i = σ(-a_i), ∂d'/∂a_f = -σ(-a_f)
            dd = _sigmoid_backward(dw, w, grad_input=a)  # a is free once the recursion is done; tmp after this
            # da_f = -σ(-a_f) dd first (a_i's column is still unread), then da_i = σ(-a_i) dd
            torch.sigmoid(torch.neg(xb[..., :H], out=tmp), out=tmp)
            torch.mul(tmp, dd, out=dxp[:, t0:t1, :H]).neg_()
            torch.sigmoid(torch.neg(xb[..., H : 2 * H], out=tmp), out=tmp)
            torch.mul(tmp, dd, out=dxp[:, t0:t1, H : 2 * H])
        # g'(a_h) from h~ = g(a_h) itself: 1 where a_h ≥ 0 (h~ = a_h + 1/2 ≥ 1/2), else σ'(a_h) = h~ (1 - h~)
        # (h~ = σ(a_h) < 1/2). As h~ (1 - h~) ≤ 1/4, that is max(h~ - h~², [h~ ≥ 1/2]) with the test as 0/1
        # floats: four fast passes (torch.where and a bool mask measured ~6x slower). Within rounding of the
        # kink at a_h = 0 either one-sided derivative may be used.
        step = torch.ge(ht, 0.5, out=wbuf)  # wbuf is free: minLSTM's gate was last read above
        torch.addcmul(ht, ht, ht, value=-1.0, out=tmp)
        torch.maximum(tmp, step, out=tmp)
        torch.mul(tmp, g, out=dxp[:, t0:t1, -H:])
    return a_next * g_next  # dh_0 = a_1 g_1


class _MinLayer(torch.autograd.Function):
    """One min* layer: x (N, T, D) -> h (N, T, H) (unmasked), hand-written backward."""

    @staticmethod
    @_AMP_FWD
    def forward(ctx, x, W, bias, h0, mask, cell: str, reverse: bool):  # noqa: D102
        N, T, D = x.shape
        H = h0.shape[1]
        xp = gemm.linear(x.reshape(N * T, D), W, bias).view(N, T, -1)  # (N, T, G*H): all steps in one product
        h = x.new_empty(N, T, H)
        lib = _native_for(xp, h0) if xp.is_contiguous() else None
        if lib is None:
            _forward_aten(cell, xp, h0, mask, reverse, h)
        else:
            m = None if mask is None else mask.reshape(N, T).to(xp.dtype)
            h0c = h0.contiguous()
            ptrs = [_ptr(t) for t in (xp, h0c, m, h)]
            _parallel(lib.min_forward, N, N * T * H, T, H, cell == "minlstm", reverse, *ptrs)
        ctx.save_for_backward(x, W, xp, h, h0, mask)  # xp now holds h~ (and minGRU's masked z), see above
        ctx.cell, ctx.reverse, ctx.has_bias = cell, reverse, bias is not None
        return h

    @staticmethod
    @_AMP_BWD
    def backward(ctx, dh):  # noqa: D102
        x, W, xp, h, h0, mask = ctx.saved_tensors
        N, T, H = h.shape
        # The gate gradients overwrite xp (either path): xp is this Function's own tensor, so this saves a fresh
        # (N, T, G*H) buffer, whose first touch alone (page faults) measured as much as a third of the
        # element-wise work. A second backward through the same graph then fails autograd's saved-tensor
        # version check instead of reading overwritten values.
        lib = _native_for(xp, h, h0, dh) if xp.is_contiguous() else None  # as the forward decided
        db_n = None  # the native path's per-sequence bias gradients (N, G*H)
        if lib is None:
            dh0 = _backward_aten(ctx.cell, xp, h, h0, dh, mask, ctx.reverse)
        else:
            m = None if mask is None else mask.reshape(N, T).to(xp.dtype)
            h0c, dhc = h0.contiguous(), dh.contiguous()
            dh0 = torch.empty_like(h0c)
            db_n = xp.new_empty(N, xp.shape[2]) if ctx.has_bias else None  # each sequence's share of db
            ptrs = [_ptr(t) for t in (xp, h, h0c, dhc, m, dh0, db_n)]
            failed = _parallel(lib.min_backward, N, N * T * H, T, H, ctx.cell == "minlstm", ctx.reverse, *ptrs)
            if any(failed):
                raise MemoryError(f"nn.scan: the native backward could not allocate 2 x {H} scratch values")
            torch.autograd.graph.increment_version(xp)  # C wrote through a pointer: tell autograd, as aten would
        dxp2 = xp.view(N * T, -1)  # (N*T, G*H): the gate gradients now
        dx = gemm.linear(dxp2, W.t()).view(N, T, -1) if ctx.needs_input_grad[0] else None
        dW = gemm.mm_tn(dxp2, x.reshape(N * T, -1))  # (G*H, D)
        if not ctx.has_bias:
            db = None
        else:
            db = dxp2.sum(0) if db_n is None else db_n.sum(0)
        return dx, dW, db, dh0, None, None, None


def run_layer(
    cell: str,
    x: Tensor,
    state: tuple[Tensor, ...],
    params: dict[str, Tensor],
    options: CellOptions,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One min* layer and direction: x (N, T, D), state (h0,) -> (out (N, T, H), (h_final,)); the runner's call."""
    if not supports(cell, options, x=x):
        raise ValueError(
            f"nn.scan.run_layer handles {fast_path_cells(__name__)}, got cell {cell!r}; use impl='loop' or 'bptt'"
        )
    (h0,) = state
    mask = None
    if lengths is not None:
        T = x.shape[1]
        mask = (torch.arange(T, device=x.device)[None, :] < lengths[:, None]).unsqueeze(2)  # (N, T, 1)
    h = _MinLayer.apply(x, params[W_IH], params.get(B_IH), h0, mask, cell, reverse)
    final = h[:, 0] if reverse else h[:, -1]  # padded steps left the state unchanged
    out = h if mask is None else h * mask
    return out, (final,)
