"""`rnnkit tag`: its options, the per-type span table of IOB reports, and predictions as word/TAG or entity spans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from rnnkit.errors import DataError
from rnnkit.tasks.cli import TaskCLI, print_report
from rnnkit.tasks.options import Opt
from rnnkit.tasks.tag.task import Tagger, format_spans, is_iob


def _print_report(task: Tagger, report: dict[str, Any], *, title: str) -> None:
    """For IOB tag sets a per-type P/R/F1 table (in %) on stderr; then the JSON report, as every task."""
    if "per_type" not in report:
        return print_report(task, report, title=title)
    rows = [title, f"{'type':<8} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}"]
    total = dict(
        precision=report["span_precision"],
        recall=report["span_recall"],
        f1=report["span_f1"],
        support=report["chunks"],
    )
    for k, v in [*report["per_type"].items(), ("(all)", total)]:
        p, r, f = (100 * v[m] for m in ("precision", "recall", "f1"))
        rows.append(f"{k:<8} {p:>9.2f} {r:>7.2f} {f:>7.2f} {v['support']:>8,}")
    typer.echo("\n".join(rows), err=True)
    typer.echo(json.dumps(report, default=str))  # one line on stdout, the last one


def _predict_lines(task: Tagger, items: list[Any], *, format: str = "auto") -> Iterator[str]:
    """One line per sentence: ``word/TAG ...`` (tokens) or ``[PER Juan Pérez] vive en [LOC Madrid] .``
    (spans); ``auto``: the run's own choice, spans when it was trained on IOB tags (runs trained before span
    output existed print tokens, as they did)."""
    if format not in ("auto", "tokens", "spans"):
        raise DataError(f"--format must be auto, tokens or spans, got {format!r}")
    spans = format == "spans" or (format == "auto" and task.predict_format == "spans")
    if spans and not is_iob(task.tags):
        raise DataError(f"--format spans needs IOB entity tags; this run's tags are {task.tags[:10]}")
    for sent in task.predict(items):
        yield format_spans(sent) if spans else " ".join(f"{w}/{t}" for w, t in sent)


CLI = TaskCLI(
    train_options=(
        Opt("--tag-column", "data.tag_column", int, "Column holding the tag (CoNLL-2000: 1 POS, 2 chunk)."),
        Opt(
            "--tag-scheme",
            "data.tag_scheme",
            str,
            "Rewrite entity tags as iob1, iob2 or iobes (default: as in the files).",
        ),
        Opt(
            "--embeddings",
            "model.embeddings",
            Path,
            "Pretrained word vectors (word2vec/GloVe text) to start the word embedding from.",
            path=True,
        ),
        Opt("--char-embed", "model.char_embed", int, "Character features: embedding size (0: off)."),
        Opt("--crf", "model.crf", bool, "CRF output layer (Viterbi decoding)."),
        Opt("--max-len", "data.max_len", int, "Truncate longer sentences (warns with a count; 0: no limit)."),
        Opt("--format", "data.format", str, "File format: auto, conll (whitespace columns) or conllu."),
        Opt("--conllu-tag", "data.conllu_tag", str, "CoNLL-U tag column: upos or xpos (the word is FORM)."),
    ),
    eval_options=(
        Opt("--unknown", None, str, "Gold tags unseen in training: score (as errors), skip or error.", default="score"),
    ),
    train_help="Train a tagger, then score it on the test split (eval.json in the run folder).",
    eval_help="Token accuracy (and chunk span precision/recall/F1 for IOB tags) of a trained tagger.",
    predict_options=(
        Opt(
            "--format",
            None,
            str,
            "auto | tokens (word/TAG) | spans ([PER Juan Pérez] vive ...); auto: spans for runs trained on IOB tags.",
            default="auto",
        ),
    ),
    predict_help=(
        "Tag each whitespace-tokenised sentence: entities as [TYPE words] spans for IOB entity tags, else word/TAG."
    ),
    predict_inputs_help="Whitespace-tokenised sentences.",
    predict_verb="tag",
    print_report=_print_report,
    predict_lines=_predict_lines,
)
