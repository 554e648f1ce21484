"""Hand-written backpropagation through time as ``torch.autograd.Function``s: RNN, LSTM and GRU.

Same math as the cells in ``nn/cells`` (and the NumPy reference), arranged for speed:

* forward: the input projection of all T steps is one GEMM, ``(T*N, D) @ W_ih^T``; per step only
  ``h @ W_hh^T`` is sequential (oneDNN's fused "add" post-op adds the hoisted projection for free);
* the activated gates, states and ``tanh(c)`` are written with ``out=`` into buffers preallocated for all
  steps, so backward reads them instead of recomputing;
* backward: per step only ``dgates @ W_hh`` is sequential; ``dW_ih``, ``dW_hh``, biases and ``dx`` are
  single GEMMs over all T*N rows after the loop; element-wise work uses torch's fused derivative kernels
  (``sigmoid_backward``, ``tanh_backward``: ``g * s * (1 - s)`` and ``g * (1 - y^2)`` in one op each).

Every product goes through ``nn/gemm.py`` (oneDNN with reordered weights on CPU float32, ``torch.mm``
elsewhere). Inside the Function everything is time-major ``(T, N, .)``; ``run_layer`` converts from the
batch-first public layout.

Lengths are handled like packed sequences: the batch is sorted by decreasing length, so at step t the
active sequences are the first ``b_t`` rows and every product simply runs on those rows. Padded steps
then leave the state untouched and give zero output, and the final state of sequence n is the state
after its last real step. The backward direction runs the forward code on each sequence reversed within
its own length (so it starts at ``lengths[n] - 1``).

Shapes: N batch, T time, D input, H hidden, G gates (RNN 1, GRU 3, LSTM 4).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions
from rnnkit.nn import gemm
from rnnkit.registry import facts

_SIGMOID_BWD = torch.ops.aten.sigmoid_backward.grad_input  # (g, s, out) -> g * s * (1 - s)
_TANH_BWD = torch.ops.aten.tanh_backward.grad_input  # (g, y, out) -> g * (1 - y^2)
_THRESHOLD_BWD = torch.ops.aten.threshold_backward.grad_input  # (g, y, 0, out) -> g * (y > 0)
# Under torch.autocast (precision="bf16", nn/precision.py) these Functions compute in float32: the inputs are cast
# and autocast is off inside forward, and backward runs in the same autocast state as forward did.
_AMP_FWD = torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
_AMP_BWD = torch.amp.custom_bwd(device_type="cpu")
# Their products (only) may still run in bf16: the runner enters ``gemm.products(torch.bfloat16)`` around
# ``run_layer`` when this flag is set; forward records the dtype and backward re-enters it (``_products_as_fwd``).
BF16_PRODUCTS = True


def _products_as_fwd(backward):
    """Run a Function's backward with the product dtype its forward saw (``ctx.products``)."""

    @functools.wraps(backward)
    def wrapped(ctx, *grads):
        with gemm.products(ctx.products):
            return backward(ctx, *grads)

    return wrapped


