"""`rnnkit lm`: its options, `eval` over whole splits, `predict` as one line per prompt, and its own verbs:
`generate` (also `rnnkit generate`; streams text as it is sampled) and `prepare` (a corpus tokenised once into
memory-mapped id files; NumPy only: it runs without importing torch, so nothing here imports the task at load)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rnnkit.data.text import tokenize
from rnnkit.errors import UsageError
from rnnkit.tasks.cli import TaskCLI
from rnnkit.tasks.console import errors_as_messages
from rnnkit.tasks.options import Opt

if TYPE_CHECKING:
    from rnnkit.tasks.lm.task import LanguageModel


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

    from rnnkit.tasks.lm.prepare import Settings, prepare, prepare_dataset

    with errors_as_messages("rnnkit lm prepare"):
        if (data is None) == (dataset is None):
            raise UsageError("give --data PATH or --dataset NAME (tiny-shakespeare, ptb), one of them")
        t0 = time.monotonic()
        settings = Settings(level=level, max_vocab=max_vocab, valid_fraction=val_fraction, test_fraction=test_fraction)
        if dataset is not None:
            enc, built = prepare_dataset(dataset, out, settings, data_root=data_root, quiet=quiet)
        else:
            assert data is not None  # one of --data and --dataset (checked above)
            enc, built = prepare(data, out, settings, quiet=quiet)
        sec = time.monotonic() - t0
    n = {s: len(getattr(enc, s)) for s in ("train", "valid", "test") if getattr(enc, s) is not None}
    what = f"prepared in {sec:.1f} s" if built else "up to date, reused"
    counts = ", ".join(f"{k} {v:,}" for k, v in n.items())
    typer.echo(f"{out}: {what}; vocabulary {len(enc.vocab):,} ({enc.train.dtype}); {level} tokens: {counts}")


def _evaluate_runs(
    tasks: Sequence[LanguageModel], data: Any, *, split: str = "all", columns: int | None = None
) -> dict[str, Any]:
    """``--data FILE``: its whole text; else the run's splits (valid, and test where there is one)."""
    (lm,) = tasks
    if isinstance(data, str):  # --data FILE: its whole text, encoded with the run's vocabulary
        vocab = lm.vocab
        assert vocab is not None  # a loaded run's, from its task.json
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids = vocab.encode(tokenize(data, vocab.level), where="--data")
        return {"data": lm.evaluate(ids, batch_size=columns)}
    # "all": valid, and test where the data has one; a split asked for by name is scored or refused by name
    splits = (["valid", "test"] if data.test is not None else ["valid"]) if split == "all" else [split]
    return {s: lm.evaluate(s, batch_size=columns) for s in splits}


def _predict_lines(
    task: LanguageModel, items: list[str], *, length: int = 200, temperature: float = 1.0, seed: int | None = None
) -> Iterator[str]:
    for prompt, text in zip(items, task.predict(items, length=length, temperature=temperature, seed=seed), strict=True):
        yield (prompt + text).replace("\n", "\\n")  # one line per prompt


def _adaptive(v: str) -> str:
    """--adaptive 2000,6000 | none -> the config string (empty: a full softmax)."""
    return "" if v.strip().lower() in ("none", "0", "") else v


CLI = TaskCLI(
    train_options=(
        Opt("--level", "data.level", str, "Tokens: char or word."),
        Opt("--embedding", "model.embedding_dim", int, "Embedding size."),
        Opt("--dropout", "model.dropout", float, "Dropout on embeddings, between layers and on outputs."),
        Opt(
            "--adaptive",
            "model.adaptive_cutoffs",
            str,
            "Adaptive softmax cutoffs, e.g. 2000,6000 (word level; 'none' = full softmax).",
            convert=_adaptive,
            late=True,
        ),
        Opt("--bptt", "data.bptt", int, "Truncated-BPTT length."),
        Opt("--val-fraction", "data.val_fraction", float, "--data files: the last fraction is validation."),
        Opt(
            "--eval-tokens",
            "data.eval_tokens",
            int,
            "Evaluations during training (best, early stopping) score the "
            "first N validation tokens; the final one after training scores the whole split. 0: always whole.",
        ),
    ),
    eval_options=(
        Opt("--split", None, str, "valid, test, train or all (valid and test).", default="all"),
        Opt("--columns", None, int, "Columns (default: the run's final_eval_batch_size; 1 = exact)."),
    ),
    predict_options=(
        Opt("--length", None, int, "Tokens to generate per prompt.", default=200),
        Opt("--temperature", None, float, "Softmax temperature; 0 = greedy.", default=1.0),
        Opt("--seed", None, int, "Fixes the sampled text."),
    ),
    train_help="Train a language model, then score the validation and test splits (eval.json).",
    eval_help="Evaluate a trained language model over whole splits with the state carried: nats, bits, perplexity.",
    predict_help="Continue each prompt (one sample per prompt, one line each).",
    predict_inputs_help="Prompts to continue.",
    evaluate_runs=_evaluate_runs,
    predict_lines=_predict_lines,
    verbs={"generate": generate_command, "prepare": prepare_command},
)
