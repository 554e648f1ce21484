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
- classic cells (rnn, lstm, gru) and the layer-norm LSTM have a hand-written step (``cell_steps.py``); any
  other registered cell runs the reference engine's ``step`` (pure NumPy) in float32, so every registered
  cell generates (the others - minGRU, minLSTM, IndRNN - have no matrix product on the state, so that is
  already fast).

An adaptive-softmax model (Grave et al. 2017) gets its full log-probability vector from the head and every
tail cluster (``_AdaptiveOut``); sampling treats it as logits (softmax of log-probabilities is the
distribution itself, so temperature, top-k and top-p act exactly as on logits).

A parity test checks the decoder's logits against the PyTorch model's full-sequence forward.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.layout import B_IH, W_IH
from rnnkit.tasks.lm.cell_steps import ClassicLayer, LayerNormLSTMLayer, ReferenceLayer

if TYPE_CHECKING:  # pragma: no cover
    from rnnkit.tasks.lm.model import RecurrentLM


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
            layers: list[ClassicLayer | LayerNormLSTMLayer | ReferenceLayer] = []
            for l, cell_mod in enumerate(model.rnn.cells):  # one direction: cells[l] is layer l's
                p = {k: v.detach().float().cpu().numpy().copy() for k, v in cell_mod.params().items()}
                layer: ClassicLayer | LayerNormLSTMLayer | ReferenceLayer
                if model.cell in self.CLASSIC:
                    layer = ClassicLayer(model.cell, p, cell_mod.options, first=(l == 0), H=cell_mod.hidden_size)
                elif model.cell == "layernorm_lstm":
                    layer = LayerNormLSTMLayer(p, H=cell_mod.hidden_size)
                else:
                    layer = ReferenceLayer(model.cell, p, cell_mod.options, H=cell_mod.hidden_size)
                layers.append(layer)
            self.layers = layers
            # layer 0 input projection of every token: E @ W_ih^T + b_ih   (V, G*H)
            p0 = model.rnn.cells[0].params()
            W0 = p0[W_IH].detach().float().cpu().numpy()
            b0 = p0[B_IH].detach().float().cpu().numpy() if B_IH in p0 else 0.0
            self.table: np.ndarray | None  # layer 0's input part of every token (V, G*H); None: none
            if model.cell in self.CLASSIC:
                self.table = np.ascontiguousarray(emb @ W0.T + b0, dtype=np.float32)
            elif isinstance(first := layers[0], LayerNormLSTMLayer):  # model.cell == "layernorm_lstm"
                self.table = first.input_table(emb)
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
        self.blas = blas_threads()
        self.threads: int | None = None  # BLAS threads inside step (None: NumPy's default)
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
            h = layer.step(x, xp, st)
            x, xp = h, None
        if self.adaptive is not None:
            return self.adaptive(h, self.logits)  # log-probabilities (V,)
        np.dot(self.W_out, h, out=self.logits)  # (V, H) @ (H,)
        self.logits += self.b_out
        return self.logits

    def feed(self, ids: np.ndarray) -> np.ndarray:
        """Feed a prompt; returns the logits after its last token."""
        if len(ids) == 0:
            raise ValueError("feed() needs at least one token")
        for t in ids:
            logits = self.step(int(t))
        return logits
