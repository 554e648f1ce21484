"""A fast incremental decoder for text generation: a ``RecurrentLM`` stepped one token at a time in NumPy.

Why a dedicated decoder: at batch 1 a recurrent language model does one matrix-vector product per layer
per token; calling a fused sequence kernel (``torch.nn.LSTM``) once per token pays its per-call setup
every step (~7.8 ms/token for a 2x512 LSTM here), and even eager torch cells pay ~5 us of dispatch per
elementwise op. ``FastDecoder`` exports the trained weights once to contiguous float32 NumPy arrays and
carries the state step by step with preallocated buffers:

- layer 0 never multiplies: ``E @ W_ih^T + b_ih`` is precomputed for every token, so the input
  projection of a token is a row lookup ``(V, G*H)``;
- for LSTM and Elman cells the input and recurrent products of layers > 0 are one product with the
  concatenated matrix ``[W_ih | W_hh] @ [x; h]``;
- classic cells (rnn, lstm, gru) and the layer-norm LSTM have a hand-written step here; any other registered
  cell runs the reference engine's ``step`` (pure NumPy) in float32, so every registered cell generates
  (the others - minGRU, minLSTM, IndRNN - have no matrix product on the state, so that is already fast).

An adaptive-softmax model (Grave et al. 2017) gets its full log-probability vector from the head and every
tail cluster (``_AdaptiveOut``); sampling treats it as logits (softmax of log-probabilities is the
distribution itself, so temperature, top-k and top-p act exactly as on logits).

A parity test checks the decoder's logits against the PyTorch model's full-sequence forward.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions

if TYPE_CHECKING:  # pragma: no cover
    from rnnkit.models.encoder import RecurrentLM


# ---- NumPy's BLAS thread count -----------------------------------------------------------------------------


class BlasThreads:
    """Get/set the thread count of the OpenBLAS that NumPy loaded (ctypes; ``available`` False elsewhere).

    Why: a batch-1 step is a few matrix-vector products. On idle cores two OpenBLAS threads run them ~2x
    faster than one, but when other processes keep the cores busy a two-thread product waits for a
    descheduled thread: measured here under load, a (2048, 1024) float32 mat-vec took 23 ms on 2 threads and
    0.4 ms on 1. ``FastDecoder`` measures both in the real process and keeps the faster.
    """

    _NAMES = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")

    def __init__(self) -> None:
        self._set = self._get = None
        try:
            import ctypes

            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
            for path in paths:
                lib = ctypes.CDLL(path)
                for name in self._NAMES:
                    if hasattr(lib, name) and hasattr(lib, name.replace("set", "get")):
                        self._set, self._get = getattr(lib, name), getattr(lib, name.replace("set", "get"))
                        self._set.argtypes, self._set.restype = [ctypes.c_int], None
                        self.default = int(self._get())
                        return
        except (OSError, ImportError):  # pragma: no cover - non-Linux or a NumPy without OpenBLAS
            pass

    @property
    def available(self) -> bool:
        return self._set is not None

    def get(self) -> int:
        return int(self._get()) if self._get is not None else 0

    def set(self, n: int) -> None:
        if self._set is not None:
            self._set(int(n))


_BLAS: BlasThreads | None = None


def blas_threads() -> BlasThreads:
    """The process-wide ``BlasThreads`` (found once)."""
    global _BLAS
    if _BLAS is None:
        _BLAS = BlasThreads()
    return _BLAS


# ---- NumPy steps for the classic cells (row-vector convention as docs/conventions.md, batch 1) ----------


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    # σ(x) = 0.5 * (1 + tanh(x / 2)): one transcendental, no overflow for large |x|
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


class _Layer:
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
            xpart = xp if xp is not None else np.add(np.dot(self.W_ih, x, out=self.tmp), self.b_ih, out=self.tmp)
            hh = np.dot(self.W_hh, h) if self.options.gru_variant == "torch" else None
            if hh is not None:
                hh += self.b_hh
                np.add(xpart[: 2 * H], hh[: 2 * H], out=a[: 2 * H])
                _sigmoid(a[: 2 * H], a[: 2 * H])
                r, z = a[:H], a[H : 2 * H]
                n = np.tanh(xpart[2 * H :] + r * hh[2 * H :])  # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
            else:  # Cho et al. 2014: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
                np.add(xpart[: 2 * H], self.W_hh[: 2 * H] @ h + self.b_hh[: 2 * H], out=a[: 2 * H])
                _sigmoid(a[: 2 * H], a[: 2 * H])
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
        _sigmoid(a[: 2 * H], a[: 2 * H])  # i, f
        np.tanh(a[2 * H : 3 * H], out=a[2 * H : 3 * H])  # g
        _sigmoid(a[3 * H :], a[3 * H :])  # o
        c *= a[H : 2 * H]  # c' = f ⊙ c + i ⊙ g
        np.multiply(a[:H], a[2 * H : 3 * H], out=self.tmp[:H])
        c += self.tmp[:H]
        np.tanh(c, out=h)  # h' = o ⊙ tanh(c')
        h *= a[3 * H :]
        return h


class _LayerNormLSTMLayer:
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
            xp = self.ln_(np.dot(self.W_ih, x, out=self.xp))
            xp *= p["ln_ih_gain"]
        self.ln_(np.dot(self.W_hh, h, out=a))  # eq. 20: the two products normalised apart
        a *= p["ln_hh_gain"]
        a += xp
        a += self.bias
        _sigmoid(a[: 2 * H], a[: 2 * H])  # i, f
        np.tanh(a[2 * H : 3 * H], out=a[2 * H : 3 * H])  # g
        _sigmoid(a[3 * H :], a[3 * H :])  # o
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


class _ReferenceLayer:
    """Any registered cell without a hand-written step here: the reference engine's pure ``step`` in float32."""

    def __init__(self, cell: str, p: dict[str, np.ndarray], options: CellOptions, *, H: int) -> None:
        from rnnkit.registry import get_cell

        self.mod = get_cell(cell, engine="reference")
        self.p, self.options, self.H = p, options, H

    def state0(self) -> list[np.ndarray]:
        return [s.reshape(-1) for s in self.mod.init_state(1, self.H, dtype=np.float32)]

    def step(self, x: np.ndarray | None, xp: np.ndarray | None, state: list[np.ndarray]) -> np.ndarray:
        new, _ = self.mod.step(self.p, x[None, :], tuple(s[None, :] for s in state), self.options)
        for s, n in zip(state, new, strict=True):
            s[:] = n[0]
        return state[0]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax of a vector, shifted by its max (no overflow)."""
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


class _AdaptiveOut:
    """Full log-probabilities (V,) of a ``torch.nn.AdaptiveLogSoftmaxWithLoss`` head at batch 1 (Grave et al. 2017 §4).

    head = log_softmax(W_head h + b)                       (c_0 + K,): shortlist words, then K clusters
    log p(w) = head[w]                                     w < c_0
    log p(w) = head[c_0 + i] + log_softmax(W2_i W1_i h)[w - c_i]    c_i <= w < c_{i+1}
    """

    def __init__(self, asm) -> None:  # asm: torch.nn.AdaptiveLogSoftmaxWithLoss
        def np32(t):
            return np.ascontiguousarray(t.detach().float().cpu().numpy())

        self.W_head = np32(asm.head.weight)  # (c_0 + K, H)
        self.b_head = np32(asm.head.bias) if asm.head.bias is not None else np.zeros(len(self.W_head), np.float32)
        self.tails = [(np32(i2h.weight), np32(h2o.weight)) for i2h, h2o in asm.tail]  # (H/div^(i+1), H), (n_i, .)
        self.cutoffs = list(asm.cutoffs)  # [c_0, ..., c_{K-1}, V]
        self.vocab_size = asm.n_classes

    def __call__(self, h: np.ndarray, out: np.ndarray) -> np.ndarray:
        c0 = self.cutoffs[0]
        head = _log_softmax(self.W_head @ h + self.b_head)
        out[:c0] = head[:c0]
        for i, (W1, W2) in enumerate(self.tails):
            lo, hi = self.cutoffs[i], self.cutoffs[i + 1]
            out[lo:hi] = _log_softmax(W2 @ (W1 @ h))
            out[lo:hi] += head[c0 + i]  # log p(cluster i) + log p(w | cluster i)
        return out


class FastDecoder:
    """Incremental batch-1 decoding of a ``RecurrentLM`` in NumPy float32: ``step(token) -> logits (V,)``.

    For an adaptive-softmax model ``step`` returns the log-probabilities (V,) instead, usable as logits.

    Weights are copied out once at construction (later training does not affect it). The state is carried
    across calls; ``reset()`` zeroes it. ``calibrate`` picks the faster BLAS thread count in this process
    (see ``BlasThreads``); the choice applies inside ``step`` only.
    """

    CLASSIC = ("rnn", "lstm", "gru")

    def __init__(self, model: RecurrentLM, *, calibrate: bool = True) -> None:
        import torch

        if model.bidirectional:
            raise ValueError("a bidirectional model cannot generate left to right; train it with bidirectional=False")
        with torch.no_grad():
            emb = model.embedding.weight.detach().float().cpu().numpy()  # (V, E)
            layers = []
            for l, mod in enumerate(model.rnn.layers):
                cell_mod = mod["fwd"]
                p = {k: v.detach().float().cpu().numpy().copy() for k, v in cell_mod.params().items()}
                if model.cell in self.CLASSIC:
                    layer = _Layer(model.cell, p, cell_mod.options, first=(l == 0), H=cell_mod.hidden_size)
                elif model.cell == "layernorm_lstm":
                    layer = _LayerNormLSTMLayer(p, H=cell_mod.hidden_size)
                else:
                    layer = _ReferenceLayer(model.cell, p, cell_mod.options, H=cell_mod.hidden_size)
                layers.append(layer)
            self.layers = layers
            # layer 0 input projection of every token: E @ W_ih^T + b_ih   (V, G*H)
            p0 = model.rnn.layers[0]["fwd"].params()
            W0 = p0[W_IH].detach().float().cpu().numpy()
            b0 = p0[B_IH].detach().float().cpu().numpy() if B_IH in p0 else 0.0
            if model.cell in self.CLASSIC:
                self.table = np.ascontiguousarray(emb @ W0.T + b0, dtype=np.float32)
            elif model.cell == "layernorm_lstm":
                self.table = layers[0].input_table(emb)
            else:
                self.table = None
            self.emb = np.ascontiguousarray(emb)
            self.adaptive = _AdaptiveOut(model.head) if getattr(model, "adaptive", False) else None
            if self.adaptive is None:
                W_out, b_out = model.head_weight()
                self.W_out = np.ascontiguousarray(W_out.detach().float().cpu().numpy())  # (V, H)
                self.b_out = b_out.detach().float().cpu().numpy().copy() if b_out is not None else np.zeros(len(emb))
        self.vocab_size = self.adaptive.vocab_size if self.adaptive is not None else self.W_out.shape[0]
        self.logits = np.empty(self.vocab_size, dtype=np.float32)
        self.blas, self.threads = blas_threads(), None
        self.reset()
        if calibrate:
            self.calibrate()

    def calibrate(self, steps: int = 4, rounds: int = 3) -> int | None:
        """Time steps with 1 BLAS thread and with NumPy's default, interleaved ``rounds`` times; keep the faster
        (median over rounds, so one noisy round does not decide), then reset the state.

        Returns the thread count chosen (None when NumPy's BLAS cannot be controlled).
        """
        if not self.blas.available or self.blas.default <= 1:
            return None
        options = (1, self.blas.default)
        times: dict[int, list[float]] = {n: [] for n in options}
        for _ in range(rounds):
            for n in options:
                self.threads = n
                self.step(0)  # warm-up: thread wake-up, caches
                t0 = time.perf_counter()
                for _ in range(steps):
                    self.step(0)
                times[n].append(time.perf_counter() - t0)
        self.threads = min(options, key=lambda n: sorted(times[n])[len(times[n]) // 2])
        self.reset()
        return self.threads

    def reset(self) -> None:
        """Zero state (the start of a stream)."""
        self.state = [layer.state0() for layer in self.layers]

    def step(self, token: int) -> np.ndarray:
        """Feed one token id; returns the next-token logits (V,) float32 (a buffer reused by the next call)."""
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token id {token} is outside the vocabulary of {self.vocab_size}")
        if self.threads is None or self.threads == self.blas.default:
            return self._step(token)
        self.blas.set(self.threads)  # only for this step: other NumPy work in the process keeps its threads
        try:
            return self._step(token)
        finally:
            self.blas.set(self.blas.default)

    def _step(self, token: int) -> np.ndarray:
        x = None
        xp = self.table[token] if self.table is not None else None
        if xp is None:
            x = self.emb[token]
        for layer, st in zip(self.layers, self.state, strict=True):
            x = layer.step(x, xp, st)
            xp = None
        if self.adaptive is not None:
            return self.adaptive(x, self.logits)  # log-probabilities (V,)
        np.dot(self.W_out, x, out=self.logits)  # (V, H) @ (H,)
        self.logits += self.b_out
        return self.logits

    def feed(self, ids: np.ndarray) -> np.ndarray:
        """Feed a prompt; returns the logits after its last token."""
        if len(ids) == 0:
            raise ValueError("feed() needs at least one token")
        for t in ids:
            logits = self.step(int(t))
        return logits
