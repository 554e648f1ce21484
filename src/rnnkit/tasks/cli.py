"""One CLI factory: a registered Task becomes ``rnnkit <task> train|eval|predict`` with the common options
declared once, every default shown in ``--help``, one error style, and the task's own options and verbs added.

    app = task_app(Classifier)          # rnnkit classify train|eval|predict

A task declares ``cli_options`` (extra ``train`` options, each mapped to a dotted config key), optionally
``eval_options`` / ``predict_options``, and implements ``read_eval_data(path)``, ``print_report(report)`` and
``predict_lines(inputs, **options)``; its extra verbs (generate, backtest, translate) are registered by
``Task.extend_cli(app)``. Any ``--section.key=value`` after the options overrides a config field.
Bodies import torch lazily so ``rnnkit --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import typer
import typer.core

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@dataclass(frozen=True)
class Opt:
    """One command-line option: ``--flag`` (plus ``aliases``) setting dotted config ``key`` (None: the command
    reads it itself), of ``type``; ``path=True`` stores an absolute path string."""

    flag: str
    key: str | None
    type: Any
    help: str
    aliases: tuple[str, ...] = ()
    path: bool = False
    default: Any = None
    convert: Callable[[Any], Any] | None = None  # command-line value -> config value
    late: bool = False  # applied after the dotted overrides (when it is only valid once they are in)

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


# The options every task's `train` has (the task's own `cli_options` follow them in --help).
COMMON: tuple[Opt, ...] = (
    Opt("--data", "data.path", Path, "Training data: a file or folder (formats: docs/formats.md).", path=True),
    Opt("--dataset", "data.dataset", str, "A known dataset instead of --data."),
    Opt("--data-root", "data.data_root", Path, "Folder holding the known datasets (default $RNNKIT_DATA).", path=True),
    Opt(
        "--val", "data.val_path", Path, "Validation file (default: a held-out data.val_fraction of --data).", path=True
    ),
    Opt(
        "--test",
        "data.test_path",
        Path,
        "Test file, scored after training (default: the dataset's test split).",
        path=True,
    ),
    Opt("--out", "run_dir", Path, "Run folder to write.", aliases=("--run-dir",), path=True),
    Opt("--seed", "train.seed", int, "Seed of everything (data order, init, dropout)."),
    Opt("--epochs", "train.epochs", int, "Most passes over the training data (early stopping may stop sooner)."),
    Opt("--seconds", "time_limit", float, "Training time budget in seconds (0: none); final evaluation comes after."),
    Opt("--lr", "train.lr", float, "Learning rate."),
    Opt("--batch-size", "data.batch_size", int, "Examples (LM: columns) per batch."),
    Opt("--cell", "model.cell.name", str, "Any registered cell: lstm, gru, rnn, mingru, minlstm, ..."),
    Opt("--hidden", "model.hidden_size", int, "Hidden units (per direction)."),
    Opt("--layers", "model.num_layers", int, "Stacked recurrent layers."),
    Opt("--precision", "train.precision", str, "fp32, or bf16: products in bfloat16 (CPUs with AMX / AVX512-BF16)."),
)


class UsageError(ValueError):
    """The command line contradicts itself (e.g. --data and --dataset both); exit code 2."""


def get_key(cfg: Any, key: str) -> Any:
    """The value of dotted ``key`` in a config (AttributeError if it does not exist)."""
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _with_default(opt: Opt, defaults: Any) -> str:
    if opt.key is None:
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


def command(fn: Callable[..., Any], params: Sequence[inspect.Parameter]) -> Callable[..., Any]:
    """``fn(**kwargs)`` exposed to typer with the signature ``params`` (typer reads ``__signature__``)."""

    def wrapper(**kwargs: Any) -> Any:
        return fn(**kwargs)

    wrapper.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


# ---- errors ------------------------------------------------------------------------------------------------


def _known_errors() -> tuple[type[BaseException], ...]:
    from rnnkit.config import ConfigError
    from rnnkit.data.sources import DataError
    from rnnkit.export import ExportError
    from rnnkit.nn.precision import PrecisionError
    from rnnkit.serve.limits import ServeError
    from rnnkit.tasks.base import NotTrainedError
    from rnnkit.train import CheckpointError, TrainingDiverged

    known = (
        ConfigError,
        DataError,
        CheckpointError,
        TrainingDiverged,
        NotTrainedError,
        ExportError,
        ServeError,
        PrecisionError,
    )
    return (*known, ValueError, OSError)


DEBUG_ENV = "RNNKIT_DEBUG"
DEBUG = contextvars.ContextVar("rnnkit_debug", default=False)  # `rnnkit --debug`; scoped to one command (HandledGroup)


def debug_on() -> bool:
    """``rnnkit --debug ...`` or ``RNNKIT_DEBUG=1``: show tracebacks instead of one-line errors."""
    import os

    return DEBUG.get() or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


# What to do about an OSError, by errno (the message names the path; this says what to do).
_OS_ADVICE = {
    "ENOSPC": "the disk is full: free some space or write elsewhere (--out)",
    "EDQUOT": "the disk quota is used up: free some space or write elsewhere (--out)",
    "EROFS": "the file system is read-only: write elsewhere (--out)",
    "EACCES": "permission denied: check the folder's permissions or write elsewhere (--out)",
    "EPERM": "not permitted: check the folder's permissions or write elsewhere (--out)",
    "ENOTDIR": "a part of this path is a file, not a folder: pick another path",
    "EISDIR": "this is a folder where a file was expected: pick a file",
    "ENOENT": "no such file or folder: check the path",
    "EEXIST": "it exists already: pick another path",
}


def os_error_message(e: OSError) -> str:
    """One line for an OSError: what happened, the path(s), and what to do."""
    import errno

    where = " -> ".join(str(p) for p in (e.filename, e.filename2) if p)
    what = e.strerror or str(e)
    advice = _OS_ADVICE.get(errno.errorcode.get(e.errno or 0, ""), "")
    return f"{what}" + (f": {where}" if where else "") + (f" ({advice})" if advice else "")


@contextlib.contextmanager
def errors_as_messages(prog: str) -> Iterator[None]:
    """Turn rnnkit's errors and every OSError into one line ``rnnkit <task>: error: ...`` (exit 1; 2 for usage
    errors). With ``--debug`` / ``RNNKIT_DEBUG=1`` they propagate with their traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except UsageError as e:
        if debug_on():
            raise
        typer.echo(f"{prog}: error: {e}", err=True)
        raise typer.Exit(2) from None
    except _known_errors() as e:
        if debug_on():
            raise
        msg = os_error_message(e) if isinstance(e, OSError) else str(e)
        typer.echo(f"{prog}: error: {msg}", err=True)
        raise typer.Exit(1) from None


