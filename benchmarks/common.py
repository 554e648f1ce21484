"""Shared helpers for benchmark scripts: machine info, interleaved timers with medians, the matmul peak,
and appending a section to RESULTS.md.

The code lives in ``rnnkit.host``, ``rnnkit.bench`` and ``rnnkit.nn.gemm`` so the installed ``rnnkit bench``
CLI can use it too; scripts in this folder import it from here::

    from common import interleaved, machine_info, matmul_peak, append_section
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rnnkit.bench import machine_info
from rnnkit.host import Timing, cpu_model, interleaved
from rnnkit.nn.gemm import matmul_peak

RESULTS = Path(__file__).with_name("RESULTS.md")

__all__ = [
    "RESULTS",
    "Timing",
    "append_section",
    "cpu_model",
    "host_line",
    "interleaved",
    "machine_info",
    "matmul_peak",
    "print_host",
    "run_header",
    "shared_data_root",
    "split_overrides",
]


def run_header(threads: int, repeats: int) -> str:
    """One line naming the run's setting and machine, printed above a benchmark's table."""
    info = machine_info()
    return (
        f"{threads} threads, {repeats} repeats; {info['cpu']} ({info['cpu_capability']}; {info['cpu_flags']}), "
        f"torch {info['torch']}, load {os.getloadavg()[0]:.1f}, {info['date_utc']} UTC"
    )


def host_line() -> str:
    """The host a figure was measured on: CPU model, the flags that decide our fast paths (avx512f, avx512_bf16,
    amx_bf16; '-' = absent), cores, torch, 1-minute load average, time. Every script prints it first."""
    info = machine_info()
    return (
        f"host: {info['cpu']} ({info['cpu_flags']}; torch kernels {info['cpu_capability']}), {info['cores']} "
        f"cores, torch {info['torch']}, load {os.getloadavg()[0]:.1f}, {info['date_utc']} UTC"
    )


def print_host(*, stderr: bool = False) -> None:
    """Print ``host_line()`` (to stderr where stdout carries JSON)."""
    print(host_line(), file=sys.stderr if stderr else sys.stdout, flush=True)


def append_section(title: str, body: str, *, path: Path = RESULTS) -> None:
    """Append ``## title`` and ``body`` to RESULTS.md (created with a header if missing); never rewrites it."""
    if not path.exists():
        path.write_text(f"# Benchmark results\n\nMachine: {cpu_model()} (see each section for threads and versions).\n")
    with path.open("a") as fh:
        fh.write(f"\n## {title}\n\n{body.rstrip()}\n")


def shared_data_root() -> str | None:
    """``../shared/data`` beside the checkout (as on CI and this machine) when $RNNKIT_DATA is unset, else None
    (None lets the loaders read $RNNKIT_DATA themselves)."""
    path = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return str(path) if not os.environ.get("RNNKIT_DATA") and path.is_dir() else None


def split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """A script's own arguments, and the dotted config overrides after ``--`` (``-- train.epochs=3``)."""
    if "--" not in argv:
        return list(argv), []
    k = argv.index("--")
    return list(argv[:k]), list(argv[k + 1 :])
