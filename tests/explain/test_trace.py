"""explain.trace: every traced value is the reference engine's own (runner forward/backward, cell caches)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.explain.trace import backward_steps, cache_quantities, gate_activations, preactivations, run_steps, trace
from rnnkit.layout import CellOptions, init_params, stacked_param_name
from rnnkit.reference import losses, sequence
from rnnkit.reference.functional import sigmoid, tanh
from rnnkit.registry import cell_names, facts

CASES = [
    ("rnn", CellOptions()),
    ("rnn", CellOptions(nonlinearity="relu")),
    ("lstm", CellOptions(forget_bias=1.0)),
    ("gru", CellOptions()),
    ("gru", CellOptions(gru_variant="paper")),
]
OTHER_CELLS = [(c, CellOptions()) for c in cell_names("reference") if c not in ("rnn", "lstm", "gru")]


def _arr(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


@pytest.mark.parametrize(("cell", "options"), CASES + OTHER_CELLS)
def test_trace_equals_reference_runner(cell, options):
    tr = trace(cell, input_size=2, hidden_size=3, steps=3, batch=2, seed=4, options=options)
    params = {stacked_param_name(k, 0, False): _arr(v) for k, v in tr["params"].items()}
    x, y = _arr(tr["x"]), _arr(tr["y"])
    out, final, cache = sequence.forward(params, x, cell=cell, options=options)
    # forward: the states the trace reports are the runner's outputs, bit for bit (same float64 ops)
    for t, step in enumerate(tr["forward"]):
        np.testing.assert_array_equal(_arr(step["state"]["h"]), out[:, t])
    loss, lc = losses.mse(out, y)
    assert tr["loss"] == loss
    dx, dstate0, dparams = sequence.backward(losses.mse_backward(lc), None, cache)
    # backward: same step_backward calls in the same order; sums may associate differently -> 1e-14 abs
    for k, g in tr["grads"]["dparams"].items():
        np.testing.assert_allclose(_arr(g), dparams[stacked_param_name(k, 0, False)], rtol=0, atol=1e-14)
    np.testing.assert_allclose(_arr(tr["grads"]["dx"]), dx, rtol=0, atol=1e-14)
    for k, name in enumerate(tr["state_names"]):
        np.testing.assert_allclose(_arr(tr["grads"]["dstate0"][name]), dstate0[k][0], rtol=0, atol=1e-14)
    # the backward steps run T-1 .. 0 and the running sum ends at the total
    assert [b["t"] for b in tr["backward"]] == [2, 1, 0]


def test_trace_cache_fields_are_the_cells_cache():
    rng = np.random.default_rng(1)
    params = init_params("lstm", 2, 3, rng=rng)
    x = rng.standard_normal((1, 2, 2))
    _, caches = run_steps("lstm", params, x)
    tr = trace("lstm", input_size=2, hidden_size=3, steps=2, seed=1)
    assert list(tr["forward"][0]["cache"]) == ["x", "h", "c", "i", "f", "g", "o", "tanh_c_new"]
    q = cache_quantities(caches[0])
    assert set(q) == set(tr["forward"][0]["cache"])
    np.testing.assert_array_equal(q["i"], caches[0].i)
    assert set(gate_activations("lstm", caches[0])) == {"i", "f", "g", "o"}


@pytest.mark.parametrize(("cell", "options"), CASES[2:4] + [CASES[0]])
def test_preactivations_reproduce_the_cached_gates(cell, options):
    rng = np.random.default_rng(2)
    params = init_params(cell, 2, 3, options=options, rng=rng)
    x = rng.standard_normal((2, 3, 2))
    _, caches = run_steps(cell, params, x, options=options)
    for c in caches[1:]:  # from t=1 the previous state is non-zero, so a_hh matters
        a = preactivations(cell, c)
        if cell == "lstm":  # σ / tanh of the pre-activation is the cached gate (float64: ~1e-16)
            for g, f in (("i", sigmoid), ("f", sigmoid), ("g", tanh), ("o", sigmoid)):
                np.testing.assert_allclose(f(a[f"a.{g}"]), getattr(c, g), rtol=0, atol=1e-14)
        elif cell == "gru":
            np.testing.assert_allclose(sigmoid(a["a.r"]), c.r, rtol=0, atol=1e-14)
            np.testing.assert_allclose(sigmoid(a["a.z"]), c.z, rtol=0, atol=1e-14)
            np.testing.assert_allclose(tanh(a["a_ih.n"] + c.r * a["a_hh.n"]), c.n, rtol=0, atol=1e-14)
            assert "a.n" not in a  # not a plain sum in the GRU
        else:
            np.testing.assert_allclose(tanh(a["a.h"]), c.h_new, rtol=0, atol=1e-14)


def test_dpreact_is_the_step_bias_gradient_for_one_sequence():
    """With N = 1 the bias gradient of a step is the gradient of its pre-activations, da = dh ⊙ (1 - h²)."""
    rng = np.random.default_rng(3)
    params = init_params("rnn", 2, 3, rng=rng)
    x = rng.standard_normal((1, 3, 2))
    states, caches = run_steps("rnn", params, x)
    dout = rng.standard_normal((1, 3, 3))
    steps = backward_steps("rnn", caches, dout)
    for s in steps:
        h = states[s["t"]][0]
        np.testing.assert_allclose(s["dparams"]["b_ih"], (s["dnew_state"]["h"] * (1 - h * h))[0], atol=1e-15)


def test_trace_rejects_empty_sizes():
    with pytest.raises(ValueError, match=r"trace: input_size, hidden_size, steps and batch must all be >= 1"):
        trace("rnn", steps=0)
    with pytest.raises(ValueError, match=r"unknown cell 'foo'"):
        trace("foo")


def test_every_registered_cell_has_named_cache_fields():
    """A new cell's cache must be named (a NamedTuple, or CellFacts.cache_fields) or its trace would be opaque."""
    for cell in cell_names("reference"):
        params = init_params(cell, 2, 3, rng=np.random.default_rng(0))
        _, caches = run_steps(cell, params, np.ones((1, 1, 2)))
        assert hasattr(caches[0], "_asdict") or facts(cell).cache_fields, cell
        q = cache_quantities(caches[0], cell)
        assert {"x", "h"} <= set(q), cell
        gates = gate_activations(cell, caches[0])
        for gate, name in facts(cell).gate_fields.items():  # minGRU's candidate "gate" h is h_tilde, not h
            np.testing.assert_array_equal(gates[gate], q[name])
    with pytest.raises(ValueError, match=r"the mingru cache has 2 entries, rnnkit.explain names 7"):
        cache_quantities((1, 2), "mingru")
    with pytest.raises(TypeError, match=r"cannot name the entries of a tuple cache for cell 'foo'"):
        cache_quantities((1, 2), "foo")
