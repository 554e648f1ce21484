"""Language modelling: next-token prediction on a char or word stream, trained through ``rnnkit.train.fit``.

The task is thin: it composes the text data (``data.py``: read, split, encode, TBPTT streams), the model
(``model.py``: ``RecurrentLM``), the loss and the metrics, and hands them to ``fit``; its configuration is
``config.py``. Metrics, all from the summed negative log-likelihood over a token stream:

    loss = -(1/T) Σ_t log p(x_t | x_<t)    nats per token
    bits per char (bpc) = loss / ln 2      (char level)
    perplexity (ppl)    = exp(loss)         (word level, Mikolov et al. 2010)

Both training and evaluation take the loss from ``RecurrentLM.nll`` (through ``model(x, state, targets=y)``),
so an adaptive-softmax model (``model.adaptive_cutoffs``) scores only each target's cluster.

``evaluate`` runs the whole split as one stream per column with the recurrent state carried from chunk to
chunk (batch size 1 by default: the exact sequential likelihood of the split, the number papers report),
never an average over chunks that each start from a zero state.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.config import ConfigError
from rnnkit.data.streams import as_long, columns
from rnnkit.data.text import VOCAB_FILE, EncodedText, Vocab, read_text
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.lm.config import LMConfig, LMDataConfig, LMModelConfig  # noqa: F401 - their home was here
from rnnkit.tasks.lm.data import AUTO_PREPARE_BYTES, cache_root, load_text, token_streams  # noqa: F401 - as above
from rnnkit.tasks.lm.model import RecurrentLM, check_adaptive
from rnnkit.tasks.lm.progress import eval_progress
from rnnkit.train import StepOutput
from rnnkit.train.budget import TIME_DECAYS, TimeBudget  # noqa: F401 - their home was here; importable as before

# ---- metrics -----------------------------------------------------------------------------------------------


def lm_metrics(nats: float, *, level: str) -> dict[str, float]:
    """loss (nats/token), bits per token (``bpc`` at char level) and perplexity from a mean NLL in nats."""
    out = {"loss": nats, "ppl": math.exp(min(nats, 700.0))}
    out["bpc" if level == "char" else "bits"] = nats / math.log(2)
    return out


@torch.no_grad()
def stream_nll(
    model: RecurrentLM,
    ids: np.ndarray | Tensor,
    *,
    batch_size: int = 1,
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
) -> tuple[float, int]:
    """Summed NLL (nats) and token count of predicting ``ids[1:]`` from the prefix, state carried throughout.

    The stream is cut into ``batch_size`` contiguous columns (the last ``len % batch_size`` tokens are
    dropped, as batchify does; none with batch_size=1); each column is read in chunks of ``chunk`` steps and
    the final state of one chunk starts the next, so every prediction sees its whole column's history.
    ``progress(n)`` is called with the tokens each chunk scored.
    """
    cols = columns(ids, batch_size)  # (N, L) view: row n is a contiguous piece of the stream (no copy)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        L = cols.shape[1]
        for s in range(0, L - 1, chunk):
            e = min(s + chunk, L - 1)
            x, y = as_long(cols[:, s:e]), as_long(cols[:, s + 1 : e + 1])  # (N, t) inputs and next-token targets
            nll, state = model(x, state, targets=y)  # (N, t) nats, state carried to the next chunk
            total += float(nll.sum())
            count += y.numel()
            if progress is not None:
                progress(y.numel())
    finally:
        model.train(was_training)
    return total, count


# ---- the task ----------------------------------------------------------------------------------------------


def _lm_step(model: torch.nn.Module, batch: Any, state: Any):
    """fit's step: mean cross-entropy (nats/token) of next-token prediction; the state is carried (TBPTT)."""
    x, y = batch[0], batch[1]  # (N, T) inputs, (N, T) targets shifted by one
    nll, state = model(x, state, targets=y)  # (N, T): RecurrentLM.nll via __call__, so a DDP wrapper sees it
    return StepOutput(nll.mean(), state, y.numel())