class HandledGroup(typer.core.TyperGroup):
    """A typer group whose every command runs inside ``errors_as_messages``: one handler for every path (task
    commands, forecast, translate, explain, bench), whatever a command catches itself."""

    def invoke(self, ctx: Any) -> Any:
        token = DEBUG.set(DEBUG.get())  # the app callback may set it (--debug); undone when the command ends
        try:
            with errors_as_messages("rnnkit"):
                return super().invoke(ctx)
        finally:
            DEBUG.reset(token)


class LazyCommand(click.Command):
    """A command or group built when it runs, so ``rnnkit --help`` lists it from its help text alone and a task's
    torch-heavy CLI is built only for that task. ``light``: verbs (name -> ``"module:function"``) run without
    building the rest of the group, e.g. ``lm prepare``, which needs NumPy only."""

    def __init__(self, name: str, *, help: str, load: Callable[[], Any], light: dict[str, str] | None = None) -> None:
        super().__init__(name, help=help)
        self._load, self.light = load, dict(light or {})

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        verb = args[0] if args else None
        real = self._light_group(verb) if verb in self.light else self._load()
        return real.make_context(info_name, args, parent=parent, **extra)

    def _light_group(self, verb: str) -> Any:
        import importlib

        module, fn = self.light[verb].split(":")
        app = typer.Typer(help=self.help, no_args_is_help=True)
        app.command(verb)(getattr(importlib.import_module(module), fn))
        return typer.main.get_group(app)


