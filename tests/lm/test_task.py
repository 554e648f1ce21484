"""The language-model task: metrics on known streams, state-carrying evaluation, training through fit, config."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from rnnkit.config import ConfigError, TrainConfig, load_config, to_dict
from rnnkit.tasks.base import NotARunError
from rnnkit.tasks.lm.config import LMConfig, LMDataConfig, LMModelConfig
from rnnkit.tasks.lm.model import RecurrentLM
from rnnkit.tasks.lm.task import LanguageModel, TimeBudget, lm_metrics, stream_nll

PANGRAM = "the quick brown fox jumps over the lazy dog\n"


def _uniform_lm(V: int) -> RecurrentLM:
    m = RecurrentLM(V, cell="gru", embedding_dim=4, hidden_size=6)
    with torch.no_grad():
        m.head.weight.zero_()  # logits = 0 for every token: the uniform distribution
        m.head.bias.zero_()
    return m


def test_uniform_model_costs_log_v_nats():
    V = 37
    ids = np.random.default_rng(0).integers(0, V, 500)
    total, count = stream_nll(_uniform_lm(V), ids, batch_size=3, chunk=16)
    assert count == (500 // 3) * 3 - 3  # 3 columns of 166: 165 predictions each
    assert total / count == pytest.approx(math.log(V), rel=1e-6)  # float32 log-softmax of zeros
    m = lm_metrics(total / count, level="char")
    assert m["bpc"] == pytest.approx(math.log2(V), rel=1e-6) and m["ppl"] == pytest.approx(V, rel=1e-5)
    assert "bits" in lm_metrics(1.0, level="word") and "bpc" not in lm_metrics(1.0, level="word")


def test_evaluation_carries_the_state_across_chunks():
    torch.manual_seed(0)
    m = RecurrentLM(11, cell="lstm", embedding_dim=5, hidden_size=7, num_layers=2).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(4.0)  # larger weights: a longer memory, so the carried state visibly matters
    ids = np.random.default_rng(1).integers(0, 11, 300)
    with torch.no_grad():  # one forward over the whole stream: the exact sequential likelihood
        logits, _ = m(torch.as_tensor(ids[None, :-1]))
        ref = float(torch.nn.functional.cross_entropy(logits[0], torch.as_tensor(ids[1:]), reduction="sum"))
    total, count = stream_nll(m, ids, batch_size=1, chunk=7)
    assert count == 299
    assert total == pytest.approx(ref, rel=1e-5)  # float32, different chunking of the same computation
    # what averaging over independent chunks (zero state each) would report instead: measurably different
    reset = 0.0
    with torch.no_grad():
        for s in range(0, 299, 7):
            x, y = torch.as_tensor(ids[None, s : min(s + 7, 299)]), torch.as_tensor(ids[s + 1 : min(s + 8, 300)])
            reset += float(torch.nn.functional.cross_entropy(m(x)[0][0], y, reduction="sum"))
    assert abs(reset - ref) > 1e-3 * abs(ref)  # 100x the float32 agreement asserted above


def _cfg(tmp_path, **train) -> LMConfig:
    path = tmp_path / "text.txt"
    path.write_text(PANGRAM * 200, encoding="utf-8")
    return LMConfig(
        run_dir=str(tmp_path / "run"),
        model=LMModelConfig(hidden_size=32, embedding_dim=16, impl="loop"),  # loop: no oneDNN JIT per shape
        data=LMDataConfig(path=str(path), batch_size=8, bptt=16),
        train=TrainConfig(lr=1e-2, log_every=10, quiet=True, unit="tokens", **train),
    )


def test_training_a_few_steps_learns_and_writes_the_run(tmp_path):
    lm = LanguageModel(_cfg(tmp_path, max_steps=40))
    res = lm.fit_and_test()
    V = res["vocab_size"]
    assert V == len(set(PANGRAM)) + 1  # characters + <unk>
    # 40 steps on a 44-character cycle: far below the uniform log V (3.3 nats); typically ~1.5
    assert res["valid"]["loss"] < 0.75 * math.log(V)
    run = tmp_path / "run"
    for f in ("config.json", "task.json", "metrics.jsonl", "eval.json"):
        assert (run / f).is_file(), f
    assert json.loads((run / "eval.json").read_text())["steps"] == 40
    assert load_config(LMConfig, run / "config.json") == lm.config  # the run's config is a valid config
    back = LanguageModel.load(run)
    assert back.evaluate("valid")["loss"] == pytest.approx(res["valid"]["loss"], rel=1e-6)  # best checkpoint
    with pytest.raises(ValueError, match=r"split 'test' is not available.*available: train, valid"):
        back.evaluate("test")


def test_time_limit_stops_training(tmp_path):
    cfg = _cfg(tmp_path, epochs=1000)
    cfg = LMConfig(**{**cfg.__dict__, "time_limit": 1.0, "time_decay": "cosine"})
    res = LanguageModel(cfg).fit_and_test()
    assert res["stop_reason"] == "time limit of 1 s reached" and res["epochs"] < 1000  # stopped by time, not epochs


def test_time_budget_cosine_decay_by_hand():
    from types import SimpleNamespace

    opt = SimpleNamespace(param_groups=[{"lr": 2.0, "initial_lr": 2.0}])
    fs = SimpleNamespace(optimizer=opt, step=10, total_steps=None, should_stop=False, stop_reason="")
    cb = TimeBudget(100.0, decay="cosine")
    cb.on_fit_start(fs)
    cb.t0 -= 75.0  # 75 s of the 100 s budget have passed
    cb.on_step_end(fs, {})
    assert opt.param_groups[0]["initial_lr"] == pytest.approx(2.0 * 0.5 * (1 + math.cos(0.75 * math.pi)), rel=1e-3)
    assert fs.total_steps == pytest.approx(13, abs=1) and not fs.should_stop  # 10 steps in 75 s: ~3 more
    cb.t0 -= 25.0
    cb.on_step_end(fs, {})
    assert fs.should_stop and fs.stop_reason == "time limit of 100 s reached"
    wsd = TimeBudget(100.0, decay="wsd", final=0.2)
    opt.param_groups[0]["initial_lr"] = 2.0  # a fresh run
    wsd.on_fit_start(fs)
    for elapsed, k in ((50.0, 1.0), (79.0, 1.0), (90.0, 0.5), (95.0, 0.25)):  # stable, then linear to 0
        wsd.t0 = time.monotonic() - elapsed
        wsd.on_step_end(fs, {})
        assert opt.param_groups[0]["initial_lr"] == pytest.approx(2.0 * k, abs=2e-3), elapsed


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"config data.level: must be one of char, word, got 'byte'"):
        LMDataConfig(level="byte")
    with pytest.raises(ConfigError, match=r"config model.bidirectional: a language model reads left to right"):
        LMModelConfig(bidirectional=True)
    with pytest.raises(ConfigError, match=r"config time_decay: needs time_limit > 0"):
        LMConfig(time_decay="cosine")
    with pytest.raises(ConfigError, match=r"give data.path \(a UTF-8 text file\) or data.dataset"):
        LanguageModel(LMConfig()).data()
    with pytest.raises(NotARunError, match=r"is not a run folder \(no config.json\)"):
        LanguageModel.load(tmp_path)


# ---- adaptive softmax ---------------------------------------------------------------------------------------

SENTENCES = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "the bird sang a song to the sun",
    "one fish two fish red fish blue fish",
    "we ate bread and jam with the tea",
]


def _word_cfg(tmp_path, cutoffs=(4, 12), **train) -> LMConfig:
    path = tmp_path / "words.txt"
    path.write_text("\n".join(SENTENCES * 60) + "\n", encoding="utf-8")
    return LMConfig(
        run_dir=str(tmp_path / "run"),
        model=LMModelConfig(hidden_size=32, embedding_dim=16, impl="loop", adaptive_cutoffs=tuple(cutoffs)),
        data=LMDataConfig(path=str(path), level="word", batch_size=8, bptt=12),
        train=TrainConfig(lr=1e-2, log_every=10, quiet=True, unit="tokens", **train),
    )


def test_adaptive_softmax_trains_saves_and_loads(tmp_path):
    lm = LanguageModel(_word_cfg(tmp_path, max_steps=40, epochs=10))
    res = lm.fit_and_test()
    V = res["vocab_size"]
    assert V == 29 and lm.model.adaptive and lm.model.head.cutoffs == [4, 12, 29]  # 27 words, <eos>, <unk>
    counts = np.bincount(lm.data().train, minlength=V)
    assert (np.diff(counts[1:]) <= 0).all()  # ids after <unk> ranked by frequency: the shortlist holds the common words
    # 40 steps (about 2 epochs) on a 5-sentence cycle: far below the uniform log V (3.4 nats); typically ~1.4
    assert res["valid"]["loss"] < 0.5 * math.log(V)
    run = tmp_path / "run"
    assert load_config(LMConfig, run / "config.json").model.adaptive_cutoffs == (4, 12)  # JSON round trip
    back = LanguageModel.load(run)
    assert back.model.adaptive and back.evaluate("valid")["loss"] == pytest.approx(res["valid"]["loss"], rel=1e-6)
    # the stream NLL is that of the full log-probabilities the model returns
    ids = back.data().valid[:50]
    with torch.no_grad():
        logp, _ = back.model(torch.as_tensor(ids[None, :-1]))
    ref = -float(logp[0].gather(1, torch.as_tensor(ids[1:, None])).sum())
    assert stream_nll(back.model, ids, chunk=7)[0] == pytest.approx(ref, rel=1e-5)
    assert len(list(back.generate("the cat ", length=12, seed=0))) == 12  # one piece per word or line break


def test_adaptive_config_validation(tmp_path):
    with pytest.raises(ConfigError, match=r"model.adaptive_cutoffs: must be strictly increasing positive"):
        LMModelConfig(adaptive_cutoffs=(10, 10))
    with pytest.raises(ConfigError, match=r"model.adaptive_cutoffs: must be strictly increasing positive"):
        LMModelConfig(adaptive_cutoffs=(0, 10))
    with pytest.raises(ConfigError, match=r"cannot be tied to the embedding; set model.tie_weights=false"):
        LMModelConfig(adaptive_cutoffs=(10,), tie_weights=True)
    # V is known once the vocabulary is built: 29 here
    with pytest.raises(ConfigError, match=r"model.adaptive_cutoffs: adaptive cutoffs must lie in \(0, V\) = \(0, 29\)"):
        LanguageModel(_word_cfg(tmp_path, cutoffs=(4, 40))).build_model()
    cfg = _cfg(tmp_path)
    cfg = LMConfig(**{**cfg.__dict__, "model": LMModelConfig(adaptive_cutoffs=(4,))})
    with pytest.raises(ConfigError, match=r"needs data.level=word"):
        LanguageModel(cfg).build_model()
    # a config written before the field existed still loads, with the full softmax
    d = to_dict(LMConfig())
    del d["model"]["adaptive_cutoffs"], d["model"]["adaptive_div_value"]
    (tmp_path / "old.json").write_text(json.dumps(d))
    assert load_config(LMConfig, tmp_path / "old.json").model.adaptive_cutoffs == ()
