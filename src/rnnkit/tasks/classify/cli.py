"""`rnnkit classify`: its options, the printers of its reports and predictions, and `eval` of several runs (the
mean of their probabilities: an ensemble)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rnnkit.data.images import ImageData
from rnnkit.tasks.classify.ensemble import evaluate_ensemble
from rnnkit.tasks.classify.images import plot_misclassified
from rnnkit.tasks.classify.report import print_report, save_confusion_png
from rnnkit.tasks.classify.task import Classifier
from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.options import Opt


def _predict_lines(task: Classifier, items: list[Any], *, k: int = 3, attention: bool = False) -> Iterator[str]:
    for i, (x, top) in enumerate(zip(items, task.predict(items, k=k), strict=True)):
        image = task.config.model.input == "image"
        shown = x if isinstance(x, str) else f"image {i}" if image else f"<series T={len(x)}>"
        yield f"{shown}\t" + "  ".join(f"{c} {p:.3f}" for c, p in top)
        if attention and isinstance(x, str):
            toks, w = task.attention(x)
            yield "  " + " ".join(f"{t}:{v:.2f}" for t, v in zip(toks, w, strict=False))


def _evaluate_runs(
    tasks: Sequence[Classifier], data: Any, *, unknown: str = "error", plot: Path | None = None
) -> dict[str, Any]:
    """One run, or the mean of several runs' class probabilities; ``plot``: the confusion matrix PNG (and, for
    images, the misclassified ones)."""
    report = evaluate_ensemble(tasks, data, unknown=unknown)
    if plot is not None:
        save_confusion_png(report, plot)
        if isinstance(data, ImageData) and len(tasks) == 1:  # and what it got wrong, as images
            plot_misclassified(tasks[0], data, plot.with_name(f"{plot.stem}-misclassified{plot.suffix}"))
    return report


def _print_report(task: Classifier, report: dict[str, Any], *, title: str) -> None:
    print_report(report, title=title)


CLI = TaskCLI(
    train_options=(
        Opt("--input", "model.input", str, "char, word or numeric."),
        Opt("--bidirectional", "model.bidirectional", bool, "Read the sequence in both directions."),
        Opt("--pooling", "model.pooling", str, "last, mean, max or attention."),
        Opt("--class-weights", "data.class_weights", str, "none or balanced (for imbalanced classes)."),
        Opt("--max-len", "data.max_len", int, "Truncate longer inputs (warns with a count; 0: no limit)."),
        Opt("--encoding", "data.encoding", str, "Encoding of files given by path."),
        Opt("--format", "data.format", str, "File format: auto, tab, space, fasttext or csv (docs/formats.md)."),
        Opt("--text-col", "data.text_col", str, "CSV/TSV text column: header name or 0-based index."),
        Opt("--label-col", "data.label_col", str, "CSV/TSV label column (name or index); tab/space: first or last."),
        Opt("--image-sequence", "data.image_sequence", str, "Images as sequences: rows, pixels or permuted."),
    ),
    eval_options=(
        Opt("--unknown", None, str, "Labels unseen in training: error or skip.", default="error"),
        Opt(
            "--plot",
            None,
            Path,
            "Write the confusion matrix PNG here (image runs: also the misclassified "
            "images, as NAME-misclassified.png).",
        ),
    ),
    predict_options=(
        Opt("--k", None, int, "How many classes to show per input.", default=3),
        Opt("--attention", None, bool, "Print attention weights per token.", default=False),
    ),
    train_help="Train a classifier, then score it on the test split (eval.json, confusion.png in the run folder).",
    eval_help=(
        "Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a trained classifier, or of the "
        "mean of several runs' class probabilities (e.g. the same recipe trained with different seeds)."
    ),
    predict_help="Top-k classes with probabilities for each input (texts as arguments, --file or stdin).",
    predict_inputs_help="Texts to classify.",
    predict_verb="classify",
    predict_lines=_predict_lines,
    evaluate_runs=_evaluate_runs,
    print_report=_print_report,
)
