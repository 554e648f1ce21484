"""Command-line interface (typer). Commands are thin: the logic lives in the library."""

from __future__ import annotations

import typer

app = typer.Typer(help="rnnkit: recurrent neural networks as a glass box.", no_args_is_help=True)


@app.command()
def demo() -> None:
    """Train a small character model offline and show what it learned (placeholder until the LM task)."""
    typer.echo("rnnkit demo: the language-model demo is not built yet.")


if __name__ == "__main__":
    app()
