"""Engine speed, measured honestly: machine info, interleaved timers with medians, the matmul peak, and
the cell benchmark behind ``rnnkit bench cells`` and ``benchmarks/bench_cells.py``.

Rules (STYLE.md habit 12, PERF-NOTES): correctness is checked before anything is timed; every variant
is warmed up, then all variants run one after another in each repeat (interleaved, so a noisy neighbour
slows them all alike); we report medians and ratios measured in the same process, never absolute times
across runs.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit.layout import CellOptions, layout
from rnnkit.nn import gemm

# ---- machine and timers ---------------------------------------------------------------------------------------


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
        "gemm_route": "onednn" if gemm.onednn_available() else "torch (oneDNN linear ops unavailable)",
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


def matmul_peak(*, repeats: int = 7, m: int = 4096, k: int = 512, n: int = 2048) -> dict[str, float]:
    """GFLOP/s of a large float32 product ``(m, k) @ (k, n)`` on each gemm route, interleaved.

    'onednn' is absent when the route is not available; 'peak' is the best route, the ceiling we quote.
    """
    x, w = torch.randn(m, k), torch.randn(n, k)
    fns: dict[str, Callable[[], object]] = {"torch.mm": lambda: torch.mm(x, w.t())}
    if gemm.onednn_available():
        packed = gemm.prepare(w)
        fns["onednn"] = lambda: gemm.linear(x, packed)
    res = interleaved(fns, repeats=repeats, warmup=2, inner=3)
    flops = 2.0 * m * k * n
    out = {name: flops / t.median / 1e9 for name, t in res.items()}
    out["peak"] = max(out.values())
    return out


# ---- the cell benchmark ---------------------------------------------------------------------------------------

IMPLS = ("loop", "fused", "bptt", "auto")
TORCH = "torch.nn"


@dataclass(frozen=True)
class CellCase:
    """One benchmark configuration; the input size equals the hidden size, as torch's fastrnns does."""

    cell: str
    hidden: int
    layers: int = 1
    seq_len: int = 128
    batch: int = 32
    options: CellOptions = CellOptions()

    def gemm_flops(self, *, backward: bool) -> float:
        """Multiply-add FLOPs of the GEMMs (forward: x W_ih^T and h W_hh^T per step; backward twice that:
        dx, dW_ih, dh, dW_hh). Element-wise work is not counted."""
        G, H, N, T = layout(self.cell).G, self.hidden, self.batch, self.seq_len
        fwd = self.layers * 2.0 * N * T * G * H * (H + H)
        return 3.0 * fwd if backward else fwd

    @property
    def label(self) -> str:
        extra = "" if self.options == CellOptions() else f" {self.options.nonlinearity}/{self.options.gru_variant}"
        return f"{self.cell}{extra} H={self.hidden} L={self.layers} T={self.seq_len} N={self.batch}"


@dataclass
class CaseResult:
    case: CellCase
    fwd: dict[str, Timing]
    fwdbwd: dict[str, Timing]
    max_grad_err: dict[str, float]  # variant -> max |grad - torch.nn grad| / max |torch.nn grad|
    auto_impl: str
    peak: float = 0.0  # matmul peak GFLOP/s measured just before this case (the load changes during a run)


def _models(case: CellCase, impls: Sequence[str]) -> tuple[dict[str, nn.Module], list[str]]:
    """One rnnkit ``Recurrent`` per impl sharing one set of weights, plus torch.nn with a copy of them."""
    from rnnkit.nn import fused
    from rnnkit.nn.sequence import Recurrent

    torch.manual_seed(0)
    base = Recurrent(case.cell, case.hidden, case.hidden, num_layers=case.layers, options=case.options, impl="loop")
    x = torch.zeros(1, 1, case.hidden)
    models: dict[str, nn.Module] = {}
    skipped = []
    for impl in impls:
        if impl == "fused" and not fused.supports(case.cell, case.options, x=x):
            skipped.append(impl)
            continue
        if impl == "bptt":
            from rnnkit.nn import bptt

            if not bptt.supports(case.cell, case.options, x=x):
                skipped.append(impl)
                continue
        m = Recurrent(case.cell, case.hidden, case.hidden, num_layers=case.layers, options=case.options, impl=impl)
        m.load_state_dict(base.state_dict())
        models[impl] = m
    if fused.supports(case.cell, case.options):
        models[TORCH] = base.to_torch()
    return models, skipped


