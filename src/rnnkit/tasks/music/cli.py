"""`rnnkit music`: its options, the next frame as MIDI notes, and the verbs that write MIDI."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import typer

from rnnkit.errors import ConfigError
from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.console import errors_as_messages
from rnnkit.tasks.music.data import parse_frames
from rnnkit.tasks.music.midi import LOWEST_MIDI, plot_roll, read_midi, write_midi, write_wav
from rnnkit.tasks.music.task import MusicModel
from rnnkit.tasks.options import Opt


def generate_command(
    run: Path = typer.Argument(..., help="A run folder of `rnnkit music train`."),
    prompt: str = typer.Option("", help="Frames to start from, e.g. '60,64,67 62,65,69' (default: silence)."),
    prime: Path | None = typer.Option(None, help="Start from this MIDI file instead (read at --fs)."),
    frames: int = typer.Option(32, help="Frames to sample."),
    seed: int | None = typer.Option(None, help="Fixes the sample."),
    temperature: float = typer.Option(1.0, help="Divides every logit: < 1 surer, > 1 more random."),
    midi: Path | None = typer.Option(None, help="Also write the sampled frames as this .mid file."),
    png: Path | None = typer.Option(None, help="Also draw the sampled frames as this piano-roll PNG."),
    wav: Path | None = typer.Option(None, help="Also render them as this .wav (sine waves, no soundfont)."),
    fs: float | None = typer.Option(None, help="Frames per second of --prime/--midi (default: the run's data.fs)."),
    which: str = typer.Option("best", help="Checkpoint: best or last."),
) -> None:
    """Sample frames, one line per frame: its MIDI notes joined by commas ('-' = silence)."""
    with errors_as_messages("rnnkit music generate"):
        task = MusicModel.load(run, which=which)
        rate = fs if fs is not None else task.config.data.fs
        if prime is not None and prompt.strip():
            raise ConfigError("give --prompt or --prime, not both")
        start = read_midi(prime, fs=rate) if prime is not None else parse_frames(prompt) if prompt.strip() else None
        roll = task.generate(start, frames=frames, seed=seed, temperature=temperature)
        if midi is not None:
            write_midi(roll, midi, fs=rate)
        if wav is not None:
            write_wav(roll, wav, fs=rate)
        if png is not None:
            plot_roll(roll, png, fs=rate, title=f"{run.name}: {frames} sampled frames (seed {seed})")
    for f in roll:
        on = np.flatnonzero(f)
        typer.echo(",".join(str(k + LOWEST_MIDI) for k in on) if len(on) else "-")


def _predict_lines(task: MusicModel, items: list[str], *, threshold: float = 0.5) -> Iterable[str]:
    """One line per input: the MIDI notes of the predicted next frame (p >= threshold) with their p."""
    for p in task.predict([parse_frames(s) for s in items]):
        on = np.flatnonzero(p >= threshold)
        yield " ".join(f"{k + LOWEST_MIDI}:{p[k]:.2f}" for k in on) if len(on) else "-"


CLI = TaskCLI(
    train_options=(
        Opt("--dropout", "model.dropout", float, "Dropout between stacked layers."),
        Opt("--input-dropout", "model.input_dropout", float, "Dropout on the input frames' keys (not the target)."),
        Opt("--head-dropout", "model.head_dropout", float, "Dropout before the 88 sigmoid outputs."),
        Opt("--weight-drop", "model.weight_drop", float, "DropConnect on the recurrent weights W_hh."),
        Opt("--output", "model.output", str, "bernoulli (keys independent) or nade (keys of a frame jointly)."),
        Opt("--fs", "data.fs", float, "Frames per second when reading MIDI (--data FOLDER of .mid files)."),
        Opt("--transpose", "data.transpose", int, "Augment training pieces with shifts of up to this many semitones."),
    ),
    predict_options=(Opt("--threshold", None, float, "Print the keys with p at least this.", default=0.5),),
    train_help="Train on piano rolls (frame t -> frame t+1), then score the test split: NLL per frame (eval.json).",
    eval_help="Frame-level NLL (nats per frame, summed over the 88 keys) on the test split or --data FILE.mat.",
    predict_help="The next frame after each input, as MIDI notes with their probabilities.",
    predict_inputs_help="Frames as MIDI notes: '60,64,67 62,65,69' (spaces between frames, '-' = silence).",
    predict_lines=_predict_lines,
    verbs={"generate": generate_command},
)
