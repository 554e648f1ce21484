"""``rnnkit bench cells`` and ``rnnkit bench autotune``: the command line of ``rnnkit.bench``."""

from __future__ import annotations

import torch
import typer

from rnnkit.bench import IMPLS, PRESETS, bench_cells, machine_info, report
from rnnkit.registry import cell_names

# ---- CLI: `rnnkit bench cells` --------------------------------------------------------------------------------


bench_app = typer.Typer(help="Engine speed on this machine, every engine side by side.", no_args_is_help=True)


@bench_app.command("cells")
def cells_command(
    cells: list[str] | None = typer.Option(
        None, "--cell", "--cells", help="cells to time (repeatable; default: every cell)"
    ),
    hidden: list[int] = typer.Option([128, 256, 512], "--hidden", help="hidden sizes (repeatable)"),
    layers: list[int] = typer.Option([1, 2], "--layers", help="layer counts (repeatable)"),
    seq_lens: list[int] = typer.Option([128], "--seq-len", help="sequence lengths (repeatable)"),
    repeats: int = typer.Option(7, help="interleaved repeats per variant (median reported)"),
    threads: int = typer.Option(2, help="torch intra-op threads"),
    quick: bool = typer.Option(False, "--quick", help="H=512, L=1, no loop, forward+backward only, 5 repeats"),
    long: bool = typer.Option(False, "--long", help="like --quick at T = 128, 512, 2048 (replaces --seq-len)"),
) -> None:
    """Forward and forward+backward of every impl and torch.nn per cell; correctness checked first."""
    known = cell_names(engine="nn")
    unknown = [c for c in cells or () if c not in known]
    if unknown:
        raise typer.BadParameter(
            f"unknown cell(s) {', '.join(unknown)}; known: {', '.join(known)}", param_hint="--cell"
        )
    if quick and long:
        raise typer.BadParameter("give --quick or --long, not both", param_hint="--long")
    args: dict = {
        "hidden": hidden,
        "layers": layers,
        "seq_lens": seq_lens,
        "repeats": repeats,
        "impls": IMPLS,
        "forward": True,
    }
    if quick:
        args |= PRESETS["quick"] | {"repeats": 5}
    if long:
        args |= PRESETS["long"]
    info, peak, results = bench_cells(
        cells=cells or None, threads=threads, progress=lambda s: typer.echo(s, err=True), **args
    )
    command = ["rnnkit", "bench", "cells", *(["--quick"] if quick else ["--long"] if long else [])]
    command += [f"--cell={c}" for c in cells or ()]
    command += [f"--hidden={h}" for h in args["hidden"]] + [f"--layers={n}" for n in args["layers"]]
    command += [f"--seq-len={t}" for t in args["seq_lens"]] + [f"--repeats={args['repeats']}", f"--threads={threads}"]
    typer.echo(report(info, peak, results, " ".join(command)))


@bench_app.command("autotune")
def autotune_command(
    cells: list[str] = typer.Option(["rnn", "gru", "lstm"], "--cell", help="cells (repeatable)"),
    hidden: list[int] = typer.Option([256, 512], "--hidden", help="hidden sizes = input sizes (repeatable)"),
    seq_lens: list[int] = typer.Option([128], "--seq-len", help="sequence lengths (repeatable)"),
    batch: int = typer.Option(32, help="batch size N"),
    layers: int = typer.Option(1, help="layers"),
    threads: int = typer.Option(2, help="torch intra-op threads (part of the key)"),
    inference: bool = typer.Option(True, "--inference/--no-inference", help="also the forward-only (no grad) key"),
    fresh: bool = typer.Option(False, "--fresh", help="measure again even where the cache has a choice"),
) -> None:
    """The impl `auto` chooses on this host per case (training = forward+backward; inference = forward), with the
    measured milliseconds of every candidate, from the cache in $RNNKIT_CACHE (~/.cache/rnnkit) or measured now."""
    from rnnkit.nn import autotune
    from rnnkit.nn.sequence import Recurrent

    torch.set_num_threads(threads)
    info = machine_info()
    typer.echo(
        f"Machine: {info['cpu']} ({info['cpu_flags']}), {info['torch_threads']} threads, torch {info['torch']}; "
        f"cache {autotune.cache_path()}; {info['date_utc']} UTC"
    )
    if not autotune.enabled():
        typer.echo("RNNKIT_AUTOTUNE=0: autotuning is off, `auto` uses the static table (the 'static' column).")
    typer.echo("| case | mode | static table | auto (measured) | ms per candidate (fastest of 3) | source |")
    typer.echo("|---|---|---|---|---|---|")
    tn = autotune.tuner()
    for T in seq_lens:
        for cell in cells:
            for H in hidden:
                m = Recurrent(cell, H, H, num_layers=layers)
                for training in (True, False) if inference else (True,):
                    x = torch.randn(batch, T, H, requires_grad=training)
                    state = tuple(x.new_zeros(layers, batch, H) for _ in m.layout.state)
                    with torch.set_grad_enabled(training):
                        key = autotune.training_key(m, x, None)
                        cached = tn.lookup(key, autotune.candidates(m, x)) is not None and not fresh
                        impl = (
                            autotune.choose(m, x, state, m.layer_params(), None, force=fresh)
                            if autotune.enabled()
                            else "-"
                        )
                    entry = tn.memory.get(autotune.key_str(key), {})
                    ms = ", ".join(f"{k} {v:.1f}" for k, v in sorted(entry.get("ms", {}).items(), key=lambda kv: kv[1]))
                    source = "off" if not autotune.enabled() else "cache" if cached else "measured now" if ms else "-"
                    typer.echo(
                        f"| {cell} H={H} L={layers} T={T} N={batch} | {'train' if training else 'infer'} | "
                        f"{m.resolve_impl(x)} | {impl} | {ms or 'one candidate'} | {source} |"
                    )