class LanguageModel(Task):
    """Build, train (through ``fit``), evaluate and sample a recurrent language model.

    >>> lm = LanguageModel(LMConfig(data=LMDataConfig(path="input.txt")))   # doctest: +SKIP
    >>> lm.fit_and_test(); lm.evaluate("valid"); "".join(lm.generate("ROMEO:", length=200))  # doctest: +SKIP
    """

    name = "lm"
    Config = LMConfig
    model: RecurrentLM | None  # build_model's network (fit and load set it)
    legacy_task_files = (VOCAB_FILE,)  # runs written before task.json held the vocabulary alone in vocab.json

    def __init__(self, config: LMConfig | None = None, *, vocab: Vocab | None = None) -> None:
        super().__init__(config)
        self.vocab = vocab
        self._data: EncodedText | None = None

    # -- data and model ---------------------------------------------------------------------------------

    def data(self) -> EncodedText:
        """The encoded splits (vocabulary built on the training split, or the run's saved vocabulary)."""
        if self._data is None:
            self._data = load_text(self.config.data, vocab=self.vocab, quiet=self.config.train.quiet)
            self.vocab = self._data.vocab
        return self._data

    def _vocab(self) -> Vocab:
        """The vocabulary: given, built by ``data`` (``fit``), or read by ``load``."""
        assert self.vocab is not None, "given, or set by data() (fit) or load_state_dict (load)"
        return self.vocab

    def load_data(self) -> Splits:
        e = self.data()
        return Splits(e.train, e.valid, e.test)

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,}"  # noqa: E731
        unit = "characters" if self.config.data.level == "char" else "words"
        return (
            f"{self.data().source}: {n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test "
            f"{unit}; vocabulary {len(self._vocab())}"
        )

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.lm.onnx import lm_spec

        return lm_spec(self, model)

    def state_dict(self) -> dict[str, Any]:
        return {"vocab": self._vocab().to_json()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.vocab = Vocab.from_json(state.get("vocab", state))  # vocab.json of older runs is the vocabulary itself

    def build_model(self) -> RecurrentLM:
        """A fresh model for the current vocabulary (seeded by ``train.seed`` when called from ``fit``)."""
        vocab = self.vocab if self.vocab is not None else self.data().vocab
        m = self.config.model
        if m.adaptive_cutoffs:  # V is known only now: check the cutoffs against it
            if vocab.level != "word":
                raise ConfigError(
                    "config model.adaptive_cutoffs: needs data.level=word - the adaptive softmax relies on ids ranked "
                    "by frequency (char vocabularies are in code-point order, and small enough for a full softmax)"
                )
            try:
                check_adaptive(
                    m.adaptive_cutoffs, len(vocab), hidden_size=m.hidden_size, div_value=m.adaptive_div_value
                )
            except ValueError as e:
                raise ConfigError(f"config model.adaptive_cutoffs: {e}") from None
        return RecurrentLM.from_config(m, len(vocab))

    def make_batches(self, train: np.ndarray, val: np.ndarray | None) -> tuple[Any, Any]:
        """Training and validation token streams (batchified columns, TBPTT chunks of ``data.bptt``)."""
        return token_streams(train, val, self.config.data)

    def streams(self) -> tuple[Any, Any]:
        """The configured data's training and validation streams."""
        return self.make_batches(self.data().train, self.data().valid)

    step = staticmethod(_lm_step)

    # -- evaluation and generation ------------------------------------------------------------------------

    def test_report(self, splits: Splits) -> dict[str, Any]:
        """Run facts and the exact likelihood of the validation and test splits (what RESULTS.md reports)."""
        r = self.fit_result
        out: dict[str, Any] = {
            "train_seconds": round(getattr(self, "train_seconds", 0.0), 1),
            "steps": r.step if r else None,
            "epochs": r.epoch if r else None,
            "stop_reason": r.stop_reason if r else "",
            "parameters": sum(p.numel() for p in self.require_model().parameters()),
            "vocab_size": len(self._vocab()),
        }
        for split in ("valid", "test"):
            if getattr(self.data(), split) is not None:
                out[split] = self.evaluate(split)
        return out

    def evaluate(self, data: str | np.ndarray = "valid", *, batch_size: int | None = None) -> dict[str, float]:
        """loss (nats/token), bpc or bits, ppl and token count over a whole split (its name, or ids) with the
        state carried."""
        model = self.require_model()
        if isinstance(data, str):
            ids = getattr(self.data(), data, None) if data in ("train", "valid", "test") else None
            if ids is None:
                have = [s for s in ("train", "valid", "test") if getattr(self.data(), s) is not None]
                raise ValueError(
                    f"split {data!r} is not available for {self.data().source}; available: {', '.join(have)}"
                )
        else:
            ids = data
        t0 = time.monotonic()
        rows = batch_size or self.config.final_eval_batch_size
        name = f"eval {data if isinstance(data, str) else 'data'}"
        with (
            eval_progress(name, (len(ids) // rows - 1) * rows, quiet=self.config.train.quiet) as advance,
            self.inference(model),  # no gradients, at inference_precision
        ):
            total, count = stream_nll(model, ids, batch_size=rows, progress=advance)
        out = lm_metrics(total / count, level=self.config.data.level)
        out.update(tokens=count, seconds=round(time.monotonic() - t0, 2))
        return out

    def generate(self, prompt: str = "", **kwargs: Any) -> Iterator[str]:
        """Stream text continuing ``prompt``; keyword arguments as ``generate.generate`` (generate.py). Generation
        runs in the float32 NumPy decoder (``FastDecoder``) whatever ``inference_precision`` says (bf16: a warning)."""
        from rnnkit.tasks.lm.generate import generate

        if self.inference_precision != "fp32":
            warnings.warn(
                f"precision {self.inference_precision!r} does not apply to generation: the language model "
                "generates with its float32 NumPy decoder (it applies to eval)",
                stacklevel=2,
            )
        return generate(self.require_model(), self._vocab(), prompt=prompt, **kwargs)

    def eval_data(self, path: Path | None) -> Any:
        return read_text(path) if path is not None else self.data()

    def predict(self, prompts: Sequence[str], *, length: int = 200, **kwargs: Any) -> list[str]:
        """Each prompt's sampled continuation (the prompt not repeated); keyword arguments as ``generate``."""
        return ["".join(self.generate(p, length=length, **kwargs)) for p in prompts]
