"""fit(): TBPTT state carry and detach, clipping, NaN guard, run folder, progress, exact resume."""

from __future__ import annotations

import io
import json
import math
import os
import signal

import pytest
import torch

from rnnkit.config import CheckpointConfig, OptimConfig, RunConfig, ScheduleConfig, TrainConfig, load_config
from rnnkit.data.streams import TokenStream
from rnnkit.train import Callback, ProgressBar, StepOutput, TrainingDiverged, as_batches, fit
from rnnkit.train.metrics import read_metrics
from tests.train.helpers import TinyClassifier, TinyLM, cls_batches, cls_step, lm_step, token_stream

QUIET = TrainConfig(quiet=True)


def _cfg(**kw) -> TrainConfig:
    base = {"quiet": True, "log_every": 5, "lr": 3e-3}
    return TrainConfig(**{**base, **kw})


def _streams(variable: bool = False):
    tokens = token_stream(1400)
    train = TokenStream(tokens[:1200], batch_size=4, bptt=12, variable=variable, seed=1)  # 25 chunks per epoch
    val = TokenStream(tokens[1200:], batch_size=2, bptt=20)
    return train, val


def test_tbptt_carries_state_and_detaches_it():
    train, val = _streams()
    seen = []

    def step(model, batch, state):
        if state is not None:  # carried from the previous chunk, cut from its graph
            seen.append((state[0].requires_grad, state[0].grad_fn is None, state[0].shape))
        else:
            seen.append(None)
        return lm_step(model, batch, state)

    torch.manual_seed(0)
    r = fit(TinyLM(), step, train, config=_cfg(epochs=2), val_data=val, eval_step=lm_step)
    n = len(train)
    assert seen[0] is None and seen[n] is None  # fresh state at the start of each epoch
    assert all(s == (False, True, (1, 4, 16)) for s in seen[1:n] + seen[n + 1 : 2 * n])
    first_eval = [h for h in r.history if h["event"] == "eval"][0]["val_loss"]
    assert r.step == 2 * n and r.best["val_loss"] <= first_eval < math.log(11)  # learns below uniform (2.40)


def test_clipping_is_on_by_default():
    train, _ = _streams()
    norms = []
    model = TinyLM()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)  # a large lr makes large gradients likely

    def hook(optimizer, args, kwargs):
        norms.append(torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None]))

    opt.register_step_pre_hook(hook)
    fit(model, lm_step, train, config=_cfg(max_steps=10, clip_norm=TrainConfig().clip_norm), optimizer=opt)
    assert TrainConfig().clip_norm == 1.0 and len(norms) == 10
    assert max(norms) <= 1.0 + 1e-5  # clipped to the global norm 1 (float32 rounding of the rescale)


def test_nan_guard_skips_lowers_lr_then_stops():
    train, _ = _streams()
    lrs = []

    class Bad(Callback):
        def on_step_end(self, fs, logs):
            lrs.append(fs.lr)

    def step(model, batch, state):
        out = lm_step(model, batch, state)
        calls.append(1)
        return out._replace(loss=out.loss * float("nan")) if 3 <= len(calls) <= 4 else out

    calls: list[int] = []
    torch.manual_seed(0)
    r = fit(TinyLM(), step, train, config=_cfg(max_steps=6, bad_step_lr_factor=0.5), callbacks=[Bad()])
    assert r.step == 6 and len(calls) == 8  # two bad batches skipped, not counted as steps
    assert lrs == pytest.approx([3e-3, 3e-3, 7.5e-4, 7.5e-4, 7.5e-4, 7.5e-4])  # halved twice
    assert all(torch.isfinite(p).all() for p in r.model.parameters())

    def always_nan(model, batch, state):
        out = lm_step(model, batch, state)
        return out._replace(loss=out.loss + float("inf"))

    with pytest.raises(TrainingDiverged, match=r"3 consecutive steps with a non-finite loss.*Lower train.lr"):
        fit(TinyLM(), always_nan, train, config=_cfg(max_bad_steps=3))


