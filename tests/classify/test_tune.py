"""`rnnkit tune`: a seeded study is reproducible, resumes without repeating trials, records failed and pruned
trials and goes on, refuses a malformed space before any trial, and writes a best config that loads."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.config import apply_overrides, load_config
from rnnkit.tasks import get_task

optuna = pytest.importorskip("optuna")

from rnnkit.tune import TuneError, parse_space, tune  # noqa: E402

runner = CliRunner()
SPACE = {"train.lr": {"log": [1e-3, 1e-1]}, "model.hidden_size": [4, 6, 8], "train.epochs": {"int": [1, 2]}}


def _tsv(path):
    rows = [("pos", "good fun film"), ("neg", "dull bad film"), ("pos", "great fun"), ("neg", "bad plot")] * 5
    path.write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    return path


def _base(tmp_path):
    cls = get_task("classify")
    return cls, cls.from_options(data=str(_tsv(tmp_path / "d.tsv")), hidden=4, epochs=1).config


def _params(study):
    return [t.params for t in sorted(study.trials, key=lambda t: t.number)]


@pytest.mark.slow
def test_a_seeded_study_is_reproducible(tmp_path):
    cls, base = _base(tmp_path)
    space = parse_space(SPACE, base)
    a = tune(cls, base, space, tmp_path / "a", trials=3, seed=7, echo=lambda m: None)
    b = tune(cls, base, space, tmp_path / "b", trials=3, seed=7, echo=lambda m: None)
    c = tune(cls, base, space, tmp_path / "c", trials=3, seed=8, echo=lambda m: None)
    assert len(a.trials) == 3 and _params(a) == _params(b) != _params(c)
    assert [t.value for t in a.trials] == [t.value for t in b.trials]  # same configs, same seeded training
    for t in a.trials:  # one run folder per trial, judged on validation (the classify default: val_acc)
        rec = json.loads((tmp_path / "a" / f"trial-{t.number:04d}" / "trial.json").read_text())
        assert rec["state"] == "COMPLETE" and rec["monitor"] == "val_acc" and rec["params"] == t.params
    assert a.direction.name == "MAXIMIZE"


@pytest.mark.slow
def test_resume_adds_the_missing_trials_without_repeating(tmp_path):
    data, space, out = _tsv(tmp_path / "d.tsv"), tmp_path / "space.json", tmp_path / "study"
    space.write_text(json.dumps(SPACE))
    args = ["tune", "classify", "--data", str(data), "--space", str(space), "--out", str(out), "--seed", "3"]
    r = runner.invoke(app, [*args, "--trials", "2", "--model.embed_size=4"])  # dotted overrides set the base config
    assert r.exit_code == 0, r.output
    assert len(list(out.glob("trial-*"))) == 2
    r = runner.invoke(app, [*args, "--trials", "4", "--model.embed_size=4"])
    assert r.exit_code == 0, r.output
    study = optuna.load_study(study_name="study", storage=f"sqlite:///{out / 'study.db'}")
    params = [tuple(sorted(p.items())) for p in _params(study)]
    assert len(params) == 4 and len(set(params)) == 4
    assert sorted(p.name for p in out.glob("trial-*")) == [f"trial-{i:04d}" for i in range(4)]
    assert "plots: " in r.output and len(list((out / "plots").glob("*.png"))) == 3  # drawn after every search
    r = runner.invoke(app, ["tune", "show", str(out)])
    assert r.exit_code == 0, r.output
    assert "4 trials" in r.output and "best-config.json" in r.output


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path):
    cls, base = _base(tmp_path)
    # each value is valid alone (checked before the study), but EMA with NT-ASGD is refused when a trial builds it
    space = parse_space({"train.ema": [0.0, 0.5], "train.schedule.name": ["ntasgd", "constant"]}, base)
    study = tune(cls, base, space, tmp_path / "s", trials=4, seed=0, echo=lambda m: None)
    assert len(study.trials) == 4
    states = {t.number: t.state.name for t in study.trials}
    for t in study.trials:
        bad = t.params == {"train.ema": 0.5, "train.schedule.name": "ntasgd"}
        assert t.state.name == ("FAIL" if bad else "COMPLETE"), t
        if bad:
            assert "cannot be combined with schedule 'ntasgd'" in t.user_attrs["error"]
            rec = json.loads((tmp_path / "s" / f"trial-{t.number:04d}" / "trial.json").read_text())
            assert rec["state"] == "FAIL" and "train.ema" in rec["error"]
    assert set(states.values()) == {"FAIL", "COMPLETE"}, states  # seed 0: trial 0 fails, the rest run


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_a_pruned_trial_stops_and_says_so(tmp_path):
    cls, base = _base(tmp_path)
    base = apply_overrides(base, {"train.epochs": 3})
    study = tune(
        cls,
        base,
        parse_space({"train.lr": [0.01]}, base),
        tmp_path / "s",
        trials=1,
        pruner=_AlwaysPrune(),
        echo=lambda m: None,
    )
    (t,) = study.trials
    assert t.state.name == "PRUNED" and list(t.intermediate_values) != []
    rec = json.loads((tmp_path / "s" / "trial-0000" / "trial.json").read_text())
    assert rec["state"] == "PRUNED" and "pruned" in rec["reason"]
    evals = [json.loads(x) for x in (tmp_path / "s" / "trial-0000" / "metrics.jsonl").read_text().splitlines()]
    assert sum(e.get("event") == "eval" for e in evals) == 1  # stopped at the first evaluation of 3 epochs


@pytest.mark.parametrize(
    "space, words",
    [
        ({"model.hidden": [4, 8]}, ["'model.hidden'", "hidden"]),
        ({"train.lr": {"log": [0, 1e-2]}}, ["'train.lr'", "low > 0"]),
        ({"train.lr": {"uniform": [1e-2, 1e-3]}}, ["'train.lr'", "low <= high"]),
        ({"train.lr": {"normal": [0, 1]}}, ["'train.lr'", "unknown distribution 'normal'"]),
        ({"model.dropout": {"uniform": [0, 1.5]}}, ["'model.dropout'", "1.5", "[0, 1)"]),
        ({"model.hidden_size": []}, ["'model.hidden_size'", "categorical"]),
    ],
)
def test_a_malformed_space_is_refused_before_any_trial(tmp_path, space, words):
    cls, base = _base(tmp_path)
    with pytest.raises(TuneError) as e:
        parse_space(space, base)
    for w in words:
        assert w in str(e.value)
    f, out = tmp_path / "space.json", tmp_path / "study"
    f.write_text(json.dumps(space))
    r = runner.invoke(
        app, ["tune", "classify", "--data", str(tmp_path / "d.tsv"), "--space", str(f), "--out", str(out)]
    )
    assert r.exit_code == 1 and words[0] in r.output and not out.exists()


def test_best_config_loads_as_a_config(tmp_path):
    cls, base = _base(tmp_path)
    study = tune(cls, base, parse_space(SPACE, base), tmp_path / "s", trials=3, seed=2, echo=lambda m: None)
    cfg = load_config(cls.Config, tmp_path / "s" / "best-config.json")
    best = study.best_trial.params
    assert cfg.model.hidden_size == best["model.hidden_size"] and cfg.train.epochs == best["train.epochs"]
    assert cfg.train.lr == pytest.approx(best["train.lr"]) and cfg.data.path == base.data.path
    r = runner.invoke(
        app,
        [
            "classify",
            "train",
            "--config",
            str(tmp_path / "s" / "best-config.json"),
            "--out",
            str(tmp_path / "again"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output


def test_tune_final_retrains_the_best_config_once_and_scores_test(tmp_path):
    cls, base = _base(tmp_path)
    test = tmp_path / "test.tsv"
    test.write_text("pos\tgood fun\nneg\tdull plot\npos\tgreat film\n", encoding="utf-8")
    base = apply_overrides(base, {"data.test_path": str(test)})
    tune(cls, base, parse_space({"train.lr": [0.01, 0.03]}, base), tmp_path / "s", trials=2, echo=lambda m: None)
    r = runner.invoke(app, ["tune", "final", str(tmp_path / "s"), "--train.epochs=2"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())  # rich wraps its lines at 80 columns, and a long tmp path moves the breaks
    assert "scored on the test split" in out and "test (" in out
    report = json.loads((tmp_path / "s" / "final" / "eval.json").read_text())
    assert report["n"] == 3 and 0.0 <= report["accuracy"] <= 1.0
    cfg = load_config(cls.Config, tmp_path / "s" / "final")
    best = load_config(cls.Config, tmp_path / "s" / "best-config.json")
    assert cfg.train.epochs == 2 and cfg.train.lr == best.train.lr
    r = runner.invoke(app, ["tune", "final", str(tmp_path / "s")])  # once: the final run is not overwritten
    assert r.exit_code == 1 and "final" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["tune", "final", str(tmp_path)])
    assert r.exit_code == 1 and "not a study folder" in r.output


def test_tuning_needs_validation(tmp_path):
    cls, base = _base(tmp_path)
    base = apply_overrides(base, {"data.val_fraction": 0})
    with pytest.raises(TuneError, match="validation"):
        tune(cls, base, parse_space({"train.lr": [0.01]}, base), tmp_path / "s", trials=1, echo=lambda m: None)


def test_trials_stopped_by_ctrl_c_do_not_count_towards_trials():
    from rnnkit.tune import finished

    study = optuna.create_study()
    for state, attrs in [("COMPLETE", {}), ("PRUNED", {}), ("FAIL", {}), ("FAIL", {"interrupted": True})]:
        dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
        value = 0.5 if state == "COMPLETE" else None
        study.add_trial(
            optuna.trial.create_trial(
                state=getattr(optuna.trial.TrialState, state),
                value=value,
                params={"x": 0.5},
                distributions=dist,
                user_attrs=attrs,
            )
        )
    assert finished(study) == 3


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import rnnkit

    data, space, out = _tsv(tmp_path / "d.tsv"), tmp_path / "space.json", tmp_path / "study"
    space.write_text(json.dumps(SPACE))
    env = {**os.environ, "PYTHONPATH": str(Path(rnnkit.__file__).parents[1])}
    cmd = [
        sys.executable,
        "-m",
        "rnnkit.cli",
        "--threads",
        "1",
        "tune",
        "classify",
        "--data",
        str(data),
        "--space",
        str(space),
        "--out",
        str(out),
        "--trials",
        "4",
    ]
    # workers of one study take different sampler seeds (the same seed would draw the same params in both)
    procs = [
        subprocess.Popen([*cmd, "--seed", s], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for s in ("0", "100")
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stdout.read().decode()
    study = optuna.load_study(study_name="study", storage=f"sqlite:///{out / 'study.db'}")
    # each worker stops once 4 trials are finished; a trial already running in the other one still completes
    assert 4 <= len(study.trials) <= 5 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert sorted(p.name for p in out.glob("trial-*")) == [f"trial-{t.number:04d}" for t in study.trials]
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == len(study.trials)


@pytest.mark.slow
def test_workers_started_at_once_set_up_one_study(tmp_path):
    """Six processes create the same SQLite study at the same instant; all must succeed (CI once saw two racing
    on Optuna's schema: ``UNIQUE constraint failed: alembic_version``)."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import rnnkit

    study = tmp_path / "study"
    study.mkdir()
    start = time.time() + 3.0  # every worker sleeps until the same moment, then opens the study
    code = (
        "import sys, time; from pathlib import Path; from rnnkit.tune import _setting_up, open_study\n"
        f"d = Path(sys.argv[1]); time.sleep(max(0.0, {start} - time.time()))\n"
        "with _setting_up(d):\n    s = open_study(d, direction='minimize')\nprint(s.study_name)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(rnnkit.__file__).parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(study)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(6)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stdout.read().decode()[-2000:]
    assert len(optuna.get_all_study_summaries(f"sqlite:///{study / 'study.db'}")) == 1


def _running_trial(study, worker):
    """A trial left RUNNING in the database by ``worker`` (as a killed process leaves it): (number, params)."""
    trial = study.ask({"train.lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)})
    trial.set_user_attr("worker", worker)
    return trial.number, trial.params


def test_reclaim_requeues_a_dead_workers_trial_once_and_leaves_live_ones(tmp_path):
    import socket

    from rnnkit.tune import _Worker, open_study, reclaim

    d = tmp_path / "study"
    d.mkdir()
    study = open_study(d, direction="maximize")
    dead, params = _running_trial(study, f"{socket.gethostname()}-999999-abcdef")  # no lock file: dead
    with _Worker(d) as alive:
        live, _ = _running_trial(study, alive.id)
        other, _ = _running_trial(study, "another-host-1-abcdef")  # cannot tell from here: left alone
        said = []
        assert reclaim(study, d, said.append) == [dead]
        assert reclaim(study, d, said.append) == []  # already queued: not twice
    states = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert states[dead].state.name == "FAIL" and states[dead].user_attrs["interrupted"] is True
    assert "stopped mid-trial" in states[dead].user_attrs["error"] and len(said) == 1
    assert states[live].state.name == "RUNNING" and states[other].state.name == "RUNNING"
    (retry,) = [t for t in study.get_trials(deepcopy=False) if t.state.name == "WAITING"]
    assert retry.user_attrs["retry_of"] == dead and retry.system_attrs["fixed_params"] == params
    rec = json.loads((d / f"trial-{dead:04d}" / "trial.json").read_text())
    assert rec["state"] == "INTERRUPTED" and rec["params"] == params


@pytest.mark.slow
def test_kill_9_mid_trial_then_resume_loses_and_repeats_nothing(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import rnnkit

    data, space, out = _tsv(tmp_path / "d.tsv"), tmp_path / "space.json", tmp_path / "study"
    space.write_text(json.dumps({"train.lr": {"log": [1e-3, 1e-1]}, "model.hidden_size": [4, 6, 8]}))
    args = [
        "tune",
        "classify",
        "--data",
        str(data),
        "--space",
        str(space),
        "--out",
        str(out),
        "--trials",
        "3",
        "--seed",
        "5",
        "--train.epochs=30",
        "--model.embed_size=4",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(rnnkit.__file__).parents[1])}
    p = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli", "--threads", "1", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    victim = out / "trial-0001"
    deadline = time.monotonic() + 240
    while not ((victim / "metrics.jsonl").is_file() and not (victim / "trial.json").is_file()):
        assert p.poll() is None and time.monotonic() < deadline, "the study ended before trial 1 was under way"
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)  # trial 1 is mid-training: no trial.json, RUNNING in the database
    p.wait()
    r = runner.invoke(app, [*args[:-2], "--train.epochs=2", "--model.embed_size=4"])  # resume: quicker trials
    assert r.exit_code == 0, r.output
    study = optuna.load_study(study_name="study", storage=f"sqlite:///{out / 'study.db'}")
    by_state = {}
    for t in study.trials:
        by_state.setdefault(t.state.name, []).append(t)
    assert "RUNNING" not in by_state and len(by_state["COMPLETE"]) == 3, by_state
    (killed,) = by_state["FAIL"]  # the killed trial: recorded, not counted, its params run again
    assert killed.number == 1 and killed.user_attrs["interrupted"] is True
    (retry,) = [t for t in by_state["COMPLETE"] if t.user_attrs.get("retry_of") == 1]
    assert retry.params == killed.params
    completed = [tuple(sorted(t.params.items())) for t in by_state["COMPLETE"]]
    assert len(set(completed)) == 3  # no trial ran twice
    assert sorted(p.name for p in out.glob("trial-*")) == [f"trial-{t.number:04d}" for t in study.trials]
    assert json.loads((victim / "trial.json").read_text())["state"] == "INTERRUPTED"
