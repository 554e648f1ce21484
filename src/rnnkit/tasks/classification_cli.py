"""Command line of the classification and tagging tasks: `rnnkit classify train|eval|predict` and
`rnnkit tag train|eval|predict`. Bodies are thin and import torch lazily (``rnnkit --help`` stays fast).

Every `train` accepts extra ``--section.key=value`` arguments that override any config field, e.g.
``rnnkit classify train --dataset names -- --model.pooling=attention``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from rnnkit.config import ConfigError, apply_overrides, load_config, parse_cli
from rnnkit.data.sources import DataError

classify_app = typer.Typer(help="Sequence classification: names, sentiment, multivariate series.", no_args_is_help=True)
tag_app = typer.Typer(help="Sequence labelling: POS tags, IOB chunks (BiLSTM/BiGRU, CRF).", no_args_is_help=True)
_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
_ERRORS = (DataError, ConfigError, ValueError, FileNotFoundError)


def _fail(e: Exception) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2) from None


def _with_source(cfg: Any, data: Path | None, dataset: str | None) -> Any:
    if data is not None and dataset is not None:
        _fail(ValueError("give --data PATH or --dataset NAME, not both"))
    if data is None and dataset is None:
        return cfg
    return replace(cfg, data=replace(cfg.data, path=str(data.resolve()) if data else None, dataset=dataset))


def _apply(cfg: Any, given: dict[str, Any], extra: list[str]) -> Any:
    cfg = apply_overrides(cfg, {k: v for k, v in given.items() if v is not None})
    return apply_overrides(cfg, parse_cli(list(extra))[1])


# ---- printing ----------------------------------------------------------------------------------------------


def print_report(report: dict[str, Any], *, title: str = "") -> None:
    """Accuracy / macro-F1 line, per-class precision/recall/F1 and the confusion matrix as rich tables."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(
        f"[bold]{title}[/bold] accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
        f"loss {report['loss']:.4f}  n={report['n']}"
    )
    t = Table(title="per class")
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for name, v in report["per_class"].items():
        t.add_row(name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    con.print(t)
    cm = Table(title="confusion matrix (rows: true, columns: predicted)")
    cm.add_column("")
    classes = report["classes"]
    for c in classes:
        cm.add_column(c[:4], justify="right")
    for k, (c, row) in enumerate(zip(classes, report["confusion"], strict=True)):
        cm.add_row(c, *[f"[bold]{v}[/bold]" if i == k else (str(v) if v else ".") for i, v in enumerate(row)])
    con.print(cm)


def save_confusion_png(report: dict[str, Any], path: Path) -> Path:
    """Row-normalised confusion matrix as a PNG (``rnnkit.plots.plot_confusion_matrix``)."""
    import numpy as np

    from rnnkit.plots import plot_confusion_matrix

    return plot_confusion_matrix(np.asarray(report["confusion"]), report["classes"], path)


# ---- classify ----------------------------------------------------------------------------------------------


RESUME_HELP = "Continue the run in --out from its last checkpoint (--config RUN reuses the run's settings)."


@classify_app.command("train", context_settings=_EXTRA)
def classify_train(
    ctx: typer.Context,
    data: Path | None = typer.Option(None, help="label<TAB>text file, folder of one-class-per-file, or .ts file."),
    dataset: str | None = typer.Option(None, help="names, mr-polarity, uci-sentiment-sentences, japanese-vowels."),
    data_root: Path | None = typer.Option(None, help="Folder holding the datasets (default $RNNKIT_DATA)."),
    test: Path | None = typer.Option(None, help="Explicit test file (else the official or a seeded random split)."),
    input: str | None = typer.Option(None, "--input", help="char, word or numeric."),
    cell: str | None = typer.Option(None, help="Any registered cell (lstm, gru, rnn, ...)."),
    hidden: int | None = typer.Option(None, help="Hidden units per direction."),
    layers: int | None = typer.Option(None, help="Stacked recurrent layers."),
    bidirectional: bool | None = typer.Option(None, "--bidirectional/--unidirectional"),
    pooling: str | None = typer.Option(None, help="last, mean, max or attention."),
    class_weights: str | None = typer.Option(None, help="none or balanced."),
    max_len: int | None = typer.Option(None, help="Truncate longer inputs (warns with a count)."),
    encoding: str | None = typer.Option(None, help="Encoding of files given by path (default utf-8)."),
    epochs: int | None = typer.Option(None),
    lr: float | None = typer.Option(None),
    batch_size: int | None = typer.Option(None),
    seed: int | None = typer.Option(None),
    config: Path | None = typer.Option(None, help="A config.json to start from (e.g. a run's)."),
    out: Path | None = typer.Option(None, help="Run folder (default runs/classify)."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
) -> None:
    """Train a classifier, then score it on the test split (eval.json, confusion.png in the run folder)."""
    from rnnkit.tasks.classification import Classifier, ClassifierConfig, load_splits

    try:
        cfg = load_config(ClassifierConfig, config) if config else ClassifierConfig()
        cfg = _with_source(cfg, data, dataset)
        given = {
            "data.data_root": str(data_root) if data_root else None, "data.test_path": str(test) if test else None,
            "model.input": input, "model.cell.name": cell, "model.hidden_size": hidden, "model.num_layers": layers,
            "model.bidirectional": bidirectional, "model.pooling": pooling, "data.class_weights": class_weights,
            "data.max_len": max_len, "data.encoding": encoding, "train.epochs": epochs, "train.lr": lr,
            "data.batch_size": batch_size, "train.seed": seed, "run_dir": str(out) if out else None,
            "train.quiet": True if quiet else None,
        }  # fmt: skip
        cfg = _apply(cfg, given, ctx.args)
        train, val, test_data = load_splits(cfg.data)
        clf = Classifier(cfg)
        clf.fit(train, val, run_dir=cfg.run_dir, resume=resume)
        report = clf.evaluate(test_data, unknown="skip")
    except _ERRORS as e:
        _fail(e)
    run = Path(cfg.run_dir)
    (run / "eval.json").write_text(json.dumps(report, indent=1))
    save_confusion_png(report, run / "confusion.png")
    print_report(report, title=f"test ({run})")


@classify_app.command("eval")
def classify_eval(
    runs: list[Path] = typer.Argument(..., help="Run folder(s) of `rnnkit classify train`; several: an ensemble."),
    data: Path | None = typer.Option(None, help="Score this file/folder instead of the first run's test split."),
    unknown: str = typer.Option("error", help="Labels unseen in training: error or skip."),
    plot: Path | None = typer.Option(None, help="Write the confusion matrix PNG here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a trained classifier, or of
    the mean of several runs' class probabilities (e.g. the same recipe trained with different seeds)."""
    from rnnkit.data.readers import read_classification
    from rnnkit.tasks.classification import Classifier, evaluate_ensemble, load_splits

    try:
        members = [Classifier.load(run) for run in runs]
        d = members[0].config.data
        if data is not None:
            kw = {} if data.suffix == ".ts" else {"encoding": d.encoding}
            test = read_classification(data, **kw)
        else:
            test = load_splits(d)[2]
        report = evaluate_ensemble(members, test, unknown=unknown)
    except _ERRORS as e:
        _fail(e)
    if plot is not None:
        save_confusion_png(report, plot)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        title = str(data or "test split") + (f", mean of {len(runs)} runs" if len(runs) > 1 else "")
        print_report(report, title=title)


@classify_app.command("predict")
def classify_predict(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit classify train`."),
    texts: list[str] = typer.Argument(None, help="Texts to classify."),
    file: Path | None = typer.Option(None, help="One input per line (or a .ts file of series)."),
    k: int = typer.Option(3, help="How many classes to show per input."),
    show_attention: bool = typer.Option(False, "--attention", help="Print attention weights per token."),
) -> None:
    """Top-k classes with probabilities for each input."""
    from rnnkit.data.readers import lines, read_text_file, read_ts
    from rnnkit.tasks.classification import Classifier

    try:
        clf = Classifier.load(run)
        inputs: list[Any] = list(texts or [])
        if file is not None:
            if file.suffix == ".ts":
                inputs += read_ts(file).inputs
            else:
                inputs += [s for s in lines(read_text_file(file, clf.config.data.encoding)) if s.strip()]
        if not inputs:
            raise ValueError("nothing to classify: give texts as arguments or --file")
        preds = clf.predict(inputs, k=k)
    except _ERRORS as e:
        _fail(e)
    for x, top in zip(inputs, preds, strict=True):
        shown = x if isinstance(x, str) else f"<series T={len(x)}>"
        typer.echo(f"{shown}\t" + "  ".join(f"{c} {p:.3f}" for c, p in top))
        if show_attention and isinstance(x, str):
            toks, w = clf.attention(x)
            typer.echo("  " + " ".join(f"{t}:{v:.2f}" for t, v in zip(toks, w, strict=False)))


# ---- tag ---------------------------------------------------------------------------------------------------


@tag_app.command("train", context_settings=_EXTRA)
def tag_train(
    ctx: typer.Context,
    data: Path | None = typer.Option(None, help="A CoNLL-style column file (token per line, blank between)."),
    dataset: str | None = typer.Option(None, help="conll2000."),
    data_root: Path | None = typer.Option(None, help="Folder holding the datasets (default $RNNKIT_DATA)."),
    test: Path | None = typer.Option(None, help="Explicit test file."),
    tag_column: int | None = typer.Option(None, help="Column holding the tag (CoNLL-2000: 1 POS, 2 chunk)."),
    cell: str | None = typer.Option(None, help="lstm, gru or any registered cell."),
    hidden: int | None = typer.Option(None),
    layers: int | None = typer.Option(None),
    char_embed: int | None = typer.Option(None, help="Character features: embedding size (0: off)."),
    crf: bool | None = typer.Option(None, "--crf/--no-crf", help="CRF output layer (Viterbi decoding)."),
    max_len: int | None = typer.Option(None, help="Truncate longer sentences (warns with a count)."),
    epochs: int | None = typer.Option(None),
    lr: float | None = typer.Option(None),
    batch_size: int | None = typer.Option(None),
    seed: int | None = typer.Option(None),
    config: Path | None = typer.Option(None),
    out: Path | None = typer.Option(None, help="Run folder (default runs/tag)."),
    quiet: bool = typer.Option(False),
    resume: bool = typer.Option(False, help=RESUME_HELP),
) -> None:
    """Train a tagger, then score it on the test split (eval.json in the run folder)."""
    from rnnkit.tasks.labeling import Tagger, TaggerConfig, load_splits

    try:
        cfg = load_config(TaggerConfig, config) if config else TaggerConfig()
        cfg = _with_source(cfg, data, dataset)
        given = {
            "data.data_root": str(data_root) if data_root else None, "data.test_path": str(test) if test else None,
            "data.tag_column": tag_column, "model.cell.name": cell, "model.hidden_size": hidden,
            "model.num_layers": layers, "model.char_embed": char_embed, "model.crf": crf, "data.max_len": max_len,
            "train.epochs": epochs, "train.lr": lr, "data.batch_size": batch_size, "train.seed": seed,
            "run_dir": str(out) if out else None, "train.quiet": True if quiet else None,
        }  # fmt: skip
        cfg = _apply(cfg, given, ctx.args)
        train, val, test_data = load_splits(cfg.data)
        tagger = Tagger(cfg)
        tagger.fit(train, val, run_dir=cfg.run_dir, resume=resume)
        report = tagger.evaluate(test_data)
    except _ERRORS as e:
        _fail(e)
    (Path(cfg.run_dir) / "eval.json").write_text(json.dumps(report, indent=1))
    typer.echo(json.dumps(report))


@tag_app.command("eval")
def tag_eval(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit tag train`."),
    data: Path | None = typer.Option(None, help="Score this column file instead of the run's test split."),
    unknown: str = typer.Option("score", help="Gold tags unseen in training: score (as errors), skip or error."),
) -> None:
    """Token accuracy (and chunk span precision/recall/F1 for IOB tags) of a trained tagger."""
    from rnnkit.data.readers import read_columns
    from rnnkit.tasks.labeling import Tagger, load_splits

    try:
        tagger = Tagger.load(run)
        test = read_columns(data, encoding=tagger.config.data.encoding) if data else load_splits(tagger.config.data)[2]
        report = tagger.evaluate(test, unknown=unknown)
    except _ERRORS as e:
        _fail(e)
    typer.echo(json.dumps(report))


@tag_app.command("predict")
def tag_predict(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit tag train`."),
    sentences: list[str] = typer.Argument(None, help="Whitespace-tokenised sentences."),
    file: Path | None = typer.Option(None, help="One whitespace-tokenised sentence per line."),
) -> None:
    """Print token/TAG for each token of each sentence."""
    from rnnkit.data.readers import lines, read_text_file
    from rnnkit.tasks.labeling import Tagger

    try:
        tagger = Tagger.load(run)
        sents = list(sentences or [])
        if file is not None:
            sents += [s for s in lines(read_text_file(file, tagger.config.data.encoding)) if s.strip()]
        if not sents:
            raise ValueError("nothing to tag: give sentences as arguments or --file")
        out = tagger.predict(sents)
    except _ERRORS as e:
        _fail(e)
    for sent in out:
        typer.echo(" ".join(f"{w}/{t}" for w, t in sent))
