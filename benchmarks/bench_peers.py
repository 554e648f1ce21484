"""Peers: one LSTM training step's gradients in rnnkit, torch.nn, Keras 3 (TF graph and XLA) and JAX, side by side.

The case of issue #18: a one-layer LSTM, T=128, N=32, D=H=256, float32 (rnnkit also in bf16); a step is the forward
over the whole sequence, the loss ``sum(y * g)`` over every output ``y`` (N, T, H) with a fixed random ``g`` (an
upstream gradient), and the gradients of every weight and of the input. The optimiser update is left out.

Each framework runs in its own persistent worker process (its thread pools never meet another's):

* ``torch`` (this interpreter): ``rnnkit.nn.Recurrent("lstm", impl="auto")`` in float32 and under
  ``precision="bf16"`` (autotuned on the first call, in a fresh cache), and ``torch.nn.LSTM``;
* ``tf`` (the peers virtualenv): ``keras.layers.LSTM(return_sequences=True)`` on the TensorFlow backend (the layer
  picks its own kernel), its step under ``tf.function`` as a graph and with XLA (``jit_compile=True``);
* ``jax`` (the peers virtualenv): an LSTM cell written out, ``lax.scan`` over time with the input projection of all
  steps hoisted into one product, ``jax.value_and_grad`` under ``jax.jit``.

TensorFlow, Keras and JAX are not dependencies of rnnkit: the script creates ``--peers-venv`` (``python -m venv``) and
pip-installs the pinned ``PEERS`` there the first time. Every framework gets the same weights and inputs (written by
this process); correctness first: outputs and every gradient against torch.nn's (relative to the largest entry;
1e-4 in float32, 12 x 2^-8 in bf16). Then the first call (trace / compile / autotune) and ``--warmup`` calls, reported
apart, and ``--repeats`` rounds that time one step of every variant, round by round in a rotating order, with
``--gap`` seconds between calls; medians, and the median of per-round ratios to rnnkit ("paired").
At 1 thread each worker is also pinned to one core.

    python benchmarks/bench_peers.py                                  # 2 threads, then 1; 15 rounds
    python benchmarks/bench_peers.py --threads 1 --repeats 21
    python benchmarks/bench_peers.py --frameworks rnnkit torch.nn     # no peers virtualenv needed
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PEERS = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "jax[cpu]==0.10.2")  # jax >= 0.11 needs Python >= 3.12
DEFAULT_VENV = Path("~/.cache/rnnkit-peers-venv")
# framework (--frameworks) -> (worker, its variants); the first variant of "rnnkit" is the anchor of the ratios
FRAMEWORKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rnnkit": ("torch", ("rnnkit", "rnnkit bf16")),
    "torch.nn": ("torch", ("torch.nn",)),
    "keras": ("tf", ("keras graph", "keras xla")),
    "jax": ("jax", ("jax",)),
}
ANCHOR, REFERENCE = "rnnkit", "torch.nn"  # ratios are to ANCHOR; numerics are checked against REFERENCE
TOL_FP32, TOL_BF16 = 1e-4, 12 * 2.0**-8
CHECKED = ("y", "dx", "dW_ih", "dW_hh", "db")  # outputs, input gradient, weight gradients (db: either bias)


# ---- pure parts (tested in tests/nn/test_bench_peers.py) -------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--frameworks",
        nargs="+",
        default=list(FRAMEWORKS),
        choices=list(FRAMEWORKS),
        metavar="FW",
        help=f"default: all of {list(FRAMEWORKS)}",
    )
    ap.add_argument("--threads", nargs="+", type=int, default=[2, 1], help="one pass per count, fresh workers each")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256, help="H, and the input size D")
    ap.add_argument("--repeats", type=int, default=15, help="timed rounds (one step of every variant each)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls per variant after the first")
    ap.add_argument("--gap", type=float, default=0.1, help="seconds of rest between timed calls (spinning pools)")
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: the worker's process CPU time (steady on a busy host; meaningful at 1 thread)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers-venv", type=Path, default=DEFAULT_VENV, help="virtualenv holding " + " ".join(PEERS))
    ap.add_argument("--no-install", action="store_true", help="fail instead of creating / installing the venv")
    ap.add_argument("--worker", choices=["torch", "tf", "jax"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)  # a worker's inputs (.npz)
    args = ap.parse_args(argv)
    for name in ("seq_len", "batch", "hidden", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if any(t < 1 for t in args.threads):
        ap.error(f"--threads must be >= 1, got {args.threads}")
    if args.warmup < 0 or args.gap < 0:
        ap.error("--warmup and --gap must be >= 0")
    if args.worker is None and ANCHOR not in args.frameworks:
        ap.error(f"--frameworks must include {ANCHOR!r}: every ratio is to it")
    args.frameworks = list(dict.fromkeys(args.frameworks))
    return args


def workers_for(frameworks: Sequence[str]) -> dict[str, list[str]]:
    """worker -> the variants it runs, in a stable order (torch first)."""
    out: dict[str, list[str]] = {}
    for fw in FRAMEWORKS:
        if fw in frameworks:
            worker, variants = FRAMEWORKS[fw]
            out.setdefault(worker, []).extend(variants)
    return out


def rel_err(got: Any, ref: Any) -> float:
    """max |got - ref| / max |ref| (numpy arrays of one shape; a shape mismatch is an error, not a number)."""
    import numpy as np

    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise ValueError(f"shape {got.shape} != reference shape {ref.shape}")
    if not (np.isfinite(got).all() and np.isfinite(ref).all()):
        return float("inf")
    return float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))


def tolerance(variant: str) -> float:
    return TOL_BF16 if variant.endswith("bf16") else TOL_FP32


@dataclass
class Row:
    """One variant's figures: per-round seconds (None: not run that round) and what was measured before."""

    variant: str
    samples: list[float] = field(default_factory=list)
    first: float = float("nan")  # the first call: trace / compile / autotune included
    warmup: float = float("nan")  # the median of the untimed calls after it
    err: float = float("nan")  # max relative error of outputs and gradients against REFERENCE
    note: str = ""  # e.g. "auto = fused"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def paired_ratio(row: Row, anchor: Row) -> float:
    """Median over rounds of (this variant's time / the anchor's time in the same round)."""
    return statistics.median(a / b for a, b in zip(row.samples, anchor.samples, strict=True))