def test_run_folder_and_config_round_trip(tmp_path):
    train, val = _streams()
    run_cfg = RunConfig(task="test", train=_cfg(epochs=2, eval_every=10))
    fit(TinyLM(), lm_step, train, config=run_cfg.train, val_data=val, run_dir=tmp_path, run_config=run_cfg)
    assert load_config(RunConfig, tmp_path / "config.json") == run_cfg
    assert {"config.json", "metrics.jsonl", "loss.png", "last", "best"} <= set(os.listdir(tmp_path))
    assert sorted(os.listdir(tmp_path / "last")) == ["model.safetensors", "optimizer.safetensors", "state.json"]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rec = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rec if r["event"] == "eval"] == [10, 20, 30, 40, 50]
    assert [r["step"] for r in rec if r["event"] == "train"] == list(range(5, 51, 5))
    assert all(r["items_per_s"] > 0 and "lr" in r for r in rec if r["event"] == "train")
    best = json.loads((tmp_path / "best" / "state.json").read_text())["state"]["best"]
    assert best["val_loss"] == min(r["val_loss"] for r in rec if r["event"] == "eval")


def test_progress_plain_bar_and_quiet():
    train, _ = _streams()
    out = io.StringIO()
    fit(
        TinyLM(),
        lm_step,
        train,
        config=_cfg(max_steps=10, quiet=False, unit="tokens"),
        callbacks=[ProgressBar("auto", stream=out)],
    )
    lines = out.getvalue().splitlines()  # StringIO is not a TTY: plain lines
    assert lines[0].startswith("step 5/10 epoch 0 loss ") and "tokens/s" in lines[0] and "eta" in lines[0]

    class TTY(io.StringIO):
        def isatty(self):
            return True

    tty = TTY()
    fit(
        TinyLM(),
        lm_step,
        train,
        config=_cfg(max_steps=10, quiet=False, unit="tokens"),
        callbacks=[ProgressBar("auto", stream=tty)],
    )
    assert "10/10" in tty.getvalue() and "tokens/s" in tty.getvalue() and "step 5/10" not in tty.getvalue()
    quiet = io.StringIO()
    fit(TinyLM(), lm_step, train, config=_cfg(max_steps=10, quiet=True), callbacks=[ProgressBar("auto", stream=quiet)])
    assert quiet.getvalue() == ""


def test_classification_padded_batches_early_stopping_and_metrics():
    torch.manual_seed(0)
    train = as_batches(cls_batches(8, seed=0), shuffle=True, seed=0)
    val = cls_batches(3, seed=1)
    r = fit(TinyClassifier(), cls_step, train, val_data=val, config=_cfg(epochs=40, lr=0.03, patience=2))
    assert set(r.last) == {"val_loss", "val_acc", "step"}
    assert r.epoch < 40 and r.stop_reason.startswith("early stopping: val_loss did not improve")
    ev = [h for h in r.history if h["event"] == "eval"]
    assert ev[-1]["epoch"] == r.epoch and ev[-3]["val_loss"] == pytest.approx(r.best["val_loss"])


def test_seed_makes_runs_repeatable():
    train, _ = _streams()
    runs = []
    init = TinyLM().state_dict()
    for seed in (5, 5, 6):
        model = TinyLM()
        model.load_state_dict(init)  # same weights: only fit's seeding (dropout masks) can differ
        r = fit(model, lm_step, train, config=_cfg(max_steps=5, seed=seed))
        runs.append(r.history[0]["loss"])
    assert runs[0] == runs[1] != runs[2]  # same seed: same dropout masks, same losses


def test_deterministic_flag():
    train, _ = _streams()
    try:
        fit(TinyLM(), lm_step, train, config=_cfg(max_steps=1, deterministic=True))
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_variable_bptt_rescales_lr_per_step():
    train, _ = _streams(variable=True)
    seen = []

    def step(model, batch, state):
        seen.append(batch.lr_scale)
        return lm_step(model, batch, state)

    class LR(Callback):
        def on_step_end(self, fs, logs):
            lrs.append((fs.optimizer.param_groups[0]["lr"], fs.lr))

    lrs: list = []
    fit(TinyLM(), step, train, config=_cfg(max_steps=12, optim=OptimConfig(name="sgd")), callbacks=[LR()])
    assert len(set(seen)) > 1
    for scale, (group_lr, base) in zip(seen, lrs, strict=True):
        assert group_lr == pytest.approx(base * scale, rel=1e-12)  # lr * seq_len / bptt (Merity et al. 2017)


