"""One CLI factory: a task becomes ``rnnkit <task> train|eval|predict`` with the common options declared once
(``rnnkit.tasks.options.COMMON``), every default shown in ``--help``, one error style, and the task's own options,
printers and verbs added from its ``TaskCLI`` record (``tasks/<name>/cli.py``)::

    CLI = TaskCLI(train_options=(Opt("--pooling", "model.pooling", str, "last, mean, max or attention."),),
                  predict_lines=classify_lines, verbs={"backtest": backtest_command})

The Task class knows nothing of the command line (Lightning's LightningCLI, built from the classes); a TaskCLI
knows nothing of training. Any ``--section.key=value`` after the options overrides a config field. Bodies import
torch lazily so ``rnnkit --help`` stays fast.
"""

from __future__ import annotations

import copy
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rnnkit.errors import UsageError
from rnnkit.tasks.console import echo_notes, errors_as_messages
from rnnkit.tasks.info import TaskInfo
from rnnkit.tasks.options import COMMON, Opt, build_config, get_key

if TYPE_CHECKING:
    from rnnkit.tasks.base import Task

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}  # `--section.key=value` overrides pass through


def predict_lines(task: Any, items: list[Any], **options: Any) -> Iterable[str]:
    """The default printer of ``predict``: each input, a tab, what ``task.predict`` gave for it."""
    for x, y in zip(items, task.predict(items, **options), strict=True):
        yield f"{x}\t{y}"


def print_report(task: Any, report: dict[str, Any], *, title: str) -> None:
    """The default printer of a report: the title on stderr, the report as one JSON line on stdout (so
    ``rnnkit lm train ... > report.json`` keeps only the report)."""
    typer.echo(title, err=True)
    typer.echo(json.dumps(report, default=str))


def evaluate_runs(tasks: Sequence[Any], data: Any, **options: Any) -> dict[str, Any]:
    """The default ``eval``: one run scored on ``data`` (a task may take several, e.g. an ensemble)."""
    if len(tasks) != 1:
        raise UsageError(f"`rnnkit {tasks[0].name} eval` takes one run folder, got {len(tasks)}")
    return tasks[0].evaluate(data, **options)


@dataclass(frozen=True)
class TaskCLI:
    """What ``rnnkit <task>`` adds to the common ``train``/``eval``/``predict``: its flags, help texts, printers and
    extra verbs. Printers take the task first: ``predict_lines(task, items, **predict options)``,
    ``print_report(task, report, title=...)``, ``evaluate_runs(tasks, data, **eval options)``."""

    train_options: tuple[Opt, ...] = ()  # after the COMMON ones, each mapped to a dotted config key
    eval_options: tuple[Opt, ...] = ()  # passed to evaluate_runs as keywords
    predict_options: tuple[Opt, ...] = ()  # passed to predict_lines as keywords
    train_help: str = "Train, then score the test split (eval.json in the run folder)."
    eval_help: str = "Score a trained run on its test split or on --data FILE."
    predict_help: str = "Predict for inputs given as arguments, --file or stdin (one per line)."
    predict_inputs_help: str = "Inputs to predict for."
    predict_verb: str = "predict"
    predict_without_inputs: bool = False  # e.g. forecasting: the run's own series
    predict_lines: Callable[..., Iterable[str]] = predict_lines
    print_report: Callable[..., None] = print_report
    evaluate_runs: Callable[..., dict[str, Any]] = evaluate_runs
    verbs: dict[str, Callable[..., None]] = field(default_factory=dict)  # extra commands, name -> typer function
    aliases: dict[str, str] = field(default_factory=dict)  # older names kept working, name -> verb it runs


# ---- typer parameters from data ----------------------------------------------------------------------------


def _with_default(opt: Opt, defaults: Any) -> str:
    if opt.key is None or defaults is None:
        return opt.help
    try:
        v = get_key(defaults, opt.key)
    except AttributeError:
        return opt.help
    shown = "none" if v in (None, "") else (",".join(map(str, v)) if isinstance(v, tuple) else v)
    return f"{opt.help} (default {shown}; config {opt.key})"  # parentheses: rich would eat [square brackets]


