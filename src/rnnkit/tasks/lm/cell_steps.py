"""The batch-1 NumPy steps of ``FastDecoder`` (decoder.py): one object per layer, float32, preallocated buffers.

Each holds its layer's exported weights and advances the state in place: ``state0()``, and ``step(x, xp, state)
-> h``. Layer 0 of a classic or layer-norm cell gets ``xp``, its input part read from a per-token table
precomputed by the decoder, so it never multiplies by W_ih; every other layer gets ``x`` (D,), the output of the
layer below (or, on the reference path, the token's embedding). Hand-written: the classic cells (``ClassicLayer``:
rnn, lstm, and gru in both variants) and the layer-norm LSTM (``LayerNormLSTMLayer``); any other registered cell
runs the reference engine's pure ``step`` (``ReferenceLayer``). Row-vector convention and gate order as
docs/conventions.md; the decoder's parity test checks every registered cell against the PyTorch model.
"""

from __future__ import annotations

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions


def sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """σ(x) into ``out`` as 0.5 * (1 + tanh(x / 2)): one transcendental, and no overflow for large |x|."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


class ClassicLayer:
    """One exported layer: weights as contiguous float32, preallocated buffers, and a ``step``."""

    def __init__(self, cell: str, p: dict[str, np.ndarray], options: CellOptions, *, first: bool, H: int) -> None:
        self.cell, self.options, self.first, self.H = cell, options, first, H
        G_H = p[W_IH].shape[0]
        self.gates = np.empty(G_H, dtype=np.float32)  # (G*H,) pre-activations
        self.tmp = np.empty(G_H, dtype=np.float32)
        zero = np.zeros(G_H, dtype=np.float32)
        b_ih, b_hh = p.get(B_IH, zero), p.get(B_HH, zero)
        if cell in ("lstm", "rnn") and not first:
            # one product: [W_ih | W_hh] @ [x; h] + (b_ih + b_hh)   (G*H, D+H) @ (D+H,)
            self.W = np.ascontiguousarray(np.concatenate([p[W_IH], p[W_HH]], axis=1))
            self.b = (b_ih + b_hh).astype(np.float32)
            self.xh = np.zeros(self.W.shape[1], dtype=np.float32)
            self.D = p[W_IH].shape[1]
        else:
            self.W_ih = np.ascontiguousarray(p[W_IH])
            self.b_ih = b_ih.astype(np.float32)
            self.W_hh = np.ascontiguousarray(p[W_HH])
            self.b_hh = b_hh.astype(np.float32)
            self.b = (b_ih + b_hh).astype(np.float32)  # used when the input part is a table row
        self.act = np.tanh if options.nonlinearity == "tanh" else (lambda a, out: np.maximum(a, 0.0, out=out))

    def state0(self) -> list[np.ndarray]:
        n = 2 if self.cell == "lstm" else 1
        return [np.zeros(self.H, dtype=np.float32) for _ in range(n)]

    def step(self, x: np.ndarray | None, xp: np.ndarray | None, state: list[np.ndarray]) -> np.ndarray:
        """Advance ``state`` in place from input ``x`` (D,) or its projection ``xp`` (G*H,); returns h."""
        H, a = self.H, self.gates
        h = state[0]
        if self.cell == "gru":
            # r, z from x and h together; n keeps W_hn h + b_hn separate because r multiplies it
            if xp is not None:
                xpart = xp
            else:
                assert x is not None  # the decoder gives x or its projection xp
                xpart = np.add(np.dot(self.W_ih, x, out=self.tmp), self.b_ih, out=self.tmp)
            hh = np.dot(self.W_hh, h) if self.options.gru_variant == "torch" else None
            if hh is not None:
                hh += self.b_hh
                np.add(xpart[: 2 * H], hh[: 2 * H], out=a[: 2 * H])
                sigmoid(a[: 2 * H], a[: 2 * H])
                r, z = a[:H], a[H : 2 * H]
                n = np.tanh(xpart[2 * H :] + r * hh[2 * H :])  # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
            else:  # Cho et al. 2014: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
                np.add(xpart[: 2 * H], self.W_hh[: 2 * H] @ h + self.b_hh[: 2 * H], out=a[: 2 * H])
                sigmoid(a[: 2 * H], a[: 2 * H])
                r, z = a[:H], a[H : 2 * H]
                n = np.tanh(xpart[2 * H :] + self.W_hh[2 * H :] @ (r * h) + self.b_hh[2 * H :])
            h -= n  # h' = (1 - z) ⊙ n + z ⊙ h = n + z ⊙ (h - n)
            h *= z
            h += n
            return h
        if xp is not None:  # layer 0: the input part is a table row that already holds b_ih
            np.dot(self.W_hh, h, out=a)
            a += xp
            a += self.b_hh
        else:
            self.xh[: self.D] = x
            self.xh[self.D :] = h
            np.dot(self.W, self.xh, out=a)
            a += self.b
        if self.cell == "rnn":
            self.act(a, out=h)  # h' = f(W_ih x + b_ih + W_hh h + b_hh)
            return h
        c = state[1]
        sigmoid(a[: 2 * H], a[: 2 * H])  # i, f
        np.tanh(a[2 * H : 3 * H], out=a[2 * H : 3 * H])  # g
        sigmoid(a[3 * H :], a[3 * H :])  # o
        c *= a[H : 2 * H]  # c' = f ⊙ c + i ⊙ g
        np.multiply(a[:H], a[2 * H : 3 * H], out=self.tmp[:H])
        c += self.tmp[:H]
        np.tanh(c, out=h)  # h' = o ⊙ tanh(c')
        h *= a[3 * H :]
        return h


class LayerNormLSTMLayer:
    """Layer-norm LSTM (Ba et al. 2016 §3.1, eq. 20-22), batch 1; layer 0 reads a precomputed LN(W_ih x) table."""

    EPS = 1e-5  # as rnnkit.reference.cells.layernorm_lstm and torch.nn.LayerNorm

    def __init__(self, p: dict[str, np.ndarray], *, H: int) -> None:
        self.H, self.p = H, p
        self.W_ih, self.W_hh = np.ascontiguousarray(p[W_IH]), np.ascontiguousarray(p[W_HH])
        G_H = self.W_hh.shape[0]
        zero = np.zeros(G_H, dtype=np.float32)
        self.bias = p.get(B_IH, zero) + p.get(B_HH, zero)  # the LN shifts of the two products, summed
        self.a = np.empty(G_H, dtype=np.float32)
        self.xp = np.empty(G_H, dtype=np.float32)  # layers > 0: LN(W_ih x)

    @classmethod
    def ln(cls, v: np.ndarray) -> np.ndarray:
        """(..., F): zero mean, unit variance over the last axis (ε added to the variance)."""
        mu = v.mean(axis=-1, keepdims=True)
        return (v - mu) / np.sqrt(v.var(axis=-1, keepdims=True) + cls.EPS)

    @classmethod
    def ln_(cls, v: np.ndarray) -> np.ndarray:
        """``ln`` of one vector (F,) in place: three passes and no temporaries, for the batch-1 step."""
        v -= v.mean()
        v *= 1.0 / np.sqrt(np.dot(v, v) / v.size + cls.EPS)  # var = mean(d²) once d is centred
        return v

    def input_table(self, emb: np.ndarray) -> np.ndarray:
        """α_x ⊙ LN(W_ih e_v) for every token v: (V, 4H) (LN of the input product does not read the state)."""
        return np.ascontiguousarray(self.p["ln_ih_gain"] * self.ln(emb @ self.W_ih.T), dtype=np.float32)

    def state0(self) -> list[np.ndarray]:
        return [np.zeros(self.H, dtype=np.float32), np.zeros(self.H, dtype=np.float32)]

    def step(self, x: np.ndarray | None, xp: np.ndarray | None, state: list[np.ndarray]) -> np.ndarray:
        H, a, p = self.H, self.a, self.p
        h, c = state
        if xp is None:
            assert x is not None  # the decoder gives x or its projection xp
            xp = self.ln_(np.dot(self.W_ih, x, out=self.xp))
            xp *= p["ln_ih_gain"]
        self.ln_(np.dot(self.W_hh, h, out=a))  # eq. 20: the two products normalised apart
        a *= p["ln_hh_gain"]
        a += xp
        a += self.bias
        sigmoid(a[: 2 * H], a[: 2 * H])  # i, f
        np.tanh(a[2 * H : 3 * H], out=a[2 * H : 3 * H])  # g
        sigmoid(a[3 * H :], a[3 * H :])  # o
        c *= a[H : 2 * H]  # eq. 21: c' = f ⊙ c + i ⊙ g
        np.multiply(a[:H], a[2 * H : 3 * H], out=h)  # h is free until eq. 22 writes it: scratch for i ⊙ g
        c += h
        h[:] = c
        self.ln_(h)
        h *= p["ln_c_gain"]
        h += p["ln_c_shift"]
        np.tanh(h, out=h)  # eq. 22: h' = o ⊙ tanh(LN(c'))
        h *= a[3 * H :]
        return h


class ReferenceLayer:
    """Any registered cell without a hand-written step here: the reference engine's pure ``step`` in float32."""

    def __init__(self, cell: str, p: dict[str, np.ndarray], options: CellOptions, *, H: int) -> None:
        from rnnkit.registry import get_cell

        self.mod = get_cell(cell, engine="reference")
        self.p, self.options, self.H = p, options, H

    def state0(self) -> list[np.ndarray]:
        return [s.reshape(-1) for s in self.mod.init_state(1, self.H, dtype=np.float32)]

    def step(self, x: np.ndarray | None, xp: np.ndarray | None, state: list[np.ndarray]) -> np.ndarray:
        assert x is not None  # the decoder gives every reference layer its input x (no table)
        new, _ = self.mod.step(self.p, x[None, :], tuple(s[None, :] for s in state), self.options)
        for s, n in zip(state, new, strict=True):
            s[:] = n[0]
        return state[0]
