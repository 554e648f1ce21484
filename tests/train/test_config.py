"""Config: frozen dataclasses, JSON round trip, dotted overrides with coercion, specific errors."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.config import (
    CellConfig,
    ConfigError,
    DataConfig,
    OptimConfig,
    RunConfig,
    ScheduleConfig,
    TrainConfig,
    apply_overrides,
    config_from_cli,
    from_dict,
    load_config,
    parse_cli,
    save_config,
    to_dict,
)


@dataclass(frozen=True)
class LMData(DataConfig):
    bptt: int = 35


@dataclass(frozen=True)
class LMRun(RunConfig):
    task: str = "lm"
    data: LMData = field(default_factory=LMData)


def test_frozen():
    cfg = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]


def test_json_round_trip_through_run_folder(tmp_path):
    cfg = apply_overrides(LMRun(), ["train.lr=3e-3", "data.bptt=70", "train.optim.betas=0.8,0.9"])
    save_config(cfg, tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["data"]["bptt"] == 70
    assert load_config(LMRun, tmp_path) == cfg  # the folder's config.json is a valid --config
    again = config_from_cli(LMRun, ["--config", str(tmp_path / "config.json"), "--train.epochs", "3"])
    assert again == dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=3))


def test_overrides_coerce_types():
    cfg = apply_overrides(
        RunConfig(),
        {
            "train.lr": "3e-3",
            "train.epochs": "4",
            "train.quiet": "true",
            "model.cell.name": "gru",
            "train.optim.name": "sgd",
            "train.optim.momentum": "0.9",
            "data.path": "none",
            "train.max_steps": "1e3",
        },
    )
    assert cfg.train.lr == 3e-3 and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 4 and cfg.train.quiet is True and cfg.model.cell.name == "gru"
    assert cfg.train.optim.momentum == 0.9 and cfg.data.path is None and cfg.train.max_steps == 1000


def test_seed_and_deterministic_flags():
    cfg = config_from_cli(RunConfig, ["--seed", "7", "--deterministic"])
    assert cfg.train.seed == 7 and cfg.train.deterministic is True


def test_parse_cli_forms():
    path, ov = parse_cli(["--config", "c.json", "--train.lr=3e-3", "--train.epochs", "2", "--train.quiet"])
    assert path == "c.json" and ov == ["train.lr=3e-3", "train.epochs=2", "train.quiet=true"]
    with pytest.raises(ConfigError, match="overrides look like --train.lr=3e-3"):
        parse_cli(["train.lr=1"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1e-3", r"unknown config key 'train.lrr'; did you mean 'lr'\?"),
        ("trian.lr=1e-3", r"unknown config key 'trian.lr'; did you mean 'train'\?"),
        ("train.lr=fast", r"config train.lr: expected a number, got 'fast'"),
        ("train.epochs=2.5", r"config train.epochs: expected an integer, got '2.5'"),
        ("train.quiet=maybe", r"config train.quiet: expected true/false"),
        ("train.lr=-1", r"config train.lr: must be > 0, got -1.0"),
        ("train.optim.name=rmsprop", r"config train.optim.name: must be one of 'sgd', 'adam', 'adamw'"),
        ("model.cell.name=transformer", r"config cell.name: must be one of .*'lstm'"),
        ("train.optim=adam", r"config train.optim: is a section; set one of its keys"),
        ("train.optim.betas=0.9", r"config train.optim.betas: expected 2 values"),
        ("train.lr", r"override 'train.lr' must look like key.sub=value"),
        ("train.ema=1", r"config train.ema: must be in \[0, 1\) \(a per-step decay, 0.99; 0: off\), got 1.0"),
        ("train.schedule.name=ntasgd train.ema=0.9", r"train.ema: cannot be combined with schedule 'ntasgd'"),
    ],
)
def test_override_errors_are_specific(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(RunConfig(), override.split(" "))


def test_validation_at_build_time():
    with pytest.raises(ConfigError, match=r"train.schedule.factor: must be in \(0, 1\)"):
        ScheduleConfig(name="plateau", factor=1.5)
    with pytest.raises(ConfigError, match=r"train.optim.nesterov: needs name='sgd' and momentum > 0"):
        OptimConfig(name="adam", nesterov=True)
    with pytest.raises(ConfigError, match=r"train.device: must be 'cpu', 'cuda', 'cuda:K' or 'auto'"):
        TrainConfig(device="tpu")
    with pytest.raises(ConfigError, match=r"data.val_fraction: must be in \[0, 1\)"):
        from_dict(RunConfig, {"data": {"val_fraction": 1.5}})


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(RunConfig, tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config(RunConfig, tmp_path / "bad.json")
    (tmp_path / "unknown.json").write_text(json.dumps({"train": {"lr": 0.1, "epoch": 3}}))
    with pytest.raises(ConfigError, match=r"unknown config key 'train.epoch'; did you mean 'epochs'\?"):
        load_config(RunConfig, tmp_path / "unknown.json")


def test_cell_options():
    assert CellConfig(name="lstm", forget_bias=1.0).options().forget_bias == 1.0
    assert CellConfig(name="indrnn", recurrent_max_abs=2.0).options().recurrent_max_abs == 2.0
    assert CellConfig().options().recurrent_max_abs is None


# ---- IndRNN's recurrent clamp (CellOptions.recurrent_max_abs) reaches the config, the CLI and the model ----

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _task_configs() -> list[type]:
    from rnnkit.tasks.classify.config import ClassifierConfig
    from rnnkit.tasks.forecast.task import ForecastConfig
    from rnnkit.tasks.lm.task import LMConfig
    from rnnkit.tasks.tag.config import TaggerConfig
    from rnnkit.tasks.translate.task import TranslatorConfig

    return [RunConfig, LMConfig, ClassifierConfig, TaggerConfig, ForecastConfig, TranslatorConfig]


def test_recurrent_max_abs_round_trip(tmp_path):
    cfg = apply_overrides(LMRun(), ["model.cell.name=indrnn", "model.cell.recurrent_max_abs=1.5"])
    assert cfg.model.cell.recurrent_max_abs == 1.5
    save_config(cfg, tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["model"]["cell"]["recurrent_max_abs"] == 1.5
    assert load_config(LMRun, tmp_path) == cfg
    # unset, it is written as null and read back as None; "none" on the CLI clears it
    save_config(LMRun(), tmp_path / "off.json")
    assert json.loads((tmp_path / "off.json").read_text())["model"]["cell"]["recurrent_max_abs"] is None
    assert load_config(LMRun, tmp_path / "off.json") == LMRun()
    assert apply_overrides(cfg, ["model.cell.recurrent_max_abs=none"]).model.cell.recurrent_max_abs is None


def test_config_without_recurrent_max_abs_still_loads(tmp_path):
    old = {"model": {"cell": {"name": "lstm", "nonlinearity": "tanh", "gru_variant": "torch", "forget_bias": 1.0}}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    cell = load_config(RunConfig, tmp_path / "old.json").model.cell
    assert cell.forget_bias == 1.0 and cell.recurrent_max_abs is None
    from rnnkit.tasks.lm.task import LMConfig

    shipped = sorted(CONFIGS.glob("lm-*.json"))  # written before the field existed
    assert shipped, f"no configs/lm-*.json under {CONFIGS}"
    for path in shipped:
        assert load_config(LMConfig, path).model.cell.recurrent_max_abs is None, path.name


def test_recurrent_max_abs_override_in_every_task_config():
    for cls in _task_configs():
        cfg = config_from_cli(cls, ["--model.cell.recurrent_max_abs=1.0"])
        assert cfg.model.cell.recurrent_max_abs == 1.0, cls.__name__
        assert cfg.model.cell.options().recurrent_max_abs == 1.0, cls.__name__


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf"])
def test_recurrent_max_abs_must_be_positive(bad):
    with pytest.raises(ConfigError, match=r"config cell.recurrent_max_abs: must be a positive finite number .*or null"):
        apply_overrides(RunConfig(), [f"model.cell.recurrent_max_abs={bad}"])
    with pytest.raises(ConfigError, match=r"cell.recurrent_max_abs: .*got -0.5"):
        CellConfig(name="indrnn", recurrent_max_abs=-0.5)


@pytest.mark.parametrize("impl", ["loop", "bptt"])
def test_model_from_config_clamps_indrnn(tmp_path, impl):
    """A classifier built from a saved config clamps u to [-γ, γ] in the step, on every nn path, and the
    reference (NumPy) step given the same config's options computes the same numbers."""
    import numpy as np
    import torch

    from rnnkit.reference.cells import indrnn as ref_indrnn
    from rnnkit.tasks.classify.config import ClassifierConfig
    from rnnkit.tasks.classify.model import ClassifierNet

    gamma = 0.5
    cfg = config_from_cli(
        ClassifierConfig,
        [
            "--model.input=numeric",
            "--model.cell.name=indrnn",
            "--model.hidden_size=4",
            f"--model.impl={impl}",
            f"--model.cell.recurrent_max_abs={gamma}",
            "--model.pooling=last",
            "--model.bidirectional=false",
        ],
    )
    save_config(cfg, tmp_path / "config.json")
    cfg = load_config(ClassifierConfig, tmp_path)  # what a run folder gives back
    net = ClassifierNet(cfg.model, num_classes=2, input_size=3).double()
    rnn = net.encoder
    p = rnn.cells[0]
    with torch.no_grad():
        p.W_hh.copy_(torch.tensor([2.0, -3.0, 0.25, -0.4], dtype=torch.float64))  # two entries beyond γ
    torch.manual_seed(0)
    x = torch.randn(5, 1, 3, dtype=torch.float64)  # (N, T=1, D): one step
    h0 = torch.rand(1, 5, 4, dtype=torch.float64) + 0.5  # positive, so the u ⊙ h term matters
    out, _ = rnn(x, (h0,))
    u = p.W_hh.detach().clamp(-gamma, gamma)  # [0.5, -0.5, 0.25, -0.4]
    pre = x[:, 0] @ p.W_ih.detach().T + p.b_ih.detach() + u * h0[0] + p.b_hh.detach()
    torch.testing.assert_close(out[:, 0], torch.relu(pre), rtol=0, atol=1e-12)
    unclamped = torch.relu(pre - u * h0[0] + p.W_hh.detach() * h0[0])
    assert not torch.allclose(out[:, 0], unclamped)  # the clamp changed the answer
    params = {k: v.detach().numpy() for k, v in p.params().items()}
    (ref_h,), _ = ref_indrnn.step(params, x[:, 0].numpy(), (h0[0].numpy(),), cfg.model.cell.options())
    np.testing.assert_allclose(out[:, 0].detach().numpy(), ref_h, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-6, 10.0),
    epochs=st.integers(1, 1000),
    clip=st.floats(0.0, 100.0),
    betas=st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.999)),
    name=st.sampled_from(["sgd", "adam", "adamw"]),
    sched=st.sampled_from(["constant", "step", "cosine", "plateau", "ntasgd"]),
)
def test_round_trip_property(lr, epochs, clip, betas, name, sched):
    cfg = TrainConfig(
        lr=lr,
        epochs=epochs,
        clip_norm=clip,
        optim=OptimConfig(name=name, betas=betas),
        schedule=ScheduleConfig(name=sched),
    )
    assert from_dict(TrainConfig, json.loads(json.dumps(to_dict(cfg)))) == cfg
    # the CLI path: every value printed with repr and parsed back gives the same config
    flat = [f"lr={lr!r}", f"epochs={epochs}", f"clip_norm={clip!r}", f"optim.betas={betas[0]!r},{betas[1]!r}"]
    assert apply_overrides(TrainConfig(optim=OptimConfig(name=name), schedule=ScheduleConfig(name=sched)), flat) == cfg
