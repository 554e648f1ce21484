"""`rnnkit translate`: its options, the BLEU/chrF report, predictions (and their attention plot)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import DataError, UsageError
from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.options import Opt
from rnnkit.tasks.translate import data as P
from rnnkit.tasks.translate.report import plot_attention, print_scores
from rnnkit.tasks.translate.task import Translator


def _evaluate_runs(
    tasks: Sequence[Translator],
    data: Any,
    *,
    src: Path | None = None,
    tgt: Path | None = None,
    beam: int | None = None,
    length_penalty: float | None = None,
) -> dict[str, Any]:
    """The run scored on --data TSV, --src/--tgt files, or its own test split."""
    (tr,) = tasks if len(tasks) == 1 else (None,)
    if tr is None:
        raise UsageError(f"`rnnkit translate eval` takes one run folder, got {len(tasks)}")
    if (src is None) != (tgt is None) or (src is not None and data is not None):
        raise UsageError("give --data TSV, or --src and --tgt together, or neither (the run's test split)")
    if src is not None and tgt is not None:  # together or neither (checked above)
        data = P.read_parallel(src, tgt)
    elif data is None:
        data = tr.load_data().test
        if data is None:
            raise DataError(f"{tr.run_dir} has no test split: pass --data TSV or --src/--tgt files to score")
    return tr.evaluate(data, beam_size=beam, length_penalty=length_penalty)


def _predict_lines(
    task: Translator, items: list[str], *, beam: int | None = None, plot: Path | None = None
) -> Iterator[str]:
    outs = task.translate(items, beam_size=beam)
    if plot is not None:
        src, tgt, w = task.attention(items[0])
        plot_attention(src, tgt, w, plot, title=items[0])
    yield from outs


def _print_report(task: Translator, report: dict[str, Any], *, title: str) -> None:
    print_scores(report, title=title)


CLI = TaskCLI(
    train_options=(
        Opt(
            "--src",
            "data.src_path",
            Path,
            "Source sentences, one per line (.gz ok); with --tgt, instead of --data.",
            path=True,
        ),
        Opt("--tgt", "data.tgt_path", Path, "Their translations, line for line with --src.", path=True),
        Opt("--val-src", "data.val_src_path", Path, "Validation as two files (instead of --val TSV).", path=True),
        Opt("--val-tgt", "data.val_tgt_path", Path, "Validation targets, line for line with --val-src.", path=True),
        Opt("--test-src", "data.test_src_path", Path, "Test as two files (instead of --test TSV).", path=True),
        Opt("--test-tgt", "data.test_tgt_path", Path, "Test targets, line for line with --test-src.", path=True),
        Opt(
            "--direction",
            "data.direction",
            str,
            "source-target, e.g. fra-eng or eng-fra (none: a TSV's column order; fra-eng for the fra-eng dataset).",
        ),
        Opt(
            "--columns",
            "data.columns",
            str,
            "Languages of a TSV's two columns (none: = --direction; fra-eng: eng-fra).",
        ),
        Opt("--extra-columns", "data.extra_columns", int, "TSV columns after the two sentences to ignore."),
        Opt("--setting", "data.setting", str, "general (every pair) or tutorial (the PyTorch tutorial subset)."),
        Opt("--max-len", "data.max_len", int, "Drop training pairs with a side over this many words (0: none)."),
        Opt("--normalize", "data.normalize", str, "Training text: none (raw, cased) or tutorial (ASCII, lowercase)."),
        Opt("--lowercase", "data.lowercase", bool, "Train on lowercased text (normalize=none)."),
        Opt("--level", "data.level", str, "word or char."),
        Opt("--test-fraction", "data.test_fraction", float, "Held-out test part when no test file is given (0: none)."),
        Opt("--val-fraction", "data.val_fraction", float, "Held-out validation part when no validation file is given."),
        Opt("--attention", "model.attention", str, "bahdanau, dot or general."),
        Opt("--beam", "decode.beam_size", int, "Beam size of the final test scores (1: greedy)."),
        Opt("--max-steps", "train.max_steps", int, "Stop after this many optimiser steps (0: no limit)."),
    ),
    eval_options=(
        Opt("--src", None, Path, "Score these source sentences (one per line; with --tgt) instead of a TSV."),
        Opt("--tgt", None, Path, "References, line for line with --src."),
        Opt("--beam", None, int, "Beam size (1: greedy; default: the run's decode.beam_size)."),
        Opt("--length-penalty", None, float, "GNMT length penalty alpha (default: the run's)."),
    ),
    predict_options=(
        Opt("--beam", None, int, "Beam size (1: greedy; default: the run's decode.beam_size)."),
        Opt("--plot", None, Path, "Write the attention heatmap of the first sentence here (PNG)."),
    ),
    train_help="Train a translator, then score greedy and beam decoding on the test split (eval.json).",
    eval_help=(
        "sacreBLEU BLEU and chrF (detokenised output vs raw references; signatures printed) of a trained "
        "translator on its test split, --data TSV or --src/--tgt files."
    ),
    predict_help="Translate sentences given as arguments, --file or stdin (one per line); one translation per line.",
    predict_inputs_help="Sentences to translate.",
    predict_verb="translate",
    evaluate_runs=_evaluate_runs,
    predict_lines=_predict_lines,
    print_report=_print_report,
    aliases={"translate": "predict"},
)
