"""Regenerate every figure and quoted output of docs/tutorial.md with one command.

    python docs/make_figures.py                 # trains the tutorial LM first if runs/tutorial-lm is missing
    python docs/make_figures.py --run RUN       # use any run folder of `rnnkit train lm`
    python docs/make_figures.py --fast --out /tmp/figs   # tiny sizes (the test uses this)

Writes into ``--out`` (default docs/figures/): gradients_fresh.png, gradients_explode.png,
gradients_trained.png, states.png, states.html, and the text outputs the tutorial quotes (*.txt).
Everything is seeded; the trained model is whatever ``--run`` holds (its training is timed, so a rerun
on another machine gives a similar, not identical, model).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from rich.console import Console

from rnnkit.explain.gradients import fresh_profiles, plot_profiles, profiles_table, trained_profile
from rnnkit.explain.states import explain_states
from rnnkit.explain.trace import render, trace
from rnnkit.layout import CellOptions

DOCS = Path(__file__).resolve().parent
DEFAULT_RUN = DOCS.parent / "runs" / "tutorial-lm"


def train_tutorial_lm(run: Path, *, seconds: float, fast: bool = False) -> Path:
    """The tutorial's model: a 1x128 character LSTM (embedding 32) on Tiny Shakespeare, trained for ``seconds``.

    Without Tiny Shakespeare in a data root it falls back to the English text shipped with CPython (as
    ``rnnkit demo`` does). ``fast``: a 16-unit model on a small slice for a few steps (tests).
    """
    import torch

    from rnnkit.config import CellConfig, TrainConfig
    from rnnkit.data.text import builtin_english
    from rnnkit.tasks.lm.demo import find_demo_data_root
    from rnnkit.tasks.lm.task import LanguageModel, LMConfig, LMDataConfig, LMModelConfig

    run.mkdir(parents=True, exist_ok=True)
    root = find_demo_data_root()
    if root is not None and not fast:
        data = LMDataConfig(dataset="tiny-shakespeare", data_root=str(root), batch_size=32, bptt=100)
    else:
        text, _ = builtin_english()
        path = run / "input.txt"
        path.write_text(text[:20_000] if fast else text, encoding="utf-8")
        data = LMDataConfig(path=str(path), batch_size=8 if fast else 32, bptt=32 if fast else 100)
    H, E = (16, 8) if fast else (128, 32)
    cfg = LMConfig(
        run_dir=str(run),
        model=LMModelConfig(cell=CellConfig("lstm"), hidden_size=H, embedding_dim=E),
        data=data,
        train=TrainConfig(
            epochs=100, max_steps=20 if fast else 0, lr=4e-3, clip_norm=1.0, quiet=True, unit="tokens", seed=0
        ),
        time_limit=seconds,
        time_decay="cosine",
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small model, shared 2-core machine: one thread is faster than two contending
    try:
        LanguageModel(cfg).train()
    finally:
        torch.set_num_threads(threads)
    return run


def _capture(fn, width: int = 170) -> str:
    buf = io.StringIO()
    fn(Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


def make_figures(out: Path, *, run: Path | None = None, fast: bool = False, seconds: float = 420.0) -> dict:
    """Write every tutorial figure and text output into ``out``; returns what was written (name -> path)."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    size = (
        dict(hidden_size=8, steps=12, batch=2, batches=1)
        if fast
        else dict(hidden_size=32, steps=40, batch=16, batches=4)
    )

    # 1. vanishing gradients in fresh cells, side by side on the same inputs
    fresh = fresh_profiles(["rnn", "lstm", "gru"], forget_bias=1.0, **size)
    written["gradients_fresh"] = str(
        plot_profiles(fresh, out / "gradients_fresh.png", title="fresh cells, H=32, same Gaussian inputs")
    )
    # 2. exploding gradients: W_hh scaled by 3, and what clipping does
    explode = fresh_profiles(["rnn"], recurrent_scale=3.0, **size) + fresh_profiles(
        ["rnn"], recurrent_scale=1.0, **size
    )
    explode[0].label, explode[1].label = "rnn, W_hh x 3", "rnn, W_hh as initialised"
    written["gradients_explode"] = str(
        plot_profiles(explode, out / "gradients_explode.png", title="exploding vs vanishing: the scale of W_hh")
    )
    (out / "gradients_fresh.txt").write_text(_capture(lambda c: c.print(profiles_table(fresh + explode))))

    # 3. a trained model
    if run is None:
        run = DEFAULT_RUN if not fast else out / "tiny-run"
    if not (run / "config.json").is_file():
        print(f"training the tutorial model into {run} ({'fast' if fast else f'{seconds:g} s'}) ...", flush=True)
        train_tutorial_lm(run, seconds=seconds, fast=fast)
    steps = 12 if fast else 60
    trained = trained_profile(
        run, steps=steps, batch=2 if fast else 16, batches=1 if fast else 4, warmup=5 if fast else 100
    )
    written["gradients_trained"] = str(
        plot_profiles([trained], out / "gradients_trained.png", title="trained character LSTM, validation text")
    )
    (out / "gradients_trained.txt").write_text(_capture(lambda c: c.print(profiles_table([trained]))))

    # 4. hidden units and gates of the trained model over its validation text
    from rnnkit.tasks.lm.task import LanguageModel

    lm = LanguageModel.load(run)
    text = lm.vocab.decode(lm.data().valid[: (120 if fast else 700)])
    summary = explain_states(run, text, out, top=3, chars=60 if fast else 100, html_units=2, html_chars=400)
    written["states"], written["states_html"] = str(out / "states.png"), str(out / "states.html")
    summary["heatmap"], summary["html"] = Path(summary["heatmap"]).name, Path(summary["html"]).name  # portable
    (out / "states.json").write_text(json.dumps(summary, indent=1) + "\n")

    # 5. the worked example: LSTM, D=2, H=3, T=3
    tr = trace("lstm", input_size=2, hidden_size=3, steps=3, seed=0, options=CellOptions())
    (out / "trace_lstm.txt").write_text(_capture(lambda c: render(tr, c), width=100))
    (out / "trace_lstm.json").write_text(json.dumps(tr, indent=1) + "\n")
    written["trace"] = str(out / "trace_lstm.txt")
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DOCS / "figures", help="output folder (default docs/figures)")
    ap.add_argument("--run", type=Path, default=None, help="a run folder (default runs/tutorial-lm, trained if absent)")
    ap.add_argument("--fast", action="store_true", help="tiny sizes for tests")
    ap.add_argument("--seconds", type=float, default=420.0, help="training time if the tutorial model is missing")
    ap.add_argument("--train-only", action="store_true", help="only train the tutorial model into --run")
    a = ap.parse_args(argv)
    if a.train_only:
        train_tutorial_lm(a.run or DEFAULT_RUN, seconds=a.seconds, fast=a.fast)
        return 0
    for name, path in make_figures(a.out, run=a.run, fast=a.fast, seconds=a.seconds).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
