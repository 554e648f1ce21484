"""`rnnkit speech`: its options and the top-k words per recording."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import typer

from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.options import Opt
from rnnkit.tasks.speech.task import SpeechRecognizer


def _predict_lines(task: SpeechRecognizer, items: list[Any], *, k: int = 3) -> Iterator[str]:
    """One line per file: its path, then the top-``k`` words with their probabilities (notes go to stderr)."""
    feats, notes = task.featurize(items)
    for n in notes:  # said once for all the files: "resampled 3 file(s) from 16000 Hz to 8000 Hz"
        typer.echo(f"  {n}", err=True)
    probs, _ = task._proba(task.encode_inputs(feats), 256)
    k = min(k, len(task.classes))
    for x, p in zip(items, probs, strict=True):
        top = np.argsort(-p)[:k]
        yield f"{x}\t" + "  ".join(f"{task.classes[j]} {p[j]:.3f}" for j in top)


CLI = TaskCLI(
    train_options=(
        Opt("--bidirectional", "model.bidirectional", bool, "Read the frames in both directions."),
        Opt("--pooling", "model.pooling", str, "last, mean, max or attention."),
        Opt("--features", "data.features", str, "logmel or mfcc."),
        Opt("--n-mels", "data.n_mels", int, "Mel bands."),
        Opt("--n-mfcc", "data.n_mfcc", int, "MFCCs kept (features mfcc)."),
        Opt("--sample-rate", "data.sample_rate", int, "Hz the model reads (0: the training files' common rate)."),
        Opt("--normalize", "data.normalize", str, "global (training mean/std) or utterance (each its own)."),
        Opt("--label-pattern", "data.label_pattern", str, "Regex over file names with a (?P<label>...) group."),
        Opt("--split", "data.split", str, "auto, index (FSDD's), speaker or random."),
        Opt("--test-speaker", "data.test_speaker", str, "The speaker held out as the test set (--split speaker)."),
        Opt("--freq-masks", "model.freq_masks", int, "SpecAugment frequency masks per utterance (0: off)."),
        Opt("--time-masks", "model.time_masks", int, "SpecAugment time masks per utterance (0: off)."),
        Opt("--cache", "data.cache", str, "Feature cache: auto, off or a folder."),
    ),
    predict_options=(Opt("--k", None, int, "How many words to show per recording.", default=3),),
    train_help="Train an isolated-word recogniser on a folder of recordings (labels from the file names or a CSV "
    "path,label), then score the test split (eval.json, confusion.png).",
    eval_help="Accuracy, macro-F1, per-word precision/recall and the confusion matrix on the test split or --data.",
    predict_help="Top-k words with probabilities for each audio file (paths as arguments, --file or stdin).",
    predict_inputs_help="Audio files (wav or flac).",
    predict_verb="recognise",
    predict_lines=_predict_lines,
)