def echo_notes(notes: Sequence[str]) -> None:
    for n in notes:
        typer.echo(f"  {n}", err=True)


# ---- config from the command line --------------------------------------------------------------------------


def build_config(task_cls: type, given: dict[str, Any], extra: Sequence[str]) -> Any:
    """The run config: ``--config`` (or the task's defaults), then the options given, then dotted overrides."""
    from rnnkit.config import apply_overrides, load_config, parse_cli

    config = given.pop("config", None)
    cfg = load_config(task_cls.Config, config) if config else task_cls.Config()
    opts = {o.name: o for o in (*COMMON, *task_cls.cli_options)}
    data, dataset = given.get("data"), given.get("dataset")
    if data is not None and dataset is not None:
        raise UsageError("give --data PATH or --dataset NAME, not both")
    if data is not None or dataset is not None:  # a source on the command line replaces the config's
        cfg = replace(cfg, data=replace(cfg.data, path=None, dataset=None))
    values: dict[str, Any] = {}
    late: dict[str, Any] = {}
    for name, v in given.items():
        o = opts.get(name)
        if v is None or o is None or o.key is None:
            continue
        v = str(Path(v).expanduser().resolve()) if o.path else v
        (late if o.late else values)[o.key] = o.convert(v) if o.convert else v
    cfg = apply_overrides(cfg, values)
    cfg = apply_overrides(cfg, parse_cli(list(extra))[1])
    return apply_overrides(cfg, late)


# ---- the factory -------------------------------------------------------------------------------------------


