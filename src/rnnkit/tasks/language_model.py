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

import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    load_config,
    write_json,
)
from rnnkit.data.streams import batchify
from rnnkit.data.text import LEVELS, VOCAB_FILE, EncodedText, Vocab, encode_splits, load_splits
from rnnkit.models.encoder import RecurrentLM, check_adaptive
from rnnkit.registry import register_task
from rnnkit.train import Callback, StepOutput, fit, load_model, seed_everything

RESULTS_FILE = "results.json"
TIME_DECAYS = ("none", "cosine", "wsd")


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


def _lm_train() -> TrainConfig:
    return TrainConfig(unit="tokens", lr=2e-3)


@dataclass(frozen=True)
class LMConfig(RunConfig):
    """A whole language-model run; ``config.json`` in the run folder is one of these."""

    task: str = "lm"
    run_dir: str = "runs/lm"
    model: LMModelConfig = field(default_factory=LMModelConfig)
    data: LMDataConfig = field(default_factory=LMDataConfig)
    train: TrainConfig = field(default_factory=_lm_train)
    time_limit: float = 0.0  # wall-clock seconds of training, then stop cleanly (0: no limit)
    time_decay: str = "none"  # "cosine" | "wsd": decay the lr to 0 over time_limit (see TimeBudget)
    final_eval_batch_size: int = 1  # columns of the final evaluation; 1 = the exact likelihood of each split

    def __post_init__(self) -> None:
        if self.time_limit < 0:
            raise ConfigError(f"config time_limit: must be >= 0 seconds (0 = no limit), got {self.time_limit}")
        if self.time_decay not in TIME_DECAYS:
            raise ConfigError(f"config time_decay: must be one of {', '.join(TIME_DECAYS)}, got {self.time_decay!r}")
        if self.time_decay != "none" and not self.time_limit:
            raise ConfigError("config time_decay: needs time_limit > 0 (the decay runs over the time budget)")
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
    model: RecurrentLM, ids: np.ndarray | Tensor, *, batch_size: int = 1, chunk: int = 256
) -> tuple[float, int]:
    """Summed NLL (nats) and token count of predicting ``ids[1:]`` from the prefix, state carried throughout.

    The stream is cut into ``batch_size`` contiguous columns (the last ``len % batch_size`` tokens are
    dropped, as batchify does; none with batch_size=1); each column is read in chunks of ``chunk`` steps and
    the final state of one chunk starts the next, so every prediction sees its whole column's history.
    """
    cols = batchify(ids, batch_size)  # (N, L): row n is a contiguous piece of the stream
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        L = cols.shape[1]
        for s in range(0, L - 1, chunk):
            e = min(s + chunk, L - 1)
            x, y = cols[:, s:e], cols[:, s + 1 : e + 1]  # (N, t) inputs and next-token targets
            nll, state = model(x, state, targets=y)  # (N, t) nats, state carried to the next chunk
            total += float(nll.sum())
            count += y.numel()
    finally:
        model.train(was_training)
    return total, count


# ---- the task ----------------------------------------------------------------------------------------------


def _lm_step(model: torch.nn.Module, batch: Any, state: Any):
    """fit's step: mean cross-entropy (nats/token) of next-token prediction; the state is carried (TBPTT)."""
    x, y = batch[0], batch[1]  # (N, T) inputs, (N, T) targets shifted by one
    nll, state = model(x, state, targets=y)  # (N, T): RecurrentLM.nll via __call__, so a DDP wrapper sees it
    return StepOutput(nll.mean(), state, y.numel())