def test_ntasgd_switches_to_averaged_sgd(tmp_path):
    torch.manual_seed(0)
    train = cls_batches(4, seed=0)
    cfg = _cfg(
        epochs=12,
        lr=0.05,
        optim=OptimConfig(name="sgd"),
        schedule=ScheduleConfig(name="ntasgd", nonmono=1),
        checkpoint=CheckpointConfig(monitor="val_loss"),
    )

    class Swapped(Callback):
        def on_epoch_end(self, fs):
            kinds.append(type(fs.optimizer).__name__)

    kinds: list[str] = []
    # validation = a shifted copy so the val loss stalls quickly and triggers the switch
    fit(
        TinyClassifier(),
        cls_step,
        train,
        val_data=cls_batches(2, seed=9),
        config=cfg,
        run_dir=tmp_path,
        callbacks=[Swapped()],
    )
    assert kinds[0] == "SGD" and kinds[-1] == "ASGD"
    assert json.loads((tmp_path / "last" / "state.json").read_text())["optimizer"]["class"] == "ASGD"


class _LiveWeights(Callback):
    """Records the live parameters after every optimiser step (in float64)."""

    def __init__(self) -> None:
        self.seen: list[list[torch.Tensor]] = []

    def on_step_end(self, fs, logs):
        self.seen.append([p.detach().double().clone() for p in fs.raw_model.parameters()])


def test_ema_is_the_decayed_mean_of_the_live_weights_and_what_fit_returns(tmp_path):
    """train.ema: the returned model holds avg_t = avg_{t-1} + (1 - min(d, 1 - 1/(t+1))) (w_t - avg_{t-1}), replayed
    here in float64 from the live weights (float32 rounding over ~20 lerps: 1e-6); evaluation and `best` use it."""
    from rnnkit.train import load_checkpoint, load_model
    from rnnkit.train.distributed import DistInfo
    from rnnkit.train.loop import evaluate

    torch.manual_seed(0)
    model, d = TinyClassifier(), 0.9
    avg = [p.detach().double().clone() for p in model.parameters()]
    rec, val = _LiveWeights(), cls_batches(2, seed=9)
    cfg = _cfg(epochs=4, ema=d, eval_every=24, checkpoint=CheckpointConfig(monitor="val_loss"))  # one eval: the end
    res = fit(model, cls_step, cls_batches(6, seed=0), val_data=val, config=cfg, run_dir=tmp_path, callbacks=[rec])
    assert len(rec.seen) == res.step == 24  # past 1/(1-d) = 10 steps: both the running mean and the decay are used
    for t, live in enumerate(rec.seen, start=1):
        w = 1 - min(d, 1 - 1 / (t + 1))
        avg = [a + w * (x - a) for a, x in zip(avg, live, strict=True)]
    got = [p.detach().double() for p in res.model.parameters()]
    for a, g, live in zip(avg, got, rec.seen[-1], strict=True):
        torch.testing.assert_close(g, a, rtol=0, atol=1e-6)
        assert not torch.allclose(g, live, atol=1e-4)  # the average is not the final live weights
    final = evaluate(res.model, cls_step, as_batches(val), device=torch.device("cpu"), info=DistInfo())
    assert res.best["step"] == res.last["step"] == res.step  # so `best` was saved from the final average
    assert res.last["val_loss"] == pytest.approx(final["val_loss"], rel=1e-6)  # the last evaluation saw the EMA
    for which in ("best", "last"):  # `last` keeps live weights for resuming; load_model serves the EMA from it
        fresh = TinyClassifier()
        load_model(tmp_path, fresh, which=which)
        for a, b in zip(fresh.parameters(), res.model.parameters(), strict=True):
            assert torch.equal(a, b), which
    live = TinyClassifier()
    load_checkpoint(tmp_path / "last", model=live)
    for a, b in zip(live.parameters(), rec.seen[-1], strict=True):
        assert torch.equal(a.double(), b)


class _InterruptAt(Callback):
    def __init__(self, k: int, how: str) -> None:
        self.k, self.how = k, how

    def on_step_end(self, fs, logs):
        if fs.step == self.k:
            if self.how in ("sigterm", "sigint"):  # Ctrl-C is SIGINT; both handled: finish the step, save, return
                os.kill(os.getpid(), signal.SIGTERM if self.how == "sigterm" else signal.SIGINT)
            else:
                raise KeyboardInterrupt  # as Ctrl-C surfacing between steps


