"""Text generation: sampling (temperature, top-k, top-p) and streaming a model's continuation of a prompt.

The per-token work runs in ``rnnkit.tasks.lm.decoder.FastDecoder`` (a NumPy batch-1 decoder, parity-tested against the
PyTorch model); this module chooses the next token from its logits.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from rnnkit.tasks.lm.decoder import FastDecoder

if TYPE_CHECKING:  # pragma: no cover
    from rnnkit.data.text import Vocab
    from rnnkit.tasks.lm.model import RecurrentLM


# ---- sampling ----------------------------------------------------------------------------------------


def check_sampling(*, temperature: float, top_k: int | None = None, top_p: float | None = None) -> None:
    """Refuse sampling options outside their range (ValueError naming the option and what is allowed)."""
    if not (isinstance(temperature, numbers.Real) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"--temperature must be a finite number >= 0 (0 = greedy, 1 = the model's own), got {temperature}"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1):
        raise ValueError(f"--top-k must be an integer >= 1 (or none for no limit), got {top_k}")
    if top_p is not None and not (isinstance(top_p, numbers.Real) and 0.0 < top_p <= 1.0):  # also NaN
        raise ValueError(f"--top-p must be in (0, 1] (or none for no limit), got {top_p}")


def next_token_probs(
    logits: np.ndarray, *, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """The distribution to sample the next token from, (V,) float64 summing to 1.

    Order as in common practice (Hugging Face, nanoGPT): divide logits by ``temperature``, keep the
    ``top_k`` largest, then keep the smallest set of most probable tokens whose total probability reaches
    ``top_p`` (nucleus sampling, Holtzman et al. 2020 §3.1), renormalise. ``temperature == 0`` is greedy
    (all mass on the argmax). Ties at the k-th value are broken by token id (lower id kept).
    """
    check_sampling(temperature=temperature, top_k=top_k, top_p=top_p)
    z = np.asarray(logits, dtype=np.float64).reshape(-1)  # (V,)
    V = z.shape[0]
    if temperature == 0:
        p = np.zeros(V)
        p[int(np.argmax(z))] = 1.0
        return p
    z = z / temperature
    keep = np.ones(V, dtype=bool)
    if top_k is not None and top_k < V:
        order = np.argsort(-z, kind="stable")  # descending, ties by id
        keep[:] = False
        keep[order[:top_k]] = True
    z = np.where(keep, z, -np.inf)
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        # keep token j of the sorted list while the mass before it is < top_p: the smallest prefix reaching p
        n_keep = int(np.searchsorted(cum, top_p, side="left")) + 1
        mask = np.zeros(V, dtype=bool)
        mask[order[:n_keep]] = True
        p = np.where(mask, p, 0.0)
        p /= p.sum()
    return p


def sample(p: np.ndarray, rng: np.random.Generator) -> int:
    """One draw from the distribution ``p`` (V,): inverse CDF with a single uniform, so a seed fixes the text."""
    cum = np.cumsum(p)
    return int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), len(p) - 1))


def generate(
    model: RecurrentLM,
    vocab: Vocab,
    *,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    strict: bool = False,
) -> Iterator[str]:
    """Stream the continuation of ``prompt`` piece by piece (one token each) as it is produced.

    An empty prompt starts from a line break (``<eos>`` at word level, ``"\\n"`` at char level if the
    vocabulary has it). Prompt tokens outside the vocabulary are read as ``<unk>`` with a warning, or raise
    ValueError with ``strict=True``. ``<unk>`` is never generated. ``seed`` fixes the text (NumPy PCG64 stream).
    """
    from rnnkit.data.text import EOS

    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    next_token_probs(np.zeros(1), temperature=temperature, top_k=top_k, top_p=top_p)  # validate options early
    if prompt:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            ids = vocab.encode(prompt, unknown="error" if strict else "unk", where="prompt")
        if len(ids) == 0:
            raise ValueError(f"prompt {prompt!r} has no tokens at the {vocab.level} level")
    else:
        start = EOS if vocab.level == "word" else "\n"
        ids = np.array([vocab.stoi.get(start, 0)])
    was_training = model.training
    model.eval()
    try:
        dec = FastDecoder(model)
    finally:
        model.train(was_training)
    if dec.vocab_size != len(vocab):
        raise ValueError(
            f"the model predicts {dec.vocab_size} tokens but the vocabulary has {len(vocab)}: load the vocab.json "
            f"saved with this model's run"
        )
    rng = np.random.default_rng(seed)
    logits = dec.feed(ids)
    first = not prompt or prompt[-1:].isspace()
    for _ in range(length):
        logits[vocab.unk_id] = -np.inf  # never emit <unk>: it stands for "some unseen token", not text
        tok = sample(next_token_probs(logits, temperature=temperature, top_k=top_k, top_p=top_p), rng)
        yield vocab.decode_one(tok, first=first)
        first = vocab.level == "word" and tok == vocab.stoi.get(EOS)
        logits = dec.step(tok)