def task_app(task_cls: type, *, help: str) -> typer.Typer:
    """``rnnkit <task>`` with train, eval and predict, plus the task's own verbs (``task_cls.extend_cli``)."""
    app = typer.Typer(help=help, no_args_is_help=True)
    prog = f"rnnkit {task_cls.name}"
    defaults = task_cls.Config()
    train_opts = [*COMMON, *task_cls.cli_options]

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

    train.__doc__ = task_cls.train_help
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        *[_param(o, defaults) for o in train_opts],
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Path | None,
            default=typer.Option(None, help="A config.json to start from (configs/*.json or a run's)."),
        ),
        inspect.Parameter(
            "resume",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(
                False,
                help="Continue the run in --out from its last checkpoint, with "
                "its config.json; only epochs, max_steps, --seconds, quiet, log_every, "
                "device, every_steps and the data root may change.",
            ),
        ),
        inspect.Parameter(
            "overwrite",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(
                False, help="--out holds a run: move it aside (to OUT.old-<time>) and train a new one."
            ),
        ),
        inspect.Parameter(
            "new_lr",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(
                False, "--resume-with-new-lr", help="With --resume: continue with the --lr given (recorded)."
            ),
        ),
        inspect.Parameter(
            "quiet",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(False, help="No progress bar."),
        ),
    ]
    app.command("train", context_settings=EXTRA)(command(train, params))

    def eval_(**kw: Any) -> None:
        runs, data, which, as_json = kw.pop("runs"), kw.pop("data"), kw.pop("which"), kw.pop("as_json")
        prec = kw.pop("precision")
        with errors_as_messages(prog):
            tasks = [task_cls.load(r, which=which, precision=prec) for r in runs]
            first = tasks[0]
            if kw.get("data_root"):
                first.config = replace(first.config, data=replace(first.config.data, data_root=str(kw["data_root"])))
            test = first.eval_data(data)
            report = task_cls.evaluate_runs(tasks, test, **{k: v for k, v in kw.items() if k != "data_root"})
        if as_json:
            import json

            typer.echo(json.dumps(report, default=str))
        else:
            title = str(data or "test split") + (f", mean of {len(runs)} runs" if len(runs) > 1 else "")
            first.print_report(report, title=f"{title} ({first.describe_weights()})")

    eval_.__doc__ = task_cls.eval_help
    params = [
        inspect.Parameter(
            "runs",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=list[Path],
            default=typer.Argument(..., help=f"Run folder(s) of `{prog} train`."),
        ),
        inspect.Parameter(
            "data",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Path | None,
            default=typer.Option(None, help="Score this file instead of the run's test split."),
        ),
        inspect.Parameter(
            "which",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option("best", help="Checkpoint: best or last."),
        ),
        inspect.Parameter(
            "data_root",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Path | None,
            default=typer.Option(None, help="Folder holding the datasets (default: the run's)."),
        ),
        inspect.Parameter(
            "as_json",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(False, "--json", help="Print the report as JSON."),
        ),
        _precision_param(),
        *[_param(o, None) for o in task_cls.eval_options],
    ]
    app.command("eval")(command(eval_, params))

    def predict(**kw: Any) -> None:
        run, inputs, file, which = kw.pop("run"), kw.pop("inputs"), kw.pop("file"), kw.pop("which")
        prec = kw.pop("precision")
        with errors_as_messages(prog):
            task = task_cls.load(run, which=which, precision=prec)
            items = list(inputs or [])
            if file is not None:
                items += task.read_predict_file(file)
            if not items and not task_cls.predict_without_inputs:
                if sys.stdin is not None and not sys.stdin.isatty():
                    items = [line for line in sys.stdin.read().splitlines() if line.strip()]
                if not items:
                    raise UsageError(f"nothing to {task_cls.predict_verb}: give inputs as arguments, --file or stdin")
            for line in task.predict_lines(items, **kw):
                typer.echo(line)

    predict.__doc__ = task_cls.predict_help
    params = [
        inspect.Parameter(
            "run",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=Path,
            default=typer.Argument(..., help=f"A run folder of `{prog} train`."),
        ),
        inspect.Parameter(
            "inputs",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=list[str] | None,
            default=typer.Argument(None, help=task_cls.predict_inputs_help),
        ),
        inspect.Parameter(
            "file",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Path | None,
            default=typer.Option(None, help="Read the inputs from this file (one per line)."),
        ),
        inspect.Parameter(
            "which",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Option("best", help="Checkpoint: best or last."),
        ),
        _precision_param(),
        *[_param(o, None) for o in task_cls.predict_options],
    ]
    app.command("predict")(command(predict, params))
    task_cls.extend_cli(app)
    return app


def _precision_param() -> inspect.Parameter:
    """``--precision`` of eval and predict (training's is the COMMON option, config key train.precision)."""
    return inspect.Parameter(
        "precision",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=str,
        default=typer.Option(
            "fp32",
            help="fp32, or bf16: products in bfloat16, outputs and reductions float32 (CPUs with AMX / "
            "AVX512-BF16; refused where torch has no bf16 kernels).",
        ),
    )


def train_and_test(
    task_cls: type, cfg: Any, *, resume: bool = False, overwrite: bool = False, new_lr: bool = False
) -> Any:
    """What ``<task> train`` does: read the data (printing what was decided), fit, score the test split with the
    weights ``eval`` will load, write eval.json (saying which weights) and print the report."""
    task = task_cls(cfg)
    report = task.fit_and_test(resume=resume, overwrite=overwrite, new_lr=new_lr, callbacks=[_note_printer(task)])
    r = task.fit_result
    if r.interrupted:
        typer.echo(f"{r.stop_reason}; nothing scored", err=True)
        return task
    if r.stop_reason:
        typer.echo(f"stopped: {r.stop_reason}", err=True)
    if report is not None:
        task.after_report(report)
        task.print_report(report, title=f"test ({task.run_dir}; {task.describe_weights()})")
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
