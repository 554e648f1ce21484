"""The translation network: a bidirectional recurrent encoder and a recurrent decoder that attends over the encoder
outputs (Bahdanau et al. 2015; Luong et al. 2015), teacher-forced for training, greedy or beam decoding.

    src (N, S) -> TokenEncoder: embedding -> bidirectional Recurrent, H/2 per direction -> memory (N, S, H)
    final states of both directions concatenated -> decoder initial state (L, N, H)   (OpenNMT "bridge")
    per target step t (decoder cells of any registered cell, one step at a time):
      luong    (Luong et al. 2015 §3):  h_t = RNN([E y_{t-1}; h~_{t-1}], h_{t-1});  a_t = softmax(score(h_t, m))
      bahdanau (Bahdanau et al. 2015 §3.1, A.1.2): a_t = softmax(v^T tanh(W_q h_{t-1} + W_k m));
                                       h_t = RNN([E y_{t-1}; c_t; h~_{t-1}], h_{t-1})
      c_t = sum_s a_ts m_s;  h~_t = tanh(W_c [c_t; h_t])  (Luong eq. 5);  logits = W_o h~_t + b_o
    ``input_feed`` (Luong §3.3) feeds h~_{t-1} into the next step's input; without it the term is dropped.

Scores (``dot``, ``general``, ``bahdanau``) are the shared ``rnnkit.models.attention.Attention``; greedy and beam
decoding are the shared ``rnnkit.models.beam`` loops over ``Seq2Seq.step``. The network is built from
``Seq2SeqSpec`` (the task fills it from ``TranslatorModelConfig``).
Padding: encoder lengths make the runner skip padded steps, and attention scores at padded source
positions are -inf before the softmax, so padded content can never change an output.
Embeddings: ``share_embeddings`` uses one matrix for source and target (needs one joint vocabulary);
``tie_output`` makes the output matrix the target embedding (Press & Wolf 2017), with a projection H -> E.

Shape letters: N batch, S source length, T target length, E embedding, H hidden (decoder; H/2 per encoder
direction), V target vocabulary, K beam size, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.sequences import lengths_to_mask
from rnnkit.layout import CellOptions
from rnnkit.models import beam
from rnnkit.models.attention import ATTENTIONS, Attention
from rnnkit.models.beam import Hypothesis
from rnnkit.models.encoder import TokenEncoder
from rnnkit.models.regularizers import tie_weights
from rnnkit.registry import get_cell
from rnnkit.tasks.translate.config import TranslatorModelConfig
from rnnkit.tasks.translate.data import BOS_ID, EOS_ID, PAD_ID


@dataclass(frozen=True)
class Seq2SeqSpec:
    """Sizes and choices of a Seq2Seq network (``from_config``: a translation run's).

    The defaults are those of ``TranslatorModelConfig``; the special ids those of ``data.py``."""

    src_vocab: int
    tgt_vocab: int
    cell: str = "gru"
    embedding_dim: int = 128
    hidden_size: int = 256  # decoder H; each encoder direction has H/2 so the memory is H wide
    num_layers: int = 1
    attention: str = "general"
    input_feed: bool = True
    dropout: float = 0.0
    share_embeddings: bool = False
    tie_output: bool = False
    pad_id: int = 1
    bos_id: int = 2
    eos_id: int = 3
    options: CellOptions | None = None

    @classmethod
    def from_config(cls, m: TranslatorModelConfig, *, src_vocab: int, tgt_vocab: int) -> Seq2SeqSpec:
        """A translation run's network: sizes and choices from its ``model`` section, vocabulary sizes from its
        data, the special ids of ``data.py``."""
        return cls(
            src_vocab=src_vocab,
            tgt_vocab=tgt_vocab,
            cell=m.cell.name,
            embedding_dim=m.embed_size,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            attention=m.attention,
            input_feed=m.input_feed,
            dropout=m.dropout,
            share_embeddings=m.share_embeddings,
            tie_output=m.tie_output,
            pad_id=PAD_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            options=m.cell.options(),
        )

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.hidden_size % 2:
            raise ValueError(f"hidden_size must be even (H/2 per encoder direction), got {self.hidden_size}")
        if self.share_embeddings and self.src_vocab != self.tgt_vocab:
            raise ValueError(
                f"share_embeddings needs one joint vocabulary, got source {self.src_vocab} and target "
                f"{self.tgt_vocab} tokens; build a joint vocabulary or turn share_embeddings off"
            )


@dataclass
class DecoderState:
    """Everything one decoder step needs, for a batch of N sentences (or N*K beams)."""

    rnn: list[tuple[Tensor, ...]]  # per layer, the cell state tuple of (N, H) tensors
    feed: Tensor  # (N, H) h~_{t-1}
    memory: Tensor  # (N, S, H)
    keys: Tensor  # (N, S, H)
    mask: Tensor  # (N, S)

    def select(self, idx: Tensor) -> DecoderState:
        """Reorder / repeat rows (beam search): idx (M,) -> a state of M rows."""
        return DecoderState(
            [tuple(s.index_select(0, idx) for s in layer) for layer in self.rnn],
            self.feed.index_select(0, idx),
            self.memory.index_select(0, idx),
            self.keys.index_select(0, idx),
            self.mask.index_select(0, idx),
        )


class Seq2Seq(nn.Module):
    """Encoder-decoder with attention; ``forward`` is teacher-forced, ``greedy`` and ``beam_search`` decode."""

    def __init__(self, spec: Seq2SeqSpec) -> None:
        super().__init__()
        self.spec = spec
        E, H, L = spec.embedding_dim, spec.hidden_size, spec.num_layers
        opts = spec.options or CellOptions()
        self.encoder = TokenEncoder(
            spec.src_vocab,
            cell=spec.cell,
            embedding_dim=E,
            hidden_size=H // 2,
            num_layers=L,
            bidirectional=True,
            dropout=spec.dropout,
            options=opts,
        )
        self.tgt_embedding = self.encoder.embedding if spec.share_embeddings else nn.Embedding(spec.tgt_vocab, E)
        cls = get_cell(spec.cell, engine="nn")
        d_in = E + (H if spec.input_feed else 0) + (H if spec.attention == "bahdanau" else 0)
        self.cells = nn.ModuleList([cls(d_in if l == 0 else H, H, options=opts) for l in range(L)])
        self.attn = Attention(spec.attention, H)
        self.combine = nn.Linear(2 * H, H, bias=False)  # W_c in h~ = tanh(W_c [c; h])  (Luong eq. 5)
        self.drop = nn.Dropout(spec.dropout)
        self.proj = nn.Linear(H, E, bias=False) if spec.tie_output and H != E else None
        self.out = nn.Linear(E if spec.tie_output else H, spec.tgt_vocab)
        if spec.tie_output:
            tie_weights(self.out, self.tgt_embedding)

    # ---- encoder ----
    def encode(self, src: Tensor, src_lengths: Tensor) -> DecoderState:
        """src (N, S) ids, lengths (N,) -> the decoder's initial state with the memory (N, S, H)."""
        if src.dim() != 2 or src.is_floating_point():
            raise ValueError(f"Seq2Seq.encode: src must be integer ids (N, S), got {src.dtype} {tuple(src.shape)}")
        if bool((src_lengths < 1).any()):
            raise ValueError("Seq2Seq.encode: every source sentence needs at least one token (a length of 0 given)")
        enc = self.encoder
        x = enc._drop(enc.embed(src))  # (N, S, E)
        memory, state = enc.rnn(x, lengths=src_lengths)  # (N, S, H), tuple of (L*2, N, H/2)
        N, S, H = memory.shape
        # bridge: concatenate the forward final state and the backward state at t=0, per layer -> (L, N, H)
        L = self.spec.num_layers
        init = [s.view(L, 2, N, H // 2).permute(0, 2, 1, 3).reshape(L, N, H) for s in state]
        rnn = [tuple(s[l] for s in init) for l in range(L)]
        mask = lengths_to_mask(src_lengths.to(src.device), S)  # (N, S)
        feed = memory.new_zeros(N, H)
        return DecoderState(rnn, feed, memory, self.attn.keys(memory), mask)

    # ---- one decoder step ----
    def step(self, y_prev: Tensor, ds: DecoderState) -> tuple[Tensor, Tensor, DecoderState]:
        """y_prev (N,) ids -> (logits (N, V), attention (N, S), next state)."""
        x = self.drop(self.tgt_embedding(y_prev))  # (N, E)
        parts = [x]
        if self.spec.attention == "bahdanau":
            ctx, a = self.attn(ds.rnn[-1][0], ds.keys, ds.memory, ds.mask)  # query = h_{t-1} (Bahdanau §3.1)
            parts.append(ctx)
        if self.spec.input_feed:
            parts.append(ds.feed)  # Luong §3.3 input feeding
        inp = torch.cat(parts, dim=1) if len(parts) > 1 else x  # (N, d_in)
        new_rnn = []
        for l, cell in enumerate(self.cells):
            st = cell(inp, ds.rnn[l])  # tuple of (N, H)
            new_rnn.append(st)
            inp = self.drop(st[0]) if l + 1 < len(self.cells) else st[0]
        h = new_rnn[-1][0]  # (N, H)
        if self.spec.attention != "bahdanau":
            ctx, a = self.attn(h, ds.keys, ds.memory, ds.mask)  # query = h_t (Luong §3.1)
        h_tilde = torch.tanh(self.combine(torch.cat([ctx, h], dim=1)))  # (N, H)  Luong eq. 5
        o = self.drop(h_tilde)
        if self.proj is not None:
            o = self.proj(o)  # (N, E) for the tied output matrix
        logits = self.out(o)  # (N, V)
        return logits, a, DecoderState(new_rnn, h_tilde, ds.memory, ds.keys, ds.mask)

    # ---- teacher forcing ----
    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        *,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits. src (N, S), lengths (N,), tgt_in (N, T) starting with BOS -> (logits (N, T, V),
        attention (N, T, S)). With ``teacher_forcing`` < 1 each step after the first feeds the model's own
        argmax instead of the gold token with probability 1 - ratio (scheduled sampling, Bengio et al. 2015 §2)."""
        ds = self.encode(src, src_lengths)
        N, T = tgt_in.shape
        logits: list[Tensor] = []
        attn: list[Tensor] = []
        y = tgt_in[:, 0]
        gold = tgt_in.unbind(1)  # unbind avoids a full-size zero gradient per step (PERF-NOTES)
        for t in range(T):
            if t > 0:
                y = gold[t]
                if teacher_forcing < 1.0:
                    own = logits[-1].detach().argmax(1)  # (N,)
                    coin = torch.rand(N, generator=generator, device=src.device) >= teacher_forcing
                    y = torch.where(coin, own, y)
            lg, a, ds = self.step(y, ds)
            logits.append(lg)
            attn.append(a)
        return torch.stack(logits, 1), torch.stack(attn, 1)  # (N, T, V), (N, T, S)

    @torch.no_grad()
    def score(self, src: Tensor, src_lengths: Tensor, tgt: Tensor) -> Tensor:
        """Sum of log p(tgt | src) of full target sequences tgt (N, T) (ending with EOS, no BOS) -> (N,)."""
        bos = torch.full_like(tgt[:, :1], self.spec.bos_id)
        logits, _ = self.forward(src, src_lengths, torch.cat([bos, tgt[:, :-1]], 1))
        logp = self._mask_logits(logits).log_softmax(-1)  # (N, T, V)
        return logp.gather(2, tgt.unsqueeze(2)).squeeze(2).sum(1)

    def _mask_logits(self, logits: Tensor) -> Tensor:
        """PAD and BOS are never generated."""
        logits = logits.clone()
        logits[..., self.spec.pad_id] = float("-inf")
        logits[..., self.spec.bos_id] = float("-inf")
        return logits

    @staticmethod
    def max_lengths(src_lengths: Tensor, *, max_len_ratio: float, max_len: int) -> Tensor:
        """Output length limit per sentence, EOS included: min(max_len, ceil(ratio * S_n) + 1) -> (N,)."""
        return beam.length_limits(src_lengths, max_len_ratio=max_len_ratio, max_len=max_len)

    # ---- greedy ----
    @torch.no_grad()
    def greedy(
        self, src: Tensor, src_lengths: Tensor, *, max_len_ratio: float = 2.0, max_len: int = 100
    ) -> tuple[list[list[int]], list[Tensor]]:
        """Argmax decoding. Returns per sentence the ids (EOS excluded) and the attention (T_n, S_n)."""
        steps: list[Tensor] = []  # the attention (N, S) of every step

        def step(y: Tensor, ds: DecoderState) -> tuple[Tensor, DecoderState]:
            logits, a, ds = self.step(y, ds)
            steps.append(a)
            return self._mask_logits(logits), ds

        limit = self.max_lengths(src_lengths, max_len_ratio=max_len_ratio, max_len=max_len)
        sp = self.spec
        out = beam.greedy_search(
            step,
            self.encode(src, src_lengths),
            batch_size=src.shape[0],
            bos_id=sp.bos_id,
            eos_id=sp.eos_id,
            max_lengths=limit,
            device=src.device,
        )
        # every sentence ends with EOS (at the latest at its limit): its attention has len(ids) + 1 rows
        lengths = src_lengths.tolist()
        att = [torch.stack([a[n, : int(lengths[n])] for a in steps[: len(ids) + 1]]) for n, ids in enumerate(out)]
        return out, att

    # ---- beam search ----
    @torch.no_grad()
    def beam_search(
        self,
        src: Tensor,
        src_lengths: Tensor,
        *,
        beam_size: int = 5,
        length_penalty: float = 0.0,
        max_len_ratio: float = 2.0,
        max_len: int = 100,
        early_stop: bool = True,
    ) -> list[list[Hypothesis]]:
        """Batched beam search over N sentences x K beams in one decoder call per step (``rnnkit.models.beam``:
        GNMT length penalty ``length_penalty``, early stopping on a bound that never loses the best hypothesis).
        Returns per sentence the finished (ids without EOS, normalised score), best first."""

        def step(y: Tensor, ds: DecoderState) -> tuple[Tensor, DecoderState]:
            logits, _, ds = self.step(y, ds)
            return self._mask_logits(logits).log_softmax(-1), ds  # (N*K, V)

        sp = self.spec
        return beam.beam_search(
            step,
            self.encode(src, src_lengths),
            batch_size=src.shape[0],
            beam_size=beam_size,
            bos_id=sp.bos_id,
            eos_id=sp.eos_id,
            max_lengths=self.max_lengths(src_lengths, max_len_ratio=max_len_ratio, max_len=max_len),
            length_penalty=length_penalty,
            early_stop=early_stop,
            reorder=DecoderState.select,
            device=src.device,
        )


def count_parameters(model: nn.Module) -> int:
    """Distinct trainable parameters (tied matrices counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


def padded_loss(logits: Tensor, target: Tensor, *, ignore_index: int, label_smoothing: float = 0.0) -> Tensor:
    """Mean token cross-entropy over real target positions only: logits (N, T, V), target (N, T)."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        target.reshape(-1),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )


__all__ = ["DecoderState", "Seq2Seq", "Seq2SeqSpec", "count_parameters", "padded_loss"]
