"""``impl="auto"`` by measurement (nn/autotune.py): the cache logic with a fake clock, never real speed.

tests/conftest.py turns autotuning off for the whole suite; these tests turn it on with a temporary cache.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from rnnkit.nn import autotune
from rnnkit.nn.sequence import Recurrent


class FakeClock:
    """A clock that only moves when a fake impl 'runs': run(impl) advances it by cost[impl] seconds."""

    def __init__(self, cost: dict[str, float]) -> None:
        self.now, self.cost, self.calls = 0.0, cost, []

    def __call__(self) -> float:
        return self.now

    def run(self, impl: str) -> None:
        self.calls.append(impl)
        self.now += self.cost[impl]


KEY = {"cell": "gru", "H": 8, "training": True}
IDLE = lambda: 0.0  # noqa: E731 - the load average a quiet machine reports


def test_choose_keeps_the_fastest_and_caches_it_in_memory_and_on_disk(tmp_path):
    clock = FakeClock({"fused": 0.02, "bptt": 0.01, "loop": 0.05})
    tn = autotune.Tuner(tmp_path / "autotune.json", clock=clock, load=IDLE)
    assert tn.choose(KEY, ["fused", "bptt", "loop"], clock.run, repeats=3, min_seconds=0) == "bptt"
    assert clock.calls.count("bptt") == 4  # one warm-up + 3 timed, interleaved
    assert clock.calls[:3] == ["fused", "bptt", "loop"] and clock.calls[3:6] == ["fused", "bptt", "loop"]
    n = len(clock.calls)
    assert tn.choose(KEY, ["fused", "bptt", "loop"], clock.run) == "bptt"
    assert len(clock.calls) == n  # memory: nothing ran
    fresh = autotune.Tuner(tmp_path / "autotune.json", clock=clock, load=IDLE)
    assert fresh.choose(KEY, ["fused", "bptt", "loop"], clock.run) == "bptt"
    assert len(clock.calls) == n  # disk: nothing ran
    data = json.loads((tmp_path / "autotune.json").read_text())
    entry = data["entries"][autotune.key_str(KEY)]
    assert data["version"] == autotune.VERSION and entry["impl"] == "bptt"
    assert entry["ms"] == {"fused": 20.0, "bptt": 10.0, "loop": 50.0}
    assert [p.name for p in tmp_path.iterdir()] == ["autotune.json"]  # no temp file left behind


def test_a_choice_measured_on_a_busy_machine_stays_in_memory(tmp_path):
    clock = FakeClock({"fused": 0.02, "bptt": 0.01})
    tn = autotune.Tuner(tmp_path / "a.json", clock=clock, load=lambda: 4.0 * (os.cpu_count() or 1))
    assert tn.choose(KEY, ["fused", "bptt"], clock.run) == "bptt"
    n = len(clock.calls)
    assert tn.choose(KEY, ["fused", "bptt"], clock.run) == "bptt" and len(clock.calls) == n  # this process: cached
    assert not (tmp_path / "a.json").exists()  # the next process measures again
    assert tn.memory[autotune.key_str(KEY)]["load"] == 4.0 * (os.cpu_count() or 1)


def test_a_busy_machine_needs_a_larger_margin_to_leave_the_preferred_impl(tmp_path):
    busy = lambda: 4.0 * (os.cpu_count() or 1)  # noqa: E731
    clock = FakeClock({"fused": 0.0100, "bptt": 0.0085})  # 15% apart: a win when quiet, noise when busy
    assert (
        autotune.Tuner(tmp_path / "a.json", clock=clock, load=IDLE).choose(
            KEY, ["fused", "bptt"], clock.run, prefer="fused"
        )
        == "bptt"
    )
    assert (
        autotune.Tuner(tmp_path / "b.json", clock=clock, load=busy).choose(
            KEY, ["fused", "bptt"], clock.run, prefer="fused"
        )
        == "fused"
    )
    clock.cost = {"fused": 0.0100, "bptt": 0.0050}  # 2x: a win even on a busy machine
    assert (
        autotune.Tuner(tmp_path / "c.json", clock=clock, load=busy).choose(
            KEY, ["fused", "bptt"], clock.run, prefer="fused"
        )
        == "bptt"
    )


def test_other_keys_are_measured_and_kept_beside(tmp_path):
    clock = FakeClock({"fused": 0.01, "bptt": 0.02})
    tn = autotune.Tuner(tmp_path / "a.json", clock=clock, load=IDLE)
    tn.choose(KEY, ["fused", "bptt"], clock.run)
    other = {**KEY, "training": False}
    clock.cost = {"fused": 0.03, "bptt": 0.02}
    assert tn.choose(other, ["fused", "bptt"], clock.run) == "bptt"
    entries = autotune.Tuner(tmp_path / "a.json").read()
    assert {e["impl"] for e in entries.values()} == {"fused", "bptt"} and len(entries) == 2


def test_a_cached_impl_that_no_longer_applies_is_measured_again(tmp_path):
    clock = FakeClock({"fused": 0.02, "bptt": 0.01, "loop": 0.05})
    tn = autotune.Tuner(tmp_path / "a.json", clock=clock, load=IDLE)
    tn.choose(KEY, ["fused", "bptt"], clock.run)
    assert tn.choose(KEY, ["fused", "loop"], clock.run) == "fused"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"version": 0, "entries": {}}),
        json.dumps([1, 2]),
        json.dumps({"version": autotune.VERSION, "entries": {autotune.key_str(KEY): {"impl": 3}}}),
    ],
    ids=["corrupt", "stale-version", "not-a-dict", "bad-entry"],
)
def test_a_corrupt_or_stale_cache_is_ignored_and_rewritten(tmp_path, content):
    path = tmp_path / "autotune.json"
    path.write_text(content)
    clock = FakeClock({"fused": 0.02, "bptt": 0.01})
    tn = autotune.Tuner(path, clock=clock, load=IDLE)
    assert tn.choose(KEY, ["fused", "bptt"], clock.run) == "bptt"
    assert clock.calls  # measured: the file did not count
    data = json.loads(path.read_text())
    assert data["version"] == autotune.VERSION and data["entries"][autotune.key_str(KEY)]["impl"] == "bptt"


def test_the_static_choice_wins_within_the_noise_margin(tmp_path):
    clock = FakeClock({"fused": 0.0100, "bptt": 0.0098})  # 2% apart: noise
    tn = autotune.Tuner(tmp_path / "a.json", clock=clock, load=IDLE)
    assert tn.choose(KEY, ["fused", "bptt"], clock.run, prefer="fused") == "fused"
    clock.cost = {"fused": 0.0100, "bptt": 0.0090}  # 10% apart: a real win
    assert tn.choose({**KEY, "H": 9}, ["fused", "bptt"], clock.run, prefer="fused") == "bptt"


def test_a_slow_impl_is_timed_once(tmp_path):
    clock = FakeClock({"fused": 0.01, "loop": 2 * autotune.SLOW})
    autotune.Tuner(tmp_path / "a.json", clock=clock, load=IDLE).choose(KEY, ["fused", "loop"], clock.run, repeats=3)
    # the slow one: warm-up + SLOW_REPEATS; the quick one gets rounds up to MAX_REPEATS (0.01 s each < MIN_SECONDS)
    assert clock.calls.count("loop") == 1 + autotune.SLOW_REPEATS
    assert clock.calls.count("fused") == 1 + autotune.MAX_REPEATS


def test_quick_cases_get_rounds_until_each_candidate_has_min_seconds(tmp_path):
    clock = FakeClock({"fused": 0.05, "bptt": 0.04})
    autotune.Tuner(tmp_path / "a.json", clock=clock, load=IDLE).choose(
        KEY, ["fused", "bptt"], clock.run, repeats=3, min_seconds=0.3
    )
    assert clock.calls.count("bptt") == 1 + 8  # 8 rounds x 0.04 s >= 0.3 s (7 give 0.28)
    clock.calls.clear()
    clock.cost = {"fused": 0.5, "bptt": 0.4}  # long cases: the 3 rounds already hold > 0.3 s
    autotune.Tuner(tmp_path / "b.json", clock=clock, load=IDLE).choose(KEY, ["fused", "bptt"], clock.run, repeats=3)
    assert clock.calls.count("bptt") == 4


def test_an_unwritable_cache_warns_once_and_keeps_the_choice_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the cache folder should be
    clock = FakeClock({"fused": 0.02, "bptt": 0.01})
    tn = autotune.Tuner(blocker / "sub" / "a.json", clock=clock, load=IDLE)
    with pytest.warns(UserWarning, match="RNNKIT_CACHE"):
        assert tn.choose(KEY, ["fused", "bptt"], clock.run) == "bptt"
    n = len(clock.calls)
    assert tn.choose(KEY, ["fused", "bptt"], clock.run) == "bptt" and len(clock.calls) == n


# ---- through Recurrent -------------------------------------------------------------------------------------


@pytest.fixture
def tuning(tmp_path, monkeypatch):
    """Autotuning on, a private cache folder, and a fake clock under which 'bptt' is always the fastest."""
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    ticks = {"now": 0.0}
    costs = {"fused": 3.0, "bptt": 1.0, "scan": 2.0, "loop": 5.0}
    calls: list[str] = []
    real = Recurrent.run_impl

    def timed(self, impl, *args):
        calls.append(impl)
        ticks["now"] += costs[impl] * 1e-3
        return real(self, impl, *args)

    monkeypatch.setattr(Recurrent, "run_impl", timed)
    path = autotune.cache_path()
    monkeypatch.setattr(autotune, "_tuners", {path: autotune.Tuner(path, clock=lambda: ticks["now"], load=IDLE)})
    return calls


def test_forward_tunes_once_per_key_and_keeps_rng_and_results(tuning):
    torch.manual_seed(0)
    m = Recurrent("gru", 3, 4, num_layers=2, dropout=0.3)  # dropout: tuning must not move the global RNG
    x = torch.randn(2, 10, 3, requires_grad=True)
    rng = torch.get_rng_state()
    out, _ = m(x)
    assert m.last_impl == "bptt"
    assert set(tuning[:-1]) == {"fused", "bptt"}  # the candidates ran on private copies, then the real forward
    assert tuning[-1] == "bptt"
    torch.manual_seed(0)
    ref = Recurrent("gru", 3, 4, num_layers=2, dropout=0.3, impl="bptt")
    torch.set_rng_state(rng)
    expect, _ = ref(x)
    assert torch.equal(out, expect)  # same dropout masks as without tuning: the global RNG was restored
    assert all(p.grad is None for p in m.parameters()) and x.grad is None  # tuning's backward left no grads
    n = len(tuning)
    m(torch.randn(2, 12, 3, requires_grad=True))  # T=12: the same bucket as T=10 (16), read from the cache
    assert tuning[n:] == ["bptt"]
    m(torch.randn(2, 12, 3))  # no dx wanted: another key, measured
    assert "fused" in tuning[n + 1 :]
    assert len(autotune.Tuner(autotune.cache_path()).read()) == 2


def test_inference_is_a_key_of_its_own(tuning):
    m = Recurrent("rnn", 3, 4)
    x = torch.randn(2, 10, 3)
    m(x)
    with torch.no_grad():
        m(x)
    keys = [e["key"] for e in autotune.Tuner(autotune.cache_path()).read().values()]
    assert sorted(k["training"] for k in keys) == [False, True]


def test_torch_own_kernel_wins_ties_over_the_static_table(tmp_path, monkeypatch):
    """bptt is the static choice for the GRU, but only 2% faster than fused here: within noise, fused is kept;
    10% faster is a real win and bptt is chosen."""
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    ticks = {"now": 0.0}
    costs = {"fused": 1.00, "bptt": 0.98}
    real = Recurrent.run_impl

    def timed(self, impl, *args):
        ticks["now"] += costs[impl] * 1e-3
        return real(self, impl, *args)

    monkeypatch.setattr(Recurrent, "run_impl", timed)
    path = autotune.cache_path()
    monkeypatch.setattr(autotune, "_tuners", {path: autotune.Tuner(path, clock=lambda: ticks["now"], load=IDLE)})
    m = Recurrent("gru", 3, 4)
    x = torch.randn(2, 10, 3, requires_grad=True)
    assert m.resolve_impl(x) == "bptt"  # the static table
    m(x)
    assert m.last_impl == "fused"
    costs["bptt"] = 0.90
    m2 = Recurrent("gru", 3, 5)  # another key (H), measured afresh
    m2(x)
    assert m2.last_impl == "bptt"


def test_autotune_off_uses_the_static_table(tuning, monkeypatch):
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "0")
    m = Recurrent("gru", 3, 4)
    m(torch.randn(2, 10, 3))
    assert tuning == ["bptt"] and m.last_impl == "bptt" and not autotune.cache_path().exists()
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    m = Recurrent("lstm", 3, 4)
    torch.use_deterministic_algorithms(True)
    try:
        m(torch.randn(2, 10, 3))  # deterministic mode: no measuring, the static choice
    finally:
        torch.use_deterministic_algorithms(False)
    assert m.last_impl == "fused" and not autotune.cache_path().exists()


def test_a_single_candidate_or_an_explicit_impl_is_never_timed(tuning):
    Recurrent("gru", 3, 4, impl="loop")(torch.randn(2, 10, 3))
    Recurrent("indrnn", 3, 4)(torch.randn(2, 10, 3))  # bptt only (the loop is a candidate for T <= 8 only)
    assert tuning == ["loop", "bptt"]


def test_candidates_per_cell():
    x = torch.randn(2, 10, 3)
    assert autotune.candidates(Recurrent("gru", 3, 4), x) == ["fused", "bptt"]
    assert autotune.candidates(Recurrent("gru", 3, 4, options=_paper()), x) == ["loop"]
    assert autotune.candidates(Recurrent("lstm", 3, 4), x[:, :1]) == ["fused", "bptt", "loop"]  # short: loop too
    assert "scan" in autotune.candidates(Recurrent("mingru", 3, 4), x)


def _paper():
    from rnnkit.layout import CellOptions

    return CellOptions(gru_variant="paper")


def test_key_names_host_shape_bucket_and_mode():
    m = Recurrent("lstm", 3, 4)
    k = autotune.key_of(m, torch.randn(5, 100, 3), training=True, lengths=False, dtype=torch.float32)
    assert (k["N"], k["T"], k["D"], k["H"]) == (8, 128, 3, 4)
    assert {"cpu", "flags", "torch", "threads", "device", "cell", "options", "dtype", "training"} <= set(k)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert autotune.compute_dtype(torch.randn(1, 2, 3)) == torch.bfloat16
    assert autotune.compute_dtype(torch.randn(1, 2, 3)) == torch.float32


def test_seeded_training_is_reproducible_with_tuning(tuning, monkeypatch):
    """Two seeded fits, the first tuning (dropout on, so the RNG matters) and the second reading the cache, give
    bit-identical weights, equal to a fit that names the chosen impl itself."""
    from rnnkit.config import TrainConfig
    from rnnkit.train import StepOutput, fit

    def run(impl: str) -> torch.Tensor:
        torch.manual_seed(0)
        model = torch.nn.ModuleDict(
            {"rnn": Recurrent("gru", 4, 8, num_layers=2, dropout=0.5, impl=impl), "head": torch.nn.Linear(8, 2)}
        )
        g = torch.Generator().manual_seed(2)
        data = [(torch.randn(4, 6, 4, generator=g), torch.randint(0, 2, (4,), generator=g)) for _ in range(3)]

        def step(m, batch, state):
            x, y = batch
            out, _ = m["rnn"](x)
            return StepOutput(torch.nn.functional.cross_entropy(m["head"](out[:, -1]), y), None, len(y))

        res = fit(model, step, data, config=TrainConfig(epochs=2, seed=3, quiet=True))
        return torch.cat([p.detach().flatten() for p in res.model.parameters()])

    first = run("auto")
    assert "fused" in tuning  # it measured
    n = len(tuning)
    second = run("auto")
    assert "fused" not in tuning[n:]  # read from the cache
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "0")
    named = run("bptt")
    assert torch.equal(first, second) and torch.equal(first, named)