def supports(cell: str, options: CellOptions, *, x: Tensor) -> bool:
    """True for the cells whose facts name this module (rnn, lstm, GRU in the torch.nn form) on float32 / float64
    inputs, any device."""
    if facts(cell).fast_paths.get("bptt") != __name__:
        return False
    if cell == "gru" and options.gru_variant != "torch":
        return False  # the paper form needs a second sequential product per step; the loop runs it
    return x.dtype in (torch.float32, torch.float64)


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
    """One layer, one direction: x (N, T, D), state of (N, H) -> (out (N, T, H), final state tuple).

    ``lengths`` (N,): positions t >= lengths[n] give zero output and leave the state unchanged;
    ``reverse`` runs from the end (from lengths[n] - 1 when lengths are given).
    """
    if not supports(cell, options, x=x):
        raise ValueError(f"bptt.run_layer: cell {cell!r} with {options} on {x.dtype} is not supported; use the loop")
    N, T, _ = x.shape
    batch_sizes: list[int] | None = None
    perm = inv = rev_idx = None
    if lengths is not None:
        lengths = lengths.to(device=x.device, dtype=torch.long)
        lens = lengths.tolist()
        if min(lens) == T:
            lengths = None  # every sequence is full: the plain path is the same math
        else:
            sorted_lens, perm = torch.sort(lengths, descending=True, stable=True)  # packed order
            inv = torch.empty_like(perm)
            inv[perm] = torch.arange(N, device=x.device)
            t = torch.arange(T, device=x.device)
            batch_sizes = (sorted_lens[None, :] > t[:, None]).sum(1).tolist()  # b_t: active rows at step t
            x = x.index_select(0, perm)
            state = tuple(s.index_select(0, perm) for s in state)
            lengths = sorted_lens
    if reverse:
        if lengths is None:
            x = x.flip(1)
        else:  # reverse each sequence within its own length; padding stays where it is
            t = torch.arange(T, device=x.device)
            rev_idx = torch.where(t[None, :] < lengths[:, None], lengths[:, None] - 1 - t[None, :], t[None, :])
            x = x.gather(1, rev_idx[:, :, None].expand(-1, -1, x.shape[2]))  # (N, T, D)
    xt = x.transpose(0, 1).contiguous()  # (T, N, D) time-major
    p = params
    b_ih, b_hh = p.get(B_IH), p.get(B_HH)
    if cell == "lstm":
        out, h, c = _LSTM.apply(batch_sizes, xt, state[0], state[1], p[W_IH], p[W_HH], b_ih, b_hh)
        final: tuple[Tensor, ...] = (h, c)
    elif cell == "gru":
        out, h = _GRU.apply(batch_sizes, xt, state[0], p[W_IH], p[W_HH], b_ih, b_hh)
        final = (h,)
    else:
        out, h = _RNN.apply(batch_sizes, options.nonlinearity == "relu", xt, state[0], p[W_IH], p[W_HH], b_ih, b_hh)
        final = (h,)
    out = out.transpose(0, 1)  # (N, T, H), a view of the time-major buffer
    if reverse:
        out = out.flip(1) if rev_idx is None else out.gather(1, rev_idx[:, :, None].expand(-1, -1, out.shape[2]))
    if inv is not None:
        out = out.index_select(0, inv)
        final = tuple(s.index_select(0, inv) for s in final)
    return out, final


# ---- shared helpers -------------------------------------------------------------------------------------------


def _rows(batch_sizes: list[int] | None, N: int, t: int) -> int:
    """Active rows at step t (sorted batch): all N without lengths."""
    return N if batch_sizes is None else batch_sizes[t]


def _final(buf: Tensor, batch_sizes: list[int] | None) -> Tensor:
    """State after each sequence's last real step from a (T+1, N, H) buffer whose slot t+1 holds step t."""
    if batch_sizes is None:
        return buf[-1].clone()
    N = buf.shape[1]
    lens = _lengths(batch_sizes, N, buf.device)
    return buf[lens, torch.arange(N, device=buf.device)]  # (N, H)


def _lengths(batch_sizes: list[int], N: int, device: torch.device) -> Tensor:
    """Sorted sequence lengths back from the batch sizes: len_n = #{t : b_t > n}, (N,) long."""
    bs = torch.tensor(batch_sizes)
    return (bs[None, :] > torch.arange(N)[:, None]).sum(1).to(device)


def _upstream(dout: Tensor | None, dh_final: Tensor | None, like: Tensor, batch_sizes: list[int] | None) -> Tensor:
    """Gradient arriving at every h_t from outside the recurrence: dout (T, N, H) plus dh_final placed at
    each sequence's last real step. Returned as a fresh contiguous buffer the loop may write into."""
    G = torch.zeros_like(like) if dout is None else dout.contiguous().clone()
    if dh_final is not None:
        if batch_sizes is None:
            G[-1] += dh_final
        else:
            N = G.shape[1]
            last = _lengths(batch_sizes, N, G.device) - 1
            G.index_put_((last, torch.arange(N, device=G.device)), dh_final, accumulate=True)
    return G


