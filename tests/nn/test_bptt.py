"""nn/bptt.py: the hand-written BPTT Functions against autograd.

* gradcheck (float64, central differences) of every cell on the input, the initial state and every
  parameter, with and without lengths, forward and reverse;
* parity at float32 with a plain autograd loop written here and with torch.nn.{RNN, GRU, LSTM}, on both
  gemm routes (oneDNN and the torch.mm fallback);
* padded batches equal unpadded runs of each sequence alone.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions
from rnnkit.nn import bptt, gemm

CASES = [
    ("rnn", CellOptions()),
    ("rnn", CellOptions(nonlinearity="relu")),
    ("lstm", CellOptions()),
    ("gru", CellOptions()),
]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads; on a shared 2-core machine OpenMP spinning makes them 10x slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make(cell, D, H, *, bias=True, dtype=torch.float64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    G = GATES[cell]
    p = {W_IH: torch.randn(G * H, D, generator=g) * 0.5, W_HH: torch.randn(G * H, H, generator=g) * 0.5}
    if bias:
        p[B_IH], p[B_HH] = torch.randn(G * H, generator=g) * 0.3, torch.randn(G * H, generator=g) * 0.3
    return {k: v.to(device=device, dtype=dtype).requires_grad_(True) for k, v in p.items()}


def init(cell, N, H, *, dtype=torch.float64, device="cpu", seed=1):
    g = torch.Generator().manual_seed(seed)
    k = 2 if cell == "lstm" else 1
    return tuple(torch.randn(N, H, generator=g).to(device=device, dtype=dtype).requires_grad_(True) for _ in range(k))


def loop_twin(cell, x, state, p, options, *, lengths=None, reverse=False):
    """The slow twin: the cell equations step by step, autograd for the gradients, masks for lengths."""
    N, T, _ = x.shape
    W_ih, W_hh, b_ih, b_hh = p[W_IH], p[W_HH], p.get(B_IH), p.get(B_HH)
    xs = x.unbind(1)
    outs = [None] * T
    for t in range(T - 1, -1, -1) if reverse else range(T):
        xp = nn.functional.linear(xs[t], W_ih, b_ih)
        hp = nn.functional.linear(state[0], W_hh, b_hh)
        if cell == "rnn":
            new = (torch.relu(xp + hp) if options.nonlinearity == "relu" else torch.tanh(xp + hp),)
        elif cell == "lstm":
            i, f, g, o = (xp + hp).chunk(4, 1)
            c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
            new = (torch.sigmoid(o) * torch.tanh(c), c)
        else:
            xr, xz, xn = xp.chunk(3, 1)
            hr, hz, hn = hp.chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            new = ((1 - z) * n + z * state[0],)
        if lengths is None:
            state, outs[t] = new, new[0]
        else:
            m = (t < lengths)[:, None]  # (N, 1) real step?
            state = tuple(torch.where(m, a, b) for a, b in zip(new, state, strict=True))
            outs[t] = new[0] * m
    return torch.stack(outs, 1), state


def grads_of(fn, inputs, gout, gfinal):
    out, final = fn()
    loss = (out * gout).sum() + sum((f * g).sum() for f, g in zip(final, gfinal, strict=True))
    return out, final, torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize(("cell", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("lengths", [None, [4, 2, 3]], ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_gradcheck(cell, options, lengths, reverse):
    N, T, D, H = 3, 4, 3, 2
    p = make(cell, D, H)
    x = torch.randn(N, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    state = init(cell, N, H)
    lens = None if lengths is None else torch.tensor(lengths)
    names = list(p)
    k = len(state)

    def f(x, *rest):
        st, params = rest[:k], dict(zip(names, rest[k:], strict=True))
        out, final = bptt.run_layer(cell, x, st, params, options, lengths=lens, reverse=reverse)
        return (out, *final)

    if options.nonlinearity == "relu":  # keep pre-activations away from the kink at 0 for finite differences
        with torch.no_grad():
            p[B_IH] += 0.05
    # float64 central differences: eps 1e-6, atol 1e-5 covers O(eps^2) truncation on O(1) values
    assert torch.autograd.gradcheck(f, (x, *state, *p.values()), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(("cell", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("route", [None, "torch"], ids=["best", "fallback"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_parity_with_loop_float32(cell, options, route, bias):
    N, T, D, H = 5, 9, 7, 16
    p = make(cell, D, H, bias=bias, dtype=torch.float32)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(N, T, D, generator=g).requires_grad_(True)
    state = init(cell, N, H, dtype=torch.float32)
    lens = torch.tensor([9, 3, 7, 1, 9])
    gout = torch.randn(N, T, H, generator=g)
    gfin = [torch.randn(N, H, generator=g) for _ in state]
    inputs = [x, *state, *p.values()]
    for reverse in (False, True):
        ref = grads_of(lambda: loop_twin(cell, x, state, p, options, lengths=lens, reverse=reverse), inputs, gout, gfin)
        with gemm.use_route(route):
            got = grads_of(
                lambda: bptt.run_layer(cell, x, state, p, options, lengths=lens, reverse=reverse), inputs, gout, gfin
            )
        # float32: the fast path sums in another order (one GEMM over all steps): ~1e-6 relative, 1e-4 is safe
        for a, b in zip([got[0], *got[1], *got[2]], [ref[0], *ref[1], *ref[2]], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("cell", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("route", [None, "torch"], ids=["best", "fallback"])
def test_parity_with_torch_nn(cell, options, route):
    N, T, D, H = 4, 12, 8, 24
    torch.manual_seed(4)
    kwargs = {"nonlinearity": options.nonlinearity} if cell == "rnn" else {}
    mod = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](D, H, batch_first=True, **kwargs)
    p = {W_IH: mod.weight_ih_l0, W_HH: mod.weight_hh_l0, B_IH: mod.bias_ih_l0, B_HH: mod.bias_hh_l0}
    x = torch.randn(N, T, D).requires_grad_(True)
    state = init(cell, N, H, dtype=torch.float32)
    gout, gfin = torch.randn(N, T, H), [torch.randn(N, H) for _ in state]
    inputs = [x, *state, *p.values()]
    hx = (state[0][None], state[1][None]) if cell == "lstm" else state[0][None]

    def torch_fn():
        out, fin = mod(x, hx)
        return out, tuple(s[0] for s in (fin if cell == "lstm" else (fin,)))

    ref = grads_of(torch_fn, inputs, gout, gfin)
    with gemm.use_route(route):
        got = grads_of(lambda: bptt.run_layer(cell, x, state, p, options), inputs, gout, gfin)
    # float32, different kernels and summation order: 1e-4 relative/absolute on O(1) values
    for a, b in zip([got[0], *got[1], *got[2]], [ref[0], *ref[1], *ref[2]], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("cell", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_padded_batch_equals_each_sequence_alone(cell, options, reverse):
    N, T, D, H = 3, 6, 4, 5
    p = make(cell, D, H)
    x = torch.randn(N, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    state = init(cell, N, H)
    lens = [6, 2, 4]
    out, final = bptt.run_layer(cell, x, state, p, options, lengths=torch.tensor(lens), reverse=reverse)
    for n, L in enumerate(lens):
        o1, f1 = bptt.run_layer(cell, x[n : n + 1, :L], tuple(s[n : n + 1] for s in state), p, options, reverse=reverse)
        torch.testing.assert_close(out[n, :L], o1[0], rtol=1e-12, atol=1e-12)  # float64, same arithmetic
        assert bool((out[n, L:] == 0).all()), "padded positions must give zero output"
        for a, b in zip(final, f1, strict=True):
            torch.testing.assert_close(a[n], b[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("cell", "options"), CASES[1:], ids=IDS[1:])
def test_runs_on_device(cell, options, device):
    p = make(cell, 3, 4, dtype=torch.float32, device=device)
    x = torch.randn(2, 5, 3, device=device)
    state = init(cell, 2, 4, dtype=torch.float32, device=device)
    out, final = bptt.run_layer(cell, x, state, p, options)
    out.sum().backward()
    assert out.device.type == device and all(v.grad is not None and v.grad.device.type == device for v in p.values())


def test_supports():
    x32 = torch.zeros(1, 1, 1)
    assert bptt.supports("lstm", CellOptions(), x=x32)
    assert bptt.supports("gru", CellOptions(), x=x32.double())
    assert not bptt.supports("gru", CellOptions(gru_variant="paper"), x=x32)  # runs on the loop
    assert not bptt.supports("lstm", CellOptions(), x=x32.half())
    assert not bptt.supports("mingru", CellOptions(), x=x32)


def test_unsupported_is_a_clear_error():
    p = make("gru", 2, 3)
    with pytest.raises(ValueError, match="not supported; use the loop"):
        bptt.run_layer(
            "gru", torch.zeros(1, 2, 2, dtype=torch.float64), init("gru", 1, 3), p, CellOptions(gru_variant="paper")
        )
