"""ForecastNet shapes for every decoder x likelihood, monotone quantiles, anchors, and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.models.forecast import ForecastNet, forecast_loss, gaussian_nll_loss, pinball_loss
from rnnkit.tasks import forecast_metrics as fm


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize(("likelihood", "K"), [("point", 1), ("gaussian", 2), ("quantile", 3)])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes_and_gradients(decoder, likelihood, K, cell):
    torch.manual_seed(0)
    N, L, H, C, F = 3, 7, 4, 2, 1
    net = ForecastNet(
        n_inputs=C + F,
        n_targets=C,
        n_future=F,
        horizon=H,
        cell=cell,
        hidden_size=5,
        decoder=decoder,
        likelihood=likelihood,
    )
    x, fut, y = torch.randn(N, L, C + F), torch.randn(N, H, F), torch.randn(N, H, C)
    net.train()
    p = net(x, fut, y if decoder == "autoregressive" else None)
    assert p.shape == (N, H, C, K)
    forecast_loss(net, p, y).backward()
    assert all(q.grad is not None and torch.isfinite(q.grad).all() for q in net.parameters())
    net.eval()
    with torch.no_grad():
        p2 = net(x, fut)  # free running
    assert p2.shape == (N, H, C, K)
    if likelihood == "gaussian":
        assert (p2[..., 1] > 0).all()
    if likelihood == "quantile":
        assert (p2.diff(dim=-1) >= 0).all()  # no quantile crossing


def test_autoregressive_teacher_forcing_equals_free_running_when_fed_its_own_forecasts():
    """Teacher forcing with y = the free-running point forecasts reproduces the free-running output."""
    torch.manual_seed(1)
    net = ForecastNet(n_inputs=2, n_targets=1, n_future=1, horizon=5, hidden_size=6, decoder="autoregressive").eval()
    x, fut = torch.randn(2, 6, 2), torch.randn(2, 5, 1)
    with torch.no_grad():
        free = net(x, fut)
        forced = net(x, fut, free[..., 0])
    torch.testing.assert_close(forced, free, rtol=1e-5, atol=1e-6)  # float32, different op grouping


def test_anchors_start_from_last_value_and_seasonal_naive():
    torch.manual_seed(0)
    L, H, m = 8, 3, 4
    y = torch.arange(L, dtype=torch.float32).view(1, L, 1) ** 2  # 0 1 4 9 16 25 36 49
    for anchor, expected in (("last", [49.0, 49.0, 49.0]), ("seasonal", [16 + 40, 25 + 40, 36 + 40])):
        net = ForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=H, hidden_size=3, anchor=anchor, season=m)
        assert (
            net._anchor(y)[0, :, 0].tolist() == expected
        )  # seasonal: y[T+h-m] + (y[T] - y[T-m]), T=7: y[4..6] + (49 - 9)
    with pytest.raises(ValueError, match=r"input_length >= season \+ 1 = 9"):
        ForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=H, anchor="seasonal", season=8)._anchor(y)
    with pytest.raises(ValueError, match="anchor='seasonal' needs decoder='direct'"):
        ForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=H, anchor="seasonal", decoder="autoregressive")


def test_gaussian_nll_loss_matches_torch_and_numpy():
    torch.manual_seed(0)
    mu, sigma, y = (
        torch.randn(10, dtype=torch.float64),
        torch.rand(10, dtype=torch.float64) + 0.1,
        torch.randn(10, dtype=torch.float64),
    )
    ours = gaussian_nll_loss(torch.stack([mu, sigma], -1), y)
    ref = torch.nn.GaussianNLLLoss(full=True)(mu, y, sigma**2)  # the same NLL incl. 0.5 log(2 pi)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)  # float64, identical formula
    assert ours.item() == pytest.approx(fm.gaussian_nll(y.numpy(), mu.numpy(), sigma.numpy()), rel=1e-12)


def test_pinball_loss_matches_numpy_metric():
    rng = np.random.default_rng(0)
    y, q = rng.normal(size=(4, 3)), np.sort(rng.normal(size=(4, 3, 3)), axis=-1)
    ours = pinball_loss(torch.as_tensor(q), torch.as_tensor(y), (0.1, 0.5, 0.9)).item()
    assert ours == pytest.approx(fm.pinball(y, q, (0.1, 0.5, 0.9)), rel=1e-12)


def test_bad_options():
    with pytest.raises(ValueError, match="decoder must be one of"):
        ForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=2, decoder="beam")
    with pytest.raises(ValueError, match="quantiles must be increasing and inside"):
        ForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=2, likelihood="quantile", quantiles=(0.9, 0.1))


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_relative_inputs_make_forecasts_shift_with_the_level(decoder):
    """relative=True: adding c to every past target adds c to every forecast (level invariance); off, it does not."""
    torch.manual_seed(0)
    x, fut = torch.randn(2, 6, 2, dtype=torch.float64), torch.randn(2, 3, 1, dtype=torch.float64)
    shifted = x.clone()
    shifted[..., 0] += 5.0
    for relative, invariant in ((True, True), (False, False)):
        net = ForecastNet(
            n_inputs=2, n_targets=1, n_future=1, horizon=3, hidden_size=4, decoder=decoder, relative=relative
        )
        net = net.double().eval()
        with torch.no_grad():
            diff = net(shifted, fut) - net(x, fut)
        assert (
            torch.allclose(diff, torch.full_like(diff, 5.0), atol=1e-10) == invariant
        )  # float64: exact up to rounding
