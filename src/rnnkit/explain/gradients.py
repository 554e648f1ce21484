"""``rnnkit explain gradients``: how ||dL/dh_t|| changes with the distance from the loss — vanishing and
exploding gradients (Bengio et al. 1994; Pascanu et al. 2013 §2), measured on a cell or a trained model.

The loss sits at the last step T-1 only, so the gradient reaching step t has crossed ``k = T-1-t`` steps:

    dL/dh_{t-1} = dL/dh_t · ∂h_t/∂h_{t-1},   for a tanh RNN  ∂h_t/∂h_{t-1} = diag(1 - h_t²) W_hh

and ``||dL/dh_{T-1-k}||`` shrinks (or grows) roughly like ``ρ^k`` with ρ bounded by the largest singular
value of W_hh times max |f'| (Pascanu et al. 2013 §2.1). The LSTM's cell path multiplies by the forget gate
only (``dc_{t-1} = dc_t ⊙ f``), which is why a forget bias of +1 keeps gradients alive longer.

Two sources, one profile format (``GradientProfile``):

* ``fresh_profile``: a freshly initialised cell of the NumPy reference engine (float64) on seeded Gaussian
  inputs; the backward walk is ``step_backward`` step by step (``rnnkit.explain.trace.backward_steps``),
  whose per-step ``dnew_state`` *is* dL/dh_t. Loss: ``reference.losses.mse(h_{T-1}, y)``.
* ``trained_profile``: a run folder of ``rnnkit train lm`` (loaded by ``LanguageModel.load``), on real
  windows of its validation text; the per-step states come from unrolling each layer's ``nn`` cell
  (``CellBase.forward``) with ``retain_grad``, the loss is the cross-entropy of the last prediction.

Both report the mean over sequences and batches, the spectral radius of every W_hh gate block, and the
global gradient norm of all parameters before and after clipping by global norm (the clipping fit applies).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.explain.trace import backward_steps, run_steps
from rnnkit.layout import W_HH, CellOptions, init_params, layout
from rnnkit.reference import losses
from rnnkit.reference.optim import clip_grad_norm, global_norm
from rnnkit.registry import facts


@dataclass
class GradientProfile:
    """Mean gradient norms against the distance k from the loss (index k), plus W_hh and clipping facts."""

    label: str
    cell: str
    distance: list[int]
    dh_norm: list[float]  # mean ||dL/dh_{T-1-k}|| (top layer for a trained model)
    dx_norm: list[float]  # mean ||dL/dx_{T-1-k}|| (input of the first layer: the embedding for an LM)
    dc_norm: list[float] | None = None  # LSTM cell state, mean ||dL/dc_{T-1-k}||
    spectral_radius: dict[str, float] = field(default_factory=dict)  # "layer.gate" -> max |eig(W_hh block)|
    decay_rate: float = float("nan")  # geometric mean of ||g_{k+1}|| / ||g_k|| over the profile
    grad_norm: float = float("nan")  # mean global norm of the parameter gradient, before clipping
    clipped_norm: float = float("nan")  # ... after clipping to ``clip``
    clip: float = 0.0
    clipped_fraction: float = 0.0  # fraction of batches whose norm exceeded ``clip``
    batches: int = 0
    sequences: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decay_rate(norms: list[float] | np.ndarray) -> float:
    """Per-step factor r with ``||g_k|| ≈ ||g_0|| r^k``: ``(||g_K|| / ||g_0||)^(1/K)`` (geometric mean ratio)."""
    a = np.asarray(norms, dtype=float)
    if a.size < 2 or a[0] <= 0 or a[-1] <= 0:
        return float("nan")
    return float(math.exp((math.log(a[-1]) - math.log(a[0])) / (a.size - 1)))


def spectral_radii(cell: str, W_hh: np.ndarray, *, prefix: str = "") -> dict[str, float]:
    """max |eigenvalue| of each (H, H) gate block of W_hh (G*H, H); empty for cells without a full W_hh."""
    lay = layout(cell)
    if not lay.has_hh or lay.hh_diagonal or W_hh.ndim != 2:
        return {}
    H = W_hh.shape[1]
    return {f"{prefix}{g}": float(np.max(np.abs(np.linalg.eigvals(W_hh[lay.gate_slice(g, H)])))) for g in lay.gates}


def _norms(a: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a.reshape(a.shape[0], -1), axis=1)  # (N,) one norm per sequence


# ---- fresh cells: the reference engine ---------------------------------------------------------------------


def fresh_inputs(*, batches: int, batch: int, steps: int, input_size: int, hidden_size: int, seed: int):
    """Seeded Gaussian inputs (N, T, D) and last-step targets (N, H), identical for every cell compared."""
    rng = np.random.default_rng([seed, 7])
    return [
        (rng.standard_normal((batch, steps, input_size)), rng.standard_normal((batch, hidden_size)))
        for _ in range(batches)
    ]


def text_inputs(text: str, *, batches: int, batch: int, steps: int, hidden_size: int, seed: int):
    """Real batches for fresh cells: one-hot characters (N, T, V) of random windows of ``text`` (V = its
    distinct characters), with seeded Gaussian last-step targets (N, H). Returns (data, V)."""
    from rnnkit.data.text import Vocab

    if len(text) < steps + 1:
        raise ValueError(f"the text has {len(text)} characters; --steps {steps} needs at least {steps + 1}")
    vocab = Vocab.build(text, level="char")
    ids = vocab.encode(list(text))  # (L,)
    V = len(vocab)
    rng = np.random.default_rng([seed, 11])
    data = []
    for _ in range(batches):
        starts = rng.integers(0, len(ids) - steps, size=batch)
        win = np.stack([ids[s : s + steps] for s in starts])  # (N, T)
        data.append((np.eye(V)[win], rng.standard_normal((batch, hidden_size))))  # (N, T, V) one-hot, (N, H)
    return data, V


def reference_profile(
    cell: str,
    params: dict[str, np.ndarray],
    data: list[tuple[np.ndarray, np.ndarray]],
    *,
    options: CellOptions = CellOptions(),
    clip: float = 1.0,
    label: str | None = None,
) -> GradientProfile:
    """Gradient profile of one reference cell with ``params`` over ``data`` = [(x (N, T, D), y (N, H)), ...].

    Loss per batch: ``mse(h_{T-1}, y)``. dL/dh_t is the ``dnew_state`` step_backward receives at step t.
    """
    names = layout(cell).state
    dh_sum = dx_sum = dc_sum = None
    gnorms, count = [], 0
    for x, y in data:
        states, caches = run_steps(cell, params, x, options=options)
        N, T, _ = x.shape
        _, lc = losses.mse(states[-1][0], y)
        dout = np.zeros((N, T, y.shape[1]), x.dtype)
        dout[:, -1] = losses.mse_backward(lc)  # the loss reads the last output only
        steps = backward_steps(cell, caches, dout)  # newest first: steps[k] is t = T-1-k
        dh = np.stack([_norms(s["dnew_state"]["h"]) for s in steps])  # (T, N)
        dx = np.stack([_norms(s["dx"]) for s in steps])  # (T, N)
        dh_sum = dh.sum(1) if dh_sum is None else dh_sum + dh.sum(1)
        dx_sum = dx.sum(1) if dx_sum is None else dx_sum + dx.sum(1)
        if "c" in names:
            dc = np.stack([_norms(s["dnew_state"]["c"]) for s in steps]).sum(1)
            dc_sum = dc if dc_sum is None else dc_sum + dc
        grads = {k: v.copy() for k, v in steps[-1]["dparams_sum"].items()}
        gnorms.append(global_norm(grads))
        count += N
    return _finish(
        label or cell,
        cell,
        dh_sum / count,
        dx_sum / count,
        None if dc_sum is None else dc_sum / count,
        spectral_radii(cell, params[W_HH]) if W_HH in params else {},
        gnorms,
        clip,
        len(data),
        count,
    )


def _finish(label, cell, dh, dx, dc, radii, gnorms, clip, batches, count) -> GradientProfile:
    gn = np.asarray(gnorms, dtype=float)
    if clip > 0:  # the post-clip norm is what clip_grad_norm leaves: min(||g||, clip) up to its 1e-6
        after = []
        for g in gn:
            one = {"g": np.array([g])}
            clip_grad_norm(one, clip)
            after.append(float(one["g"][0]))
        after = np.asarray(after)
    else:
        after = gn
    return GradientProfile(
        label=label,
        cell=cell,
        distance=list(range(len(dh))),
        dh_norm=[float(v) for v in dh],
        dx_norm=[float(v) for v in dx],
        dc_norm=None if dc is None else [float(v) for v in dc],
        spectral_radius=radii,
        decay_rate=decay_rate(dh),
        grad_norm=float(gn.mean()),
        clipped_norm=float(after.mean()),
        clip=clip,
        clipped_fraction=float((gn > clip).mean()) if clip > 0 else 0.0,
        batches=batches,
        sequences=count,
    )


def fresh_profiles(
    cells: list[str],
    *,
    hidden_size: int = 32,
    input_size: int = 8,
    steps: int = 40,
    batch: int = 16,
    batches: int = 2,
    seed: int = 0,
    forget_bias: float = 1.0,
    recurrent_scale: float = 1.0,
    clip: float = 1.0,
    text: str | None = None,
) -> list[GradientProfile]:
    """Profiles of freshly initialised reference cells, side by side on the very same inputs.

    Inputs: seeded Gaussian (N, T, ``input_size``), or with ``text`` one-hot characters of random windows of
    it (``input_size`` is then its alphabet size). ``recurrent_scale`` multiplies every W_hh after init (>1
    shows exploding gradients and clipping at work); ``forget_bias`` is the LSTM forget-gate bias added at
    init (Jozefowicz et al. 2015).
    """
    if text is not None:
        data, input_size = text_inputs(
            text, batches=batches, batch=batch, steps=steps, hidden_size=hidden_size, seed=seed
        )
    else:
        data = fresh_inputs(
            batches=batches, batch=batch, steps=steps, input_size=input_size, hidden_size=hidden_size, seed=seed
        )
    out = []
    for cell in cells:
        options = CellOptions(forget_bias=forget_bias) if facts(cell).forget_gate else CellOptions()
        params = init_params(cell, input_size, hidden_size, options=options, rng=np.random.default_rng(seed))
        if W_HH in params:
            params[W_HH] = params[W_HH] * recurrent_scale
        label = cell + (f" (forget bias {forget_bias:g})" if options.forget_bias else "")
        out.append(reference_profile(cell, params, data, options=options, clip=clip, label=label))
    return out


# ---- trained language models: the nn engine with autograd ---------------------------------------------------


def trained_profile(
    run_dir: str | Path,
    *,
    steps: int = 50,
    batch: int = 8,
    batches: int = 2,
    warmup: int = 50,
    seed: int = 0,
    clip: float | None = None,
    split: str = "valid",
    which: str = "best",
    windows: list[np.ndarray] | None = None,
) -> GradientProfile:
    """Profile of a trained LM run on ``batches`` x ``batch`` random windows of its ``split`` text.

    ``windows`` replaces the random draw: a list of token-id batches (N, warmup + steps + 1).

    Each window: ``warmup`` tokens run without gradient to reach a realistic state, then ``steps`` tokens
    unrolled cell by cell with every state kept (``retain_grad``), loss = cross-entropy of the last
    prediction. ``clip`` defaults to the run's ``train.clip_norm``.
    """
    import torch
    from torch.nn import functional as F

    from rnnkit.tasks.lm.task import LanguageModel

    lm = LanguageModel.load(run_dir, which=which)
    model, cfg = lm.model, lm.config
    clip = cfg.train.clip_norm if clip is None else clip
    ids_all = getattr(lm.data(), split, None)
    if ids_all is None:
        raise ValueError(f"run {run_dir}: split {split!r} is not available; use split 'train' or 'valid'")
    need = warmup + steps + 1
    if windows is None:
        if len(ids_all) < need + 1:
            raise ValueError(f"run {run_dir}: the {split} split has {len(ids_all)} tokens, fewer than {need} needed")
        rng = np.random.default_rng(seed)
        starts = [rng.integers(0, len(ids_all) - need, size=batch) for _ in range(batches)]
        windows = [np.stack([ids_all[s : s + need] for s in st]) for st in starts]  # each (N, need)
    elif any(np.ndim(w) != 2 or np.shape(w)[1] != need for w in windows):
        raise ValueError(f"windows must be token-id arrays (N, warmup + steps + 1 = {need})")
    cells = [model.rnn.layers[l]["fwd"] for l in range(len(model.rnn.layers))]
    cell_name = cfg.model.cell.name
    model.eval()
    dh_sum = dx_sum = dc_sum = None
    gnorms, count = [], 0
    for w in windows:
        win = torch.as_tensor(np.asarray(w), dtype=torch.long)  # (N, need)
        with torch.no_grad():
            _, state = model(win[:, :warmup]) if warmup else (None, None)  # each (L, N, H)
        ids, target = win[:, warmup : warmup + steps], win[:, warmup + steps]  # (N, T), (N,)
        model.zero_grad(set_to_none=True)
        xs = [e.detach().requires_grad_() for e in model.embed(ids).unbind(1)]  # T x (N, E) leaves
        layer_in, kept = xs, []
        for l, c in enumerate(cells):
            s = tuple(t[l] for t in state) if state is not None else c.init_state(ids.shape[0])
            outs, per_step = [], []
            for x_t in layer_in:
                s = c(x_t, s)  # one step of the nn cell: the state tuple (h, [c])
                for t in s:
                    t.retain_grad()
                outs.append(s[0])
                per_step.append(s)
            layer_in, kept = outs, per_step
        h_last = layer_in[-1]  # (N, H) top layer, last step
        loss = F.cross_entropy(model.scores(h_last), target)  # logits, or log-probs (adaptive softmax)
        loss.backward()
        dh = torch.stack([s[0].grad.norm(dim=1) for s in kept[::-1]]).numpy()  # (T, N), k = 0 first
        dx = torch.stack([x.grad.norm(dim=1) for x in xs[::-1]]).numpy()
        dh_sum = dh.sum(1) if dh_sum is None else dh_sum + dh.sum(1)
        dx_sum = dx.sum(1) if dx_sum is None else dx_sum + dx.sum(1)
        if len(kept[0]) > 1:
            dc = torch.stack([s[1].grad.norm(dim=1) for s in kept[::-1]]).numpy().sum(1)
            dc_sum = dc if dc_sum is None else dc_sum + dc
        gs = [p.grad for p in model.parameters() if p.grad is not None]
        gnorms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gs]))))
        count += ids.shape[0]
    radii: dict[str, float] = {}
    for l, c in enumerate(cells):
        p = c.params()
        if W_HH in p:
            radii.update(spectral_radii(cell_name, p[W_HH].detach().double().numpy(), prefix=f"{l}."))
    return _finish(
        f"{Path(run_dir).name} ({cell_name}, trained)",
        cell_name,
        dh_sum / count,
        dx_sum / count,
        None if dc_sum is None else dc_sum / count,
        radii,
        gnorms,
        clip,
        len(windows),
        count,
    )


# ---- output -------------------------------------------------------------------------------------------------


def plot_profiles(profiles: list[GradientProfile], out: str | Path, *, title: str | None = None) -> Path:
    """Log-scale plot of ||dL/dh_t|| and ||dL/dx_t|| (each divided by its value at distance 0) -> small PNG."""
    from rnnkit.explain.plotting import save_figure, subplots

    fig, axes = subplots(1, 2, figsize=(8, 3.2))
    for p in profiles:
        for ax, key in zip(axes, ("dh_norm", "dx_norm"), strict=True):
            a = np.asarray(getattr(p, key))
            ax.semilogy(p.distance, a / a[0] if a[0] > 0 else a, label=f"{p.label}  r={p.decay_rate:.3f}/step")
    axes[0].set_title("||dL/dh_t|| / ||dL/dh_T||")
    axes[1].set_title("||dL/dx_t|| / ||dL/dx_T||")
    for ax in axes:
        ax.set_xlabel("distance from the loss (steps)")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, out)


def profiles_table(profiles: list[GradientProfile], *, at: tuple[int, ...] = (0, 1, 5, 10, 20, 40)) -> Any:
    """A rich Table: relative ||dL/dh|| at a few distances, decay rate, spectral radii, clipping effect."""
    from rich.table import Table

    T = min(len(p.distance) for p in profiles)
    ks = [k for k in at if k < T] + ([T - 1] if T - 1 not in at else [])
    t = Table(title="gradient against distance from the loss (mean over sequences)")
    t.add_column("model")
    for k in ks:
        t.add_column(f"k={k}", justify="right")
    t.add_column("rate/step", justify="right")
    t.add_column("ρ(W_hh) per gate", justify="left")
    t.add_column("||∇θ|| → clipped (% of batches)", justify="right")
    for p in profiles:
        dh = np.asarray(p.dh_norm)
        radii = " ".join(f"{k}:{v:.2f}" for k, v in p.spectral_radius.items())
        clip = f"{p.grad_norm:.3g} → {p.clipped_norm:.3g} ({p.clipped_fraction:.0%} at {p.clip:g})"
        t.add_row(p.label, *[f"{dh[k] / dh[0]:.2e}" for k in ks], f"{p.decay_rate:.4f}", radii, clip)
    return t
