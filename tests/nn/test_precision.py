"""precision='bf16' (nn/precision.py): bf16 gradients against float32, float32 master weights and losses, refusal.

Tolerance. bfloat16 keeps 8 significant bits: rounding a product input costs a relative error of at most 2^-9,
and a product of two rounded inputs ~2^-8; the sums inside a product accumulate in float32. Over the T=10 steps
and 2 layers below the recurrence carries those errors forward (contracting at init), so we allow 12 x 2^-8
(~4.7%) of the largest gradient entry; measured 0.2-0.9% on this test's sizes. A floor of 1e-5 checks that the
products really ran in bf16 (two float32 paths differ by ~1e-7).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from rnnkit.config import ConfigError, OptimConfig, TrainConfig
from rnnkit.layout import CellOptions
from rnnkit.nn import precision
from rnnkit.nn.sequence import Recurrent

needs_bf16 = pytest.mark.skipif(precision.bf16_support() == "none", reason="no bf16 CPU kernels in this torch/CPU")
TOL = 12 * 2.0**-8
BF16_FLOOR = 1e-5
CASES = [
    ("rnn", "loop"),
    ("rnn", "fused"),
    ("rnn", "bptt"),
    ("gru", "loop"),
    ("gru", "fused"),
    ("gru", "bptt"),
    ("lstm", "loop"),
    ("lstm", "fused"),
    ("lstm", "bptt"),
]


def _grads(m: Recurrent, x: torch.Tensor, gout: torch.Tensor, prec: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    m.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    with precision.autocast(prec):
        out, state = m(x)
    assert out.dtype == torch.float32 and all(s.dtype == torch.float32 for s in state)
    (out * gout).sum().backward()  # backward outside autocast, as torch recommends
    return out.detach(), [x.grad, *(p.grad for p in m.parameters())]


@needs_bf16
@pytest.mark.parametrize(("cell", "impl"), CASES, ids=[f"{c}-{i}" for c, i in CASES])
def test_bf16_gradients_match_float32(cell, impl):
    torch.manual_seed(0)
    m = Recurrent(cell, 16, 32, num_layers=2, impl=impl)
    g = torch.Generator().manual_seed(1)
    x, gout = torch.randn(4, 10, 16, generator=g), torch.randn(4, 10, 32, generator=g)
    out32, ref = _grads(m, x, gout, "fp32")
    out16, got = _grads(m, x, gout, "bf16")
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in m.parameters())  # master weights
    err = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(got, ref, strict=True))
    out_err = float((out16 - out32).abs().max() / out32.abs().max())
    assert err <= TOL and out_err <= TOL
    assert err > BF16_FLOOR  # the products really ran in bf16 (bptt: through gemm.products, element-wise float32)


@needs_bf16
def test_bf16_input_from_an_autocast_product_is_accepted_and_state_carries_float32():
    m = Recurrent("lstm", 8, 8, options=CellOptions())
    lin = torch.nn.Linear(8, 8)
    with precision.autocast("bf16"):
        x = lin(torch.randn(2, 5, 8))  # bf16 under autocast
        assert x.dtype == torch.bfloat16
        out, state = m(x)
        out2, state2 = m(x, state)  # TBPTT: the carried state goes back in
    assert out.dtype == out2.dtype == torch.float32 and all(s.dtype == torch.float32 for s in state2)


def test_refuses_without_bf16_support_and_warns_when_emulated(monkeypatch):
    monkeypatch.setattr(precision, "bf16_support", lambda: "none")
    with pytest.raises(precision.PrecisionError, match="precision='fp32'"):
        precision.check("bf16")
    with pytest.raises(precision.PrecisionError, match="must be one of"):
        precision.check("fp16")
    precision.check("fp32")
    monkeypatch.setattr(precision, "bf16_support", lambda: "emulated")
    with pytest.warns(UserWarning, match="slower than fp32"):
        precision.check("bf16")
    monkeypatch.setattr(precision, "bf16_support", lambda: "native")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision.check("bf16")


def test_config_field():
    assert TrainConfig().precision == "fp32" and TrainConfig(precision="bf16").precision == "bf16"
    with pytest.raises(ConfigError, match="train.precision"):
        TrainConfig(precision="fp16")


@needs_bf16
def test_fit_in_bf16_keeps_float32_weights_optimiser_state_and_loss(tmp_path):
    from rnnkit.train import StepOutput, fit

    def run(prec: str):
        torch.manual_seed(0)
        model = torch.nn.ModuleDict({"rnn": Recurrent("gru", 4, 16), "head": torch.nn.Linear(16, 3)})
        g = torch.Generator().manual_seed(2)
        data = [(torch.randn(8, 6, 4, generator=g), torch.randint(0, 3, (8,), generator=g)) for _ in range(4)]
        losses = []

        def step(m, batch, state):
            x, y = batch
            out, _ = m["rnn"](x)
            loss = torch.nn.functional.cross_entropy(m["head"](out[:, -1]), y)
            losses.append(loss.dtype)
            return StepOutput(loss, None, len(y))

        init = torch.cat([p.detach().flatten() for p in model.parameters()])
        cfg = TrainConfig(epochs=2, precision=prec, quiet=True, lr=0.5, optim=OptimConfig(name="sgd"))
        res = fit(model, step, data, config=cfg)
        return torch.cat([p.detach().flatten() for p in res.model.parameters()]) - init, res, losses

    ref, _, _ = run("fp32")
    moved, got, dtypes = run("bf16")
    assert set(dtypes) == {torch.float32}  # cross-entropy runs in float32 under autocast
    assert all(p.dtype == torch.float32 for p in got.model.parameters())
    # 8 SGD steps (linear in the gradients, unlike Adam's sign-like steps) from the same start: the bf16 run's
    # weight change is the float32 one within the gradient tolerance
    assert float((moved - ref).abs().max()) <= TOL * float(ref.abs().max())
    assert not torch.equal(moved, ref)


@needs_bf16
def test_inference_casts_module_outputs_to_float32_and_cleans_up():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x = torch.randn(5, 4)
    with torch.no_grad():
        ref = model(x)
        with precision.autocast("bf16"):
            raw = model(x)  # plain autocast: the last product's output is bf16
        with precision.inference(model, "bf16"):
            with precision.inference(model, "bf16"):  # re-entered (evaluate -> predict): one set of hooks
                assert sum(len(m._forward_hooks) for m in model.modules()) == 4
            out = model(x)
            assert torch.is_autocast_enabled("cpu")
        assert not torch.is_autocast_enabled("cpu")
    assert raw.dtype == torch.bfloat16 and out.dtype == torch.float32
    assert BF16_FLOOR < float((out - ref).abs().max()) <= TOL * float(ref.abs().max())
    with pytest.raises(KeyError), precision.inference(model, "bf16"):
        raise KeyError("boom")  # an error inside still removes the hooks
    assert not any(m._forward_hooks for m in model.modules()) and not hasattr(model, "_rnnkit_inference_precision")
    with precision.inference(model, "fp32"):  # fp32: nothing changes
        assert not torch.is_autocast_enabled("cpu") and not model[0]._forward_hooks
