"""Hand-written BPTT ``autograd.Function``s for the layer-norm LSTM and IndRNN (the runner's ``impl="bptt"``).

The same arrangement as ``nn/bptt.py`` (whose helpers this reuses): the input side of every step in one
product (for the layer-norm LSTM that includes ``LN(W_ih x)``, which does not read the state), per step
only the recurrent work, and the weight / input gradients as single products over all T*N rows after the
loop. Products go through ``nn/gemm.py``; layer norms through torch's fused ``native_layer_norm`` and its
backward kernel, which also returns the gain and shift gradients of a step.

* layer-norm LSTM (Ba et al. 2016 §3.1): per step ``h @ W_hh^T``, one LN of it, gates, ``c'``, one LN of
  ``c'``; backward per step: the two LN backwards and ``dv_h @ W_hh``.
* IndRNN (Li et al. 2018): no per-step product at all, ``h' = relu(xp + u ⊙ h)``; two element-wise ops a
  step forward and two backward.

Lengths and direction are handled as in ``nn/bptt.py``: the batch is sorted by decreasing length (the
first ``b_t`` rows are active at step t), and the backward direction reverses each sequence within its
own length. Shapes: N batch, T time, D input, H hidden; time-major ``(T, N, .)`` inside the Functions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions
from rnnkit.nn import gemm
from rnnkit.nn.bptt import (
    _AMP_BWD,
    _AMP_FWD,
    _SIGMOID_BWD,
    _TANH_BWD,
    _THRESHOLD_BWD,
    _bias_sum,
    _final,
    _rows,
    _upstream,
)
from rnnkit.registry import facts

EPS = 1e-5  # as rnnkit.nn.cells.layernorm_lstm
_LN = torch.native_layer_norm  # (x, shape, weight, bias, eps) -> (out, mean, rstd)
_LN_BWD = torch.ops.aten.native_layer_norm_backward  # (g, x, shape, mean, rstd, w, b, mask) -> (dx, dw, db)
_LN_BWD_OUT = torch.ops.aten.native_layer_norm_backward.out  # the same, into out0, out1, out2
GAIN_IH, GAIN_HH, GAIN_C, SHIFT_C = "ln_ih_gain", "ln_hh_gain", "ln_c_gain", "ln_c_shift"


def supports(cell: str, options: CellOptions, *, x: Tensor) -> bool:
    """True for the cells whose facts name this module (layer-norm LSTM, IndRNN) on float32 / float64 inputs."""
    return facts(cell).fast_paths.get("bptt") == __name__ and x.dtype in (torch.float32, torch.float64)


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
    """One layer, one direction: x (N, T, D), state of (N, H) -> (out (N, T, H), final state tuple)."""
    if not supports(cell, options, x=x):
        raise ValueError(f"bptt_extra.run_layer: cell {cell!r} on {x.dtype} is not supported; use impl='loop'")
    N, T, _ = x.shape
    batch_sizes: list[int] | None = None
    inv = rev_idx = None
    if lengths is not None and int(lengths.min()) < T:  # packed order: decreasing length
        sorted_lens, perm = torch.sort(lengths.to(x.device), descending=True, stable=True)
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(N, device=x.device)
        slens = sorted_lens.tolist()
        batch_sizes = [sum(1 for n in slens if n > t) for t in range(T)]  # b_t: active rows at step t
        x = x.index_select(0, perm)
        state = tuple(s.index_select(0, perm) for s in state)
        lengths = sorted_lens
    else:
        lengths = None
    if reverse:
        if lengths is None:
            x = x.flip(1)
        else:  # each sequence reversed within its own length; padding stays at the end
            t = torch.arange(T, device=x.device)
            rev_idx = torch.where(t[None, :] < lengths[:, None], lengths[:, None] - 1 - t[None, :], t[None, :])
            x = x.gather(1, rev_idx[:, :, None].expand(-1, -1, x.shape[2]))
    xt = x.transpose(0, 1).contiguous()  # (T, N, D) time-major
    p = params
    if cell == "layernorm_lstm":
        out, h, c = _LayerNormLSTM.apply(
            batch_sizes,
            xt,
            state[0],
            state[1],
            p[W_IH],
            p[W_HH],
            p.get(B_IH),
            p.get(B_HH),
            p[GAIN_IH],
            p[GAIN_HH],
            p[GAIN_C],
            p[SHIFT_C],
        )
        final: tuple[Tensor, ...] = (h, c)
    else:
        out, h = _IndRNN.apply(
            batch_sizes, options.recurrent_max_abs, xt, state[0], p[W_IH], p[W_HH], p.get(B_IH), p.get(B_HH)
        )
        final = (h,)
    out = out.transpose(0, 1)  # (N, T, H) view
    if reverse:
        out = out.flip(1) if rev_idx is None else out.gather(1, rev_idx[:, :, None].expand(-1, -1, out.shape[2]))
    if inv is not None:
        out = out.index_select(0, inv)
        final = tuple(s.index_select(0, inv) for s in final)
    return out, final


# ---- layer-norm LSTM ------------------------------------------------------------------------------------------


class _LayerNormLSTM(torch.autograd.Function):
    """a = LN(W_ih x; α_x, b_ih) + LN(W_hh h; α_h, b_hh); c' = f c + i g; h' = o tanh(LN(c'; α_c, β_c))."""

    @staticmethod
    @_AMP_FWD
    def forward(ctx, batch_sizes, x, h0, c0, W_ih, W_hh, b_ih, b_hh, g_ih, g_hh, g_c, s_c):
        T, N, D = x.shape
        H = h0.shape[1]
        VX = gemm.linear(x.view(T * N, D), W_ih)  # (T*N, 4H) = W_ih x for all steps
        # eq. 20, input half, hoisted: α_x x̂ + b_ih (+ b_hh folded in here: it is a constant per feature too)
        A, mean_x, rstd_x = _LN(VX, [4 * H], g_ih, _bias_sum(b_ih, b_hh), EPS)
        A = A.view(T, N, 4 * H)  # overwritten step by step with the activated gates
        new = x.new_zeros if batch_sizes else x.new_empty
        Hs, Cs, TC = new(T + 1, N, H), new(T + 1, N, H), new(T, N, H)  # h_t, c_t in slot t+1; tanh(n_t)
        Hs[0], Cs[0] = h0, c0
        whh = gemm.prepare(W_hh)
        VH, MH, RH, MC, RC = [], [], [], [], []  # per step: W_hh h, LN stats of it and of c'
        for t in range(T):
            b = _rows(batch_sizes, N, t)
            At = A[t, :b]
            vh = gemm.linear(Hs[t, :b], whh)  # (b, 4H)
            a, mh, rh = _LN(vh, [4 * H], g_hh, None, EPS)  # α_h ĥ
            a += At  # eq. 20: pre-activations
            torch.sigmoid(a[:, : 2 * H], out=At[:, : 2 * H])  # i, f
            torch.tanh(a[:, 2 * H : 3 * H], out=At[:, 2 * H : 3 * H])  # g
            torch.sigmoid(a[:, 3 * H :], out=At[:, 3 * H :])  # o
            i, f, g, o = At.split(H, dim=1)
            c = torch.mul(f, Cs[t, :b], out=Cs[t + 1, :b])
            c.addcmul_(i, g)  # eq. 21: c' = f c + i g
            n, mc, rc = _LN(c, [H], g_c, s_c, EPS)  # α_c ĉ + β_c
            tc = torch.tanh(n, out=TC[t, :b])
            torch.mul(o, tc, out=Hs[t + 1, :b])  # eq. 22: h' = o tanh(LN(c'))
            VH.append(vh)
            MH.append(mh)
            RH.append(rh)
            MC.append(mc)
            RC.append(rc)
        ctx.batch_sizes, ctx.stats = batch_sizes, (VH, MH, RH, MC, RC)
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        ctx.save_for_backward(x, W_ih, W_hh, VX, mean_x, rstd_x, A, Hs, Cs, TC, g_ih, g_hh, g_c, s_c)
        return Hs[1:], _final(Hs, batch_sizes), _final(Cs, batch_sizes)

    @staticmethod
    @_AMP_BWD
    def backward(ctx, dout, dhT, dcT):
        x, W_ih, W_hh, VX, mean_x, rstd_x, A, Hs, Cs, TC, g_ih, g_hh, g_c, s_c = ctx.saved_tensors
        VH, MH, RH, MC, RC = ctx.stats
        bs = ctx.batch_sizes
        T, N, D = x.shape
        H = Hs.shape[2]
        G = _upstream(dout, dhT, TC, bs)  # (T, N, H): dL/dh_t from outside the recurrence
        dA = torch.zeros_like(A) if bs else torch.empty_like(A)  # (T, N, 4H) at the pre-activations a
        dVH = torch.zeros_like(A) if bs else torch.empty_like(A)  # (T, N, 4H) at W_hh h
        DC = torch.zeros_like(Hs[0]) if dcT is None else dcT.clone()
        tmp = torch.empty_like(Hs[0])
        dg_hh, dg_c, ds_c = torch.zeros_like(g_hh), torch.zeros_like(g_c), torch.zeros_like(s_c)
        dgh, unused = torch.empty_like(g_hh), torch.empty_like(g_hh)
        whhT = gemm.prepare(W_hh.t().contiguous())  # (H, 4H)
        dh = G[T - 1, : _rows(bs, N, T - 1)]
        for t in range(T - 1, -1, -1):
            b = dh.shape[0]
            i, f, g, o = A[t, :b].split(H, dim=1)
            da_i, da_f, da_g, da_o = dA[t, :b].split(H, dim=1)
            tc, dc, w = TC[t, :b], DC[:b], tmp[:b]
            _SIGMOID_BWD(torch.mul(dh, tc, out=w), o, grad_input=da_o)  # do = dh tanh(n)
            dn = _TANH_BWD(torch.mul(dh, o, out=w), tc, grad_input=w)  # dn = dh o (1 - tanh² n)
            dcl, dgc, dsc = _LN_BWD(dn, Cs[t + 1, :b], [H], MC[t], RC[t], g_c, s_c, [True, True, True])
            dc += dcl
            dg_c += dgc
            ds_c += dsc
            _SIGMOID_BWD(torch.mul(dc, g, out=w), i, grad_input=da_i)  # di = dc g
            _SIGMOID_BWD(torch.mul(dc, Cs[t, :b], out=w), f, grad_input=da_f)  # df = dc c_{t-1}
            _TANH_BWD(torch.mul(dc, i, out=w), g, grad_input=da_g)  # dg = dc i
            dc.mul_(f)  # dL/dc_{t-1}
            dvh = dVH[t, :b]  # written in place by the LN backward kernel (its .out form wants all three outputs,
            # so g_hh stands in for the absent shift and the shift gradient goes to ``unused``)
            _LN_BWD_OUT(
                dA[t, :b], VH[t], [4 * H], MH[t], RH[t], g_hh, g_hh, [True] * 3, out0=dvh, out1=dgh, out2=unused
            )
            dg_hh += dgh
            if t > 0:
                b_prev = _rows(bs, N, t - 1)
                if b_prev == b:  # fused: dv_h @ W_hh + upstream, one oneDNN call
                    dh = gemm.linear(dvh, whhT, add=G[t - 1, :b])
                else:
                    dh = G[t - 1, :b_prev]  # own buffer: add the recurrent path in place
                    dh[:b] += gemm.linear(dvh, whhT)
        dh0 = gemm.linear(dVH[0], whhT)
        need = ctx.needs_input_grad
        dA2 = dA.view(T * N, 4 * H)
        has_b = any(ctx.has_bias)  # the LN kernel only needs a (4H,) tensor in the bias slot to return its sum
        dVX, dg_ih, db = _LN_BWD(dA2, VX, [4 * H], mean_x, rstd_x, g_ih, g_ih if has_b else None, [True, True, has_b])
        dx = gemm.linear(dVX, W_ih.t().contiguous()).view(T, N, D) if need[1] else None
        dW_ih = gemm.mm_tn(dVX, x.view(T * N, D))
        dW_hh = gemm.mm_tn(dVH.view(T * N, 4 * H), Hs[:T].reshape(T * N, H))
        db_ih = db if ctx.has_bias[0] else None
        db_hh = db if ctx.has_bias[1] else None
        return None, dx, dh0, DC, dW_ih, dW_hh, db_ih, db_hh, dg_ih, dg_hh, dg_c, ds_c


# ---- IndRNN ---------------------------------------------------------------------------------------------------


class _IndRNN(torch.autograd.Function):
    """h_t = relu(W_ih x_t + b_ih + u ⊙ h_{t-1} + b_hh), u clamped to |u| ≤ γ when γ is given."""

    @staticmethod
    @_AMP_FWD
    def forward(ctx, batch_sizes, gamma, x, h0, W_ih, u, b_ih, b_hh):
        T, N, D = x.shape
        H = h0.shape[1]
        A = gemm.linear(x.view(T * N, D), W_ih, _bias_sum(b_ih, b_hh)).view(T, N, H)  # all input maps at once
        ue = u if gamma is None else u.clamp(-gamma, gamma)  # Li et al. 2018 §3.1 constraint
        Hs = (x.new_zeros if batch_sizes else x.new_empty)(T + 1, N, H)
        Hs[0] = h0
        for t in range(T):
            b = _rows(batch_sizes, N, t)
            torch.addcmul(A[t, :b], ue, Hs[t, :b], out=Hs[t + 1, :b]).relu_()  # eq. 2
        ctx.batch_sizes, ctx.gamma = batch_sizes, gamma
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        ctx.save_for_backward(x, W_ih, u, ue, Hs)
        return Hs[1:], _final(Hs, batch_sizes)

    @staticmethod
    @_AMP_BWD
    def backward(ctx, dout, dhT):
        x, W_ih, u, ue, Hs = ctx.saved_tensors
        bs = ctx.batch_sizes
        T, N, D = x.shape
        H = Hs.shape[2]
        G = _upstream(dout, dhT, Hs[1:], bs)  # (T, N, H)
        dA = torch.zeros_like(G) if bs else torch.empty_like(G)  # at the pre-activations
        for t in range(T - 1, -1, -1):
            b = _rows(bs, N, t)
            da = _THRESHOLD_BWD(G[t, :b], Hs[t + 1, :b], 0, grad_input=dA[t, :b])  # relu'
            if t > 0:
                G[t - 1, :b].addcmul_(da, ue)  # dL/dh_{t-1} += u ⊙ da
        dh0 = dA[0] * ue
        dA2, Hp = dA.view(T * N, H), Hs[:T].reshape(T * N, H)
        du = (dA2 * Hp).sum(0)  # (H,)
        if ctx.gamma is not None:
            du = du * (u.abs() <= ctx.gamma)  # clamp passes gradient inside [-γ, γ] only
        dx = gemm.linear(dA2, W_ih.t().contiguous()).view(T, N, D) if ctx.needs_input_grad[2] else None
        dW_ih = gemm.mm_tn(dA2, x.view(T * N, D))
        db = dA2.sum(0)
        return (None, None, dx, dh0, dW_ih, du, db if ctx.has_bias[0] else None, db if ctx.has_bias[1] else None)
