"""Command-line interface (typer). Commands are thin: the logic lives in the library."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from rnnkit.tasks.cli import DEBUG, HandledGroup, LazyCommand  # light: typer only


class _Root(HandledGroup):
    """``rnnkit``: every command runs inside one error handler (HandledGroup: rnnkit errors and OSErrors are one
    line, exit 1). The task commands are built when they run (``_lazy_commands``), so ``rnnkit --help`` and
    ``rnnkit lm prepare`` start without importing torch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rest = dict(self.commands)
        first = {"demo": rest.pop("demo")} if "demo" in rest else {}
        self.commands = {**first, **{c.name: c for c in _lazy_commands()}, **rest}  # --help lists them in this order

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        ctx.meta[_COMMAND] = tuple(args[:2])  # e.g. ("lm", "prepare"): read by the callback below
        return super().resolve_command(ctx, args)


_COMMAND = "rnnkit.command"
app = typer.Typer(help="rnnkit: recurrent neural networks as a glass box.", no_args_is_help=True, cls=_Root)


def one_thread_if_busy(echo: Callable[[str], None] | None = None) -> bool:
    """Use 1 torch thread when other processes already keep every core busy (1-minute load >= cores).

    Measured on the 2-core team machine at load ~10: a 2x256 LSTM training step took 4.5 s on 2 threads and
    0.25 s on 1 (OpenMP workers wait for a descheduled peer at every parallel region). Returns True if it did.
    """
    import os

    import torch

    try:
        busy = os.getloadavg()[0] >= (os.cpu_count() or 1) and torch.get_num_threads() > 1
    except OSError:  # pragma: no cover - platforms without getloadavg
        return False
    if busy:
        torch.set_num_threads(1)
        if echo is not None:
            echo(f"(the CPU is busy - load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: using 1 thread)")
    return busy