def _param(opt: Opt, defaults: Any) -> inspect.Parameter:
    help_ = _with_default(opt, defaults)
    if opt.type is bool:
        flag = opt.flag.removeprefix("--")
        decl = typer.Option(opt.default, f"--{flag}/--no-{flag}", help=help_)
        tp: Any = bool | None
    else:
        decl = typer.Option(opt.default, opt.flag, *opt.aliases, help=help_)
        tp = opt.type | None if opt.default is None else opt.type
    return inspect.Parameter(opt.name, inspect.Parameter.KEYWORD_ONLY, default=decl, annotation=tp)


def _kw(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _pos(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default)


def command(fn: Callable[..., Any], params: Sequence[inspect.Parameter]) -> Callable[..., Any]:
    """``fn(**kwargs)`` exposed to typer with the signature ``params`` (typer reads ``__signature__``)."""

    def wrapper(**kwargs: Any) -> Any:
        return fn(**kwargs)

    wrapper.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


_WHICH = typer.Option("best", help="Checkpoint: best or last.")
_PRECISION = typer.Option(
    "fp32",
    help="fp32, or bf16: products in bfloat16, outputs and reductions float32 (CPUs with AMX / AVX512-BF16; "
    "refused where torch has no bf16 kernels).",
)
_RESUME_HELP = (
    "Continue the run in --out from its last checkpoint, with its config.json; only epochs, max_steps, --seconds, "
    "quiet, log_every, device, every_steps and the data root may change."
)


# ---- the factory -------------------------------------------------------------------------------------------


def task_app(info: TaskInfo) -> typer.Typer:
    """``rnnkit <task>`` with train, eval and predict, plus the task's own verbs (``TaskCLI.verbs``)."""
    task_cls, cli = info.load(), info.load_cli()
    app = typer.Typer(help=info.help, no_args_is_help=True)
    app.command("train", context_settings=EXTRA)(_train_command(task_cls, cli))
    app.command("eval")(_eval_command(task_cls, cli))
    app.command("predict")(_predict_command(task_cls, cli))
    for name, fn in cli.verbs.items():
        app.command(name)(fn)
    for old, verb in cli.aliases.items():
        alias = copy.copy(next(c for c in app.registered_commands if c.name == verb))
        alias.name, alias.help = old, f"Same as {verb} (the older name)."
        app.registered_commands.append(alias)
    return app


def _train_command(task_cls: type[Task], cli: TaskCLI) -> Callable[..., Any]:
    prog = f"rnnkit {task_cls.name}"

    def train(**kw: Any) -> None:
        ctx: typer.Context = kw.pop("ctx")
        resume, quiet, overwrite, new_lr = kw.pop("resume"), kw.pop("quiet"), kw.pop("overwrite"), kw.pop("new_lr")
        with errors_as_messages(prog):
            if resume and overwrite:
                raise UsageError("give --resume (continue the run) or --overwrite (start it again), not both")
            if new_lr and not resume:
                raise UsageError("--resume-with-new-lr goes with --resume")
            if resume and kw.get("config") is None and kw.get("out") is not None:
                run_config = Path(kw["out"]) / "config.json"  # resume starts from the run's settings, then the options
                kw["config"] = run_config if run_config.is_file() else None
            cfg = build_config(task_cls, kw, ctx.args)
            if quiet:
                cfg = replace(cfg, train=replace(cfg.train, quiet=True))
            if not cfg.run_dir:
                cfg = replace(cfg, run_dir=f"runs/{task_cls.name}")
            train_and_test(task_cls, cfg, resume=resume, overwrite=overwrite, new_lr=new_lr)

    train.__doc__ = cli.train_help
    defaults = task_cls.Config()
    params = [
        _pos("ctx", typer.Context, inspect.Parameter.empty),
        *[_param(o, defaults) for o in (*COMMON, *cli.train_options)],
        _kw("config", Path | None, typer.Option(None, help="A config.json to start from (configs/*.json or a run's).")),
        _kw("resume", bool, typer.Option(False, help=_RESUME_HELP)),
        _kw(
            "overwrite",
            bool,
            typer.Option(False, help="--out holds a run: move it aside (OUT.old-<time>), start anew."),
        ),
        _kw("new_lr", bool, typer.Option(False, "--resume-with-new-lr", help="With --resume: use the --lr given.")),
        _kw("quiet", bool, typer.Option(False, help="No progress bar.")),
    ]
    return command(train, params)


def _eval_command(task_cls: type[Task], cli: TaskCLI) -> Callable[..., Any]:
    prog = f"rnnkit {task_cls.name}"

    def eval_(**kw: Any) -> None:
        runs, data, which, as_json = kw.pop("runs"), kw.pop("data"), kw.pop("which"), kw.pop("as_json")
        prec, data_root = kw.pop("precision"), kw.pop("data_root")
        with errors_as_messages(prog):
            tasks = [task_cls.load(r, which=which, precision=prec) for r in runs]
            first = tasks[0]
            if data_root:
                first.config = replace(first.config, data=replace(first.config.data, data_root=str(data_root)))
            report = cli.evaluate_runs(tasks, first.eval_data(data), **kw)
        if as_json:
            typer.echo(json.dumps(report, default=str))
        else:
            title = str(data or "test split") + (f", mean of {len(runs)} runs" if len(runs) > 1 else "")
            cli.print_report(first, report, title=f"{title} ({first.describe_weights()})")

    eval_.__doc__ = cli.eval_help
    params = [
        _pos("runs", list[Path], typer.Argument(..., help=f"Run folder(s) of `{prog} train`.")),
        _kw("data", Path | None, typer.Option(None, help="Score this file instead of the run's test split.")),
        _kw("which", str, _WHICH),
        _kw("data_root", Path | None, typer.Option(None, help="Folder holding the datasets (default: the run's).")),
        _kw("as_json", bool, typer.Option(False, "--json", help="Print the report as JSON.")),
        _kw("precision", str, _PRECISION),
        *[_param(o, None) for o in cli.eval_options],
    ]
    return command(eval_, params)


def _predict_command(task_cls: type[Task], cli: TaskCLI) -> Callable[..., Any]:
    prog = f"rnnkit {task_cls.name}"

    def predict(**kw: Any) -> None:
        run, inputs, file, which = kw.pop("run"), kw.pop("inputs"), kw.pop("file"), kw.pop("which")
        prec = kw.pop("precision")
        with errors_as_messages(prog):
            task = task_cls.load(run, which=which, precision=prec)
            items = list(inputs or [])
            if file is not None:
                items += task.read_predict_file(file)
            if not items and not cli.predict_without_inputs:
                if sys.stdin is not None and not sys.stdin.isatty():
                    items = [line for line in sys.stdin.read().splitlines() if line.strip()]
                if not items:
                    raise UsageError(f"nothing to {cli.predict_verb}: give inputs as arguments, --file or stdin")
            for line in cli.predict_lines(task, items, **kw):
                typer.echo(line)

    predict.__doc__ = cli.predict_help
    params = [
        _pos("run", Path, typer.Argument(..., help=f"A run folder of `{prog} train`.")),
        _pos("inputs", list[str] | None, typer.Argument(None, help=cli.predict_inputs_help)),
        _kw("file", Path | None, typer.Option(None, help="Read the inputs from this file (one per line).")),
        _kw("which", str, _WHICH),
        _kw("precision", str, _PRECISION),
        *[_param(o, None) for o in cli.predict_options],
    ]
    return command(predict, params)


def train_and_test(
    task_cls: type[Task], cfg: Any, *, resume: bool = False, overwrite: bool = False, new_lr: bool = False
) -> Any:
    """What ``<task> train`` does: read the data (printing what was decided), fit, score the test split with the
    weights ``eval`` will load, write eval.json (saying which weights) and print the report."""
    from rnnkit.tasks import task_info

    task = task_cls(cfg)
    report = task.fit_and_test(resume=resume, overwrite=overwrite, new_lr=new_lr, callbacks=[_note_printer(task)])
    r = task.fit_result
    if r.interrupted:
        typer.echo(f"{r.stop_reason}; nothing scored", err=True)
        return task
    if r.stop_reason:
        typer.echo(f"stopped: {r.stop_reason}", err=True)
    if report is not None:
        cli = task_info(task_cls.name).load_cli()
        cli.print_report(task, report, title=f"test ({task.run_dir}; {task.describe_weights()})")
    return task


def _note_printer(task: Any) -> Any:
    """A fit callback that prints, before the first step, what the task read and decided from the data."""
    from rnnkit.train import Callback

    class NotePrinter(Callback):
        def on_fit_start(self, fs: Any) -> None:
            if fs.is_main:
                typer.echo(f"rnnkit {task.name}: {task.describe_data(task.splits)}", err=True)
                echo_notes([*task.splits.notes, *task.notes])

    return NotePrinter()