def format_table(rows: Sequence[Row], *, anchor: str = ANCHOR) -> str:
    """A markdown table: ms/step (median, min-max), first call, x rnnkit (medians and paired), error, check."""
    base = next(r for r in rows if r.variant == anchor)
    lines = [
        "| variant | ms/step (median) | min-max | first call s | x rnnkit | paired | err vs torch.nn | check |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ok = "ok" if r.err <= tolerance(r.variant) else "FAIL"
        name = f"{r.variant} ({r.note})" if r.note else r.variant
        lines.append(
            f"| {name} | {r.median * 1e3:.1f} | {min(r.samples) * 1e3:.1f}-{max(r.samples) * 1e3:.1f} | "
            f"{r.first:.2f} | {r.median / base.median:.2f}x | {paired_ratio(r, base):.2f}x | {r.err:.1e} | {ok} |"
        )
    return "\n".join(lines)


def verdict(rows: Sequence[Row], *, target: float = 2.0) -> list[str]:
    """One line per peer: how many times faster rnnkit is (float32, and bf16 when run; paired ratios), and by how
    much it misses ``target`` where it does (the issue's target is for the peers: torch.nn gets no target)."""
    by = {r.variant: r for r in rows}
    out = []
    for mine in (ANCHOR, f"{ANCHOR} bf16"):
        if mine not in by:
            continue
        for r in rows:
            if r.variant.startswith(ANCHOR):
                continue
            speed = paired_ratio(r, by[ANCHOR]) / paired_ratio(by[mine], by[ANCHOR])  # peer time / rnnkit time
            said = f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"
            miss = f"meets {target:g}x" if speed >= target else f"misses {target:g}x by {target / speed:.2f}x"
            out.append(f"{mine} vs {r.variant}: {said}" + ("" if r.variant == REFERENCE else f" ({miss})"))
    return out


# ---- the peers' virtualenv --------------------------------------------------------------------------------------


def peers_python(venv: Path, *, install: bool) -> tuple[Path, dict[str, str]]:
    """The virtualenv's python with PEERS installed (created / installed here unless ``install`` is False), and the
    versions it holds."""
    venv = venv.expanduser()
    py = venv / "bin" / "python"
    want = {p.split("==")[0].split("[")[0]: p.split("==")[1] for p in PEERS}
    have = _versions(py, want) if py.exists() else {}
    if have != want:
        if not install:
            sys.exit(f"bench_peers: {venv} lacks {' '.join(PEERS)} (has {have}); run without --no-install")
        print(f"installing {' '.join(PEERS)} into {venv} (once; ~1 GB)", file=sys.stderr, flush=True)
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEERS], check=True)
        have = _versions(py, want)
        if have != want:
            sys.exit(f"bench_peers: after installing, {venv} has {have}, not {want}")
    return py, have


