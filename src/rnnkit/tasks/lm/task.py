"""Language modelling: next-token prediction on a char or word stream, trained through ``rnnkit.train.fit``.

The task is thin: it composes the text data (``rnnkit.data.text``), the token streams with truncated BPTT
(``rnnkit.data.streams``), the model (``rnnkit.models.encoder.RecurrentLM``), the loss and the metrics, and
hands them to ``fit``. Metrics, all from the summed negative log-likelihood over a token stream:

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

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from rnnkit.data.sources import DataError
from rnnkit.data.streams import as_long, columns
from rnnkit.data.text import LEVELS, VOCAB_FILE, EncodedText, Vocab, encode_splits, load_splits, read_text
from rnnkit.models.encoder import RecurrentLM, check_adaptive
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.lm.progress import eval_progress
from rnnkit.train import StepOutput
from rnnkit.train.budget import TIME_DECAYS, TimeBudget  # noqa: F401 - their home was here; importable as before

AUTO_PREPARE_BYTES = 64 << 20  # `--data FILE` at least this large trains from a prepared, memory-mapped cache


def cache_root() -> Path:
    """Where ``lm train --data BIG`` keeps prepared corpora: ``$RNNKIT_CACHE/lm``, else ``~/.cache/rnnkit/lm``."""
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit") / "lm"


# ---- configuration -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LMModelConfig(ModelConfig):
    """The recurrent stack plus the embedding and the LM-specific regularisers (see models/encoder.py)."""

    embedding_dim: int = 128
    locked_dropout: bool = False  # one dropout mask per sequence on embeddings/outputs (Gal & Ghahramani 2016)
    embed_dropout: float = 0.0  # drop whole embedding rows (Merity et al. 2017 §4.3)
    tie_weights: bool = False  # output matrix = embedding matrix (Press & Wolf 2017)
    # adaptive softmax (Grave et al. 2017): shortlist [0, c0), clusters [c0, c1), ..., [c_last, V); () = full
    # softmax. Word ids are ranked by frequency (Vocab.build), which is what makes the shortlist the frequent words.
    adaptive_cutoffs: tuple[int, ...] = ()
    adaptive_div_value: float = 4.0  # cluster i projects H -> H / div^(i+1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embedding_dim <= 0:
            raise ConfigError(f"config model.embedding_dim: must be > 0, got {self.embedding_dim}")
        if not 0.0 <= self.embed_dropout < 1.0:
            raise ConfigError(f"config model.embed_dropout: is a probability in [0, 1), got {self.embed_dropout}")
        if self.bidirectional:
            raise ConfigError("config model.bidirectional: a language model reads left to right; set it to false")
        c = self.adaptive_cutoffs
        if any(b <= a for a, b in pairwise(c)) or any(x <= 0 for x in c):
            raise ConfigError(
                f"config model.adaptive_cutoffs: must be strictly increasing positive token ids, e.g. [2000, 6000] "
                f"(empty = full softmax), got {list(c)}"
            )
        if c and self.tie_weights:
            raise ConfigError(
                "config model.adaptive_cutoffs: the adaptive softmax cannot be tied to the embedding; set "
                "model.tie_weights=false or model.adaptive_cutoffs=[]"
            )
        if self.adaptive_div_value < 1.0:
            raise ConfigError(f"config model.adaptive_div_value: must be >= 1, got {self.adaptive_div_value}")


@dataclass(frozen=True)
class LMDataConfig(DataConfig):
    """Text source and batching: ``path`` (any UTF-8 file) or ``dataset`` ('tiny-shakespeare', 'ptb')."""

    level: str = "char"  # "char" | "word"
    bptt: int = 128  # truncated-BPTT chunk length (time steps per batch)
    test_fraction: float = 0.0  # files given by path: the last fraction is a test split
    max_vocab: int = 0  # keep the most frequent tokens (counting <unk>); 0: no limit
    eval_tokens: int = 0  # periodic validation on the first N validation tokens (nanoGPT's eval_iters); 0: all

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.level not in LEVELS:
            raise ConfigError(f"config data.level: must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if self.bptt <= 0:
            raise ConfigError(f"config data.bptt: must be > 0, got {self.bptt}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"config data.test_fraction: must be in [0, 1), got {self.test_fraction}")
        if self.max_vocab < 0:
            raise ConfigError(f"config data.max_vocab: must be >= 0 (0 = no limit), got {self.max_vocab}")
        if self.eval_tokens < 0:
            raise ConfigError(f"config data.eval_tokens: must be >= 0 (0 = the whole split), got {self.eval_tokens}")


def _lm_train() -> TrainConfig:
    return TrainConfig(unit="tokens", lr=2e-3)


@dataclass(frozen=True)
class LMConfig(RunConfig):
    """A whole language-model run; ``config.json`` in the run folder is one of these (``time_limit`` and
    ``time_decay``, the wall-clock budget, are RunConfig's: every task has them)."""

    task: str = "lm"
    run_dir: str = ""  # "": nothing written (the CLI's default is runs/lm)
    model: LMModelConfig = field(default_factory=LMModelConfig)
    data: LMDataConfig = field(default_factory=LMDataConfig)
    train: TrainConfig = field(default_factory=_lm_train)
    final_eval_batch_size: int = 1  # columns of the final evaluation; 1 = the exact likelihood of each split

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.final_eval_batch_size <= 0:
            raise ConfigError(f"config final_eval_batch_size: must be > 0, got {self.final_eval_batch_size}")


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
    legacy_task_files = (VOCAB_FILE,)  # runs written before task.json held the vocabulary alone in vocab.json

    def __init__(self, config: LMConfig | None = None, *, vocab: Vocab | None = None) -> None:
        super().__init__(config)
        self.vocab = vocab
        self._data: EncodedText | None = None

    # -- data and model ---------------------------------------------------------------------------------

    def data(self) -> EncodedText:
        """The encoded splits (vocabulary built on the training split, or the run's saved vocabulary)."""
        if self._data is None:
            d = self.config.data
            if d.path is None and d.dataset is None:
                raise ConfigError(
                    "config data: give data.path (a UTF-8 text file) or data.dataset (tiny-shakespeare, ptb)"
                )
            if d.path is not None and (prep := self._prepared(Path(d.path))) is not None:
                self._data = prep
                self.vocab = prep.vocab
                return prep
            splits = load_splits(
                path=d.path,
                dataset=d.dataset,
                data_root=d.data_root,
                valid_fraction=d.val_fraction,
                test_fraction=d.test_fraction,
            )
            if d.val_path or d.test_path:  # explicit files replace the held-out parts
                splits = replace(
                    splits,
                    valid=read_text(d.val_path) if d.val_path else splits.valid,
                    test=read_text(d.test_path) if d.test_path else splits.test,
                )
            self._data = encode_splits(splits, level=d.level, vocab=self.vocab, max_size=d.max_vocab or None)
            self.vocab = self._data.vocab
        return self._data

    def _prepared(self, path: Path) -> EncodedText | None:
        """A prepared corpus for ``data.path``: the folder itself (``rnnkit lm prepare``), or for a large source
        (a folder, a .gz, or a file of ``AUTO_PREPARE_BYTES`` or more) a cache built or reused under
        ``cache_root()``; None: the in-memory path (the same ids, tested)."""
        from rnnkit.data import prepare as P

        d = self.config.data
        if path.is_dir() and P.read_meta(path) is not None:
            data = P.open_prepared(path)
            meta = P.read_meta(path)
            if meta["settings"]["level"] != d.level:
                raise ConfigError(
                    f"config data.level: {path} was prepared at {meta['settings']['level']} level, not {d.level}; "
                    f"pass --level {meta['settings']['level']} or prepare it again"
                )
        elif path.is_dir() or path.suffix == ".gz" or (path.is_file() and path.stat().st_size >= AUTO_PREPARE_BYTES):
            settings = P.Settings(
                level=d.level, max_vocab=d.max_vocab, valid_fraction=d.val_fraction, test_fraction=d.test_fraction
            )
            key = hashlib.sha256(json.dumps([str(path.resolve()), settings.to_json()]).encode()).hexdigest()[:16]
            data, _ = P.prepare(path, cache_root() / key, settings, quiet=self.config.train.quiet)
        else:
            return None
        if d.val_path or d.test_path:
            raise ConfigError("config data.val_path/test_path: not supported with a prepared corpus (one source)")
        if self.vocab is not None and self.vocab != data.vocab:
            raise DataError(f"{path}: its prepared vocabulary differs from the run's; evaluate on a text file instead")
        return data

    def load_data(self) -> Splits:
        e = self.data()
        return Splits(e.train, e.valid, e.test)

    def describe_data(self, splits: Splits) -> str:
        n = lambda x: "none" if x is None else f"{len(x):,}"  # noqa: E731
        unit = "characters" if self.config.data.level == "char" else "words"
        return (
            f"{self.data().source}: {n(splits.train)} training, {n(splits.val)} validation, {n(splits.test)} test "
            f"{unit}; vocabulary {len(self.vocab)}"
        )

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.lm.onnx import lm_spec

        return lm_spec(self, model)

    def state_dict(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_json()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.vocab = Vocab.from_json(state.get("vocab", state))  # vocab.json of older runs is the vocabulary itself

    def build_model(self) -> RecurrentLM:
        """A fresh model for the current vocabulary (seeded by ``train.seed`` when called from ``fit``)."""
        if self.vocab is None:
            self.data()
        m = self.config.model
        if m.adaptive_cutoffs:  # V is known only now: check the cutoffs against it
            if self.vocab.level != "word":
                raise ConfigError(
                    "config model.adaptive_cutoffs: needs data.level=word - the adaptive softmax relies on ids ranked "
                    "by frequency (char vocabularies are in code-point order, and small enough for a full softmax)"
                )
            try:
                check_adaptive(
                    m.adaptive_cutoffs, len(self.vocab), hidden_size=m.hidden_size, div_value=m.adaptive_div_value
                )
            except ValueError as e:
                raise ConfigError(f"config model.adaptive_cutoffs: {e}") from None
        return RecurrentLM(
            len(self.vocab),
            cell=m.cell.name,
            embedding_dim=m.embedding_dim,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            dropout=m.dropout,
            locked=m.locked_dropout,
            embed_dropout=m.embed_dropout,
            weight_drop=m.weight_drop,
            bias=m.bias,
            options=m.cell.options(),
            impl=m.impl,
            tie_weights=m.tie_weights,
            adaptive_cutoffs=m.adaptive_cutoffs,
            adaptive_div_value=m.adaptive_div_value,
        )

    def make_batches(self, train: np.ndarray, val: np.ndarray | None) -> tuple[Any, Any]:
        """Training and validation token streams (batchified columns, TBPTT chunks of ``data.bptt``)."""
        from rnnkit.data.streams import TokenStream

        d = self.config.data
        rows = d.eval_batch_size or d.batch_size
        if val is not None and d.eval_tokens and len(val) > d.eval_tokens:
            if d.eval_tokens < 2 * rows:
                raise ConfigError(
                    f"config data.eval_tokens: {d.eval_tokens} tokens cannot fill {rows} validation rows of 2 tokens "
                    f"or more; use at least {2 * rows}, or 0 for the whole split"
                )
            val = val[: d.eval_tokens]  # the same sample at every evaluation; a view (of the memory map, if any)
        train_s = TokenStream(train, batch_size=d.batch_size, bptt=d.bptt)
        val_s = TokenStream(val, batch_size=rows, bptt=d.bptt) if val is not None else None
        return train_s, val_s

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
            "vocab_size": len(self.vocab),
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
        """Stream text continuing ``prompt``; keyword arguments as ``rnnkit.generate.generate``. Generation runs in
        the float32 NumPy decoder (``FastDecoder``) whatever ``inference_precision`` says (a warning for bf16)."""
        from rnnkit.generate import generate

        if self.inference_precision != "fp32":
            warnings.warn(
                f"precision {self.inference_precision!r} does not apply to generation: the language model "
                "generates with its float32 NumPy decoder (it applies to eval)",
                stacklevel=2,
            )
        return generate(self.require_model(), self.vocab, prompt=prompt, **kwargs)

    def eval_data(self, path: Path | None) -> Any:
        return read_text(path) if path is not None else self.data()

    def predict(self, prompts: Sequence[str], *, length: int = 200, **kwargs: Any) -> list[str]:
        """Each prompt's sampled continuation (the prompt not repeated); keyword arguments as ``generate``."""
        return ["".join(self.generate(p, length=length, **kwargs)) for p in prompts]