def _params(m: nn.Module) -> list[Tensor]:
    return list(m.parameters())


def run_case(
    case: CellCase, *, impls: Sequence[str] = IMPLS, repeats: int = 7, forward: bool = True, clock: str = "wall"
) -> CaseResult:
    """Correctness first (every variant's gradients against torch.nn's), then interleaved timings."""
    models, _ = _models(case, impls)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(case.batch, case.seq_len, case.hidden, generator=g).requires_grad_(True)  # dx computed too
    gout = torch.randn(case.batch, case.seq_len, case.hidden, generator=g)

    def fwdbwd(m: nn.Module) -> list[Tensor]:
        for p in m.parameters():
            p.grad = None
        x.grad = None
        out, _ = m(x)
        out.backward(gout)
        return [x.grad, *(p.grad for p in m.parameters())]

    ref_name = TORCH if TORCH in models else "loop"
    ref = fwdbwd(models[ref_name])
    errs = {}
    for name, m in models.items():
        got = fwdbwd(m)
        # relative to the largest gradient entry: float32 sums over T*N rows in a different order per kernel
        errs[name] = max(
            float((a - b).abs().max() / b.abs().max().clamp_min(1e-30)) for a, b in zip(got, ref, strict=True)
        )
    fb = interleaved({n: (lambda m=m: fwdbwd(m)) for n, m in models.items()}, repeats=repeats, clock=clock)
    fw: dict[str, Timing] = {}
    if forward:

        def fwd_only(m: nn.Module) -> None:
            with torch.no_grad():
                m(x)

        fw = interleaved({n: (lambda m=m: fwd_only(m)) for n, m in models.items()}, repeats=repeats, clock=clock)
    auto = models["auto"].resolve_impl(x) if "auto" in models else "-"
    return CaseResult(case, fw, fb, errs, auto, matmul_peak(repeats=5)["peak"])


GRAD_TOL = 1e-4  # float32: max |difference| relative to the largest gradient entry (accumulation order differs)


def format_results(results: Sequence[CaseResult], peak: float | None = None) -> str:
    """A markdown table: per case and variant, forward and forward+backward medians, ratios to torch.nn,
    GEMM GFLOP/s and share of the measured peak, and the gradient check."""
    lines = [
        "| case | variant | fwd ms | fwd / torch.nn | fwd+bwd ms | fwd+bwd / torch.nn | paired ratio | "
        "GFLOP/s (fwd+bwd) | % peak | grad err |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        fb_ref = r.fwdbwd.get(TORCH)
        fw_ref = r.fwd.get(TORCH)
        for name, t in r.fwdbwd.items():
            label = f"{name} (= {r.auto_impl})" if name == "auto" else name
            fw = r.fwd.get(name)
            fw_ms = f"{fw.median * 1e3:.1f}" if fw else "-"
            fw_ratio = f"{fw.median / fw_ref.median:.2f}x" if fw and fw_ref else "-"
            fb_ratio = f"{t.median / fb_ref.median:.2f}x" if fb_ref else "-"
            # median over repeats of (this variant / torch.nn in the same round): robust to slow load drifts
            paired = (
                f"{statistics.median(a / b for a, b in zip(t.samples, fb_ref.samples, strict=True)):.2f}x"
                if fb_ref
                else "-"
            )
            gf = r.case.gemm_flops(backward=True) / t.median / 1e9
            ok = "ok" if r.max_grad_err[name] <= GRAD_TOL else "FAIL"
            pk = r.peak or peak or float("nan")
            lines.append(
                f"| {r.case.label} | {label} | {fw_ms} | {fw_ratio} | {t.median * 1e3:.1f} | {fb_ratio} | {paired} | "
                f"{gf:.0f} | {100 * gf / pk:.0f}% of {pk:.0f} | {r.max_grad_err[name]:.1e} {ok} |"
            )
    return "\n".join(lines)


def bench_cells(
    *,
    cells: Sequence[str] = ("rnn", "gru", "lstm"),
    hidden: Sequence[int] = (128, 256, 512),
    layers: Sequence[int] = (1, 2),
    seq_lens: Sequence[int] = (128,),
    batch: int = 32,
    impls: Sequence[str] = IMPLS,
    repeats: int = 7,
    forward: bool = True,
    threads: int | None = 2,
    clock: str = "wall",
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, str], dict[str, float], list[CaseResult]]:
    """Run every case; returns (machine info, matmul peak per route, results). Prints progress if asked."""
    if threads:
        torch.set_num_threads(threads)
    info = machine_info()
    peak = matmul_peak()
    results = []
    for T in seq_lens:
        for cell in cells:
            for H in hidden:
                for L in layers:
                    case = CellCase(cell, H, L, T, batch)
                    if progress:
                        progress(f"{case.label} ...")
                    results.append(run_case(case, impls=impls, repeats=repeats, forward=forward, clock=clock))
                    if progress:  # partial results survive an interrupted run
                        progress(format_results(results[-1:], peak["peak"]))
    return info, peak, results