@app.callback()
def main(
    ctx: typer.Context,
    threads: int = typer.Option(
        0, min=0, help="torch threads for the command; 0: all cores, or 1 when other processes keep every core busy."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (also: RNNKIT_DEBUG=1)."),
) -> None:
    """rnnkit: recurrent neural networks as a glass box."""
    if debug:
        DEBUG.set(True)  # read by errors_as_messages; HandledGroup resets it when the command ends
    if ctx.invoked_subcommand in ("bench", "gradcheck"):  # bench sets its own (--threads there); gradcheck is NumPy
        return
    task, verb = (*ctx.meta.get(_COMMAND, ()), None, None)[:2]
    if verb in _LIGHT.get(task, {}):  # NumPy only: importing torch would cost ~300 MB and seconds
        return
    if threads:
        import torch

        torch.set_num_threads(threads)
    else:
        one_thread_if_busy(lambda m: typer.echo(m, err=True))


@app.command()
def demo(
    seconds: float = typer.Option(120.0, help="Training time budget in seconds."),
    out: str = typer.Option("runs/demo", help="Run folder."),
    length: int = typer.Option(400, help="Characters to sample at the end."),
    seed: int = typer.Option(0, help="Seed for training and sampling."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Train a small character LSTM offline (~2 minutes), print validation bits/char and a sample, plot losses."""
    from rnnkit.demo import run_demo

    run_demo(seconds=seconds, out=out, length=length, seed=seed, quiet=quiet)


from rnnkit.registry import get_task  # noqa: E402
from rnnkit.tasks.cli import task_app  # noqa: E402 - one factory: `rnnkit <task> train|eval|predict`

_TASK_HELP = {
    "lm": "Language modelling: char/word next-token prediction, evaluation over whole splits, generation.",
    "classify": "Sequence classification: names, sentiment, multivariate series.",
    "tag": "Sequence labelling: POS tags, IOB chunks (BiLSTM/BiGRU, CRF).",
    "translate": "Translation: attention seq2seq, greedy/beam decoding, sacreBLEU on raw references.",
    "forecast": "Time-series forecasting: train, eval, predict, backtest against baselines.",
    "music": "Polyphonic music: next-frame piano-roll prediction (88 Bernoullis), frame-level NLL.",
    "speech": "Speech: isolated words from wav/flac recordings (log-mel/MFCC, BiGRU), accuracy and confusions.",
    "speech-ctc": "Connected speech: digit strings from recordings, BiGRU + CTC, greedy/beam decoding, WER/CER.",
}
_LIGHT = {"lm": {"prepare": "rnnkit.tasks.lm.cli:prepare_command"}}  # task verbs that run without torch


@functools.cache
def _task_group(name: str) -> Any:
    """The click group of ``rnnkit <task>`` (importing the task: torch)."""
    return typer.main.get_group(task_app(get_task(name), help=_TASK_HELP[name]))


def _verb(task: str, verb: str, *, name: str) -> Any:
    """A copy of ``rnnkit <task> <verb>`` under another ``name``."""
    cmd = copy.copy(_task_group(task).commands[verb])
    cmd.name = name
    return cmd


def _lazy_commands() -> list[LazyCommand]:
    """``rnnkit <task>`` for every task, and the older spellings, kept so nothing a user typed breaks:
    `rnnkit train lm` = `rnnkit lm train`, `rnnkit eval RUN` = `rnnkit lm eval RUN`, `rnnkit generate RUN` =
    `rnnkit lm generate RUN`."""
    tasks = [
        LazyCommand(name, help=h, load=functools.partial(_task_group, name), light=_LIGHT.get(name))
        for name, h in _TASK_HELP.items()
    ]
    train_help = "Train a model for a task: `rnnkit train lm ...` (= `rnnkit lm train ...`)."
    old = [
        LazyCommand(
            "train",
            help=train_help,
            load=lambda: typer.core.TyperGroup(
                name="train", commands={"lm": _verb("lm", "train", name="lm")}, help=train_help, no_args_is_help=True
            ),
        ),
        LazyCommand(
            "eval",
            help="Evaluate language-model runs (= `rnnkit lm eval`).",
            load=lambda: _verb("lm", "eval", name="eval"),
        ),
        LazyCommand(
            "generate",
            help="Stream text generated by a language-model run (= `rnnkit lm generate`).",
            load=lambda: _verb("lm", "generate", name="generate"),
        ),
    ]
    bench = LazyCommand("bench", help="Engine speed on this machine, every engine side by side.", load=_bench_group)
    return [*tasks, *old, bench]


def _bench_group() -> Any:
    from rnnkit.bench import bench_app  # `bench cells`: engine speed side by side (torch)

    return typer.main.get_group(bench_app)


from rnnkit.explain import cli as explain_cli  # noqa: E402 - `explain gradients|states|trace`

app.add_typer(explain_cli.explain_app, name="explain")


@app.command()
def export(
    run: str = typer.Argument(..., help="a run folder (the --out of `rnnkit <task> train`)"),
    onnx: str = typer.Option(..., "--onnx", help="where to write the ONNX model; <name>.json goes beside it"),
    which: str = typer.Option("best", help="checkpoint: best or last"),
) -> None:
    """Export a trained run to ONNX (dynamic batch and time) and check onnxruntime against PyTorch at two lengths.

    Needs `pip install rnnkit\\[export]` (onnx, onnxruntime). Every task: classify, tag, lm, forecast, translate (two
    graphs: <name>.encoder.onnx and <name>.decoder.onnx, one decoder step with the state in and out), speech,
    speech-ctc and music (states in and out; NADE: the biases in the graph, W and V in the JSON)."""
    from rnnkit.export import require_onnx
    from rnnkit.tasks.base import load_any

    require_onnx()  # the clear message before any model is loaded
    task = load_any(run, which=which)
    for line in task.export_onnx(onnx).lines():
        typer.echo(line)


@app.command()
def serve(
    runs: list[str] = typer.Argument(..., help="run folders (the --out of `rnnkit <task> train`), any tasks"),
    host: str = typer.Option("127.0.0.1", help="address to listen on; 127.0.0.1: this machine only"),
    port: int = typer.Option(8000, min=0, max=65535, help="port; 0: any free port (printed)"),
    which: str = typer.Option("best", help="checkpoint: best or last"),
    workers: int = typer.Option(1, min=1, help="model calls at once (more requests wait their turn)"),
    queue: int = typer.Option(64, min=0, help="requests that may wait; beyond that: 503 at once"),
    max_batch: int = typer.Option(32, min=1, help="inputs per request"),
    max_chars: int = typer.Option(1000, min=1, help="characters per input text"),
    log_level: str = typer.Option("info", help="uvicorn log level: info (one line per request), warning, ..."),
) -> None:
    """Serve trained runs over HTTP: a JSON API per task and a web page to try each model.

    POST /generate (streamed) /classify /tag /translate /forecast /predict; GET /models, /health, / (the page) and
    /states. Needs `pip install rnnkit\\[serve]`."""
    from rnnkit.serve import Limits, require_serve

    require_serve()  # the clear message before any model is loaded
    from rnnkit.serve.app import run_server

    limits = Limits(workers=workers, queue=queue, max_batch=max_batch, max_chars=max_chars)
    run_server(
        runs,
        host=host,
        port=port,
        which=which,
        limits=limits,
        log_level=log_level,
        echo=lambda m: typer.echo(m, err=True),
    )


tune_app = typer.Typer(
    help="Hyper-parameter search with Optuna: `rnnkit tune TASK --space s.json --out STUDY`, "
    "`rnnkit tune show STUDY [--plots]`, `rnnkit tune final STUDY` (test, once). Needs `pip install rnnkit\\[tune]`.",
    no_args_is_help=True,
)
app.add_typer(tune_app, name="tune")


def _tune_command(task: str) -> None:
    @tune_app.command(task, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def run(
        ctx: typer.Context,
        space: Path = typer.Option(
            ..., help='search space JSON: dotted config keys -> [choices] or {"log"|"uniform"|"int": [low, high]}'
        ),
        out: Path = typer.Option(..., help="study folder: trial-NNNN/ run folders, study.db, best-config.json"),
        trials: int = typer.Option(20, min=1, help="finished trials the study should hold (a resume adds the rest)"),
        seconds: float | None = typer.Option(None, help="stop starting new trials after this many seconds"),
        storage: str | None = typer.Option(
            None, help="SQLAlchemy URL of the study database (default sqlite:///OUT/study.db)"
        ),
        seed: int = typer.Option(0, help="seed of the TPE sampler"),
        config: Path | None = typer.Option(None, help="base config.json (else the task's defaults)"),
        data: Path | None = typer.Option(None, help="training data (validation: a held-out fraction or --val)"),
        dataset: str | None = typer.Option(None, help="a known dataset instead of --data"),
        val: Path | None = typer.Option(None, help="validation file"),
    ) -> None:
        import json

        from rich.console import Console

        from rnnkit.tasks.cli import build_config
        from rnnkit.tune import read_space, require_optuna
        from rnnkit.tune import tune as run_tune
        from rnnkit.tune_report import trials_table

        require_optuna()
        task_cls = get_task(task)
        base = build_config(task_cls, {"config": config, "data": data, "dataset": dataset, "val": val}, ctx.args)
        study = run_tune(
            task_cls,
            base,
            read_space(space, base),
            out,
            trials=trials,
            seconds=seconds,
            storage=storage,
            seed=seed,
            echo=lambda m: typer.echo(m, err=True),
        )
        monitor = json.loads((out / "study.json").read_text())["monitor"]
        Console().print(trials_table(study, monitor=monitor))
        typer.echo(
            f"best config: {out / 'best-config.json'}"
            if (out / "best-config.json").is_file()
            else "no trial completed: no best config"
        )
        _echo_plots(study, out, monitor, required=False)

    run.__doc__ = f"Search {task} hyper-parameters: one run folder per trial, judged on validation."


for _name in _TASK_HELP:
    _tune_command(_name)


@tune_app.command("show")
def tune_show(
    study: Path = typer.Argument(..., help="a study folder (the --out of `rnnkit tune TASK`)"),
    storage: str | None = typer.Option(None, help="SQLAlchemy URL (default: the one in STUDY/study.json)"),
    plots: bool = typer.Option(
        False, "--plots", help="also write optimisation history, importances and parallel coordinates PNGs"
    ),
    plots_dir: Path | None = typer.Option(None, help="where --plots writes (default STUDY/plots)"),
) -> None:
    """Print a study's trials (best first) and where its best config is; --plots draws it."""
    from rich.console import Console

    from rnnkit.tune_report import show, trials_table

    s, meta = show(study, storage=storage)
    Console().print(trials_table(s, monitor=meta.get("monitor", "value")))
    best = study / "best-config.json"
    typer.echo(f"best config: {best}" if best.is_file() else "no trial completed: no best config")
    if plots:
        _echo_plots(s, plots_dir or study, meta.get("monitor", "value"), required=True, sub=plots_dir is None)


@tune_app.command("final", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def tune_final(
    ctx: typer.Context,
    study: Path = typer.Argument(..., help="a study folder (the --out of `rnnkit tune TASK`)"),
    out: Path | None = typer.Option(None, help="run folder of the retrained model (default STUDY/final)"),
) -> None:
    """Retrain the study's best config once and score it on the TEST split: the one time the search's result meets
    test data (the trials never do). Same training split as the trials (validation picks `best`); dotted overrides
    such as --time_limit=600 set its budget."""
    from dataclasses import replace

    from rnnkit.tasks.cli import build_config, train_and_test
    from rnnkit.tune import BEST_FILE
    from rnnkit.tune_report import study_task

    task_cls = get_task(study_task(study))
    best = study / BEST_FILE
    if not best.is_file():
        from rnnkit.tune import TuneError

        raise TuneError(f"{study} has no {BEST_FILE}: no trial completed yet (`rnnkit tune show {study}`)")
    cfg = build_config(task_cls, {"config": best}, ctx.args)
    cfg = replace(cfg, run_dir=str(out or study / "final"), train=replace(cfg.train, quiet=True))
    typer.echo(f"final: {best} retrained once, scored on the test split (not used to choose it)", err=True)
    train_and_test(task_cls, cfg)


def _echo_plots(study: object, where: Path, monitor: str, *, required: bool, sub: bool = True) -> None:
    """Write the study's PNGs (into ``where/plots`` when ``sub``) and say where; too few trials: an error when the
    plots were asked for (exit 1), a note after a search."""
    from rnnkit.tune import TuneError
    from rnnkit.tune_report import write_plots

    try:
        paths = write_plots(study, where / "plots" if sub else where, monitor=monitor)
    except TuneError as e:
        if required:
            raise
        typer.echo(f"no plots: {e}", err=True)
        return
    typer.echo("plots: " + ", ".join(str(p) for p in paths.values()))


@app.command()
def gradcheck(
    cell: str = typer.Option(..., help="registered cell name, e.g. rnn, lstm, gru"),
    layers: int = typer.Option(1, min=1, help="stacked layers"),
    bidirectional: bool = typer.Option(False, help="two directions (truncated BPTT is then skipped)"),
    hidden: int = typer.Option(3, min=1, help="hidden units H"),
    seed: int = typer.Option(0, help="seed of parameters, inputs, lengths and loss weights"),
    nonlinearity: str = typer.Option("tanh", help="Elman activation: tanh or relu"),
    gru_variant: str = typer.Option("torch", help="GRU form: torch or paper"),
    k1: int = typer.Option(2, min=0, help="truncated-BPTT chunk length to check too (0: skip)"),
) -> None:
    """Check the NumPy engine's hand-written BPTT against central finite differences (float64)."""
    from rnnkit.layout import CellOptions
    from rnnkit.reference.gradcheck import run

    try:
        options = CellOptions(nonlinearity=nonlinearity, gru_variant=gru_variant)
        ok = run(cell, layers=layers, bidirectional=bidirectional, hidden=hidden, seed=seed, options=options, k1=k1)
    except ValueError as err:
        typer.echo(f"rnnkit gradcheck: {err}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
