"""Progress of a whole-split evaluation, which on a large corpus takes minutes after training has ended: a rich bar
with tokens/s on a terminal, a plain line every ``EVERY`` seconds otherwise (logs, pipes), nothing when quiet."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

EVERY = 10.0  # seconds between plain progress lines


@contextlib.contextmanager
def eval_progress(
    name: str, total: int, *, quiet: bool, stream: TextIO | None = None
) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``, to call with the tokens each chunk scored (``total`` in all)."""
    stream = stream or sys.stderr
    if quiet or total <= 0:
        yield lambda n: None
        return
    t0 = time.monotonic()
    done, last = 0, t0

    def speed() -> str:
        return f"{done / max(time.monotonic() - t0, 1e-9):,.0f} tokens/s"

    if getattr(stream, "isatty", lambda: False)():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        cols = (
            TextColumn(name),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
        )
        with Progress(*cols, console=Console(file=stream), transient=True) as bar:
            task = bar.add_task(name, total=total, speed="")

            def advance_bar(n: int) -> None:
                nonlocal done
                done += n
                bar.update(task, completed=done, speed=speed())

            yield advance_bar
        return

    def advance_lines(n: int) -> None:
        nonlocal done, last
        done += n
        if time.monotonic() - last >= EVERY:
            last = time.monotonic()
            print(f"{name}: {done:,}/{total:,} tokens ({100 * done / total:.0f}%), {speed()}", file=stream, flush=True)

    yield advance_lines
