"""Command line of the translation task: `rnnkit translate train|eval|translate`. Bodies are thin and import
torch lazily. `train` accepts extra ``--section.key=value`` overrides of any config field, e.g.
``rnnkit translate train -- --model.attention=bahdanau --objective.label_smoothing=0.1``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from rnnkit.config import ConfigError, apply_overrides, load_config, parse_cli, write_json
from rnnkit.data.sources import DataError

translate_app = typer.Typer(
    help="Translation: attention seq2seq, greedy/beam decoding, BLEU/chrF.", no_args_is_help=True
)
_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
_ERRORS = (DataError, ConfigError, ValueError, FileNotFoundError)


def _fail(e: Exception) -> None:
    from rnnkit.tasks.cli import debug_on

    if debug_on():  # rnnkit --debug / RNNKIT_DEBUG=1: the traceback
        raise e
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2) from None


def print_scores(report: dict[str, Any], *, title: str) -> None:
    """One line of scores and the sacrebleu signatures."""
    typer.echo(
        f"{title}: BLEU {report['bleu']:.2f}  chrF {report['chrf']:.2f}  exact {report['exact_match']:.3f}  "
        f"n={report['n']}  beam={report['beam_size']}  {report['sentences_per_s']:.1f} sentences/s"
    )
    typer.echo(f"  BLEU signature: {report['bleu_signature']}")
    typer.echo(f"  chrF signature: {report['chrf_signature']}")


@translate_app.command("train", context_settings=_EXTRA)
def translate_train(
    ctx: typer.Context,
    data: Path | None = typer.Option(None, help="A TSV of 'sentence<TAB>translation' lines (else --dataset)."),
    dataset: str | None = typer.Option(None, help="fra-eng (the default)."),
    data_root: Path | None = typer.Option(None, help="Folder holding the datasets (default $RNNKIT_DATA)."),
    direction: str | None = typer.Option(None, help="source-target, e.g. fra-eng or eng-fra."),
    columns: str | None = typer.Option(None, help="Languages of the file's two columns (fra-eng: eng-fra)."),
    setting: str | None = typer.Option(None, help="tutorial (prefix-filtered subset) or general."),
    max_len: int | None = typer.Option(None, help="Sentence length limit in words."),
    level: str | None = typer.Option(None, help="word or char."),
    cell: str | None = typer.Option(None, help="Any registered cell (gru, lstm, rnn, ...)."),
    hidden: int | None = typer.Option(None, help="Decoder hidden size (H/2 per encoder direction)."),
    layers: int | None = typer.Option(None),
    attention: str | None = typer.Option(None, help="bahdanau, dot or general."),
    epochs: int | None = typer.Option(None),
    max_steps: int | None = typer.Option(None),
    lr: float | None = typer.Option(None),
    batch_size: int | None = typer.Option(None),
    beam: int | None = typer.Option(None, help="Beam size for the final evaluation (1: greedy)."),
    seed: int | None = typer.Option(None),
    config: Path | None = typer.Option(None, help="A config.json to start from (e.g. a run's)."),
    out: Path | None = typer.Option(None, help="Run folder (default runs/translate)."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    resume: bool = typer.Option(
        False, help="Continue the run in --out from its last checkpoint (--config RUN reuses the run's settings)."
    ),
) -> None:
    """Train a translator, then score greedy and beam decoding on the held-out test split (eval.json)."""
    from rnnkit.tasks.translation import Translator, TranslatorConfig

    try:
        cfg = load_config(TranslatorConfig, config) if config else TranslatorConfig()
        if data is not None:
            cfg = replace(cfg, data=replace(cfg.data, path=str(data.resolve()), dataset=None))
        given = {
            "data.dataset": dataset, "data.data_root": str(data_root) if data_root else None,
            "data.direction": direction, "data.columns": columns, "data.setting": setting, "data.max_len": max_len,
            "data.level": level, "model.cell.name": cell, "model.hidden_size": hidden, "model.num_layers": layers,
            "model.attention": attention, "train.epochs": epochs, "train.max_steps": max_steps, "train.lr": lr,
            "data.batch_size": batch_size, "decode.beam_size": beam, "train.seed": seed,
            "run_dir": str(out) if out else None, "train.quiet": True if quiet else None,
        }  # fmt: skip
        cfg = apply_overrides(cfg, {k: v for k, v in given.items() if v is not None})
        cfg = apply_overrides(cfg, parse_cli(list(ctx.args))[1])
        tr = Translator(cfg)
        splits = tr.load_splits()
        tr.fit(splits.train, splits.val, run_dir=cfg.run_dir, resume=resume)
        reports = {"greedy": tr.evaluate(splits.test, beam_size=1)}
        if cfg.decode.beam_size > 1:
            reports[f"beam{cfg.decode.beam_size}"] = tr.evaluate(splits.test)
    except _ERRORS as e:
        _fail(e)
    write_json(Path(cfg.run_dir) / "eval.json", reports, indent=1)  # durable: temp, fsync, rename
    for name, rep in reports.items():
        print_scores(rep, title=f"test {name}")


def _read_pairs_file(path: Path, direction: str, columns: str) -> list[tuple[str, str]]:
    from rnnkit.data import pairs as P

    swap = P.parse_direction(direction, tuple(columns.split("-")))
    raw, _ = P.read_raw_pairs(path=path)
    norm = [(P.normalize(a), P.normalize(b)) for a, b in raw]
    return [(b, a) if swap else (a, b) for a, b in norm if a and b]


@translate_app.command("eval")
def translate_eval(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit translate train`."),
    data: Path | None = typer.Option(None, help="Score this TSV of pairs instead of the run's test split."),
    beam: int | None = typer.Option(None, help="Beam size (1: greedy; default: the run's decode.beam_size)."),
    length_penalty: float | None = typer.Option(None, help="GNMT length penalty alpha."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Corpus BLEU and chrF (sacrebleu, 13a tokenisation; signatures printed) of a trained translator."""
    from rnnkit.tasks.translation import Translator

    try:
        tr = Translator.load(run)
        if length_penalty is not None:
            tr.config = replace(tr.config, decode=replace(tr.config.decode, length_penalty=length_penalty))
        d = tr.config.data
        pairs = _read_pairs_file(data, d.direction, d.columns) if data is not None else tr.load_splits().test
        report = tr.evaluate(pairs, beam_size=beam)
    except _ERRORS as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        print_scores(report, title=str(data or "test split"))


@translate_app.command("translate")
def translate_sentences(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit translate train`."),
    sentences: list[str] = typer.Argument(None, help="Sentences to translate (else read from stdin, one per line)."),
    beam: int | None = typer.Option(None, help="Beam size (1: greedy)."),
    plot: Path | None = typer.Option(None, help="Write the attention heatmap of the first sentence here (PNG)."),
) -> None:
    """Translate sentences given as arguments or on stdin (one per line); prints one translation per line."""
    from rnnkit.tasks.translation import Translator, plot_attention

    try:
        inputs = list(sentences or [])
        if not inputs:
            inputs = [line for line in sys.stdin.read().splitlines() if line.strip()]
        tr = Translator.load(run)
        outs = tr.translate(inputs, beam_size=beam)
        if plot is not None:
            src, tgt, w = tr.attention(inputs[0])
            plot_attention(src, tgt, w, plot, title=inputs[0])
    except _ERRORS as e:
        _fail(e)
    for o in outs:
        typer.echo(o)