def _versions(py: Path, names: dict[str, str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; v = {}\nfor n in sys.argv[1:]:\n    try: v[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\nprint(json.dumps(v))"
    )
    r = subprocess.run([str(py), "-c", code, *names], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {}


# ---- the workers: one framework each, driven by JSON lines on stdin/stdout -------------------------------------


def _send(obj: dict[str, Any]) -> None:
    sys.__stdout__.write(json.dumps(obj) + "\n")
    sys.__stdout__.flush()


def worker_main(kind: str, threads: int, data_path: Path, clock: str = "wall") -> None:
    """Build this framework's variants on the given inputs, then answer commands until told to quit."""
    import numpy as np

    sys.stdout = sys.stderr  # anything a framework prints goes to the log, not into the protocol
    d = dict(np.load(data_path))
    steps, versions = {"torch": _torch_steps, "tf": _tf_steps, "jax": _jax_steps}[kind](d, threads)
    _send({"ready": list(steps), "versions": versions})
    for line in sys.stdin:
        msg = json.loads(line)
        cmd, name = msg["cmd"], msg.get("variant")
        if cmd == "quit":
            break
        step = steps[name]
        if cmd == "warmup":  # the first call (tracing, compiling, autotuning) and `n` more, untimed by the caller
            t0 = time.perf_counter()
            step.run()
            first = time.perf_counter() - t0
            times = []
            for _ in range(msg["n"]):
                t0 = time.perf_counter()
                step.run()
                times.append(time.perf_counter() - t0)
            _send({"first": first, "warmup": statistics.median(times) if times else float("nan"), "note": step.note()})
        elif cmd == "check":
            np.savez(msg["path"], **step.arrays())
            _send({"ok": True})
        elif cmd == "time":
            now = time.process_time if clock == "cpu" else time.perf_counter
            t0 = now()
            step.run()
            _send({"seconds": now() - t0})


class _Step:
    """A variant: ``run()`` one step (returning when every result is computed), ``arrays()`` one step's results as
    float32 NumPy arrays named as CHECKED, ``note()`` what it chose."""

    def run(self) -> Any:  # pragma: no cover - per framework
        raise NotImplementedError

    def arrays(self) -> dict[str, Any]:  # pragma: no cover - per framework
        raise NotImplementedError

    def note(self) -> str:
        return ""


def _torch_steps(d: dict[str, Any], threads: int) -> tuple[dict[str, _Step], dict[str, str]]:
    import torch

    from rnnkit.nn import precision
    from rnnkit.nn.sequence import Recurrent

    torch.set_num_threads(threads)
    D, H = d["W_ih"].shape[1], d["W_hh"].shape[1]
    x = torch.from_numpy(d["x"]).requires_grad_(True)  # (N, T, D)
    g = torch.from_numpy(d["g"])  # (N, T, H)
    weights = {k: torch.from_numpy(d[k]) for k in ("W_ih", "W_hh", "b_ih", "b_hh")}

    class Torch(_Step):
        def __init__(self, module: torch.nn.Module, names: tuple[str, ...], prec: str = "fp32") -> None:
            self.m, self.names, self.prec = module, names, prec  # names: W_ih, W_hh, b_ih, b_hh's parameters

        def run(self) -> Any:
            for p in self.m.parameters():
                p.grad = None
            x.grad = None
            with precision.autocast(self.prec):
                y = self.m(x)[0]  # (N, T, H)
            (y.float() * g).sum().backward()
            return y

        def arrays(self) -> dict[str, Any]:
            y = self.run()
            params = dict(self.m.named_parameters())
            grads = [params[n].grad.numpy() for n in self.names]
            return {
                "y": y.detach().float().numpy(),
                "dx": x.grad.numpy(),
                "dW_ih": grads[0],
                "dW_hh": grads[1],
                "db": grads[2],
            }

        def note(self) -> str:
            impl = getattr(self.m, "last_impl", None)
            return f"auto = {impl}" if impl else ""

    def rnnkit() -> Recurrent:
        m = Recurrent("lstm", D, H, impl="auto")
        m.load_state_dict({f"layers.0.fwd.{k}": v for k, v in weights.items()})
        return m

    names = tuple(f"layers.0.fwd.{k}" for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
    twin = torch.nn.LSTM(D, H, batch_first=True)
    with torch.no_grad():
        for k, name in zip(
            ("W_ih", "W_hh", "b_ih", "b_hh"), ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), strict=True
        ):
            getattr(twin, name).copy_(weights[k])
    steps = {"rnnkit": Torch(rnnkit(), names)}
    if precision.bf16_support() != "none":  # else no bf16 row (bf16_support says why in the versions line)
        steps["rnnkit bf16"] = Torch(rnnkit(), names, "bf16")
    steps["torch.nn"] = Torch(twin, ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"))
    return steps, {"torch": torch.__version__, "bf16 support": precision.bf16_support()}


def _tf_steps(d: dict[str, Any], threads: int) -> tuple[dict[str, _Step], dict[str, str]]:
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    N, T, D = d["x"].shape
    H = d["W_hh"].shape[1]
    layer = keras.layers.LSTM(H, return_sequences=True)  # gate order i, f, c, o: torch's i, f, g, o
    layer.build((N, T, D))
    layer.set_weights([d["W_ih"].T, d["W_hh"].T, d["b_ih"] + d["b_hh"]])  # kernel (D, 4H), recurrent (H, 4H), bias
    x, g = tf.constant(d["x"]), tf.constant(d["g"])

    def step(x: Any, g: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)  # (N, T, H)
            loss = tf.reduce_sum(y * g)
        return loss, y, tape.gradient(loss, [x, *layer.trainable_variables])

    class Keras(_Step):
        def __init__(self, xla: bool) -> None:
            self.fn = tf.function(step, jit_compile=xla)

        def run(self) -> Any:
            out = self.fn(x, g)
            out[0].numpy()  # the call returns when every output is computed; this makes it certain
            return out

        def arrays(self) -> dict[str, Any]:
            _, y, (dx, dk, drk, db) = self.run()
            return {"y": y.numpy(), "dx": dx.numpy(), "dW_ih": dk.numpy().T, "dW_hh": drk.numpy().T, "db": db.numpy()}

    return {"keras graph": Keras(False), "keras xla": Keras(True)}, {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def _jax_steps(d: dict[str, Any], threads: int) -> tuple[dict[str, _Step], dict[str, str]]:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def loss_fn(p: dict[str, Any], x: Any, g: Any) -> Any:
        """sum(y * g) of a one-layer LSTM (torch's equations, gate order i, f, g, o) and its outputs y (N, T, H)."""
        xp = jnp.einsum("ntd,gd->tng", x, p["W_ih"]) + p["b_ih"] + p["b_hh"]  # (T, N, 4H): all steps, one product

        def cell(carry: Any, xt: Any) -> Any:
            h, c = carry  # (N, H) each
            i, f, gg, o = jnp.split(xt + h @ p["W_hh"].T, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        h0 = jnp.zeros((x.shape[0], p["W_hh"].shape[1]), x.dtype)
        _, ys = lax.scan(cell, (h0, h0), xp)  # (T, N, H)
        y = jnp.transpose(ys, (1, 0, 2))
        return jnp.sum(y * g), y

    grad = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True))
    params = {k: jnp.asarray(d[k]) for k in ("W_ih", "W_hh", "b_ih", "b_hh")}
    x, g = jnp.asarray(d["x"]), jnp.asarray(d["g"])

    class Jax(_Step):
        def run(self) -> Any:
            return jax.block_until_ready(grad(params, x, g))

        def arrays(self) -> dict[str, Any]:
            import numpy as np

            (_, y), (dp, dx) = self.run()
            return {
                "y": np.asarray(y),
                "dx": np.asarray(dx),
                "dW_ih": np.asarray(dp["W_ih"]),
                "dW_hh": np.asarray(dp["W_hh"]),
                "db": np.asarray(dp["b_ih"]),
            }

    import jaxlib

    return {"jax": Jax()}, {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


class Worker:
    """A worker process (one framework) and its JSON-lines channel; its stderr goes to a log file."""

    def __init__(self, kind: str, python: Path, threads: int, data: Path, log: Path, clock: str = "wall") -> None:
        env = dict(os.environ)
        env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        if kind == "jax" and threads == 1:  # XLA's CPU thread pool: one thread (it sizes itself to the cores)
            env["XLA_FLAGS"] = (
                env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            ).strip()
        if kind == "torch":  # rnnkit from this checkout, `auto` tuned now in an empty cache
            import rnnkit

            src = str(Path(rnnkit.__file__).resolve().parents[1])
            env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
            env["RNNKIT_CACHE"] = str(data.parent / "rnnkit-cache")
            env.pop("RNNKIT_AUTOTUNE", None)
        self.kind, self.log = kind, log
        cmd = [
            str(python),
            str(Path(__file__).resolve()),
            "--worker",
            kind,
            "--threads",
            str(threads),
            "--data",
            str(data),
            "--clock",
            clock,
        ]
        pin = (lambda: os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})) if threads == 1 else None
        with log.open("w") as err:  # the child keeps its own copy of the file
            self.p = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, text=True, preexec_fn=pin
            )
        hello = self.recv()
        self.variants, self.versions = hello["ready"], hello["versions"]

    def ask(self, cmd: str, **kw: Any) -> dict[str, Any]:
        self.p.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.p.stdin.flush()
        return self.recv()

    def recv(self) -> dict[str, Any]:
        line = self.p.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace").splitlines()[-25:]
            raise RuntimeError(f"the {self.kind} worker died (exit {self.p.wait()}); its log ends:\n" + "\n".join(tail))
        return json.loads(line)

    def close(self) -> None:
        if self.p.poll() is None:
            try:
                self.p.stdin.write(json.dumps({"cmd": "quit"}) + "\n")  # no answer: it just exits
                self.p.stdin.close()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()


# ---- the run ----------------------------------------------------------------------------------------------------


def write_inputs(path: Path, *, N: int, T: int, H: int, seed: int) -> None:
    """x (N, T, D=H), g (N, T, H) ~ N(0, 1) and torch's LSTM init U(-1/sqrt(H), 1/sqrt(H)) in torch's layout."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    u = lambda *s: rng.uniform(-k, k, size=s).astype(np.float32)  # noqa: E731
    np.savez(
        path,
        x=rng.standard_normal((N, T, H), dtype=np.float32),
        g=rng.standard_normal((N, T, H), dtype=np.float32),
        W_ih=u(4 * H, H),
        W_hh=u(4 * H, H),
        b_ih=u(4 * H),
        b_hh=u(4 * H),
    )


def run_pass(args: argparse.Namespace, threads: int, tmp: Path, peers_py: Path | None) -> tuple[list[Row], dict]:
    """One thread count: start the workers, check numerics, warm up, time interleaved rounds."""
    import numpy as np

    data = tmp / "inputs.npz"
    if not data.exists():
        write_inputs(data, N=args.batch, T=args.seq_len, H=args.hidden, seed=args.seed)
    plan = workers_for(args.frameworks)
    workers: dict[str, Worker] = {}
    versions: dict[str, Any] = {}
    try:
        for kind in plan:
            py = Path(sys.executable) if kind == "torch" else peers_py
            workers[kind] = Worker(kind, py, threads, data, tmp / f"{kind}-{threads}.log", args.clock)
            versions.update(workers[kind].versions)
        owner = {v: workers[k] for k, vs in plan.items() for v in vs if v in workers[k].variants}
        rows = {v: Row(v) for v in owner}
        for v, w in owner.items():  # first call + warm-up (compile / trace / autotune happen here)
            r = w.ask("warmup", variant=v, n=args.warmup)
            rows[v].first, rows[v].warmup, rows[v].note = r["first"], r["warmup"], r["note"]
            print(
                f"  {v}: first call {r['first']:.2f} s, warm-up {r['warmup'] * 1e3:.1f} ms {r['note']}",
                file=sys.stderr,
                flush=True,
            )
        ref_v = REFERENCE if REFERENCE in owner else ANCHOR
        arrays = {}
        for v, w in owner.items():  # correctness: every variant's outputs and gradients vs the reference
            w.ask("check", variant=v, path=str(tmp / f"check-{v.replace(' ', '_')}.npz"))
            arrays[v] = dict(np.load(tmp / f"check-{v.replace(' ', '_')}.npz"))
        for v in owner:
            rows[v].err = max(rel_err(arrays[v][k], arrays[ref_v][k]) for k in CHECKED)
        names = list(owner)
        for rnd in range(args.repeats):
            k = rnd % len(names)
            for v in names[k:] + names[:k]:  # a rotating order: no variant always follows the same one
                time.sleep(args.gap)
                rows[v].samples.append(owner[v].ask("time", variant=v)["seconds"])
        return list(rows.values()), versions
    finally:
        for w in workers.values():
            w.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.threads[0], args.data, args.clock)
        return
    from common import host_line

    print(host_line(), flush=True)
    peers_py, peer_versions = None, {}
    if {"keras", "jax"} & set(args.frameworks):
        peers_py, peer_versions = peers_python(args.peers_venv, install=not args.no_install)
    cmd = "python benchmarks/bench_peers.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    print(
        f"Command: `{cmd.strip()}`; LSTM T={args.seq_len} N={args.batch} D=H={args.hidden}, fwd+bwd float32 "
        f"(rnnkit also bf16); {args.repeats} rounds, {args.warmup} warm-up calls, clock {args.clock}; peers venv "
        f"{peer_versions}\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="rnnkit-peers-") as tmp:
        for threads in args.threads:
            load0 = os.getloadavg()[0]
            print(f"{threads} thread(s): starting workers (load {load0:.1f})", file=sys.stderr, flush=True)
            rows, versions = run_pass(args, threads, Path(tmp), peers_py)
            print(
                f"### {threads} thread(s), load {load0:.1f} -> {os.getloadavg()[0]:.1f}, "
                f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {versions}\n"
            )
            print(format_table(rows))
            print("\n" + "\n".join(f"- {line}" for line in verdict(rows)) + "\n", flush=True)


if __name__ == "__main__":
    main()
