"""The language model's own verb, `rnnkit lm generate` (also `rnnkit generate`): streams text as it is sampled.
`train`, `eval` and `predict` come from the CLI factory (tasks/cli.py) like every task's."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from rnnkit.tasks.cli import UsageError, errors_as_messages


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

    from rnnkit.tasks.lm.task import LanguageModel

    with errors_as_messages("rnnkit lm generate"):
        lm = LanguageModel.load(run, which=which)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pieces = lm.generate(
                prompt, length=length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, strict=strict
            )
            first = next(pieces, "")
        for w in caught:
            typer.echo(f"warning: {w.message}", err=True)
    sys.stdout.write(prompt + first)
    sys.stdout.flush()
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")


def prepare_command(
    data: Path | None = typer.Option(None, help="A UTF-8 text file (.gz accepted) or a folder of them (joined)."),
    dataset: str | None = typer.Option(
        None,
        help="Or a known dataset, split as `lm train --dataset` splits it: "
        "tiny-shakespeare (its last tenth is validation) or ptb (its own files).",
    ),
    data_root: Path | None = typer.Option(None, help="Folder holding the known datasets (default $RNNKIT_DATA)."),
    out: Path = typer.Option(..., help="The folder to write: train/valid/test .bin ids and meta.json."),
    level: str = typer.Option("char", help="Tokens: char or word."),
    max_vocab: int = typer.Option(0, help="Keep the most frequent tokens (counting <unk>); 0: no limit."),
    val_fraction: float = typer.Option(0.1, help="The last fraction of the characters is validation."),
    test_fraction: float = typer.Option(0.0, help="The very last fraction is test (before it: validation)."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Tokenise a large corpus once, streaming, into memory-mapped id files; `lm train --data PREP` trains from it.
    An up-to-date folder is reused; a changed source or setting rebuilds it."""
    import time

    from rnnkit.data.prepare import Settings, prepare, prepare_dataset

    with errors_as_messages("rnnkit lm prepare"):
        if (data is None) == (dataset is None):
            raise UsageError("give --data PATH or --dataset NAME (tiny-shakespeare, ptb), one of them")
        t0 = time.monotonic()
        settings = Settings(level=level, max_vocab=max_vocab, valid_fraction=val_fraction, test_fraction=test_fraction)
        if dataset is not None:
            enc, built = prepare_dataset(dataset, out, settings, data_root=data_root, quiet=quiet)
        else:
            enc, built = prepare(data, out, settings, quiet=quiet)
        sec = time.monotonic() - t0
    n = {s: len(getattr(enc, s)) for s in ("train", "valid", "test") if getattr(enc, s) is not None}
    what = f"prepared in {sec:.1f} s" if built else "up to date, reused"
    counts = ", ".join(f"{k} {v:,}" for k, v in n.items())
    typer.echo(f"{out}: {what}; vocabulary {len(enc.vocab):,} ({enc.train.dtype}); {level} tokens: {counts}")
