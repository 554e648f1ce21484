"""The Task contract, checked for every registered task through the CLI a user types: the same verbs, the same
common options (each showing its default), the same run-folder contents, `eval` scoring the weights `train`
reported (and saying which), `Task.load` giving them back, and `--resume` equal to a straight run.

A task registered without a tiny example below fails ``test_every_task_has_an_example``: adding a task means
adding it here."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.tasks import get_task, task_info, task_names
from rnnkit.tasks.options import COMMON

runner = CliRunner()
pytestmark = pytest.mark.xdist_group(name="task-contract")


def _classify(d: Path) -> list[str]:
    rows = [("pos", "good fun film"), ("neg", "dull bad film"), ("pos", "great fun"), ("neg", "bad plot")] * 5
    (d / "c.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in rows), encoding="utf-8")
    return ["--data", str(d / "c.tsv"), "--hidden", "4", "--batch-size", "4"]


def _tag(d: Path) -> list[str]:
    text = "The DT B-NP\ndog NN I-NP\nruns VBZ B-VP\n\nA DT B-NP\ncat NN I-NP\nsleeps VBZ B-VP\n"
    (d / "t.conll").write_text(text * 4)
    return ["--data", str(d / "t.conll"), "--test", str(d / "t.conll"), "--hidden", "4", "--batch-size", "2"]


def _lm(d: Path) -> list[str]:
    (d / "l.txt").write_text("to be or not to be that is the question\n" * 40, encoding="utf-8")
    return [
        "--data",
        str(d / "l.txt"),
        "--hidden",
        "8",
        "--embedding",
        "4",
        "--bptt",
        "8",
        "--batch-size",
        "4",
        "--model.impl=loop",
    ]


def _translate(d: Path) -> list[str]:
    pairs = [
        ("I am here .", "je suis là ."),
        ("you are here .", "tu es là ."),
        ("I am tired .", "je suis fatigué ."),
        ("you are tired .", "tu es fatigué ."),
    ] * 6
    (d / "p.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    return ["--data", str(d / "p.tsv"), "--test", str(d / "p.tsv"), "--hidden", "8", "--batch-size", "4"]


def _forecast(d: Path) -> list[str]:
    import numpy as np

    t = np.arange(120)
    y = 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t  # a monthly series: season 12
    dates = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in t]
    (d / "f.csv").write_text("month,value\n" + "".join(f"{a},{b:.4f}\n" for a, b in zip(dates, y, strict=True)))
    return ["--data", str(d / "f.csv"), "--hidden", "4", "--batch-size", "8"]


def _music(d: Path) -> list[str]:
    from tests.music.test_music import roll, write_mat

    pieces = [roll(6 + i, i) for i in range(8)]
    write_mat(d / "m.mat", traindata=pieces, validdata=pieces[:3], testdata=pieces[3:6])
    return ["--data", str(d / "m.mat"), "--hidden", "4", "--batch-size", "4"]


def _speech(d: Path) -> list[str]:
    from tests.speech.tones import write_tones

    write_tones(d / "rec", per_word=4)  # {word}_{speaker}_{index}.wav: index 0-1 the test set (test_below=2)
    return [
        "--data",
        str(d / "rec"),
        "--hidden",
        "4",
        "--batch-size",
        "4",
        "--cache",
        str(d / "cache"),
        "--data.test_below=2",
    ]


def _speech_ctc(d: Path) -> list[str]:
    *args, test_below = _speech(d)  # the dotted override stays last: options pair up as flag, value
    return [*args, "--strings", "12", "--test-strings", "4", "--max-words", "3", test_below]  # strings of the tones


# task -> (args writing a tiny dataset into the folder, one input for `predict`: a string, or made from the folder)
EXAMPLES: dict[str, tuple[Callable[[Path], list[str]], str | Callable[[Path], str] | None]] = {
    "classify": (_classify, "good fun"),
    "tag": (_tag, "The cat runs"),
    "lm": (_lm, "to be"),
    "translate": (_translate, "I am here ."),
    "forecast": (_forecast, None),
    "music": (_music, "60,64,67 62,65,69"),  # predicts from the run's own series: no inputs
    "speech": (_speech, lambda d: str(d / "rec" / "hi_ann_0.wav")),  # a recording _speech wrote
    "speech-ctc": (_speech_ctc, lambda d: str(d / "rec" / "hi_ann_0.wav")),
}
TASKS = [t for t in task_names() if t in EXAMPLES]
VOLATILE = {"seconds", "train_seconds", "weights", "stop_reason", "steps", "epochs"}  # run facts, not scores


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: thread hand-offs cost more than they give
    yield
    torch.set_num_threads(n)


def test_every_task_has_an_example():
    missing = [t for t in task_names() if t not in EXAMPLES]
    assert not missing, f"add a tiny example for {missing} to EXAMPLES"


@pytest.mark.parametrize("task", TASKS)
def test_same_verbs_and_common_options_with_defaults(task):
    r = runner.invoke(app, [task, "--help"])
    assert r.exit_code == 0, r.output
    for verb in ("train", "eval", "predict"):
        assert verb in r.output
    r = runner.invoke(app, [task, "train", "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    for opt in (*COMMON, *task_info(task).load_cli().train_options):
        assert opt.flag in text, f"{task} train has no {opt.flag}"
    for flag in ("--config", "--resume", "--quiet"):
        assert flag in text
    assert text.count("(default ") >= len(COMMON) // 2  # defaults are shown, not only names


def _scores(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in VOLATILE}


@pytest.mark.parametrize("task", TASKS)
def test_train_eval_load_predict_share_one_run_folder(task, tmp_path):
    make, example = EXAMPLES[task]
    run = tmp_path / "run"
    r = runner.invoke(app, [task, "train", *make(tmp_path), "--epochs", "2", "--out", str(run), "--quiet"])
    assert r.exit_code == 0, r.output
    for name in ("config.json", "task.json", "metrics.jsonl", "eval.json", "last"):
        assert (run / name).exists(), f"{task}: {name} missing from the run folder"
    written = json.loads((run / "eval.json").read_text())
    assert written["weights"]["which"] in ("best", "last")  # the report says which weights produced it
    said = "best checkpoint" if written["weights"]["which"] == "best" else "last weights"
    assert said in " ".join(r.output.split())  # ... and so does what train printed
    which = written["weights"]["which"]
    r = runner.invoke(app, [task, "eval", str(run), "--json", "--which", which])
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    for k, v in _scores(written).items():  # eval on the same data scores the same weights the same
        if isinstance(v, float):
            assert again.get(k, {}) == pytest.approx(v, rel=1e-5), k
        elif isinstance(v, dict) and all(isinstance(x, float) for x in v.values()):
            assert {kk: again[k][kk] for kk in v if kk not in VOLATILE} == pytest.approx(
                {kk: x for kk, x in v.items() if kk not in VOLATILE}, rel=1e-5
            ), k
    for method in ("fit", "fit_and_test", "evaluate", "predict", "save", "load", "from_options"):
        assert callable(getattr(get_task(task), method, None)), f"{task} has no {method}"
    loaded = get_task(task).load(run, which=which)
    assert loaded.model is not None and not loaded.model.training
    assert json.loads((run / "task.json").read_text())["task"] == task
    example = example(tmp_path) if callable(example) else example
    r = runner.invoke(app, [task, "predict", str(run), *([example] if example is not None else [])])
    assert r.exit_code == 0, r.output
    if example is not None:
        assert len(r.stdout.splitlines()) == 1, r.output  # one line per input
    else:
        assert len(r.stdout.splitlines()) > 1, r.output  # a header and the forecast rows
    _eval_and_predict_in_bf16(task, run, which, example, fp32_lines=len(r.stdout.splitlines()))


def _eval_and_predict_in_bf16(task: str, run: Path, which: str, example: str | None, *, fp32_lines: int) -> None:
    """`eval` and `predict` take `--precision bf16`: every module call runs under bf16 autocast (a global forward
    pre-hook records it), the output has the fp32 run's shape; where torch has no bf16 CPU kernels, a clear refusal.
    The language model generates with its float32 NumPy decoder: no module runs, and it warns."""
    from rnnkit.nn import precision

    args = {
        "eval": [task, "eval", str(run), "--json", "--which", which, "--precision", "bf16"],
        "predict": [task, "predict", str(run), *([example] if example is not None else []), "--precision", "bf16"],
    }
    if precision.bf16_support() == "none":
        for verb, a in args.items():
            r = runner.invoke(app, a)
            assert r.exit_code == 1 and "precision='fp32'" in r.output, (verb, r.output)
        return
    for verb, a in args.items():
        seen: list[bool] = []  # per module call: was bf16 autocast on?
        spy = torch.nn.modules.module.register_module_forward_pre_hook(
            lambda m, inp: seen.append(torch.is_autocast_enabled("cpu"))
        )
        generates = task == "lm" and verb == "predict"
        try:
            with pytest.warns(UserWarning, match="does not apply to generation") if generates else nullcontext():
                r = runner.invoke(app, a)
        finally:
            spy.remove()
        assert r.exit_code == 0, (verb, r.output)
        if verb == "eval":
            assert json.loads(r.stdout), r.output
        else:
            assert len(r.stdout.splitlines()) == fp32_lines, r.output
        if generates:
            assert not seen
        else:
            assert seen and all(seen), f"{task} {verb}: {seen.count(False)} of {len(seen)} module calls ran in fp32"


@pytest.mark.parametrize("task", TASKS)
def test_resume_equals_a_straight_run(task, tmp_path, monkeypatch):
    from tests.train.helpers import assert_same_last, spy_resume

    resumed_from = spy_resume(monkeypatch)
    make, _ = EXAMPLES[task]
    args = [task, "train", *make(tmp_path), "--quiet", "--data.val_fraction=0.25"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert runner.invoke(app, [*args, "--epochs", "2", "--out", str(full)]).exit_code == 0
    assert runner.invoke(app, [*args, "--epochs", "1", "--out", str(cut)]).exit_code == 0
    r = runner.invoke(app, [*args, "--epochs", "2", "--out", str(cut), "--resume"])
    assert r.exit_code == 0, r.output
    assert resumed_from == [cut / "last"]
    assert_same_last(full / "last", cut / "last")


@pytest.mark.parametrize("task", TASKS)
def test_python_options_are_the_cli_options(task, tmp_path):
    """`Task.from_options(data=..., hidden=...)` configures what `rnnkit <task> train --data ... --hidden ...` does."""
    from rnnkit.config import ConfigError, load_config

    cls = get_task(task)
    make, _ = EXAMPLES[task]
    args = make(tmp_path)
    run = tmp_path / "run"
    r = runner.invoke(app, [task, "train", *args, "--epochs", "1", "--out", str(run), "--quiet"])
    assert r.exit_code == 0, r.output
    flags = dict(zip(args[::2], args[1::2], strict=False))
    options = {k.lstrip("-").replace("-", "_"): v for k, v in flags.items() if not k.startswith("--model.")}
    py = cls.from_options(
        **options,
        epochs=1,
        out=str(run),
        overrides={"train.quiet": True}
        | {k.removeprefix("--").split("=")[0]: k.split("=")[1] for k in args if k.startswith("--model.")},
    )
    written = load_config(cls.Config, run / "config.json")
    assert py.config.model.hidden_size == written.model.hidden_size == int(flags["--hidden"])
    assert py.config.data.path == written.data.path and py.config.run_dir == written.run_dir
    with pytest.raises(ConfigError, match="unknown option"):
        cls.from_options(hiden=3)


@pytest.mark.parametrize("task", TASKS)
def test_a_used_run_folder_is_refused_unchanged_then_moved_aside_whole(task, tmp_path):
    """#19 for every task: `train --out RUN` on a finished run changes nothing; `--overwrite` moves it aside."""
    import hashlib

    make, _ = EXAMPLES[task]
    args = [task, "train", *make(tmp_path), "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]
    assert runner.invoke(app, args).exit_code == 0

    def files(d):
        return {
            str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*"))
            if p.is_file()
        }

    before = files(tmp_path / "run")
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "--overwrite" in r.output, r.output
    assert files(tmp_path / "run") == before
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    (aside,) = tmp_path.glob("run.old-*")
    lock = lambda f: {k: v for k, v in f.items() if k != ".rnnkit-lock"}  # noqa: E731 - the mover held the lock
    assert lock(files(aside)) == lock(before)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("task", TASKS)
def test_killed_mid_training_then_resumed_equals_a_straight_run(task, seed, tmp_path):
    """#19 for every task: SIGKILL a `train` process at a random moment after its first checkpoint (often inside a
    checkpoint swap); the run still loads, and `--resume` then ends exactly where an uninterrupted run does."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    from tests.train.helpers import assert_same_last

    make, _ = EXAMPLES[task]
    args = [task, "train", *make(tmp_path), "--quiet", "--epochs", "4", "--train.checkpoint.every_steps=1"]
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert runner.invoke(app, [*args, "--out", str(straight)]).exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli", "--threads", "1", *args, "--out", str(run)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (run / "last" / "state.json").is_file() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(f"{task}{seed}").uniform(0.0, 0.3))
    p.send_signal(signal.SIGKILL)
    p.wait()
    get_task(task).load(run, which="last")  # whatever moment it was killed at, the folder holds a whole checkpoint
    r = runner.invoke(app, [*args, "--out", str(run), "--resume"])
    assert r.exit_code == 0, r.output
    assert_same_last(straight / "last", run / "last")