class TimeBudget(Callback):
    """Stop ``fit`` cleanly after ``seconds`` of wall-clock training, optionally decaying the lr by time.

    With f = t / seconds the elapsed fraction of the budget, the base lr is scaled by
    - ``"cosine"``: ``floor + (1 - floor) * (1 + cos(pi * f)) / 2`` (Loshchilov & Hutter 2017, over time);
    - ``"wsd"``: 1 until the last ``final`` fraction, then linearly to ``floor`` (warmup-stable-decay, Hu et
      al. 2024 "MiniCPM" §4.1): the lr stays high while the model is far from converged - measured on the
      demo (2x256 char LSTM, 120 s, busy CPU), cosine to 0 ended at 2.05 nats/char vs 1.81 for a constant lr.
    A schedule whose length is a time budget instead of a step count is what "the best model in 3 minutes"
    needs. fit multiplies the scaled base by its own schedule factor (a constant ``train.schedule`` here).
    """

    def __init__(self, seconds: float, *, decay: str = "none", floor: float = 0.0, final: float = 0.2) -> None:
        if decay not in TIME_DECAYS:
            raise ValueError(f"time-budget decay must be one of {', '.join(TIME_DECAYS)}, got {decay!r}")
        self.seconds, self.decay, self.floor, self.final = seconds, decay, floor, final
        self.t0: float | None = None
        self.total0: int | None = None  # fit's own step total (epochs x batches or max_steps)
        self.base: list[float] = []

    def on_fit_start(self, fs: Any) -> None:
        self.t0, self.total0 = time.monotonic(), fs.total_steps
        self.base = [g.get("initial_lr", g["lr"]) for g in fs.optimizer.param_groups]

    def on_step_end(self, fs: Any, logs: dict[str, float]) -> None:
        elapsed = time.monotonic() - self.t0
        if elapsed >= self.seconds:
            fs.should_stop, fs.stop_reason = True, f"time limit of {self.seconds:g} s reached"
            return
        if fs.step >= 5:  # the progress bar's ETA then counts down the time budget, not 1000 epochs
            estimate = fs.step + int(fs.step * (self.seconds - elapsed) / elapsed)
            fs.total_steps = min(self.total0, estimate) if self.total0 else estimate
        if self.decay != "none":
            f = elapsed / self.seconds
            if self.decay == "cosine":
                k = self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * f))
            else:  # wsd: stable, then linear to the floor over the final fraction
                k = 1.0 if f < 1 - self.final else self.floor + (1 - self.floor) * (1 - f) / self.final
            for g, b in zip(fs.optimizer.param_groups, self.base, strict=True):
                g["initial_lr"] = b * k  # fit sets lr = initial_lr * schedule factor before the next step


