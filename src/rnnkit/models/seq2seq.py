"""Sequence to sequence with attention: a bidirectional recurrent encoder, a recurrent decoder that attends
over the encoder outputs, greedy and batched beam-search decoding.

    src (N, S) -> TokenEncoder: embedding -> bidirectional Recurrent, H/2 per direction -> memory (N, S, H)
    final states of both directions concatenated -> decoder initial state (L, N, H)   (OpenNMT "bridge")
    per target step t (decoder cells of any registered cell, one step at a time):
      luong    (Luong et al. 2015 §3):  h_t = RNN([E y_{t-1}; h~_{t-1}], h_{t-1});  a_t = softmax(score(h_t, m))
      bahdanau (Bahdanau et al. 2015 §3.1, A.1.2): a_t = softmax(v^T tanh(W_q h_{t-1} + W_k m));
                                       h_t = RNN([E y_{t-1}; c_t; h~_{t-1}], h_{t-1})
      c_t = sum_s a_ts m_s;  h~_t = tanh(W_c [c_t; h_t])  (Luong eq. 5);  logits = W_o h~_t + b_o
    ``input_feed`` (Luong §3.3) feeds h~_{t-1} into the next step's input; without it the term is dropped.

Scores: ``dot`` h^T m (Luong eq. 8), ``general`` h^T W_a m, ``bahdanau`` (additive, "concat" in Luong).
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
from rnnkit.models.encoder import TokenEncoder
from rnnkit.models.regularizers import tie_weights
from rnnkit.registry import get_cell

ATTENTIONS = ("bahdanau", "dot", "general")


@dataclass(frozen=True)
class Seq2SeqSpec:
    """Sizes and choices of a Seq2Seq network (the task builds it from its config)."""

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


class Attention(nn.Module):
    """Scores of one query against every memory position, masked softmax and the context vector."""

    def __init__(self, kind: str, hidden_size: int) -> None:
        super().__init__()
        self.kind = kind
        H = hidden_size
        if kind == "general":
            self.W_a = nn.Linear(H, H, bias=False)  # Luong eq. 8, "general"
        elif kind == "bahdanau":
            self.W_q = nn.Linear(H, H, bias=False)  # Bahdanau A.1.2: W_a s_{i-1}
            self.W_k = nn.Linear(H, H, bias=True)  # U_a h_j (precomputed once per sentence)
            self.v = nn.Linear(H, 1, bias=False)  # v_a^T

    def keys(self, memory: Tensor) -> Tensor:
        """Per-sentence precomputation of the memory side: (N, S, H) -> (N, S, H)."""
        if self.kind == "general":
            return self.W_a(memory)  # (W_a m_s), so score = h . (W_a m_s)
        if self.kind == "bahdanau":
            return self.W_k(memory)
        return memory

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """query (N, H), keys/memory (N, S, H), mask (N, S) True at real positions -> (context (N, H), a (N, S))."""
        if self.kind == "bahdanau":
            e = self.v(torch.tanh(self.W_q(query).unsqueeze(1) + keys)).squeeze(2)  # (N, S)  Bahdanau eq. 6
        else:
            e = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (N, S)  Luong eq. 8 (dot / general)
        e = e.masked_fill(~mask, float("-inf"))  # padding gets exactly zero weight
        a = torch.softmax(e, dim=1)  # (N, S)  Luong eq. 7 / Bahdanau eq. 6
        return torch.bmm(a.unsqueeze(1), memory).squeeze(1), a  # (N, H)  c_t = sum_s a_ts m_s


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
        logits, attn = [], []
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
        lim = torch.ceil(src_lengths.double() * max_len_ratio).long() + 1
        return lim.clamp(min=1, max=max_len)

    # ---- greedy ----
    @torch.no_grad()
    def greedy(
        self, src: Tensor, src_lengths: Tensor, *, max_len_ratio: float = 2.0, max_len: int = 100
    ) -> tuple[list[list[int]], list[Tensor]]:
        """Argmax decoding. Returns per sentence the ids (EOS excluded) and the attention (T_n, S_n)."""
        ds = self.encode(src, src_lengths)
        N = src.shape[0]
        limit = self.max_lengths(src_lengths, max_len_ratio=max_len_ratio, max_len=max_len).tolist()
        y = torch.full((N,), self.spec.bos_id, dtype=torch.long, device=src.device)
        done = [False] * N
        out: list[list[int]] = [[] for _ in range(N)]
        att: list[list[Tensor]] = [[] for _ in range(N)]
        for t in range(max(limit)):
            logits, a, ds = self.step(y, ds)
            logits = self._mask_logits(logits)
            for n in range(N):
                if t == limit[n] - 1:  # the last allowed position can only end the sentence
                    logits[n].fill_(float("-inf"))
                    logits[n, self.spec.eos_id] = 0.0
            y = logits.argmax(1)
            for n, tok in enumerate(y.tolist()):
                if done[n]:
                    continue
                att[n].append(a[n, : int(src_lengths[n])])
                if tok == self.spec.eos_id:
                    done[n] = True
                else:
                    out[n].append(tok)
            if all(done):
                break
        return out, [torch.stack(x) for x in att]

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
    ) -> list[list[tuple[list[int], float]]]:
        """Batched beam search over N sentences x K beams in one decoder call per step.

        Hypotheses end with EOS (or are forced to at the length limit). Finished ones are ranked by
        log p / lp(|y|) with the GNMT length penalty lp = ((5 + |y|) / 6) ** alpha (Wu et al. 2016 §7), |y|
        counting EOS; alpha = 0 is plain log-probability. A sentence is done when it holds K finished
        hypotheses or, with ``early_stop``, as soon as no live beam can still beat its best finished one:
        log p only falls as a hypothesis grows, so a live beam's best possible score is its log p divided by
        the largest penalty it could reach, lp(limit) -- a bound, so stopping never loses the best hypothesis.
        Returns per sentence the finished (ids without EOS, normalised score), best first.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        K, eos = beam_size, self.spec.eos_id
        N = src.shape[0]
        dev = src.device
        limit = self.max_lengths(src_lengths, max_len_ratio=max_len_ratio, max_len=max_len).tolist()

        def lp(n_tokens: int) -> float:
            return ((5.0 + n_tokens) / 6.0) ** length_penalty

        ds = self.encode(src, src_lengths).select(torch.arange(N, device=dev).repeat_interleave(K))  # N*K rows
        scores = torch.full((N, K), float("-inf"), device=dev, dtype=ds.memory.dtype)
        scores[:, 0] = 0.0  # all K rows start identical: only the first one is expanded
        tokens = torch.full((N * K, 1), self.spec.bos_id, dtype=torch.long, device=dev)  # (N*K, t+1)
        finished: list[list[tuple[list[int], float]]] = [[] for _ in range(N)]
        active = [True] * N
        V = self.spec.tgt_vocab
        for t in range(max(limit)):
            logits, _, ds = self.step(tokens[:, -1], ds)
            logp = self._mask_logits(logits).log_softmax(-1).view(N, K, V)  # (N, K, V)
            for n in range(N):
                if not active[n]:
                    logp[n] = float("-inf")
                elif t == limit[n] - 1:  # forced end at the length limit
                    keep = logp[n, :, eos].clone()
                    logp[n] = float("-inf")
                    logp[n, :, eos] = keep
            cand = (scores.unsqueeze(2) + logp).view(N, K * V)  # (N, K*V)
            top_s, top_i = cand.topk(min(2 * K, K * V), dim=1)  # (N, 2K): enough to keep K live ones
            beam_idx, tok = top_i // V, top_i % V
            ninf = float("-inf")
            ns = [[ninf] * K for _ in range(N)]
            nr = [[n * K] * K for n in range(N)]
            nt = [[self.spec.pad_id] * K for _ in range(N)]
            ts, tb, tt = top_s.tolist(), beam_idx.tolist(), tok.tolist()
            for n in range(N):
                if not active[n]:
                    continue
                live = 0
                for rank, (s, b, w) in enumerate(zip(ts[n], tb[n], tt[n], strict=True)):
                    if s == ninf or live == K:
                        break
                    if w == eos:
                        if rank < K:  # an EOS among the best K candidates ends a hypothesis
                            ids = tokens[n * K + b, 1:].tolist()
                            finished[n].append((ids, s / lp(len(ids) + 1)))
                        continue
                    ns[n][live], nr[n][live], nt[n][live] = s, n * K + b, w
                    live += 1
                best_done = max((f[1] for f in finished[n]), default=ninf)
                if live == 0 or len(finished[n]) >= K:
                    active[n] = False
                elif early_stop and best_done >= ns[n][0] / lp(limit[n]):
                    active[n] = False  # no live beam can beat the best finished one (bound above)
            if not any(active):
                break
            rows = torch.tensor(nr, dtype=torch.long, device=dev).view(-1)  # (N*K,)
            ds = ds.select(rows)
            new_tok = torch.tensor(nt, dtype=torch.long, device=dev).view(-1, 1)
            tokens = torch.cat([tokens.index_select(0, rows), new_tok], dim=1)  # (N*K, t+2)
            scores = torch.tensor(ns, device=dev, dtype=logp.dtype)  # (N, K)
        for n in range(N):
            finished[n].sort(key=lambda f: -f[1])
        return finished


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


__all__ = ["ATTENTIONS", "Attention", "DecoderState", "Seq2Seq", "Seq2SeqSpec", "count_parameters", "padded_loss"]
