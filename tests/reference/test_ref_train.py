"""A tiny model trained end to end with the reference engine alone learns: the loss falls more than 10x.

Embedding -> LSTM -> linear predicts the next token of the stream 0 1 0 2 0 1 0 2 ...: after a 0 the
answer (1 or 2) depends on the token before it, so the model must use its recurrent state. Training is the
classic truncated-BPTT loop: the token stream is cut into chunks, the state is carried from one chunk to the
next and the gradient stops at chunk boundaries (each chunk's backward only walks its own cache).
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.reference import layers, losses, optim, sequence
from rnnkit.reference.gradcheck import stacked_params

PATTERN = [0, 1, 0, 2]


def test_tiny_lstm_language_model_learns_with_truncated_bptt():
    rng = np.random.default_rng(0)
    V, E, H, N, T, K = 3, 4, 8, 4, 64, 8  # vocabulary, embedding, hidden, streams, stream length, chunk
    stream = np.array([[PATTERN[(t + n) % 4] for t in range(T + 1)] for n in range(N)])  # (N, T+1), 4 phases
    ids, targets = stream[:, :-1], stream[:, 1:]  # predict the next token
    params = {"emb": layers.init_embedding(V, E, rng=rng)}
    params.update(stacked_params("lstm", E, H, rng=rng))
    head = layers.init_linear(H, V, rng=rng)
    params.update({"head.weight": head["weight"], "head.bias": head["bias"]})
    opt = optim.Adam(params, lr=0.03)

    def chunk_step(x_ids, y, state):
        """Forward, loss and backward of one chunk from the carried ``state``; returns loss, grads, new state."""
        emb, ecache = layers.embedding(params["emb"], x_ids)  # (N, K, E)
        out, final, rcache = sequence.forward(params, emb, state, cell="lstm")  # (N, K, H)
        logits, lcache = layers.linear(out, params["head.weight"], params["head.bias"])  # (N, K, V)
        loss, ccache = losses.cross_entropy(logits, y)
        dout, grads["head.weight"], grads["head.bias"] = layers.linear_backward(
            losses.cross_entropy_backward(ccache), lcache
        )
        demb, _, rgrads = sequence.backward(dout, None, rcache)  # BPTT inside the chunk only
        grads.update(rgrads)
        grads["emb"] = layers.embedding_backward(demb, ecache)
        return loss, final

    grads: dict[str, np.ndarray] = {}
    first_loss, epoch_losses = None, []
    for _ in range(25):
        state, epoch = None, []  # a new pass over the stream starts from a zero state
        for s in range(0, T, K):
            loss, state = chunk_step(ids[:, s : s + K], targets[:, s : s + K], state)
            first_loss = loss if first_loss is None else first_loss
            optim.clip_grad_norm(grads, 5.0)
            opt.step(grads)
            epoch.append(loss)
        epoch_losses.append(float(np.mean(epoch)))
    assert abs(first_loss - math.log(V)) < 0.3, "an untrained model should be near chance, log V"
    assert epoch_losses[-1] < first_loss / 10, f"loss did not fall 10x: {first_loss:.3f} -> {epoch_losses}"