def _recurrent_grad(dA_t: Tensor, whhT: gemm.Weight, G: Tensor, t: int, b_prev: int, extra: Tensor | None = None):
    """Total gradient at h_{t-1}: dA_t (b, G*H) @ W_hh + G[t-1] (+ extra, the direct path); rows :b_prev.

    With lengths the earlier step may have more active rows (b_prev >= b); those get G[t-1] alone.
    """
    b = dA_t.shape[0]
    if b == b_prev:
        other = G[t - 1, :b] if extra is None else extra
        return gemm.linear(dA_t, whhT, add=other)  # fused: dA_t @ W_hh + other
    dh = G[t - 1, :b_prev]  # (b_prev, H) view of our own buffer, written in place
    if extra is None:
        dh[:b] += gemm.linear(dA_t, whhT)
    else:
        dh[:b] = gemm.linear(dA_t, whhT, add=extra)
    return dh


def _weight_grads(ctx, dA: Tensor, x: Tensor, h_prev: Tensor, W_ih: Tensor, dHP: Tensor | None = None):
    """dx, dW_ih, dW_hh, db_ih, db_hh as single GEMMs / reductions over all T*N rows.

    dA (T, N, G*H) is the gradient at the input-side pre-activations, dHP (default dA) at the hidden-side
    ones (they differ for GRU's n gate); h_prev (T, N, H) holds h_{t-1} for every step.
    """
    T, N, GH = dA.shape
    dA2 = dA.view(T * N, GH)
    dHP2 = dA2 if dHP is None else dHP.view(T * N, GH)
    need = ctx.needs_input_grad
    i_x, i_wih, i_whh, i_bih, i_bhh = ctx.grad_index
    dx = gemm.linear(dA2, W_ih.t().contiguous()).view(T, N, -1) if need[i_x] else None  # (T, N, D)
    dW_ih = gemm.mm_tn(dA2, x.view(T * N, -1)) if need[i_wih] else None  # (G*H, D)
    dW_hh = gemm.mm_tn(dHP2, h_prev.reshape(T * N, -1)) if need[i_whh] else None  # (G*H, H)
    db_ih = dA2.sum(0) if need[i_bih] else None  # (G*H,)
    db_hh = dHP2.sum(0) if need[i_bhh] else None
    return dx, dW_ih, dW_hh, db_ih, db_hh


