"""Parity: NumPy reference ↔ nn loop ↔ nn fused ↔ nn bptt ↔ torch.nn, identical weights and upstream gradients.

Every case runs the same float64 parameters, input, initial state and upstream gradients (on the output and
on the final state) through each engine and compares outputs, final states and EVERY gradient (each
parameter, the input, the initial state). The product covers bias × layers {1, 2} × bidirectional ×
variable lengths for RNN (tanh, relu), LSTM and GRU (torch and paper forms). ``bptt`` joins when
``rnnkit.nn.bptt`` exists (written separately); engines that do not support a case are left out of it.
"""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.layout import CellOptions, init_params, stacked_param_name, torch_param_name
from rnnkit.nn import fused
from rnnkit.nn.sequence import Recurrent

ref_seq = pytest.importorskip("rnnkit.reference.sequence")

HAS_BPTT = importlib.util.find_spec("rnnkit.nn.bptt") is not None
NN_IMPLS = ["loop", "fused"] + (["bptt"] if HAS_BPTT else [])

CELLS = {
    "rnn-tanh": ("rnn", CellOptions()),
    "rnn-relu": ("rnn", CellOptions(nonlinearity="relu")),
    "lstm": ("lstm", CellOptions()),
    "gru-torch": ("gru", CellOptions()),
    "gru-paper": ("gru", CellOptions(gru_variant="paper")),
}
LENGTHS = {"full": None, "variable": [4, 1, 3]}  # T = 5: no sequence is full length, one has a single step
N, T, D, H = 3, 5, 3, 4
# float64 throughout: the engines do the same arithmetic in different orders (NumPy vs torch kernels, hoisted vs
# per-step products), which changes results at the 1e-16 level per operation; over 5 steps and 2 layers the
# observed differences stay below 1e-13, so 1e-9 relative / 1e-11 absolute leaves margin yet catches any error
# in the math (a wrong gate or a dropped term moves results by > 1e-3).
TOL = dict(rtol=1e-9, atol=1e-11)


def _case_arrays(cell: str, options: CellOptions, *, bias: bool, layers: int, bidirectional: bool, seed: int):
    rng = np.random.default_rng(seed)
    dirs = 2 if bidirectional else 1
    params = {}
    for l in range(layers):
        for d in range(dirs):
            p = init_params(cell, D if l == 0 else dirs * H, H, bias=bias, options=options, rng=rng)
            params.update({stacked_param_name(k, l, d == 1): v for k, v in p.items()})
    n_state = 2 if cell == "lstm" else 1
    x = rng.standard_normal((N, T, D))
    state0 = tuple(rng.standard_normal((layers * dirs, N, H)) for _ in range(n_state))
    dout = rng.standard_normal((N, T, dirs * H))
    dfinal = tuple(rng.standard_normal((layers * dirs, N, H)) for _ in range(n_state))
    return params, x, state0, dout, dfinal


def _run_torch(forward, params_t: dict[str, torch.Tensor], x, state0, dout, dfinal):
    """Run ``forward(x, state)`` with leaf tensors, inject the upstream gradients, return values and grads."""
    xt = torch.tensor(x, requires_grad=True)
    st = tuple(torch.tensor(s, requires_grad=True) for s in state0)
    out, final = forward(xt, st)
    loss = (out * torch.tensor(dout)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(final, dfinal))
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in params_t.items()}
    return (
        out.detach().numpy(),
        tuple(f.detach().numpy() for f in final),
        xt.grad.numpy(),
        [s.grad.numpy() for s in st],
        grads,
    )


def _close(got, want, what: str) -> None:
    np.testing.assert_allclose(got, want, **TOL, err_msg=what)


PRODUCT = list(itertools.product(CELLS, [True, False], [1, 2], [False, True], LENGTHS))


@pytest.mark.parametrize(("case", "bias", "layers", "bidirectional", "lengths_kind"), PRODUCT)
def test_engines_agree(case, bias, layers, bidirectional, lengths_kind):
    cell, options = CELLS[case]
    lengths = LENGTHS[lengths_kind]
    seed = PRODUCT.index((case, bias, layers, bidirectional, lengths_kind))  # deterministic per case
    params, x, state0, dout, dfinal = _case_arrays(
        cell, options, bias=bias, layers=layers, bidirectional=bidirectional, seed=seed
    )

    # The reference: hand-written forward and BPTT.
    r_out, r_final, cache = ref_seq.forward(
        params,
        x,
        state0,
        cell=cell,
        num_layers=layers,
        bidirectional=bidirectional,
        lengths=lengths,
        options=options,
        bias=bias,
    )
    r_dx, r_dstate0, r_dparams = ref_seq.backward(dout, dfinal, cache)

    engines = {}
    for impl in NN_IMPLS:
        m = Recurrent(cell, D, H, num_layers=layers, bidirectional=bidirectional, bias=bias, options=options, impl=impl)
        m = m.double()
        m.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
        try:
            m.resolve_impl(torch.tensor(x))
        except ValueError:
            continue  # this impl does not cover the case (e.g. fused + paper GRU)
        lt = None if lengths is None else torch.tensor(lengths)
        engines[f"nn-{impl}"] = _run_torch(
            lambda xt, st, m=m, lt=lt: m(xt, st, lt), dict(m.named_parameters()), x, state0, dout, dfinal
        )
    if fused.supports(cell, options):
        engines["torch.nn"] = _run_torch_nn(
            cell,
            options,
            params,
            x,
            state0,
            dout,
            dfinal,
            bias=bias,
            layers=layers,
            bidirectional=bidirectional,
            lengths=lengths,
        )
    assert "nn-loop" in engines

    for name, (out, final, dx, dstate0, dparams) in engines.items():
        _close(out, r_out, f"{name}: output")
        for k, (f, rf) in enumerate(zip(final, r_final, strict=True)):
            _close(f, rf, f"{name}: final state[{k}]")
        _close(dx, r_dx, f"{name}: d input")
        for k, (g, rg) in enumerate(zip(dstate0, r_dstate0, strict=True)):
            _close(g, rg, f"{name}: d initial state[{k}]")
        assert dparams.keys() == r_dparams.keys(), name
        for k in r_dparams:
            _close(dparams[k], r_dparams[k], f"{name}: d {k}")


def _run_torch_nn(cell, options, params, x, state0, dout, dfinal, *, bias, layers, bidirectional, lengths):
    """torch.nn's own module with our weights (by the layout's name mapping); lengths through packing."""
    m = Recurrent(cell, D, H, num_layers=layers, bidirectional=bidirectional, bias=bias, options=options).double()
    m.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    tm = m.to_torch()
    ours_of = {
        torch_param_name(k.split(".")[-1], int(k.split(".")[1]), k.split(".")[2] == "bwd"): k for k in params
    }  # torch name -> our stacked name

    def forward(xt, st):
        hx = st if cell == "lstm" else st[0]
        if lengths is None:
            out, hn = tm(xt, hx)
        else:
            packed = pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
            out, hn = tm(packed, hx)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return out, (hn if cell == "lstm" else (hn,))

    out, final, dx, dstate0, grads = _run_torch(forward, dict(tm.named_parameters()), x, state0, dout, dfinal)
    return out, final, dx, dstate0, {ours_of[k]: g for k, g in grads.items()}
