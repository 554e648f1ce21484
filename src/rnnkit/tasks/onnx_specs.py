"""Each task's ONNX interface (``Task.onnx_spec``): the module to export, its example inputs, names, dynamic axes
and the pre/post-processing written beside the model as JSON. The export itself is ``rnnkit.export``, once.

Shape letters: N batch, T time, D input channels, L characters per word (tag) or layers (states), H hidden,
C classes, K tags, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.export import OnnxSpec
from rnnkit.layout import layout
from rnnkit.models.heads import pool_last

N_EXAMPLE = 3  # example batch: lengths T, T-3 and 1 (padding inside the batch is part of what is checked)


def _lengths(T: int) -> Tensor:
    return torch.tensor([T, max(1, T - 3), 1])


def _ids(T: int, high: int, *, seed: int) -> tuple[Tensor, Tensor]:
    """Random ids in [2, high) (no <pad>/<unk>), padded with 0 after each example length: (N, T), (N,)."""
    g = torch.Generator().manual_seed(seed)
    lengths = _lengths(T)
    ids = torch.randint(2, max(high, 3), (N_EXAMPLE, T), generator=g)
    return ids.masked_fill(~lengths_to_mask(lengths, T), 0), lengths


# ---- classify ------------------------------------------------------------------------------------------------


class _Classify(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        logits, _ = self.net(x, lengths)  # (N, C)
        return logits, torch.softmax(logits, dim=1)


def classify_spec(task: Any, model: nn.Module) -> OnnxSpec:
    m, d = task.config.model, task.config.data
    numeric = m.input in ("numeric", "image")  # image runs: the standardised row / pixel sequences

    def example(T: int) -> tuple[Tensor, Tensor]:
        if not numeric:
            return _ids(T, len(task.vocab), seed=T)
        g = torch.Generator().manual_seed(T)
        lengths = _lengths(T)
        x = torch.randn(N_EXAMPLE, T, task.input_size, generator=g) * lengths_to_mask(lengths, T)[:, :, None]
        return x, lengths

    meta: dict[str, Any] = {
        "task": "classify", "input": m.input, "lowercase": d.lowercase, "max_len": d.max_len, "pad_id": 0, "unk_id": 1,
        "vocab": task.vocab.itos if task.vocab else None, "classes": list(task.classes),
        "scaler": {"mean": task.scaler[0].tolist(), "std": task.scaler[1].tolist()} if task.scaler else None,
        "images": task.images.state_dict() if getattr(task, "images", None) else None,  # shape, mode, mean/std, order
        "how": "x: token ids (N, T) int64 (or standardised series (N, T, D) float32), padded with 0; lengths (N,) "
        "int64. Tokens: characters (input=char) or whitespace-split words (input=word), lower-cased if lowercase; "
        "unknown -> unk_id; an empty text is [unk_id]. probabilities = softmax(logits).",
    }  # fmt: skip
    return OnnxSpec(
        _Classify(model), example, ["x", "lengths"], ["logits", "probabilities"],
        {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N"}, "probabilities": {0: "N"}}, meta,
    )  # fmt: skip


# ---- tag -----------------------------------------------------------------------------------------------------


class _Tag(nn.Module):
    """TaggerNet's forward; for export, the character encoder runs over every (padded) word position and the
    padding's features are zeroed by a mask (the same values as TaggerNet's boolean indexing, which ONNX lacks)."""

    def __init__(self, net: nn.Module, *, exporting: bool) -> None:
        super().__init__()
        self.net, self.exporting = net, exporting

    def forward(self, words: Tensor, chars: Tensor, lengths: Tensor) -> Tensor:
        net = self.net
        if not self.exporting:
            return net(words, chars, lengths)  # (N, T, K)
        h = net.words(words)  # (N, T, E)
        if net.char_rnn is not None:
            N, T, L = chars.shape
            flat = chars.reshape(-1, L)  # (N*T, L)
            wlen = (flat != 0).sum(1).clamp(min=1)  # a word has >= 1 character (padding too: masked below)
            out, _ = net.char_rnn(net.chars(flat), lengths=wlen)  # (N*T, L, 2*Hc)
            feats = pool_last(out, wlen, directions=2).reshape(N, T, -1)  # (N, T, 2*Hc)
            h = torch.cat([h, feats * lengths_to_mask(lengths, T).unsqueeze(2).to(feats.dtype)], dim=2)
        out, _ = net.encoder(net.drop(h), lengths=lengths)  # (N, T, dirs*H)
        return net.head(out)  # (N, T, K)


def tag_spec(task: Any, model: nn.Module, *, exporting: bool) -> OnnxSpec:
    d = task.config.data

    def example(T: int) -> tuple[Tensor, Tensor, Tensor]:
        words, lengths = _ids(T, len(task.words), seed=T)
        g = torch.Generator().manual_seed(T + 1)
        L = 5
        chars = torch.randint(2, max(len(task.chars), 3), (N_EXAMPLE, T, L), generator=g)
        wl = torch.randint(1, L + 1, (N_EXAMPLE, T, 1), generator=g)  # characters per word
        chars = chars.masked_fill(torch.arange(L) >= wl, 0).masked_fill(~lengths_to_mask(lengths, T)[:, :, None], 0)
        return words, chars, lengths

    crf = model.net.crf if isinstance(model, _Tag) else None
    meta: dict[str, Any] = {
        "task": "tag", "words": task.words.itos, "chars": task.chars.itos, "tags": list(task.tags), "pad_id": 0,
        "unk_id": 1, "lowercase": d.lowercase, "digits_to_zero": d.digits_to_zero, "max_word_len": d.max_word_len,
        "crf": None if crf is None else {k: v.detach().tolist() for k, v in crf.state_dict().items()},
        "how": "words: word ids (N, T) (lower-cased, digits -> 0 as configured); chars: character ids (N, T, L) "
        "of each word's first max_word_len characters, 0-padded; lengths (N,). scores (N, T, K): argmax per token, "
        "or Viterbi with crf.transitions[i, j] (tag i -> j), crf.start and crf.end when crf is not null.",
    }  # fmt: skip
    return OnnxSpec(
        _Tag(model, exporting=exporting), example, ["words", "chars", "lengths"], ["scores"],
        {"words": {0: "N", 1: "T"}, "chars": {0: "N", 1: "T", 2: "L"}, "lengths": {0: "N"}, "scores": {0: "N", 1: "T"}},
        meta,
    )  # fmt: skip


# ---- lm ------------------------------------------------------------------------------------------------------


class _LM(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        scores, final = self.net(ids, tuple(state))  # (N, T, V), S x (L, N, H)
        return (scores, *final)


def lm_spec(task: Any, model: nn.Module) -> OnnxSpec:
    m = task.config.model
    names = list(layout(m.cell.name).state)  # ("h",) or ("h", "c")
    L, H = m.num_layers, m.hidden_size

    def example(T: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(T)
        ids = torch.randint(0, len(task.vocab), (N_EXAMPLE, T), generator=g)
        return (ids, *(0.5 * torch.randn(L, N_EXAMPLE, H, generator=g) for _ in names))

    ins, outs = [f"{n}0" for n in names], [f"{n}_n" for n in names]
    meta: dict[str, Any] = {
        "task": "lm", "vocab": task.vocab.to_json(), "state": names, "state_shape": ["layers", "N", "hidden"],
        "layers": L, "hidden": H, "adaptive_softmax": bool(m.adaptive_cutoffs),
        "how": "ids (N, T) int64 and the initial states (zeros to start) -> scores (N, T, V) (logits, or "
        "log-probabilities with the adaptive softmax) and the final states: feed them back with the next token to "
        "stream (T=1 per step), as `rnnkit generate` does.",
    }  # fmt: skip
    axes = {"ids": {0: "N", 1: "T"}, "scores": {0: "N", 1: "T"}, **{n: {1: "N"} for n in ins + outs}}
    return OnnxSpec(_LM(model), example, ["ids", *ins], ["scores", *outs], axes, meta)



# ---- forecast ------------------------------------------------------------------------------------------------


class _Forecast(nn.Module):
    def __init__(self, net: nn.Module, *, horizon: int, n_future: int) -> None:
        super().__init__()
        self.net, self.horizon, self.n_future = net, horizon, n_future

    def forward(self, x: Tensor, *future: Tensor) -> Tensor:
        f = future[0] if future else x.new_zeros(x.shape[0], self.horizon, 0)  # no known-future covariates
        return self.net(x, f)  # (N, H, C, K)


def forecast_spec(task: Any, model: nn.Module) -> OnnxSpec:
    d, c = task.config.data, task.columns
    H, F = d.horizon, len(c["future_names"])

    def example(T: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(T)
        x = torch.randn(N_EXAMPLE, T, c["n_inputs"], generator=g)
        return (x, torch.randn(N_EXAMPLE, H, F, generator=g)) if F else (x,)

    meta: dict[str, Any] = {
        "task": "forecast", **task.state_dict(), "likelihood": task.config.model.likelihood,
        "quantiles": list(task.config.model.quantiles),
        "how": "x (N, L, D): the last L steps of the scaled inputs (targets first, then past and future covariates, "
        "scaled with 'scaler'); future (N, horizon, F): the known-future covariates of the horizon (absent when F=0) "
        "-> params (N, horizon, C, K) in scaled units: K=1 point, 2 Gaussian (mu, sigma), or one per quantile; "
        "unscale the targets with 'scaler'.",
    }  # fmt: skip
    names = ["x", "future"] if F else ["x"]
    axes = {"x": {0: "N", 1: "L"}, "params": {0: "N"}, **({"future": {0: "N"}} if F else {})}
    return OnnxSpec(_Forecast(model, horizon=H, n_future=F), example, names, ["params"], axes, meta)