@pytest.mark.parametrize(
    ("source", "how", "ema"),
    [("stream", "keyboard", 0.0), ("stream", "sigterm", 0.0), ("loader", "sigint", 0.0), ("loader", "keyboard", 0.9)],
)
def test_exact_resume_bit_for_bit(tmp_path, source, how, ema):
    """Interrupted at step k then resumed == uninterrupted, bit for bit (CPU): params and optimiser (and, with
    train.ema, the averaged weights, which the returned model holds)."""
    if source == "stream":
        train, val = _streams(variable=True)  # carried TBPTT state + epoch-dependent chunk lengths
        make, step = TinyLM, lm_step
        k = 33  # mid epoch 2, between evaluations
    else:
        ds = torch.utils.data.TensorDataset(*[torch.cat(t) for t in zip(*cls_batches(6, seed=0), strict=True)])
        train = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True)  # re-seeded per epoch by fit
        val, make, step, k = cls_batches(2, seed=1), TinyClassifier, cls_step, 9
    cfg = _cfg(
        epochs=3,
        eval_every=7,
        lr=3e-3,
        optim=OptimConfig(name="adam"),
        schedule=ScheduleConfig(name="cosine", warmup_steps=5),
        ema=ema,
    )

    def run(run_dir, callbacks=(), resume=False):
        torch.manual_seed(123)  # the task seeds before building the model
        model = make()
        return fit(model, step, train, config=cfg, val_data=val, run_dir=run_dir, callbacks=callbacks, resume=resume)

    full = run(tmp_path / "full")
    cut = run(tmp_path / "cut", callbacks=[_InterruptAt(k, how)])
    assert cut.interrupted and cut.step == k and "resume with resume=True" in cut.stop_reason
    resumed = run(tmp_path / "cut", resume=True)
    assert resumed.step == full.step and not resumed.interrupted
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # bit for bit, not approximately
    assert resumed.best == full.best
    rec = read_metrics(tmp_path / "cut" / "metrics.jsonl")
    ev = [r["val_loss"] for r in rec if r["event"] == "eval"]
    assert ev == [r["val_loss"] for r in read_metrics(tmp_path / "full" / "metrics.jsonl") if r["event"] == "eval"]


def test_resume_errors(tmp_path):
    train, _ = _streams()
    with pytest.raises(ValueError, match="resume=True needs run_dir"):
        fit(TinyLM(), lm_step, train, config=QUIET, resume=True)
    from rnnkit.train import CheckpointError

    with pytest.raises(CheckpointError, match="no checkpoint at"):
        fit(TinyLM(), lm_step, train, config=QUIET, run_dir=tmp_path, resume=True)


def test_step_contract_errors():
    train, _ = _streams()
    with pytest.raises(TypeError, match=r"step\(\) must return StepOutput"):
        fit(TinyLM(), lambda m, b, s: 1.0, train, config=QUIET)
    with pytest.raises(ValueError, match="train_data gave no batches for epoch 0"):
        fit(TinyLM(), lm_step, [], config=QUIET)
    with pytest.raises(TypeError, match="cannot train on int"):
        fit(TinyLM(), lm_step, 3, config=QUIET)
    assert StepOutput(torch.tensor(1.0)).n_items == 1


@pytest.mark.parametrize(
    ("optim", "cls", "check"),
    [
        (OptimConfig(name="sgd", momentum=0.9, nesterov=True), torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
        (OptimConfig(name="adam", betas=(0.8, 0.99)), torch.optim.Adam, {"betas": (0.8, 0.99)}),
        (OptimConfig(name="adamw", weight_decay=0.1), torch.optim.AdamW, {"weight_decay": 0.1}),
    ],
)
def test_build_optimizer(optim, cls, check):
    from rnnkit.train import build_optimizer

    opt = build_optimizer(torch.nn.Linear(2, 2).parameters(), TrainConfig(lr=0.5, optim=optim))
    group = opt.param_groups[0]
    assert type(opt) is cls and group["lr"] == 0.5 and all(group[k] == v for k, v in check.items())
