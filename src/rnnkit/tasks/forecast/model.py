"""Forecasting networks: an RNN encoder over any registered cell, then a direct or autoregressive decoder.

Shapes: N batch, L input length, H horizon, D encoder inputs per step (targets, past and future
covariates), C targets, F known-future covariates, K output parameters per target (1 point,
2 Gaussian (mu, sigma), Q quantiles).

* ``decoder="direct"`` (multi-horizon, MQ-RNN style, Wen et al. 2017 §3): the encoder's last hidden
  state and the horizon's future covariates go through a small MLP that emits all H steps at once.
* ``decoder="autoregressive"`` (seq2seq, Sutskever et al. 2014; DeepAR-style inputs, Salinas et al. 2020
  §3.1): a second recurrent stack starts from the encoder state and is rolled over the horizon; its input
  at step h is the previous target (the true one under teacher forcing in training, the model's own point
  forecast at inference) and the future covariates of step h.
* ``decoder="recurrent"`` (one RNN over the whole sequence, the layout of Darts' ``RNNModel`` and of DeepAR,
  Salinas et al. 2020 §3.1): step s reads ``(y_s, future covariates of s + 1)`` and emits ``y_{s+1}``. Training
  is teacher-forced next-step prediction at every step of a window (``sequence``); inference reads the L
  history steps, then feeds its own point forecast back for the remaining H - 1 steps. It takes no past
  covariates (unknown over the horizon) and no relative input levels (there is no single "last value" in a
  teacher-forced window); ``anchor="last"`` makes every step predict the change from its input value.

``anchor="last"`` adds the last observed target (scaled) to the location of every output, so the network
learns the change from "now" rather than the level; with the autoregressive decoder each step is anchored
on the previous step. ``anchor="seasonal"`` (direct decoder) starts from the seasonal naive forecast with
drift instead. Either lets a small RNN extrapolate a trend beyond the training range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layout import CellOptions
from rnnkit.nn import Recurrent
from rnnkit.tasks.forecast.config import ANCHORS, DECODERS, LIKELIHOODS

if TYPE_CHECKING:
    from rnnkit.tasks.forecast.config import ForecastModelConfig

MIN_SIGMA = 1e-4  # floor on the Gaussian scale so the NLL stays finite


class ForecastNet(nn.Module):
    """RNN encoder + direct or autoregressive decoder; forward returns (N, H, C, K) distribution parameters."""

    def __init__(
        self,
        *,
        n_inputs: int,
        n_targets: int,
        n_future: int,
        horizon: int,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        decoder: str = "direct",
        likelihood: str = "point",
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        anchor: str = "last",
        season: int = 1,
        relative: bool = True,
        impl: str = "auto",
        options: CellOptions | None = None,
        weight_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        q = tuple(float(x) for x in quantiles)
        if likelihood == "quantile" and (not q or sorted(q) != list(q) or not all(0 < x < 1 for x in q)):
            raise ValueError(f"quantiles must be increasing and inside (0, 1), got {q}")
        self.C, self.F, self.H, self.D = n_targets, n_future, horizon, n_inputs
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
        if anchor == "seasonal" and decoder != "direct":
            raise ValueError(
                "anchor='seasonal' needs decoder='direct' (the autoregressive decoder anchors on the previous step)"
            )
        if decoder == "recurrent" and n_inputs != n_targets + n_future:
            raise ValueError(
                f"decoder='recurrent' reads targets and known-future covariates only ({n_targets} + {n_future} "
                f"inputs), got {n_inputs}: drop the past covariates or use decoder='direct'/'autoregressive'"
            )
        if decoder == "recurrent" and anchor != "none" and relative:
            raise ValueError("decoder='recurrent' feeds absolute (scaled) levels: set relative=False, or anchor='none'")
        self.decoder_kind, self.likelihood, self.quantiles, self.anchor = decoder, likelihood, q, anchor
        self.season, self.relative = season, relative
        self.K = {"point": 1, "gaussian": 2, "quantile": len(q)}[likelihood]
        rnn: dict[str, Any] = dict(  # Recurrent's keywords, shared by the encoder and the decoder
            num_layers=num_layers, dropout=dropout, impl=impl, options=options or CellOptions(), weight_drop=weight_drop
        )
        self.encoder = Recurrent(cell, n_inputs, hidden_size, **rnn)
        self.head: nn.Linear | nn.Sequential
        if decoder == "recurrent":  # the encoder is the whole model; a linear read-out per step
            self.head = nn.Linear(hidden_size, n_targets * self.K)
        elif decoder == "direct":
            self.head = nn.Sequential(
                nn.Linear(hidden_size + horizon * n_future, hidden_size),
                nn.ReLU(),
                nn.Linear(hidden_size, horizon * n_targets * self.K),
            )
        else:
            self.decoder = Recurrent(cell, n_targets + n_future, hidden_size, **rnn)
            self.head = nn.Linear(hidden_size, n_targets * self.K)

    @classmethod
    def from_config(
        cls, cfg: ForecastModelConfig, *, n_inputs: int, n_targets: int, n_future: int, horizon: int, season: int
    ) -> ForecastNet:
        """The network of a ``model`` config section, for a series' column counts and its resolved horizon and
        season (those come from the data, not the config)."""
        return cls(
            n_inputs=n_inputs,
            n_targets=n_targets,
            n_future=n_future,
            horizon=horizon,
            cell=cfg.cell.name,
            options=cfg.cell.options(),
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
            weight_drop=cfg.weight_drop,
            decoder=cfg.decoder,
            likelihood=cfg.likelihood,
            quantiles=cfg.quantiles,
            anchor=cfg.anchor,
            season=season,
            relative=cfg.relative,
            impl=cfg.impl,
        )

    def forward(self, x: Tensor, future: Tensor, y_teacher: Tensor | None = None) -> Tensor:
        """x (N, L, D) history (targets first), future (N, H, F), y_teacher (N, H, C) or None -> (N, H, C, K)."""
        N = x.shape[0]
        if self.decoder_kind == "recurrent":
            if y_teacher is not None:
                raise ValueError("decoder='recurrent' trains through sequence(), not forward(..., y_teacher)")
            return self._recurrent(x, future)
        last = x[:, -1, : self.C]  # (N, C) last observed targets, the anchor
        # relative=True (with an anchor): the network sees target levels relative to the last value
        # (level-invariant, like RevIN's instance normalisation, Kim et al. 2022 §3), so a level never seen
        # in training changes nothing. Off, the absolute level is an input too (it helps when the level
        # itself carries information, e.g. the seasonal amplitude of AirPassengers).
        ref = last if (self.anchor != "none" and self.relative) else torch.zeros_like(last)  # (N, C)
        x_rel = torch.cat([x[..., : self.C] - ref[:, None], x[..., self.C :]], dim=2)  # (N, L, D)
        out, state = self.encoder(x_rel)  # out (N, L, H_hid)
        if self.decoder_kind == "direct":
            z = torch.cat([out[:, -1], future.reshape(N, -1)], dim=1)  # (N, H_hid + H*F)
            raw = self.head(z).view(N, self.H, self.C, self.K)
            return self._params(raw, self._anchor(x))
        if y_teacher is not None:  # teacher forcing: all H decoder steps in one call
            prev = torch.cat([last[:, None], y_teacher[:, :-1]], dim=1)  # (N, H, C)
            dec, _ = self.decoder(torch.cat([prev - ref[:, None], future], dim=2), state)  # (N, H, H_hid)
            raw = self.head(dec).view(N, self.H, self.C, self.K)
            return self._params(raw, prev if self.anchor != "none" else None)
        steps, prev = [], last
        for h in range(self.H):  # free running: feed back the point forecast
            inp = torch.cat([prev - ref, future[:, h]], dim=1)[:, None]  # (N, 1, C + F)
            dec, state = self.decoder(inp, state)
            p = self._params(
                self.head(dec).view(N, 1, self.C, self.K), prev[:, None] if self.anchor != "none" else None
            )
            steps.append(p)
            prev = self.point(p)[:, 0]  # (N, C)
        return torch.cat(steps, dim=1)

    def _next_step_inputs(self, x: Tensor, future: Tensor) -> Tensor:
        """Recurrent layout: x (N, L, C + F) history, future (N, H, F) -> (N, L + H - 1, C + F) where step s
        holds ``(y_s, covariates of s + 1)``; the last H - 1 target slots are placeholders (zeros)."""
        N, C = x.shape[0], self.C
        y = torch.cat([x[..., :C], x.new_zeros(N, self.H - 1, C)], dim=1)  # (N, L + H - 1, C)
        return torch.cat([y, self._next_covariates(x, future)], dim=2)

    def _next_covariates(self, x: Tensor, future: Tensor) -> Tensor:
        """(N, L + H - 1, F): step s's known covariates of s + 1 (history then future)."""
        return torch.cat([x[:, 1:, self.C :], future], dim=1)

    def sequence(self, x: Tensor, future: Tensor, y_teacher: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced training pass of the recurrent decoder over a whole window.

        x (N, L, C + F), future (N, H, F), y_teacher (N, H, C) -> (params (N, L + H - 1, C, K), targets
        (N, L + H - 1, C)): step s's prediction of ``y_{s+1}`` for every step, and the true ``y_{s+1}``.
        """
        if self.decoder_kind != "recurrent":
            raise ValueError(
                f"sequence() is the recurrent decoder's training pass; this model is {self.decoder_kind!r}"
            )
        N, C = x.shape[0], self.C
        y_all = torch.cat([x[..., :C], y_teacher], dim=1)  # (N, L + H, C) the window's targets
        inp = torch.cat([y_all[:, :-1], self._next_covariates(x, future)], dim=2)  # true targets in every slot
        out, _ = self.encoder(inp)  # (N, L + H - 1, H_hid)
        raw = self.head(out).view(N, -1, C, self.K)
        return self._params(raw, y_all[:, :-1] if self.anchor != "none" else None), y_all[:, 1:]

    def _recurrent(self, x: Tensor, future: Tensor) -> Tensor:
        """Free-running recurrent forecast: read the L history steps, then feed back H - 1 point forecasts."""
        N, C, L = x.shape[0], self.C, x.shape[1]
        inp = self._next_step_inputs(x, future)  # (N, L + H - 1, C + F)
        out, state = self.encoder(inp[:, :L])  # (N, L, H_hid); the last step predicts y at the origin
        prev = x[:, -1:, :C]  # (N, 1, C)
        p = self._params(self.head(out[:, -1:]).view(N, 1, C, self.K), prev if self.anchor != "none" else None)
        steps = [p]
        for h in range(1, self.H):  # step L + h - 1 reads the forecast of y at origin + h - 1
            prev = self.point(p)  # (N, 1, C)
            dec, state = self.encoder(torch.cat([prev, inp[:, L + h - 1 : L + h, C:]], dim=2), state)
            p = self._params(self.head(dec).view(N, 1, C, self.K), prev if self.anchor != "none" else None)
            steps.append(p)
        return torch.cat(steps, dim=1)  # (N, H, C, K)

    def _anchor(self, x: Tensor) -> Tensor | None:
        """Location the direct head's outputs are added to (N, H, C), from the history x (N, L, D).

        last: ``y_t`` for every step. seasonal: seasonal naive with drift, ``y_{t+h-m} + (y_t - y_{t-m})``
        (the forecast of a seasonal random walk; the network learns the residual).
        """
        y = x[..., : self.C]  # (N, L, C)
        if self.anchor == "none":
            return None
        if self.anchor == "last":
            return y[:, -1:].expand(-1, self.H, -1)
        m, L = self.season, y.shape[1]
        if L < m + 1:
            raise ValueError(f"anchor='seasonal' needs input_length >= season + 1 = {m + 1}, got {L}")
        idx = L - m + torch.arange(self.H, device=x.device) % m  # (H,) the same phase one season back
        return y[:, idx] + (y[:, -1:] - y[:, -1 - m : -m])

    def _params(self, raw: Tensor, loc: Tensor | None) -> Tensor:
        """Raw head output (N, H, C, K) -> distribution parameters; ``loc`` (N, H, C) shifts the location."""
        if self.likelihood == "point":
            mu = raw
        elif self.likelihood == "gaussian":
            mu = raw[..., :1]
            sigma = F.softplus(raw[..., 1:]) + MIN_SIGMA
        else:  # monotone quantiles: first one free, then positive increments (no quantile crossing)
            mu = torch.cumsum(torch.cat([raw[..., :1], F.softplus(raw[..., 1:])], dim=-1), dim=-1)
        if loc is not None:
            mu = mu + loc[..., None]
        return torch.cat([mu, sigma], dim=-1) if self.likelihood == "gaussian" else mu

    def point(self, params: Tensor) -> Tensor:
        """Point forecast (N, H, C): the value, the Gaussian mean, or the median (middle quantile)."""
        if self.likelihood == "quantile":
            return params[..., len(self.quantiles) // 2]
        return params[..., 0]


def gaussian_nll_loss(params: Tensor, y: Tensor) -> Tensor:
    """Mean Gaussian negative log-likelihood, params (..., 2) = (mu, sigma), y (...)."""
    mu, sigma = params[..., 0], params[..., 1]
    return (0.5 * torch.log(2 * torch.pi * sigma**2) + 0.5 * ((y - mu) / sigma) ** 2).mean()


def pinball_loss(q_pred: Tensor, y: Tensor, quantiles: Sequence[float]) -> Tensor:
    """Mean pinball loss, q_pred (..., Q), y (...): ``max(q d, (q - 1) d)`` with ``d = y - y_q``."""
    q = torch.as_tensor(quantiles, dtype=q_pred.dtype, device=q_pred.device)
    d = y[..., None] - q_pred
    return torch.maximum(q * d, (q - 1) * d).mean()


def forecast_loss(model: ForecastNet, params: Tensor, y: Tensor) -> Tensor:
    """The training loss for the model's likelihood: MSE, Gaussian NLL or pinball. params (N, H, C, K), y (N, H, C)."""
    if model.likelihood == "gaussian":
        return gaussian_nll_loss(params, y)
    if model.likelihood == "quantile":
        return pinball_loss(params, y, model.quantiles)
    return F.mse_loss(params[..., 0], y)
