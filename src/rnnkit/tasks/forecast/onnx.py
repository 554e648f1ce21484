"""The forecaster's ONNX interface: input windows [+ future covariates] -> the likelihood's parameters.

Built as ``rnnkit.export.OnnxSpec``; the export itself, and its check against PyTorch, is ``rnnkit.export``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.export import N_EXAMPLE, OnnxSpec


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
