"""``rnnkit explain gradients|states|trace`` (registered in rnnkit/cli.py). Bodies are thin and import lazily."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

explain_app = typer.Typer(
    help="See the theory happen: vanishing gradients, gates and hidden states, BPTT step by step.",
    no_args_is_help=True,
)


def _fail(msg: str) -> None:
    typer.echo(f"rnnkit explain: {msg}", err=True)
    raise typer.Exit(2)


def _write_json(obj: object, dest: str) -> None:
    text = json.dumps(obj, indent=1)
    if dest == "-":
        sys.stdout.write(text + "\n")
    else:
        from rnnkit.durable import write_text

        write_text(dest, text + "\n")


@explain_app.command("gradients")
def gradients_command(
    runs: list[Path] = typer.Argument(None, help="Run folders of `rnnkit train lm` (none: fresh cells)."),
    cell: str = typer.Option("rnn,lstm,gru", help="Fresh cells to compare, comma separated."),
    hidden: int = typer.Option(32, min=1, help="Fresh cells: hidden units H."),
    input_size: int = typer.Option(8, min=1, help="Fresh cells: input features D."),
    steps: int = typer.Option(40, min=2, help="Time steps T unrolled before the loss."),
    batch: int = typer.Option(16, min=1, help="Sequences per batch."),
    batches: int = typer.Option(2, min=1, help="Batches averaged."),
    seed: int = typer.Option(0, help="Seed of parameters, inputs and windows."),
    forget_bias: float = typer.Option(1.0, help="Fresh LSTM: forget-gate bias at init."),
    recurrent_scale: float = typer.Option(1.0, help="Fresh cells: multiply W_hh by this (try 3 for explosion)."),
    clip: float = typer.Option(-1.0, help="Global-norm clip to report (fresh default 1; runs: their clip_norm)."),
    data: Path | None = typer.Option(None, "--data", help="Fresh cells: one-hot characters of this text file."),
    warmup: int = typer.Option(50, min=0, help="Runs: tokens read without gradient before the window."),
    split: str = typer.Option("valid", help="Runs: text split the windows come from (train or valid)."),
    out: Path = typer.Option(Path("explain/gradients.png"), help="Plot to write."),
    json_out: str | None = typer.Option(None, "--json", help="Write the profiles as JSON to this file ('-': stdout)."),
) -> None:
    """||dL/dh_t|| and ||dL/dx_t|| against the distance from the loss, W_hh spectral radius, clipping effect."""
    from rich.console import Console

    from rnnkit.explain.gradients import fresh_profiles, plot_profiles, profiles_table, trained_profile

    try:
        if runs:
            profiles = [
                trained_profile(
                    r,
                    steps=steps,
                    batch=batch,
                    batches=batches,
                    warmup=warmup,
                    seed=seed,
                    clip=None if clip < 0 else clip,
                    split=split,
                )
                for r in runs
            ]
        else:
            cells = [c.strip() for c in cell.split(",") if c.strip()]
            text = data.read_text(encoding="utf-8") if data is not None else None
            profiles = fresh_profiles(
                cells,
                hidden_size=hidden,
                input_size=input_size,
                steps=steps,
                batch=batch,
                batches=batches,
                seed=seed,
                forget_bias=forget_bias,
                recurrent_scale=recurrent_scale,
                clip=1.0 if clip < 0 else clip,
                text=text,
            )
    except (ValueError, OSError, UnicodeDecodeError) as e:
        _fail(str(e))
    plot = plot_profiles(profiles, out)
    if json_out == "-":
        _write_json({"plot": str(plot), "profiles": [p.to_dict() for p in profiles]}, "-")
        return
    Console().print(profiles_table(profiles))
    typer.echo(f"plot: {plot}")
    if json_out:
        _write_json({"plot": str(plot), "profiles": [p.to_dict() for p in profiles]}, json_out)


@explain_app.command("states")
def states_command(
    run: Path = typer.Argument(..., help="A run folder of `rnnkit train lm`."),
    text: Path | None = typer.Option(None, help="UTF-8 text to read (default: the start of the run's valid split)."),
    chars: int = typer.Option(600, min=1, help="Characters (tokens) of the text to use."),
    unit: int | None = typer.Option(None, help="Unit to colour the HTML by (default: best-correlated)."),
    layer: int = typer.Option(-1, help="Layer (-1: the top one)."),
    name: str = typer.Option("h", help="What to rank and colour: h, c, or a gate (i, f, o / r, z)."),
    top: int = typer.Option(3, min=1, help="Units listed per feature."),
    out: Path = typer.Option(Path("explain"), help="Folder for states.png and states.html."),
    json_out: str | None = typer.Option(None, "--json", help="Write the summary as JSON to this file ('-': stdout)."),
) -> None:
    """Hidden units and gates of a trained LM over a text: heatmap PNG, coloured HTML, units ranked by feature."""
    from rich.console import Console
    from rich.table import Table

    from rnnkit.explain.states import explain_states

    try:
        if text is not None:
            body = text.read_text(encoding="utf-8")
        else:
            from rnnkit.tasks.lm.task import LanguageModel

            lm = LanguageModel.load(run)
            body = lm.vocab.decode(lm.data().valid[: chars + 1])
        summary = explain_states(run, body[:chars], out, unit=unit, layer=layer, name=name, top=top)
    except (ValueError, FileNotFoundError, UnicodeDecodeError) as e:
        _fail(str(e))
    if json_out == "-":
        _write_json(summary, "-")
        return
    t = Table(title=f"{summary['cell']} layer {layer} {name}: units most correlated with each feature")
    t.add_column("feature")
    t.add_column("units (r)")
    for feat, units in summary["ranking"].items():
        t.add_row(feat, ", ".join(f"{u['unit']} ({u['r']:+.2f})" for u in units) or "-")
    Console().print(t)
    typer.echo(f"heatmap: {summary['heatmap']}\nhtml: {summary['html']} (coloured by unit {summary['unit']})")
    if json_out:
        _write_json(summary, json_out)


@explain_app.command("trace")
def trace_command(
    cell: str = typer.Option("lstm", help="Registered cell: rnn, lstm, gru, ..."),
    input_size: int = typer.Option(2, min=1, help="Input features D."),
    hidden: int = typer.Option(3, min=1, help="Hidden units H."),
    steps: int = typer.Option(3, min=1, help="Time steps T."),
    batch: int = typer.Option(1, min=1, help="Sequences N (1: dpreact is exactly db_ih)."),
    seed: int = typer.Option(0, help="Seed of parameters, inputs and targets."),
    forget_bias: float = typer.Option(0.0, help="LSTM forget-gate bias at init."),
    gru_variant: str = typer.Option("torch", help="GRU form: torch or paper."),
    nonlinearity: str = typer.Option("tanh", help="Elman activation: tanh or relu."),
    json_out: str | None = typer.Option(None, "--json", help="Write every value as JSON to this file ('-': stdout)."),
) -> None:
    """The reference engine on a tiny example: every forward intermediate and every BPTT quantity."""
    from rnnkit.explain.trace import render, trace
    from rnnkit.layout import CellOptions

    try:
        options = CellOptions(nonlinearity=nonlinearity, gru_variant=gru_variant, forget_bias=forget_bias)
        tr = trace(
            cell, input_size=input_size, hidden_size=hidden, steps=steps, batch=batch, seed=seed, options=options
        )
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _write_json(tr, json_out)
        if json_out == "-":
            return
    render(tr)
