"""ForecastNet shapes for every decoder x likelihood, monotone quantiles, anchors, and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.tasks.forecast import metrics as fm
from rnnkit.tasks.forecast.model import ForecastNet, forecast_loss, gaussian_nll_loss, pinball_loss


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


def _recurrent(**kw):
    args = dict(n_inputs=3, n_targets=1, n_future=2, horizon=4, hidden_size=5, decoder="recurrent", anchor="none")
    return ForecastNet(**{**args, **kw})


@pytest.mark.parametrize(("likelihood", "K"), [("point", 1), ("gaussian", 2), ("quantile", 3)])
def test_recurrent_shapes_and_gradients(likelihood, K):
    torch.manual_seed(0)
    N, L, H = 3, 6, 4
    net = _recurrent(likelihood=likelihood)
    x, fut, y = torch.randn(N, L, 3), torch.randn(N, H, 2), torch.randn(N, H, 1)
    params, target = net.sequence(x, fut, y)
    assert params.shape == (N, L + H - 1, 1, K)  # one next-step prediction per input step
    torch.testing.assert_close(target, torch.cat([x[:, 1:, :1], y], dim=1), rtol=0, atol=0)
    forecast_loss(net, params, target).backward()
    assert all(q.grad is not None and torch.isfinite(q.grad).all() for q in net.parameters())
    with torch.no_grad():
        assert net.eval()(x, fut).shape == (N, H, 1, K)


def test_recurrent_teacher_forcing_equals_free_running_when_fed_its_own_forecasts():
    """sequence() with y = the free-running point forecasts gives the free-running output from step L - 1 on."""
    torch.manual_seed(1)
    net = _recurrent().eval()
    L = 6
    x, fut = torch.randn(2, L, 3), torch.randn(2, 4, 2)
    with torch.no_grad():
        free = net(x, fut)
        forced, _ = net.sequence(x, fut, free[..., 0])
    torch.testing.assert_close(forced[:, L - 1 :], free, rtol=1e-5, atol=1e-6)  # float32, different op grouping


def test_recurrent_reads_the_covariates_of_the_step_it_predicts():
    """Darts' RNNModel layout: the step that predicts y_t reads the covariates of t, not those of t - 1."""
    torch.manual_seed(2)
    net = _recurrent(horizon=1).double().eval()
    x, fut = torch.randn(1, 5, 3, dtype=torch.float64), torch.randn(1, 1, 2, dtype=torch.float64)
    with torch.no_grad():
        base = net(x, fut)
        moved_future = net(x, fut + 1.0)  # covariates of the forecast step t
        x2 = x.clone()
        x2[:, 0, 1:] += 1.0  # covariates of the oldest history step: read by no step (it predicts nothing in range)
        moved_oldest = net(x2, fut)
    assert not torch.allclose(base, moved_future)
    torch.testing.assert_close(base, moved_oldest, rtol=0, atol=0)


def test_recurrent_anchor_last_predicts_changes():
    """With a zero read-out, anchor='last' forecasts 'no change' at every step: the last value, repeated."""
    net = _recurrent(anchor="last", relative=False).eval()
    nn.init.zeros_(net.head.weight)
    nn.init.zeros_(net.head.bias)
    x = torch.randn(2, 6, 3)
    with torch.no_grad():
        p = net(x, torch.randn(2, 4, 2))
    torch.testing.assert_close(p[..., 0], x[:, -1:, :1].expand(-1, 4, -1), rtol=0, atol=0)


def test_recurrent_bad_options():
    with pytest.raises(ValueError, match="decoder='recurrent' reads targets and known-future covariates only"):
        _recurrent(n_inputs=4)  # one past covariate
    with pytest.raises(ValueError, match="set relative=False, or anchor='none'"):
        _recurrent(anchor="last", relative=True)
    with pytest.raises(ValueError, match="trains through sequence"):
        _recurrent()(torch.randn(1, 6, 3), torch.randn(1, 4, 2), torch.randn(1, 4, 1))
    direct = ForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=2)
    with pytest.raises(ValueError, match="sequence\\(\\) is the recurrent decoder's training pass"):
        direct.sequence(torch.randn(1, 3, 1), torch.randn(1, 2, 0), torch.randn(1, 2, 1))


def test_from_config_builds_the_keyword_network():
    """``ForecastNet.from_config`` reads every network field of the model section: same layers, same weights."""
    from rnnkit.config import CellConfig
    from rnnkit.tasks.forecast.config import ForecastModelConfig

    m = ForecastModelConfig(
        cell=CellConfig(name="gru"), hidden_size=6, num_layers=2, decoder="autoregressive", likelihood="quantile"
    )
    torch.manual_seed(0)
    a = ForecastNet.from_config(m, n_inputs=3, n_targets=2, n_future=1, horizon=4, season=12)
    torch.manual_seed(0)
    b = ForecastNet(
        n_inputs=3,
        n_targets=2,
        n_future=1,
        horizon=4,
        cell="gru",
        hidden_size=6,
        num_layers=2,
        decoder="autoregressive",
        likelihood="quantile",
        season=12,
    )
    assert (a.decoder_kind, a.likelihood, a.quantiles, a.anchor, a.season) == (
        "autoregressive",
        "quantile",
        m.quantiles,
        "last",
        12,
    )
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