def report(info: dict[str, str], peak: dict[str, float], results: Sequence[CaseResult], command: str) -> str:
    """The markdown section for benchmarks/RESULTS.md: command, machine, peak, table."""
    routes = ", ".join(f"{k} {v:.0f}" for k, v in peak.items() if k != "peak")
    head = [
        f"Command: `{command}`",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads), "
        f"{info['onednn']}, {info['mkl']}; gemm route {info['gemm_route']}; {info['date_utc']} UTC.",
        "",
        f"Matmul peak measured in the same run (4096x512 @ 512x2048 float32, GFLOP/s): {routes}; "
        f"peak = {peak['peak']:.0f}; '% peak' uses the peak re-measured right after each case.",
        "",
    ]
    return "\n".join(head) + format_results(results, peak["peak"]) + "\n"


# ---- CLI: `rnnkit bench cells` --------------------------------------------------------------------------------

import typer  # noqa: E402 - only the CLI section needs it

bench_app = typer.Typer(help="Engine speed on this machine, every engine side by side.", no_args_is_help=True)


@bench_app.command("cells")
def cells_command(
    cells: list[str] = typer.Option(["rnn", "gru", "lstm"], "--cell", help="cells to time (repeatable)"),
    hidden: list[int] = typer.Option([128, 256, 512], "--hidden", help="hidden sizes (repeatable)"),
    layers: list[int] = typer.Option([1, 2], "--layers", help="layer counts (repeatable)"),
    seq_lens: list[int] = typer.Option([128], "--seq-len", help="sequence lengths (repeatable)"),
    repeats: int = typer.Option(7, help="interleaved repeats per variant (median reported)"),
    threads: int = typer.Option(2, help="torch intra-op threads"),
    quick: bool = typer.Option(False, "--quick", help="H=512, L=1, no loop, forward+backward only, 5 repeats"),
) -> None:
    """Forward and forward+backward of every impl and torch.nn per cell; correctness checked first."""
    impls: Sequence[str] = IMPLS
    forward = True
    if quick:
        hidden, layers, repeats, forward, impls = [512], [1], 5, False, ("fused", "bptt", "auto")
    info, peak, results = bench_cells(
        cells=cells, hidden=hidden, layers=layers, seq_lens=seq_lens, impls=impls, repeats=repeats,
        forward=forward, threads=threads, progress=lambda s: typer.echo(s, err=True),
    )  # fmt: skip
    typer.echo(report(info, peak, results, "rnnkit bench cells" + (" --quick" if quick else "")))
