"""How every rnnkit command meets the terminal: an error is one line (``rnnkit <task>: error: ...``, exit 1, or 2
for usage), ``--debug`` shows the traceback instead, and commands are built only when they run (``LazyCommand``), so
``rnnkit --help`` imports no torch. Used by the root CLI, the task CLIs and the tools (explain, bench, tune)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import typer
import typer.core

from rnnkit.errors import RnnkitError
from rnnkit.tasks.info import import_object

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
    except (RnnkitError, ValueError, OSError) as e:  # ValueError: still raised for some bad input (issue 31)
        if debug_on():
            raise
        msg = os_error_message(e) if isinstance(e, OSError) else str(e)
        typer.echo(f"{prog}: error: {msg}", err=True)
        raise typer.Exit(getattr(e, "exit_code", 1)) from None


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


class LazyCommand(typer.core.TyperCommand):
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
        app = typer.Typer(help=self.help, no_args_is_help=True)
        app.command(verb)(import_object(self.light[verb]))
        return typer.main.get_group(app)


def echo_notes(notes: Sequence[str]) -> None:
    for n in notes:
        typer.echo(f"  {n}", err=True)
