"""The machine a figure was measured on, and how we time: CPU model and flags, versions, and interleaved timers
with medians (STYLE.md habit 12, PERF-NOTES: every speed figure names its host).

Kept apart from ``rnnkit.bench`` (the cell benchmark and its CLI) because autotuning and the precision check
read the CPU flags on every host, without the benchmark's imports. The ground floor: it imports nothing of
rnnkit, so the engine can import it; what depends on the engine (the gemm route, the matmul peak:
``rnnkit.nn.gemm``) is added by ``rnnkit.bench.machine_info``.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from rnnkit.moved import names

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")  # the CPU flags that change which impl wins


@functools.cache
def cpu_flags() -> tuple[str, ...]:
    """Which of ``FLAGS`` this CPU has (from /proc/cpuinfo; empty where that file does not exist)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return tuple(f for f in FLAGS if f in have)
    except OSError:
        pass
    return ()


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags_text() -> str:
    """The CPU flags that decide our fast paths, each marked present or absent: 'avx512f avx512_bf16 -amx_bf16'."""
    have = set(cpu_flags())
    return " ".join(f if f in have else f"-{f}" for f in ("avx512f", "avx512_bf16", "amx_bf16"))


def machine_info() -> dict[str, str]:
    """What a reader needs to compare figures: CPU, cores, threads, torch and oneDNN/MKL versions."""
    cfg = torch.__config__.show()
    m = re.search(r"MKL-DNN (v[\d.]+)", cfg)
    mkldnn = f"oneDNN {m.group(1)}" if m else "oneDNN n/a"
    k = re.search(r"Math Kernel Library Version ([\d.]+)", cfg)
    mkl = f"MKL {k.group(1)}" if k else "MKL n/a"
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "onednn": mkldnn,
        "mkl": mkl,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # AVX2 / AVX512: decides gemm.mm_tn's route
        "cpu_flags": cpu_flags_text(),  # avx512f / avx512_bf16 / amx_bf16: which impl and precision win
        "python": platform.python_version(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


@dataclass
class Timing:
    """Seconds per call of one variant over the repeats; ``median`` is what we report."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def iqr(self) -> tuple[float, float]:
        """Interquartile range (25th, 75th percentile), the spread the noise left."""
        if len(self.samples) < 2:
            return (self.samples[0], self.samples[0])
        q = statistics.quantiles(self.samples, n=4)
        return (q[0], q[2])


# 'wall': elapsed time. 'cpu': CPU time of this process (all its threads) — with one thread it is the work
# alone, unmoved by other processes on a shared machine; with more threads it also counts OpenMP spinning.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def interleaved(
    fns: dict[str, Callable[[], object]], *, repeats: int = 7, warmup: int = 1, inner: int = 1, clock: str = "wall"
) -> dict[str, Timing]:
    """Time every function ``repeats`` times, round-robin, after ``warmup`` untimed calls each.

    ``inner`` calls per sample amortise timer resolution for very short functions.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out = {name: Timing() for name in fns}
    now = CLOCKS[clock]
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = now()
            for _ in range(inner):
                fn()
            out[name].samples.append((now() - t0) / inner)
    return out


def one_thread_if_busy(echo: Callable[[str], None] | None = None) -> bool:
    """Use 1 torch thread when other processes already keep every core busy (1-minute load >= cores).

    Measured on the 2-core team machine at load ~10: a 2x256 LSTM training step took 4.5 s on 2 threads and
    0.25 s on 1 (OpenMP workers wait for a descheduled peer at every parallel region). Returns True if it did.
    """
    try:
        busy = os.getloadavg()[0] >= (os.cpu_count() or 1) and torch.get_num_threads() > 1
    except OSError:  # pragma: no cover - platforms without getloadavg
        return False
    if busy:
        torch.set_num_threads(1)
        if echo is not None:
            echo(f"(the CPU is busy - load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: using 1 thread)")
    return busy


__getattr__ = names(__name__)  # matmul_peak: moved to rnnkit.nn.gemm (0.2)
