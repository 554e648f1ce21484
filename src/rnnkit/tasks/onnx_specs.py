"""Each task's ONNX interface (``Task.onnx_spec``): the module to export, its example inputs, names, dynamic axes
and the pre/post-processing written beside the model as JSON. The export itself is ``rnnkit.export``, once.

Shape letters: N batch, T time, D input channels, L characters per word (tag) or layers (states), H hidden,
C classes, K tags, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
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
        "task": "classify",
        "input": m.input,
        "lowercase": d.lowercase,
        "max_len": d.max_len,
        "pad_id": 0,
        "unk_id": 1,
        "vocab": task.vocab.itos if task.vocab else None,
        "classes": list(task.classes),
        "scaler": {"mean": task.scaler[0].tolist(), "std": task.scaler[1].tolist()} if task.scaler else None,
        "images": task.images.state_dict() if getattr(task, "images", None) else None,  # shape, mode, mean/std, order
        "how": "x: token ids (N, T) int64 (or standardised series (N, T, D) float32), padded with 0; lengths (N,) "
        "int64. Tokens: characters (input=char) or whitespace-split words (input=word), lower-cased if lowercase; "
        "unknown -> unk_id; an empty text is [unk_id]. probabilities = softmax(logits).",
    }
    return OnnxSpec(
        _Classify(model),
        example,
        ["x", "lengths"],
        ["logits", "probabilities"],
        {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N"}, "probabilities": {0: "N"}},
        meta,
    )


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
        "task": "tag",
        "words": task.words.itos,
        "chars": task.chars.itos,
        "tags": list(task.tags),
        "pad_id": 0,
        "unk_id": 1,
        "lowercase": d.lowercase,
        "digits_to_zero": d.digits_to_zero,
        "max_word_len": d.max_word_len,
        "crf": None if crf is None else {k: v.detach().tolist() for k, v in crf.state_dict().items()},
        "how": "words: word ids (N, T) (lower-cased, digits -> 0 as configured); chars: character ids (N, T, L) "
        "of each word's first max_word_len characters, 0-padded; lengths (N,). scores (N, T, K): argmax per token, "
        "or Viterbi with crf.transitions[i, j] (tag i -> j), crf.start and crf.end when crf is not null.",
    }
    return OnnxSpec(
        _Tag(model, exporting=exporting),
        example,
        ["words", "chars", "lengths"],
        ["scores"],
        {"words": {0: "N", 1: "T"}, "chars": {0: "N", 1: "T", 2: "L"}, "lengths": {0: "N"}, "scores": {0: "N", 1: "T"}},
        meta,
    )


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
        "task": "lm",
        "vocab": task.vocab.to_json(),
        "state": names,
        "state_shape": ["layers", "N", "hidden"],
        "layers": L,
        "hidden": H,
        "adaptive_softmax": bool(m.adaptive_cutoffs),
        "how": "ids (N, T) int64 and the initial states (zeros to start) -> scores (N, T, V) (logits, or "
        "log-probabilities with the adaptive softmax) and the final states: feed them back with the next token to "
        "stream (T=1 per step), as `rnnkit generate` does.",
    }
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
        "task": "forecast",
        **task.state_dict(),
        "likelihood": task.config.model.likelihood,
        "quantiles": list(task.config.model.quantiles),
        "how": "x (N, L, D): the last L steps of the scaled inputs (targets first, then past and future covariates, "
        "scaled with 'scaler'); future (N, horizon, F): the known-future covariates of the horizon (absent when F=0) "
        "-> params (N, horizon, C, K) in scaled units: K=1 point, 2 Gaussian (mu, sigma), or one per quantile; "
        "unscale the targets with 'scaler'.",
    }
    names = ["x", "future"] if F else ["x"]
    axes = {"x": {0: "N", 1: "L"}, "params": {0: "N"}, **({"future": {0: "N"}} if F else {})}
    return OnnxSpec(_Forecast(model, horizon=H, n_future=F), example, names, ["params"], axes, meta)


# ---- translate: two graphs, the encoder and one decoder step ---------------------------------------------------


class _Encode(nn.Module):
    """src (N, S) ids + lengths -> memory and attention keys (N, S, H), the decoder's initial states (L, N, H) each
    and its input feed (N, H): ``Seq2Seq.encode`` with the state as tensors."""

    def __init__(self, net: nn.Module, n_state: int) -> None:
        super().__init__()
        self.net, self.n_state = net, n_state

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        ds = self.net.encode(src, src_lengths)
        states = (torch.stack([layer[i] for layer in ds.rnn]) for i in range(self.n_state))  # (L, N, H) each
        return (ds.memory, ds.keys, *states, ds.feed)


class _DecodeStep(nn.Module):
    """One decoder step, ``Seq2Seq.step``, with the state in and out as tensors: a caller loops it (greedy or
    beam search) as ``Seq2Seq.greedy`` does. The source mask is rebuilt from src_lengths inside the graph."""

    def __init__(self, net: nn.Module, n_state: int) -> None:
        super().__init__()
        self.net, self.n_state = net, n_state

    def forward(self, y_prev: Tensor, memory: Tensor, keys: Tensor, src_lengths: Tensor, *rest: Tensor):
        from rnnkit.models.seq2seq import DecoderState

        states = rest[: self.n_state]
        # h~_{t-1}: an input only with input feeding (ONNX drops an unused input); the step ignores it otherwise
        feed = rest[self.n_state] if len(rest) > self.n_state else memory.new_zeros(memory.shape[0], memory.shape[2])
        rnn = [tuple(s[l] for s in states) for l in range(len(self.net.cells))]  # per layer: S x (N, H)
        mask = lengths_to_mask(src_lengths, memory.shape[1])  # (N, S)
        logits, a, ds = self.net.step(y_prev, DecoderState(rnn, feed, memory, keys, mask))  # (N, V), (N, S)
        new = (torch.stack([layer[i] for layer in ds.rnn]) for i in range(self.n_state))  # (L, N, H) each
        return (logits, a, *new, ds.feed)


def translate_specs(task: Any, model: nn.Module) -> dict[str, OnnxSpec]:
    """``{"encoder": spec, "decoder": spec}``: written as ``<name>.encoder.onnx`` and ``<name>.decoder.onnx``."""
    from rnnkit.data import pairs as P

    m = task.config.model
    names = list(layout(m.cell.name).state)
    n, L, H = len(names), m.num_layers, m.hidden_size
    meta: dict[str, Any] = {
        "task": "translate",
        **task.state_dict(),
        "pad_id": P.PAD_ID,
        "bos_id": P.BOS_ID,
        "eos_id": P.EOS_ID,
        "unk_id": 0,
        "state": names,
        "input_feed": m.input_feed,
        "max_len_ratio": task.config.decode.max_len_ratio,
        "max_len": task.config.decode.max_len,
        "how": "encoder: src (N, S) int64 = source token ids + eos_id, padded with pad_id; src_lengths (N,) -> "
        "memory, keys (N, S, H), the initial states (L, N, H) and feed (N, H). decoder (one step): y_prev (N,) "
        "(bos_id first, then the chosen token), memory, keys, src_lengths, the states and feed (only with "
        "input_feed) -> logits (N, V), "
        "attention (N, S), the next states and feed. Never choose pad_id or bos_id; stop at eos_id or after "
        "min(max_len, ceil(max_len_ratio * S) + 1) tokens.",
    }
    st_in, st_out = list(names), [f"{s}_n" for s in names]

    def src_example(S: int) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(S)
        lengths = _lengths(S)
        src = torch.randint(4, max(len(task.src_vocab), 5), (N_EXAMPLE, S), generator=g)
        return src.masked_fill(~lengths_to_mask(lengths, S), P.PAD_ID), lengths

    def step_example(S: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(S + 1)
        y = torch.randint(2, max(len(task.tgt_vocab), 3), (N_EXAMPLE,), generator=g)
        mem, keys = torch.randn(N_EXAMPLE, S, H, generator=g), torch.randn(N_EXAMPLE, S, H, generator=g)
        states = (0.5 * torch.randn(L, N_EXAMPLE, H, generator=g) for _ in names)
        feed = (torch.randn(N_EXAMPLE, H, generator=g),) if m.input_feed else ()
        return (y, mem, keys, _lengths(S), *states, *feed)

    seq = {0: "N", 1: "S"}
    enc_out = ["memory", "keys", *st_in, "feed"]
    enc_axes = {
        "src": seq,
        "src_lengths": {0: "N"},
        "memory": seq,
        "keys": seq,
        "feed": {0: "N"},
        **{s: {1: "N"} for s in st_in},
    }
    dec_in = ["y_prev", "memory", "keys", "src_lengths", *st_in, *(["feed"] if m.input_feed else [])]
    dec_out = ["logits", "attention", *st_out, "feed_n"]
    dec_axes = {
        "y_prev": {0: "N"},
        "memory": seq,
        "keys": seq,
        "src_lengths": {0: "N"},
        "feed": {0: "N"},
        "logits": {0: "N"},
        "attention": seq,
        "feed_n": {0: "N"},
        **{s: {1: "N"} for s in st_in + st_out},
    }
    return {
        "encoder": OnnxSpec(_Encode(model, n), src_example, ["src", "src_lengths"], enc_out, enc_axes, meta),
        "decoder": OnnxSpec(_DecodeStep(model, n), step_example, dec_in, dec_out, dec_axes, meta),
    }


# ---- speech and speech-ctc: normalised feature frames in -------------------------------------------------------


def _frames(T: int, D: int) -> tuple[Tensor, Tensor]:
    """Random standardised feature frames (N, T, D), zero after each example length, and the lengths (N,)."""
    g = torch.Generator().manual_seed(T)
    lengths = _lengths(T)
    return torch.randn(N_EXAMPLE, T, D, generator=g) * lengths_to_mask(lengths, T)[:, :, None], lengths


def _features_meta(task: Any) -> dict[str, Any]:
    """How a waveform becomes the graph's input: the feature settings (rnnkit.data.audio_features) at the run's
    rate and the normaliser (per-channel training mean/std, or each utterance's own)."""
    d = task.config.data
    spec = d.spec(task.sample_rate)
    return {
        "sample_rate": task.sample_rate,
        "features": {
            "kind": spec.kind,
            "rate": spec.rate,
            "win": spec.win,
            "hop": spec.hop,
            "n_mels": d.n_mels,
            "n_mfcc": d.n_mfcc,
            "dim": spec.dim,
            "win_ms": d.win_ms,
            "hop_ms": d.hop_ms,
        },
        "normalize": d.normalize,
        "max_seconds": d.max_seconds,
        "scaler": {"mean": np.asarray(task.scaler[0]).tolist(), "std": np.asarray(task.scaler[1]).tolist()},
    }


_FEATURES_HOW = (
    "x (N, T, D) float32: the waveform (mono, at sample_rate) -> features (rnnkit.data.audio_features "
    "with these settings: librosa's log-mel / MFCC) -> with normalize=utterance each utterance "
    "standardised by its own per-channel mean and std (+1e-5), then (x - scaler.mean) / scaler.std; "
    "padded with 0 after each length; lengths (N,) int64 frames. SpecAugment is training-only: not in "
    "the graph."
)


def speech_spec(task: Any, model: nn.Module) -> OnnxSpec:
    """Isolated words: classify's numeric graph (features + lengths -> logits, probabilities) with the feature
    pipeline in the JSON."""
    meta: dict[str, Any] = {
        "task": "speech",
        "classes": list(task.classes),
        **_features_meta(task),
        "how": _FEATURES_HOW + " probabilities = softmax(logits) over classes.",
    }
    return OnnxSpec(
        _Classify(model),
        lambda T: _frames(T, task.input_size),
        ["x", "lengths"],
        ["logits", "probabilities"],
        {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "logits": {0: "N"}, "probabilities": {0: "N"}},
        meta,
    )


class _CTC(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(x, lengths)  # (N, T', V+1) log-probabilities, (N,) T' per example


def ctc_spec(task: Any, model: nn.Module) -> OnnxSpec:
    """Connected words: features + lengths -> per-frame log-probabilities over blank + words, and the output
    lengths; the frame stacking (``model.subsample``) is inside the graph."""
    s = task.config.model.subsample
    meta: dict[str, Any] = {
        "task": "speech-ctc",
        "labels": ["<blank>", *task.words],
        "blank_id": 0,
        "subsample": s,
        **_features_meta(task),
        "how": _FEATURES_HOW + f" Inside the graph every {s} adjacent frames are stacked into one step (T zero-padded "
        "to a multiple of subsample), so log_probs is (N, T', 1 + words), T' = ceil(T / subsample), out_lengths = "
        "ceil(lengths / subsample). Greedy decoding: argmax per frame over the first out_lengths frames, merge "
        "repeats, drop blank_id (0); label i > 0 is labels[i].",
    }
    axes = {"x": {0: "N", 1: "T"}, "lengths": {0: "N"}, "log_probs": {0: "N", 1: "T_out"}, "out_lengths": {0: "N"}}
    return OnnxSpec(
        _CTC(model), lambda T: _frames(T, task.input_size), ["x", "lengths"], ["log_probs", "out_lengths"], axes, meta
    )


# ---- music: next-frame logits (Bernoulli) or the NADE's biases, with the recurrent state in and out ---------------


class _Music(nn.Module):
    """frames (N, T, K) + states -> Bernoulli: key logits of the next frame (N, T, K); NADE: its biases b_v (N, T, K)
    and b_h (N, T, J) (the key-by-key part, loops over 88 keys with sampling in between, runs outside)."""

    def __init__(self, net: nn.Module, *, nade: bool) -> None:
        super().__init__()
        self.net, self.nade = net, nade

    def forward(self, frames: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        u, final = self.net.features(frames, tuple(state))  # (N, T, H), S x (L, N, H)
        if self.nade:
            return (self.net.head.to_bv(u), self.net.head.to_bh(u), *final)
        return (self.net.head(u), *final)


def music_spec(task: Any, model: nn.Module) -> OnnxSpec:
    from rnnkit.models.music import NadeHead

    m = task.config.model
    nade = isinstance(model.head, NadeHead)
    names = list(layout(m.cell.name).state)
    L, H, K = m.num_layers, m.hidden_size, model.head.to_bv.out_features if nade else model.head.out_features

    def example(T: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(T)
        frames = (torch.rand(N_EXAMPLE, T, K, generator=g) < 0.08).float()  # a few keys down per frame
        return (frames, *(0.5 * torch.randn(L, N_EXAMPLE, H, generator=g) for _ in names))

    ins, outs = [f"{n}0" for n in names], [f"{n}_n" for n in names]
    heads = ["b_v", "b_h"] if nade else ["logits"]
    meta: dict[str, Any] = {
        "task": "music",
        "output": m.output,
        "keys": K,
        "lowest_midi": 21,
        "state": names,
        "state_shape": ["layers", "N", "hidden"],
        "layers": L,
        "hidden": H,
    }
    if nade:
        head = model.head
        meta["nade"] = {"W": head.W.detach().tolist(), "V": head.V.detach().tolist(), "hidden": head.W.shape[0]}
        meta["how"] = (
            "frames (N, T, K) float32 0/1 piano-roll frames (key k = MIDI 21 + k) and the initial states (zeros to "
            "start) -> b_v (N, T, K), b_h (N, T, J) for the frame after each input frame, and the final states. The "
            "NADE runs outside the graph with nade.W (J, K) and nade.V (K, J): a = b_h; for k = 0..K-1: "
            "l_k = b_v[k] + V[k] . sigmoid(a); p(x_k = 1) = sigmoid(l_k); draw (or read) x_k; a += x_k * W[:, k]. "
            "To generate: feed the drawn frame back (T=1) with the final states."
        )
    else:
        meta["how"] = (
            "frames (N, T, K) float32 0/1 piano-roll frames (key k = MIDI 21 + k) and the initial states (zeros to "
            "start) -> logits (N, T, K) of the frame after each input frame (p(key down) = sigmoid(logit), keys "
            "independent) and the final states. To generate: draw the next frame, feed it back (T=1) with the "
            "final states, as `rnnkit music generate` does."
        )
    axes = {"frames": {0: "N", 1: "T"}, **{h: {0: "N", 1: "T"} for h in heads}, **{n: {1: "N"} for n in ins + outs}}
    return OnnxSpec(_Music(model, nade=nade), example, ["frames", *ins], [*heads, *outs], axes, meta)
