"""`rnnkit speech-ctc`: its options, the WER/CER report and transcriptions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.options import Opt
from rnnkit.tasks.speech_ctc.plot import plot_alignment
from rnnkit.tasks.speech_ctc.task import SpeechCTC


def _predict_lines(task: SpeechCTC, items: list[Any], *, beam: int = 0, plot: Path | None = None) -> Iterator[str]:
    """One line per file: its path, a tab, the words heard; ``plot``: the alignment figure of each file there
    (``name-<i>.png`` when there are several)."""
    feats, notes = task._featurize(items)
    for n in notes:
        typer.echo(f"  {n}", err=True)
    words_of = task._decode([task._scaled(f) for f in feats], beam=beam)
    for x, words in zip(items, words_of, strict=True):
        yield f"{x}\t{' '.join(words)}"
    if plot is not None:
        d, m = task.config.data, task.config.model
        spec = d.spec(task.sample_rate)
        base = Path(plot)
        for i, (x, (f, lp)) in enumerate(zip(items, task.posteriors(items), strict=True)):
            out = base if len(items) == 1 else base.with_name(f"{base.stem}-{i}{base.suffix}")
            title = f"{Path(str(x)).name}: {' '.join(words_of[i])}"
            plot_alignment(
                out,
                f,
                lp,
                task.words,
                step_s=m.subsample * spec.hop / spec.rate,
                hop_s=spec.hop / spec.rate,
                title=title,
            )
            typer.echo(f"  alignment: {out}", err=True)


def _print_report(task: SpeechCTC, report: dict[str, Any], *, title: str) -> None:
    typer.echo(
        f"{title}: WER {report['wer']:.4f}  CER {report['cer']:.4f}  strings right "
        f"{report['string_accuracy']:.4f}  n={report['n']} (greedy)",
        err=True,
    )
    if "beam" in report:
        b = report["beam"]
        typer.echo(
            f"  beam {b['width']}: WER {b['wer']:.4f}  CER {b['cer']:.4f}  strings right {b['string_accuracy']:.4f}",
            err=True,
        )
    typer.echo(json.dumps(report, default=str))


CLI = TaskCLI(
    train_options=(
        Opt("--bidirectional", "model.bidirectional", bool, "Read the frames in both directions."),
        Opt("--features", "data.features", str, "logmel or mfcc."),
        Opt("--strings", "data.strings", int, "Training strings drawn from the training recordings."),
        Opt("--test-strings", "data.test_strings", int, "Test strings drawn from the test recordings."),
        Opt("--max-words", "data.max_words", int, "Longest string in words."),
        Opt("--noise", "data.noise", float, "Std of Gaussian noise added to the strings (0: none)."),
        Opt("--split", "data.split", str, "auto, index (FSDD's), speaker or random (of the recordings)."),
        Opt("--test-speaker", "data.test_speaker", str, "The speaker held out as the test set (--split speaker)."),
        Opt("--subsample", "model.subsample", int, "Stack this many adjacent frames per recurrent step."),
        Opt("--cache", "data.cache", str, "Feature cache for CSV transcripts: auto, off or a folder."),
    ),
    eval_options=(Opt("--beam", None, int, "Prefix beam width reported beside greedy (0: greedy only).", default=8),),
    predict_options=(
        Opt("--beam", None, int, "Prefix beam width (0: greedy decoding).", default=0),
        Opt("--plot", None, Path, "Draw the log-mel spectrogram, the CTC posteriors and the alignment here (PNG)."),
    ),
    train_help="Train a CTC recogniser of connected words (digit strings made from a folder of recordings, or a "
    "CSV of path,transcript), then score the test strings: WER, CER (eval.json).",
    eval_help="WER, CER and exact-string accuracy (greedy and beam decoding) on the test strings or --data.",
    predict_help="The words heard in each audio file (paths as arguments, --file or stdin).",
    predict_inputs_help="Audio files (wav or flac).",
    predict_verb="transcribe",
    aliases={"transcribe": "predict"},
    predict_lines=_predict_lines,
    print_report=_print_report,
)
