"""The divergence guard: a finite loss far above where it started stops training with a clear error, nothing is
saved after it, and `best` still holds the last good weights."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.config import ConfigError, TrainConfig
from rnnkit.data.streams import TokenStream
from rnnkit.train import Callback, TrainingDiverged, fit, load_checkpoint
from rnnkit.train.metrics import read_metrics
from tests.train.helpers import TinyLM, lm_step, token_stream


class _LrBlowUp(Callback):
    """From step k on, multiply the lr by 1e4 (Adam's steps are ~lr whatever the gradient: the loss explodes)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def on_step_end(self, fs, logs):
        if fs.step == self.k:
            for g in fs.optimizer.param_groups:
                g["initial_lr"] *= 1e4


def _data():
    tokens = token_stream(1400)
    return TokenStream(tokens[:1200], batch_size=4, bptt=12, seed=1), TokenStream(tokens[1200:], batch_size=2, bptt=20)


def test_a_finite_blow_up_stops_and_keeps_the_last_good_best(tmp_path):
    train, val = _data()
    cfg = TrainConfig(epochs=3, eval_every=5, lr=3e-3, quiet=True)  # AdamW, clipping on: the lr alone blows it up
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged) as err:
        fit(TinyLM(), lm_step, train, config=cfg, val_data=val, run_dir=tmp_path, callbacks=[_LrBlowUp(10)])
    msg = str(err.value)
    assert "training diverged at step" in msg and "max(10 x initial loss" in msg and "Lower train.lr" in msg
    best = load_checkpoint(tmp_path / "best")["state"]
    assert best["step"] <= 10 and f"The last good weights are kept in {tmp_path / 'best'} (step {best['step']}" in msg
    evals = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r["event"] == "eval"]
    assert max(r["val_loss"] for r in evals) < math.log(11) + 0.5  # no diverged evaluation was recorded or saved
    assert load_checkpoint(tmp_path / "last")["state"]["step"] <= 10  # `last` is not the diverged weights either


def test_a_diverged_validation_loss_is_never_saved(tmp_path):
    """Training losses just under the limit, the validation loss far above it: stopped at the evaluation."""
    train, val = _data()

    def bad_eval(model, batch, state):
        out = lm_step(model, batch, state)
        return out if model.training else out._replace(loss=out.loss * 1000)

    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match=r"the validation loss is \d+.*No checkpoint was written before"):
        fit(
            TinyLM(),
            bad_eval,
            train,
            config=TrainConfig(epochs=1, eval_every=5, quiet=True),
            val_data=val,
            run_dir=tmp_path,
        )
    assert not (tmp_path / "best").exists() and not (tmp_path / "last").exists()


def test_the_guard_can_be_turned_off_and_is_validated():
    train, _ = _data()
    torch.manual_seed(0)
    cfg = TrainConfig(max_steps=20, lr=3e-3, quiet=True, diverge_factor=0)
    r = fit(TinyLM(), lm_step, train, config=cfg, callbacks=[_LrBlowUp(5)])
    assert r.step == 20  # off: the blow-up is not stopped
    with pytest.raises(ConfigError, match=r"train.diverge_factor: must be > 1 .* or 0 \(off\), got 0.5"):
        TrainConfig(diverge_factor=0.5)
