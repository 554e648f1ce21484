"""Command line of the language-model task: `rnnkit train lm`, `rnnkit eval`, `rnnkit generate`, `rnnkit demo`.

Kept apart from ``language_model.py`` so ``rnnkit --help`` does not import torch: bodies import lazily.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import typer

from rnnkit.config import ConfigError, apply_overrides, load_config, parse_cli
from rnnkit.data.sources import DataError
from rnnkit.layout import LAYOUTS

# ---- command line (registered in rnnkit/cli.py) ------------------------------------------------------------

train_app = typer.Typer(help="Train a model for a task: `rnnkit train lm ...`.", no_args_is_help=True)

_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@train_app.command("lm", context_settings=_EXTRA)
def train_lm_command(
    ctx: typer.Context,
    data: Path | None = typer.Option(None, "--data", help="Any UTF-8 text file (split by --val-fraction)."),
    dataset: str | None = typer.Option(None, help="A known dataset: tiny-shakespeare or ptb."),
    data_root: Path | None = typer.Option(None, help="Folder holding the datasets (default $RNNKIT_DATA)."),
    level: str | None = typer.Option(None, help="Tokens: char or word."),
    cell: str | None = typer.Option(None, help="Any registered cell: " + ", ".join(sorted(LAYOUTS)) + "."),
    hidden: int | None = typer.Option(None, help="Hidden units per layer."),
    layers: int | None = typer.Option(None, help="Recurrent layers."),
    embedding: int | None = typer.Option(None, help="Embedding size."),
    dropout: float | None = typer.Option(None, help="Dropout on embeddings, between layers and on outputs."),
    adaptive: str | None = typer.Option(
        None, help="Adaptive softmax cutoffs, e.g. 2000,6000 (word level; 'none' = full softmax)."
    ),
    bptt: int | None = typer.Option(None, help="Truncated-BPTT length."),
    batch_size: int | None = typer.Option(None, help="Columns of the batchified stream."),
    lr: float | None = typer.Option(None, help="Learning rate."),
    epochs: int | None = typer.Option(None, help="Passes over the training split."),
    seconds: float | None = typer.Option(None, help="Stop training after this many seconds."),
    val_fraction: float | None = typer.Option(None, help="--data files: the last fraction is validation."),
    seed: int | None = typer.Option(None, help="Seed for everything."),
    config: Path | None = typer.Option(None, help="A config.json (e.g. configs/*.json or a run's) to start from."),
    out: Path | None = typer.Option(None, help="Run folder to write (default runs/lm)."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
) -> None:
    """Train a language model; extra `--section.key=value` arguments override any config field."""
    from rnnkit.tasks.language_model import LanguageModel, LMConfig

    try:
        cfg = load_config(LMConfig, config) if config else LMConfig()
        if data is not None or dataset is not None:  # a source on the command line replaces the config's
            if data is not None and dataset is not None:
                typer.echo("error: give --data FILE or --dataset NAME, not both", err=True)
                raise typer.Exit(2)
            path = str(data.resolve()) if data is not None else None
            cfg = replace(cfg, data=replace(cfg.data, path=path, dataset=dataset))
        given = {
            "data.data_root": str(data_root) if data_root else None, "data.level": level, "model.cell.name": cell,
            "model.hidden_size": hidden, "model.num_layers": layers, "model.embedding_dim": embedding,
            "model.dropout": dropout, "data.bptt": bptt, "data.batch_size": batch_size, "train.lr": lr,
            "train.epochs": epochs, "time_limit": seconds, "data.val_fraction": val_fraction, "train.seed": seed,
            "run_dir": str(out) if out else None, "train.quiet": True if quiet else None,
        }  # fmt: skip
        cfg = apply_overrides(cfg, {k: v for k, v in given.items() if v is not None})
        _, overrides = parse_cli(list(ctx.args))
        cfg = apply_overrides(cfg, overrides)
        if adaptive is not None:  # after the dotted overrides, so --model.tie_weights=false can come first
            cutoffs = "" if adaptive.strip().lower() in ("none", "0", "") else adaptive
            cfg = apply_overrides(cfg, {"model.adaptive_cutoffs": cutoffs})
        results = LanguageModel(cfg).train(resume=resume)
    except (DataError, ConfigError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(results, indent=1))


def eval_command(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit train lm`."),
    split: str = typer.Option("all", help="valid, test, train or all (valid and test)."),
    batch_size: int | None = typer.Option(None, help="Columns (default: the run's final_eval_batch_size; 1 = exact)."),
    data_root: Path | None = typer.Option(None, help="Folder holding the datasets (default: the run's)."),
    which: str = typer.Option("best", help="Checkpoint: best or last."),
) -> None:
    """Evaluate a trained language model over whole splits with the state carried: nats, bits, perplexity."""
    from rnnkit.tasks.language_model import LanguageModel

    try:
        lm = LanguageModel.load(run, which=which)
        if data_root is not None:
            lm.config = replace(lm.config, data=replace(lm.config.data, data_root=str(data_root)))
        splits = ["valid", "test"] if split == "all" else [split]
        res = {}
        for s in splits:
            if s == "test" and split == "all" and lm.data().test is None:
                continue
            res[s] = lm.evaluate(s, batch_size=batch_size)
    except (DataError, ConfigError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(res, indent=1))


def generate_command(
    run: Path = typer.Argument(..., help="A run folder written by `rnnkit train lm` (or `rnnkit demo`)."),
    prompt: str = typer.Option("", help="Text to continue (out-of-vocabulary characters become <unk>)."),
    length: int = typer.Option(500, help="Tokens to generate."),
    temperature: float = typer.Option(1.0, help="Softmax temperature; 0 = greedy."),
    top_k: int | None = typer.Option(None, help="Sample among the k most likely tokens."),
    top_p: float | None = typer.Option(None, help="Nucleus sampling: smallest set with this probability."),
    seed: int | None = typer.Option(None, help="Fixes the sampled text."),
    strict: bool = typer.Option(False, help="Error (instead of <unk>) on prompt tokens outside the vocabulary."),
    which: str = typer.Option("best", help="Checkpoint: best or last."),
) -> None:
    """Stream generated text as it is produced."""
    import warnings

    from rnnkit.tasks.language_model import LanguageModel

    try:
        lm = LanguageModel.load(run, which=which)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pieces = lm.generate(prompt, length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                                 seed=seed, strict=strict)  # fmt: skip
            first = next(pieces, "")
        for w in caught:
            typer.echo(f"warning: {w.message}", err=True)
    except (DataError, ConfigError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(prompt + first)
    sys.stdout.flush()
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
