"""What a server accepts (batch, lengths, concurrent work) and its errors; no FastAPI import here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnkit.errors import ServeError  # noqa: F401 - re-exported where it used to be defined

INSTALL_HINT = "rnnkit serve needs fastapi and uvicorn: pip install rnnkit[serve]"


class BadInput(ValueError):
    """A request the API refuses (HTTP ``status``): ``field`` names the JSON field, ``message`` says what to send."""

    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message, self.status = field, message, status


@dataclass(frozen=True)
class Limits:
    """Bounds on one request and on the server's work.

    ``workers`` model calls run at once (more requests wait their turn; a model is not asked to run two calls at
    once on a 2-core machine, where two would only share the cores); a request that would be the ``queue + 1``-th
    waiting gets 503 at once instead of an unbounded wait. ``max_batch`` inputs per request, ``max_chars`` per input
    text, ``max_tokens`` generated per request, ``max_beam`` beam width, ``max_csv_bytes`` for a forecast's CSV."""

    workers: int = 1
    queue: int = 64
    max_batch: int = 32
    max_chars: int = 1000
    max_tokens: int = 2000
    max_beam: int = 10
    max_csv_bytes: int = 2_000_000

    def __post_init__(self) -> None:
        from rnnkit.config import ConfigError

        for name in ("workers", "max_batch", "max_chars", "max_tokens", "max_beam", "max_csv_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve: {name} must be >= 1, got {getattr(self, name)}")
        if self.queue < 0:
            raise ConfigError(f"serve: queue must be >= 0, got {self.queue}")

    def check_texts(self, inputs: list[Any], *, field: str = "inputs") -> None:
        """1..max_batch non-empty strings of at most max_chars characters (series: 1..max_chars steps), else BadInput
        naming the item."""
        if not inputs:
            raise BadInput(field, f"is empty: send a list of 1 to {self.max_batch} inputs")
        if len(inputs) > self.max_batch:
            raise BadInput(field, f"has {len(inputs)} inputs; at most {self.max_batch} per request (split the batch)")
        for i, x in enumerate(inputs):
            if isinstance(x, str):
                if not x.strip():
                    raise BadInput(f"{field}[{i}]", "is empty: give some text")
                if len(x) > self.max_chars:
                    raise BadInput(f"{field}[{i}]", f"has {len(x)} characters; at most {self.max_chars}")
            elif not 1 <= len(x) <= self.max_chars:  # a numeric series: (T, D) rows
                raise BadInput(f"{field}[{i}]", f"has {len(x)} steps; give 1 to {self.max_chars}")


def require_serve() -> None:
    """ServeError naming the extra when fastapi or uvicorn is missing (before any run is loaded)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ServeError(f"{INSTALL_HINT} ({e})") from None