@register_task("lm")
class LanguageModel:
    """Build, train (through ``fit``), evaluate and sample a recurrent language model.

    >>> lm = LanguageModel(LMConfig(data=LMDataConfig(path="input.txt")))   # doctest: +SKIP
    >>> lm.train(); lm.evaluate("valid"); "".join(lm.generate("ROMEO:", length=200))  # doctest: +SKIP
    """

    Config = LMConfig

    def __init__(self, config: LMConfig, *, vocab: Vocab | None = None) -> None:
        self.config = config
        self.vocab = vocab
        self._data: EncodedText | None = None
        self.model: RecurrentLM | None = None

    # -- data and model ---------------------------------------------------------------------------------

    def data(self) -> EncodedText:
        """The encoded splits (vocabulary built on the training split, or the run's saved vocabulary)."""
        if self._data is None:
            d = self.config.data
            if d.path is None and d.dataset is None:
                raise ConfigError(
                    "config data: give data.path (a UTF-8 text file) or data.dataset (tiny-shakespeare, ptb)"
                )
            splits = load_splits(
                path=d.path, dataset=d.dataset, data_root=d.data_root,
                valid_fraction=d.val_fraction, test_fraction=d.test_fraction,
            )  # fmt: skip
            self._data = encode_splits(splits, level=d.level, vocab=self.vocab, max_size=d.max_vocab or None)
            self.vocab = self._data.vocab
        return self._data

    def build_model(self) -> RecurrentLM:
        """A fresh model for the current vocabulary (seeded by ``train.seed`` when called from ``train``)."""
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
                check_adaptive(m.adaptive_cutoffs, len(self.vocab), hidden_size=m.hidden_size,
                               div_value=m.adaptive_div_value)  # fmt: skip
            except ValueError as e:
                raise ConfigError(f"config model.adaptive_cutoffs: {e}") from None
        self.model = RecurrentLM(
            len(self.vocab), cell=m.cell.name, embedding_dim=m.embedding_dim, hidden_size=m.hidden_size,
            num_layers=m.num_layers, dropout=m.dropout, locked=m.locked_dropout, embed_dropout=m.embed_dropout,
            weight_drop=m.weight_drop, bias=m.bias, options=m.cell.options(), impl=m.impl, tie_weights=m.tie_weights,
            adaptive_cutoffs=m.adaptive_cutoffs, adaptive_div_value=m.adaptive_div_value,
        )  # fmt: skip
        return self.model

    def streams(self) -> tuple[Any, Any]:
        """Training and validation token streams (batchified columns, TBPTT chunks of ``data.bptt``)."""
        from rnnkit.data.streams import TokenStream

        d, data = self.config.data, self.data()
        train = TokenStream(data.train, batch_size=d.batch_size, bptt=d.bptt)
        valid = TokenStream(data.valid, batch_size=d.eval_batch_size or d.batch_size, bptt=d.bptt)
        return train, valid

    # -- training ---------------------------------------------------------------------------------------

    def train(self, *, callbacks: Sequence[Any] = (), resume: bool = False) -> dict[str, Any]:
        """Train through ``fit`` into ``config.run_dir``, then evaluate every split; returns the results dict."""
        cfg = self.config
        if resume and self.vocab is None and (Path(cfg.run_dir) / VOCAB_FILE).is_file():
            self.vocab = Vocab.load(Path(cfg.run_dir) / VOCAB_FILE)  # the ids the checkpoint was trained on
        seed_everything(cfg.train.seed, deterministic=cfg.train.deterministic)
        train_data, val_data = self.streams()
        model = self.build_model()
        run_dir = Path(cfg.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.vocab.save(run_dir / VOCAB_FILE)
        cbs = list(callbacks)
        if cfg.time_limit:
            cbs.append(TimeBudget(cfg.time_limit, decay=cfg.time_decay))
        t0 = time.monotonic()
        result = fit(
            model, _lm_step, train_data, config=cfg.train, val_data=val_data, run_dir=run_dir,
            callbacks=cbs, resume=resume, run_config=cfg,
        )  # fmt: skip
        train_seconds = time.monotonic() - t0
        self.model = result.model
        if (run_dir / "best").is_dir():  # evaluate what `rnnkit eval/generate` will load: the best checkpoint
            load_model(run_dir, self.model, which="best")
        results: dict[str, Any] = {
            "train_seconds": round(train_seconds, 1), "steps": result.step, "epochs": result.epoch,
            "stop_reason": result.stop_reason, "interrupted": result.interrupted,
            "parameters": sum(p.numel() for p in self.model.parameters()), "vocab_size": len(self.vocab),
        }  # fmt: skip
        if not result.interrupted:
            for split in ("valid", "test"):
                if getattr(self.data(), split) is not None:
                    results[split] = self.evaluate(split)
        _write_json(run_dir / RESULTS_FILE, results)
        return results

    # -- evaluation and generation ------------------------------------------------------------------------

    def evaluate(self, split: str = "valid", *, batch_size: int | None = None) -> dict[str, float]:
        """loss (nats/token), bpc or bits, ppl and token count over the whole ``split`` with the state carried."""
        if self.model is None:
            raise ValueError("no model yet: call train() or LanguageModel.load(run_dir) first")
        ids = getattr(self.data(), split, None) if split in ("train", "valid", "test") else None
        if ids is None:
            have = [s for s in ("train", "valid", "test") if getattr(self.data(), s) is not None]
            raise ValueError(f"split {split!r} is not available for {self.data().source}; available: {', '.join(have)}")
        t0 = time.monotonic()
        total, count = stream_nll(self.model, ids, batch_size=batch_size or self.config.final_eval_batch_size)
        out = lm_metrics(total / count, level=self.config.data.level)
        out.update(tokens=count, seconds=round(time.monotonic() - t0, 2))
        return out

    def generate(self, prompt: str = "", **kwargs: Any) -> Iterator[str]:
        """Stream text continuing ``prompt``; keyword arguments as ``rnnkit.generate.generate``."""
        from rnnkit.generate import generate

        if self.model is None or self.vocab is None:
            raise ValueError("no model yet: call train() or LanguageModel.load(run_dir) first")
        return generate(self.model, self.vocab, prompt=prompt, **kwargs)

    @classmethod
    def load(cls, run_dir: str | os.PathLike, *, which: str = "best") -> LanguageModel:
        """A trained run: its config.json, vocab.json and the ``best`` (else ``last``) checkpoint."""
        run = Path(run_dir)
        if not (run / "config.json").is_file():
            raise FileNotFoundError(
                f"{run} is not a run folder (no config.json); pass the --out folder of `rnnkit train lm`"
            )
        cfg = load_config(LMConfig, run / "config.json")
        lm = cls(cfg, vocab=Vocab.load(run / VOCAB_FILE))
        model = lm.build_model()
        load_model(run, model, which=which)
        model.eval()
        return lm


def _write_json(path: Path, obj: dict) -> None:
    write_json(path, obj, indent=1)
