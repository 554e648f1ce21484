"""Golden numbers: 1-unit cells with constant per-gate initialisers pin the forward (and one backward).

How the numbers were produced: an independent scalar script using only Python's ``math`` module (no NumPy,
no rnnkit), with D = H = N = 1, every entry of gate block k of W_ih equal to W[k], of W_hh equal to U[k],
b_ih = 0.1 and b_hh = 0.05 everywhere, zero initial state, inputs x = (1.0, -0.5, 2.0)::

    s = lambda a: 1 / (1 + math.exp(-a))
    h = c = 0
    for x in xs:                                        # LSTM, gate order i, f, g, o
        a = [W[k] * x + 0.1 + U[k] * h + 0.05 for k in range(4)]
        i, f, g, o = s(a[0]), s(a[1]), math.tanh(a[2]), s(a[3])
        c = f * c + i * g; h = o * math.tanh(c)
    # GRU torch: n = tanh(W[2] x + 0.1 + r (U[2] h + 0.05)); paper: n = tanh(W[2] x + 0.1 + U[2] (r h) + 0.05)
    # h = (1 - z) n + z h

Distinct per-gate constants make the numbers change if two gate blocks are swapped. The backward golden is
the Elman derivative written out by hand for T = 2, h0 = 0 (see the test).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layout import CellOptions, layout
from rnnkit.reference import sequence

W = (0.5, -0.3, 0.8, 0.2)  # W_ih value per gate block
U = (-0.25, 0.4, 0.1, -0.6)  # W_hh value per gate block
XS = np.array([1.0, -0.5, 2.0]).reshape(1, 3, 1)  # (N, T, D)


def constant_params(cell: str) -> dict[str, np.ndarray]:
    G = layout(cell).G
    return {
        "layers.0.fwd.W_ih": np.array(W[:G]).reshape(G, 1),
        "layers.0.fwd.W_hh": np.array(U[:G]).reshape(G, 1),
        "layers.0.fwd.b_ih": np.full(G, 0.1),
        "layers.0.fwd.b_hh": np.full(G, 0.05),
    }


# (cell, options, final h, final c or None), from the scalar script above.
GOLDEN = [
    ("rnn", CellOptions(), 0.8365481709258972, None),
    ("rnn", CellOptions(nonlinearity="relu"), 1.1500000000000001, None),  # a_2 = -0.2625, so h_2 = 0 on the way
    ("lstm", CellOptions(), 0.4085233482812053, 0.7878202698831148),
    ("gru", CellOptions(), 0.6192911735334121, None),
    ("gru", CellOptions(gru_variant="paper"), 0.6244190181150986, None),
]


@pytest.mark.parametrize(("cell", "options", "h", "c"), GOLDEN, ids=lambda v: str(v)[:30])
def test_golden_forward(cell, options, h, c):
    out, final, _ = sequence.forward(constant_params(cell), XS, cell=cell, options=options)
    # 1e-13: float64 rounding of ~10 operations, both sides computed in double precision
    np.testing.assert_allclose(final[0][0, 0, 0], h, rtol=1e-13)
    np.testing.assert_allclose(out[0, -1, 0], h, rtol=1e-13)
    if c is not None:
        np.testing.assert_allclose(final[1][0, 0, 0], c, rtol=1e-13)


def test_golden_elman_backward():
    """L = h_2 of a 1-unit Elman tanh net, T = 2, h_0 = 0. By hand, with a_t = w x_t + u h_{t-1} + b:
    dL/du = (1 - h_2^2) h_1,  dL/dw = (1 - h_2^2)(x_2 + u (1 - h_1^2) x_1),
    dL/db = (1 - h_2^2)(1 + u (1 - h_1^2)) for each of b_ih and b_hh,  dL/dx_1 = (1 - h_2^2) u (1 - h_1^2) w."""
    params = {k: v[:1] for k, v in constant_params("rnn").items()}
    x = XS[:, :2]
    out, final, cache = sequence.forward(params, x, cell="rnn")
    dout = np.zeros_like(out)
    dout[0, -1, 0] = 1.0  # L = h_2
    dx, _, dp = sequence.backward(dout, None, cache)
    np.testing.assert_allclose(out[0, -1, 0], -0.2382495422659401, rtol=1e-13)
    np.testing.assert_allclose(dp["layers.0.fwd.W_hh"][0, 0], 0.5392203527578313, rtol=1e-13)
    np.testing.assert_allclose(dp["layers.0.fwd.W_ih"][0, 0], -0.6303638465141839, rtol=1e-13)
    np.testing.assert_allclose(dp["layers.0.fwd.b_ih"][0], 0.7844918869009212, rtol=1e-13)
    np.testing.assert_allclose(dp["layers.0.fwd.b_hh"][0], 0.7844918869009212, rtol=1e-13)
    np.testing.assert_allclose(dx[0, 0, 0], -0.07937263435457446, rtol=1e-12)  # smaller value, 1 more ulp room
