"""The translator's ONNX interface: two graphs, the encoder and one decoder step (a caller loops).

Built as ``rnnkit.export.OnnxSpec``; the export itself, and its check against PyTorch, is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.export import N_EXAMPLE, OnnxSpec, example_lengths
from rnnkit.layout import layout
from rnnkit.tasks.translate.model import Seq2Seq


class _Encode(nn.Module):
    """src (N, S) ids + lengths -> memory and attention keys (N, S, H), the decoder's initial states (L, N, H) each
    and its input feed (N, H): ``Seq2Seq.encode`` with the state as tensors."""

    def __init__(self, net: Seq2Seq, n_state: int) -> None:
        super().__init__()
        self.net, self.n_state = net, n_state

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        ds = self.net.encode(src, src_lengths)
        states = (torch.stack([layer[i] for layer in ds.rnn]) for i in range(self.n_state))  # (L, N, H) each
        return (ds.memory, ds.keys, *states, ds.feed)


class _DecodeStep(nn.Module):
    """One decoder step, ``Seq2Seq.step``, with the state in and out as tensors: a caller loops it (greedy or
    beam search) as ``Seq2Seq.greedy`` does. The source mask is rebuilt from src_lengths inside the graph."""

    def __init__(self, net: Seq2Seq, n_state: int) -> None:
        super().__init__()
        self.net, self.n_state = net, n_state

    def forward(self, y_prev: Tensor, memory: Tensor, keys: Tensor, src_lengths: Tensor, *rest: Tensor):
        from rnnkit.tasks.translate.model import DecoderState

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
    from rnnkit.tasks.translate import data as P

    assert isinstance(model, Seq2Seq), type(model)  # the task's network, or export's copy of it
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
        lengths = example_lengths(S)
        src = torch.randint(4, max(len(task.src_vocab), 5), (N_EXAMPLE, S), generator=g)
        return src.masked_fill(~lengths_to_mask(lengths, S), P.PAD_ID), lengths

    def step_example(S: int) -> tuple[Tensor, ...]:
        g = torch.Generator().manual_seed(S + 1)
        y = torch.randint(2, max(len(task.tgt_vocab), 3), (N_EXAMPLE,), generator=g)
        mem, keys = torch.randn(N_EXAMPLE, S, H, generator=g), torch.randn(N_EXAMPLE, S, H, generator=g)
        states = (0.5 * torch.randn(L, N_EXAMPLE, H, generator=g) for _ in names)
        feed = (torch.randn(N_EXAMPLE, H, generator=g),) if m.input_feed else ()
        return (y, mem, keys, example_lengths(S), *states, *feed)

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
