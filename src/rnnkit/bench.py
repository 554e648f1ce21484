"""Engine speed, measured honestly: the cell benchmark behind ``rnnkit bench cells`` and
``benchmarks/bench_cells.py`` (machine info and the interleaved timers are ``rnnkit.host``, the matmul peak
``rnnkit.nn.gemm``; what a cell is timed against is its ``CellFacts.anchor``).

Rules (STYLE.md habit 12, PERF-NOTES): correctness is checked before anything is timed; every variant
is warmed up, then all variants run one after another in each repeat (interleaved, so a noisy neighbour
slows them all alike); we report medians and ratios measured in the same process, never absolute times
across runs.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit import host
from rnnkit.host import Timing, interleaved
from rnnkit.layout import CellOptions, layout
from rnnkit.nn import gemm
from rnnkit.nn.gemm import matmul_peak
from rnnkit.registry import FactView, cell_names, facts

# ---- the cell benchmark ---------------------------------------------------------------------------------------

IMPLS = ("loop", "fused", "bptt", "scan", "auto")  # each cell runs the ones that apply to it
TORCH = "torch.nn"

# The torch.nn layer each cell is timed against, as (classic cell, options) built through ``to_torch``: each
# cell's ``CellFacts.anchor``, declared with its registration (this is a live view of them). rnn / gru / lstm
# are their own anchor: torch.nn computes exactly our cell, so it gets a copy of our weights and is the gradient
# reference. The other cells have no torch.nn twin: they are timed against the layer they would replace (other
# weights, other math: speed only) and their gradients are checked against their own ``loop`` impl.
ANCHORS: FactView[tuple[str, CellOptions]] = FactView(lambda f: f.anchor)


def machine_info() -> dict[str, str]:
    """``rnnkit.host.machine_info`` with the route our products take (``rnnkit.nn.gemm``) after the libraries."""
    out = {}
    for key, value in host.machine_info().items():
        out[key] = value
        if key == "mkl":
            out["gemm_route"] = gemm.route_name()
    return out


# Named presets of benchmarks/bench_cells.py and `rnnkit bench cells`: forward+backward of the fast impls
# (no loop) at H=512, L=1; --quick at T=128, --long at T = 128, 512, 2048 (where the scans pay off).
FAST_IMPLS = tuple(i for i in IMPLS if i != "loop")
PRESETS: dict[str, dict[str, object]] = {
    "quick": {"hidden": [512], "layers": [1], "forward": False, "impls": list(FAST_IMPLS)},
    "long": {
        "hidden": [512],
        "layers": [1],
        "seq_lens": [128, 512, 2048],
        "forward": False,
        "impls": list(FAST_IMPLS),
        "repeats": 5,
    },
}


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
        """Multiply-add FLOPs of the GEMMs (forward: x W_ih^T and, for a full W_hh, h W_hh^T per step;
        backward twice that: dx, dW_ih, dh, dW_hh). Element-wise work (IndRNN's u ⊙ h) is not counted."""
        lay = layout(self.cell)
        G, H, N, T = lay.G, self.hidden, self.batch, self.seq_len
        per_step = G * H * H  # x W_ih^T with D = H
        if lay.has_hh and not lay.hh_diagonal:
            per_step += G * H * H  # h W_hh^T
        fwd = self.layers * 2.0 * N * T * per_step
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
    # variant -> max |grad - reference grad| / max |reference grad| over dx and every parameter; the reference
    # is torch.nn (same weights) when it has the cell, else our loop; a non-twin anchor is not checked
    max_grad_err: dict[str, float]
    auto_impl: str
    peak: float = 0.0  # matmul peak GFLOP/s measured just before this case (the load changes during a run)
    anchor: str = TORCH  # the torch.nn row's name, e.g. 'torch.nn.GRU' for a cell timed against another layer
    anchor_twin: bool = True  # True: torch.nn computes this very cell with our weights
    anchor_cell: str | None = None  # the classic cell behind the torch.nn row (its FLOPs differ when not a twin)


@dataclass
class _Models:
    timed: dict[str, nn.Module]  # impl or TORCH -> module, timed in this order
    reference: nn.Module  # gradients of every timed variant are compared with this one's
    anchor: str = TORCH
    anchor_twin: bool = True
    anchor_cell: str | None = None


def _torch_name(m: nn.Module) -> str:
    relu = isinstance(m, nn.RNN) and m.nonlinearity == "relu"
    return f"{TORCH}.{type(m).__name__}" + ("(relu)" if relu else "")


def _models(case: CellCase, impls: Sequence[str]) -> _Models:
    """One rnnkit ``Recurrent`` per impl that applies to the cell, sharing one set of weights, and the
    torch.nn layer: a copy of those weights when torch.nn has the cell, else its anchor (``CellFacts.anchor``)."""
    from rnnkit.nn import fused
    from rnnkit.nn.sequence import Recurrent

    def build(cell: str, options: CellOptions, impl: str) -> Recurrent:
        return Recurrent(cell, case.hidden, case.hidden, num_layers=case.layers, options=options, impl=impl)

    torch.manual_seed(0)
    base = build(case.cell, case.options, "loop")
    x = torch.zeros(1, 2, case.hidden)  # a probe for resolve_impl: float32, T > 1
    timed: dict[str, nn.Module] = {}
    for impl in impls:
        m = build(case.cell, case.options, impl)
        try:
            m.resolve_impl(x)
        except ValueError:  # this impl does not apply to this cell (e.g. scan for lstm, fused for mingru)
            continue
        m.load_state_dict(base.state_dict())
        timed[impl] = m
    if fused.supports(case.cell, case.options):
        timed[TORCH] = twin = base.to_torch()
        return _Models(timed, twin, anchor_cell=case.cell)
    anchor_of = facts(case.cell).anchor
    if anchor_of is None:  # a cell with no anchor: timed and checked, no ratios
        return _Models(timed, base, anchor="", anchor_twin=False)
    a_cell, a_options = anchor_of
    timed[TORCH] = anchor = build(a_cell, a_options, "loop").to_torch()  # other weights: timing only
    return _Models(timed, base, anchor=_torch_name(anchor), anchor_twin=False, anchor_cell=a_cell)


def _params(m: nn.Module) -> list[Tensor]:
    return list(m.parameters())


GRAD_TOL = 1e-4  # float32: max |difference| relative to the largest gradient entry (accumulation order differs)
# A cell checked against its own loop is compared on the first 16 steps of the benchmark's input (same N, H, L,
# float32 kernels), not all T: at init the layer-norm LSTM amplifies rounding differences exponentially with T,
# so two correct paths drift apart (its outputs too, not only gradients). Measured loop vs bptt, N=8, H=64,
# random input: float64 2e-13 at T=64 but 2e-2 at T=2048; float32, N=32, H=512: 7e-6 at T=16 (1e-5 with L=2),
# 4e-5 at T=32, 4e-4 at T=64 (tests/cells/test_fast_paths.py checks it at T=12 for the same reason). The scans'
# long-T bookkeeping is checked in float64 up to T=4096 by tests/cells/test_scan.py instead.
LOOP_CHECK_STEPS = 16


def run_case(
    case: CellCase, *, impls: Sequence[str] = IMPLS, repeats: int = 7, forward: bool = True, clock: str = "wall"
) -> CaseResult:
    """Correctness first (every variant's gradients against torch.nn's, or the loop's where torch.nn does not
    have the cell, on the first ``LOOP_CHECK_STEPS`` steps), then interleaved timings."""
    built = _models(case, impls)
    models = built.timed
    g = torch.Generator().manual_seed(1)
    x = torch.randn(case.batch, case.seq_len, case.hidden, generator=g).requires_grad_(True)  # dx computed too
    gout = torch.randn(case.batch, case.seq_len, case.hidden, generator=g)

    def fwdbwd(m: nn.Module, x: Tensor = x, gout: Tensor = gout) -> list[Tensor]:
        for p in m.parameters():
            p.grad = None
        x.grad = None
        out, _ = m(x)
        out.backward(gout)
        return [x.grad, *(p.grad for p in m.parameters())]

    xc, gc = x, gout
    if not built.anchor_twin:  # checked against our loop: a short window (see LOOP_CHECK_STEPS)
        xc = x.detach()[:, :LOOP_CHECK_STEPS].clone().requires_grad_(True)
        gc = gout[:, :LOOP_CHECK_STEPS]
    ref = fwdbwd(built.reference, xc, gc)
    errs = {}
    for name, m in models.items():
        if name == TORCH and not built.anchor_twin:
            continue  # another cell with other weights: nothing to compare
        got = fwdbwd(m, xc, gc)
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
    auto = (models["auto"].last_impl or models["auto"].resolve_impl(x)) if "auto" in models else "-"  # what ran
    return CaseResult(
        case,
        fw,
        fb,
        errs,
        auto,
        matmul_peak(repeats=5)["peak"],
        anchor=built.anchor,
        anchor_twin=built.anchor_twin,
        anchor_cell=built.anchor_cell,
    )


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
            flops = r.case.gemm_flops(backward=True)
            if name == TORCH and not r.anchor_twin:
                label = f"{r.anchor} (anchor)"
                flops = dataclasses.replace(r.case, cell=r.anchor_cell).gemm_flops(backward=True)
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
            gf = flops / t.median / 1e9
            err = r.max_grad_err.get(name)
            check = "- (other cell)" if err is None else f"{err:.1e} {'ok' if err <= GRAD_TOL else 'FAIL'}"
            pk = r.peak or peak or float("nan")
            lines.append(
                f"| {r.case.label} | {label} | {fw_ms} | {fw_ratio} | {t.median * 1e3:.1f} | {fb_ratio} | {paired} | "
                f"{gf:.0f} | {100 * gf / pk:.0f}% of {pk:.0f} | {check} |"
            )
    return "\n".join(lines)


def bench_cells(
    *,
    cells: Sequence[str] | None = None,
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
    """Run every case; returns (machine info, matmul peak per route, results). Prints progress if asked.

    ``cells=None`` runs every cell registered in the nn engine."""
    if cells is None:
        cells = cell_names(engine="nn")
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
        f"Machine: {info['cpu']} ({info['cpu_flags']}), {info['cores']} cores, "
        f"torch {info['torch']} ({info['torch_threads']} threads), "
        f"{info['onednn']}, {info['mkl']}; gemm route {info['gemm_route']}; {info['date_utc']} UTC.",
        "",
        f"Matmul peak measured in the same run (4096x512 @ 512x2048 float32, GFLOP/s): {routes}; "
        f"peak = {peak['peak']:.0f}; '% peak' uses the peak re-measured right after each case.",
        "",
        "Ratios are to the torch.nn row of the same case. For rnn, gru and lstm that row is torch.nn with a "
        "copy of our weights and the gradient reference; a cell torch.nn lacks is timed against the layer it "
        "would replace (the '(anchor)' row: other math, speed only) and its gradients are checked against "
        f"its own loop impl on the first {LOOP_CHECK_STEPS} steps (the layer-norm LSTM amplifies rounding over "
        f"long T). grad err: max |dx, dW difference| / max |reference|, tolerance {GRAD_TOL:g}.",
        "",
    ]
    return "\n".join(head) + format_results(results, peak["peak"]) + "\n"