def _bias_sum(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


# ---- Elman RNN ------------------------------------------------------------------------------------------------


class _RNN(torch.autograd.Function):
    """h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), f = tanh or relu."""

    @staticmethod
    @_AMP_FWD
    def forward(ctx, batch_sizes, relu, x, h0, W_ih, W_hh, b_ih, b_hh):
        T, N, D = x.shape
        H = h0.shape[1]
        A = gemm.linear(x.view(T * N, D), W_ih, _bias_sum(b_ih, b_hh)).view(T, N, H)  # (T, N, H) hoisted
        Hs = (x.new_zeros if batch_sizes else x.new_empty)(T + 1, N, H)  # slot t+1 holds h_t; slot 0 h0
        Hs[0] = h0
        whh = gemm.prepare(W_hh)
        for t in range(T):
            b = _rows(batch_sizes, N, t)
            a = gemm.linear(Hs[t, :b], whh, add=A[t, :b])  # (b, H): W_hh h + (W_ih x + b)
            if relu:
                torch.clamp_min(a, 0.0, out=Hs[t + 1, :b])  # h = relu(a)
            else:
                torch.tanh(a, out=Hs[t + 1, :b])  # h = tanh(a)
        ctx.batch_sizes, ctx.relu, ctx.grad_index = batch_sizes, relu, (2, 4, 5, 6, 7)
        ctx.products = gemm.product_dtype()
        ctx.save_for_backward(x, W_ih, W_hh, Hs)
        return Hs[1:], _final(Hs, batch_sizes)

    @staticmethod
    @_AMP_BWD
    @_products_as_fwd
    def backward(ctx, dout, dhT):
        x, W_ih, W_hh, Hs = ctx.saved_tensors
        bs = ctx.batch_sizes
        T, N, _ = x.shape
        G = _upstream(dout, dhT, Hs[1:], bs)  # (T, N, H)
        dA = torch.zeros_like(G) if bs else torch.empty_like(G)  # (T, N, H) grad at pre-activations
        whhT = gemm.prepare(W_hh.t().contiguous())  # (H, H): linear(d, whhT) = d @ W_hh
        dh = G[T - 1, : _rows(bs, N, T - 1)]
        for t in range(T - 1, -1, -1):
            b = dh.shape[0]
            if ctx.relu:
                _THRESHOLD_BWD(dh, Hs[t + 1, :b], 0, grad_input=dA[t, :b])  # relu' = (h > 0)
            else:
                _TANH_BWD(dh, Hs[t + 1, :b], grad_input=dA[t, :b])  # tanh' = 1 - h^2
            if t > 0:
                dh = _recurrent_grad(dA[t, :b], whhT, G, t, _rows(bs, N, t - 1))
        dh0 = gemm.linear(dA[0], whhT)  # (N, H); b_0 = N
        dx, dW_ih, dW_hh, db_ih, db_hh = _weight_grads(ctx, dA, x, Hs[:T], W_ih)
        return None, None, dx, dh0, dW_ih, dW_hh, db_ih, db_hh


# ---- LSTM -----------------------------------------------------------------------------------------------------


class _LSTM(torch.autograd.Function):
    """Gates i, f, g, o; c_t = f c_{t-1} + i g; h_t = o tanh(c_t) (Hochreiter & Schmidhuber 1997, Gers 2000)."""

    @staticmethod
    @_AMP_FWD
    def forward(ctx, batch_sizes, x, h0, c0, W_ih, W_hh, b_ih, b_hh):
        T, N, D = x.shape
        H = h0.shape[1]
        # (T, N, 4H): W_ih x + b_ih + b_hh for all steps; overwritten step by step with the activated gates
        A = gemm.linear(x.view(T * N, D), W_ih, _bias_sum(b_ih, b_hh)).view(T, N, 4 * H)
        new = x.new_zeros if batch_sizes else x.new_empty
        Hs, Cs, TC = new(T + 1, N, H), new(T + 1, N, H), new(T, N, H)  # h_t, c_t in slot t+1; tanh(c_t)
        Hs[0], Cs[0] = h0, c0
        whh = gemm.prepare(W_hh)
        for t in range(T):
            b = _rows(batch_sizes, N, t)
            At = A[t, :b]  # (b, 4H)
            a = gemm.linear(Hs[t, :b], whh, add=At)  # (b, 4H) pre-activations
            torch.sigmoid(a[:, : 2 * H], out=At[:, : 2 * H])  # i, f
            torch.tanh(a[:, 2 * H : 3 * H], out=At[:, 2 * H : 3 * H])  # g
            torch.sigmoid(a[:, 3 * H :], out=At[:, 3 * H :])  # o
            i, f, g, o = At.split(H, dim=1)
            c = torch.mul(f, Cs[t, :b], out=Cs[t + 1, :b])
            c.addcmul_(i, g)  # c_t = f c_{t-1} + i g
            tc = torch.tanh(c, out=TC[t, :b])
            torch.mul(o, tc, out=Hs[t + 1, :b])  # h_t = o tanh(c_t)
        ctx.batch_sizes, ctx.grad_index, ctx.products = batch_sizes, (1, 4, 5, 6, 7), gemm.product_dtype()
        ctx.save_for_backward(x, W_ih, W_hh, A, Hs, Cs, TC)
        return Hs[1:], _final(Hs, batch_sizes), _final(Cs, batch_sizes)

    @staticmethod
    @_AMP_BWD
    @_products_as_fwd
    def backward(ctx, dout, dhT, dcT):
        x, W_ih, W_hh, A, Hs, Cs, TC = ctx.saved_tensors
        bs = ctx.batch_sizes
        T, N, _ = x.shape
        H = Hs.shape[2]
        G = _upstream(dout, dhT, TC, bs)  # (T, N, H)
        dA = torch.zeros_like(A) if bs else torch.empty_like(A)  # (T, N, 4H) grad at the pre-activations
        DC = torch.zeros_like(Hs[0]) if dcT is None else dcT.clone()  # running dL/dc_t, (N, H)
        tmp = torch.empty_like(Hs[0])
        whhT = gemm.prepare(W_hh.t().contiguous())  # (H, 4H)
        dh = G[T - 1, : _rows(bs, N, T - 1)]
        for t in range(T - 1, -1, -1):
            b = dh.shape[0]
            i, f, g, o = A[t, :b].split(H, dim=1)
            da_i, da_f, da_g, da_o = dA[t, :b].split(H, dim=1)
            tc, dc, w = TC[t, :b], DC[:b], tmp[:b]
            _SIGMOID_BWD(torch.mul(dh, tc, out=w), o, grad_input=da_o)  # do = dh tanh(c); σ'
            dc += _TANH_BWD(torch.mul(dh, o, out=w), tc, grad_input=w)  # dc += dh o (1 - tanh²c)
            _SIGMOID_BWD(torch.mul(dc, g, out=w), i, grad_input=da_i)  # di = dc g
            _SIGMOID_BWD(torch.mul(dc, Cs[t, :b], out=w), f, grad_input=da_f)  # df = dc c_{t-1}
            _TANH_BWD(torch.mul(dc, i, out=w), g, grad_input=da_g)  # dg = dc i
            dc.mul_(f)  # dL/dc_{t-1} through c_t = f c_{t-1} + ...
            if t > 0:
                dh = _recurrent_grad(dA[t, :b], whhT, G, t, _rows(bs, N, t - 1))
        dh0 = gemm.linear(dA[0], whhT)
        dx, dW_ih, dW_hh, db_ih, db_hh = _weight_grads(ctx, dA, x, Hs[:T], W_ih)
        return None, dx, dh0, DC, dW_ih, dW_hh, db_ih, db_hh


# ---- GRU (torch.nn form) --------------------------------------------------------------------------------------


class _GRU(torch.autograd.Function):
    """r, z = σ(W_i{r,z} x + b + W_h{r,z} h + b); n = tanh(W_in x + b_in + r (W_hn h + b_hn));
    h_t = (1 - z) n + z h_{t-1}  (Cho et al. 2014, in the torch.nn / cuDNN form)."""

    @staticmethod
    @_AMP_FWD
    def forward(ctx, batch_sizes, x, h0, W_ih, W_hh, b_ih, b_hh):
        T, N, D = x.shape
        H = h0.shape[1]
        XP = gemm.linear(x.view(T * N, D), W_ih, b_ih).view(T, N, 3 * H)  # (T, N, 3H) hoisted input part
        XN = XP[:, :, 2 * H :].clone()  # (T, N, H) W_in x + b_in, kept apart: r multiplies only W_hn h + b_hn
        XP[:, :, 2 * H :] = 0  # so one fused GEMM gives [a_r, a_z, W_hn h + b_hn] per step
        new = x.new_zeros if batch_sizes else x.new_empty
        Hs, Ns = new(T + 1, N, H), new(T, N, H)  # h_t in slot t+1; n_t
        HP: list[Tensor] = []  # per step (b_t, 3H) [r, z, W_hn h + b_hn]: the product's own output, kept (no copy)
        Hs[0] = h0
        whh = gemm.prepare(W_hh)
        for t in range(T):
            b = _rows(batch_sizes, N, t)
            hp = gemm.linear(Hs[t, :b], whh, b_hh, add=XP[t, :b])  # (b, 3H) a fresh tensor
            rz = hp[:, : 2 * H].sigmoid_()  # r, z in place
            r, z = rz.split(H, dim=1)
            n = torch.addcmul(XN[t, :b], r, hp[:, 2 * H :], out=Ns[t, :b]).tanh_()  # n = tanh(x_n + r (W_hn h + b_hn))
            torch.lerp(n, Hs[t, :b], z, out=Hs[t + 1, :b])  # h_t = n + z (h_{t-1} - n) = (1 - z) n + z h
            HP.append(hp)
        ctx.batch_sizes, ctx.grad_index, ctx.products = batch_sizes, (1, 3, 4, 5, 6), gemm.product_dtype()
        ctx.hp = HP  # not in save_for_backward: a list; no one else writes these tensors
        ctx.save_for_backward(x, W_ih, W_hh, Hs, Ns)
        return Hs[1:], _final(Hs, batch_sizes)

    @staticmethod
    @_AMP_BWD
    @_products_as_fwd
    def backward(ctx, dout, dhT):
        x, W_ih, W_hh, Hs, Ns = ctx.saved_tensors
        HP = ctx.hp
        bs = ctx.batch_sizes
        T, N, _ = x.shape
        H = Hs.shape[2]
        G = _upstream(dout, dhT, Ns, bs)  # (T, N, H)
        new = Hs.new_zeros if bs else Hs.new_empty
        dXP = new(T, N, 3 * H)  # grad at the input-side pre-activations [a_r, a_z, a_n]
        dHP = new(T, N, 3 * H)  # grad at the hidden-side ones [a_r, a_z, W_hn h + b_hn]
        tmp2 = Hs.new_empty(N, 2 * H)
        whhT = gemm.prepare(W_hh.t().contiguous())  # (H, 3H)
        dh = G[T - 1, : _rows(bs, N, T - 1)]
        for t in range(T - 1, -1, -1):
            b = dh.shape[0]
            rz, hn, n, h_prev = HP[t][:, : 2 * H], HP[t][:, 2 * H :], Ns[t, :b], Hs[t, :b]
            r, z = rz.split(H, dim=1)
            w = tmp2[:b]
            w_r, w_z = w.split(H, dim=1)
            da_n = dXP[t, :b, 2 * H :]
            _TANH_BWD(torch.addcmul(dh, dh, z, value=-1.0, out=w_r), n, grad_input=da_n)  # dn = dh (1 - z); tanh'
            torch.mul(torch.sub(h_prev, n, out=w_z), dh, out=w_z)  # dz = dh (h_{t-1} - n)
            torch.mul(da_n, hn, out=w_r)  # dr = da_n (W_hn h + b_hn)
            _SIGMOID_BWD(w, rz, grad_input=dHP[t, :b, : 2 * H])  # [da_r, da_z] in one op (into dXP after the loop)
            torch.mul(da_n, r, out=dHP[t, :b, 2 * H :])  # d(W_hn h + b_hn) = da_n r
            if t > 0:
                b_prev = _rows(bs, N, t - 1)
                direct = torch.addcmul(G[t - 1, :b], dh, z)  # G[t-1] + dh z (the h_{t-1} -> h_t path)
                dh = _recurrent_grad(dHP[t, :b], whhT, G, t, b_prev, extra=direct)
        dh0 = gemm.linear(dHP[0], whhT, add=dh * HP[0][:, H : 2 * H])  # (N, H)
        dXP[:, :, : 2 * H] = dHP[:, :, : 2 * H]  # r and z enter both sides alike: one copy for all steps
        dx, dW_ih, dW_hh, db_ih, db_hh = _weight_grads(ctx, dXP, x, Hs[:T], W_ih, dHP)
        return None, dx, dh0, dW_ih, dW_hh, db_ih, db_hh
