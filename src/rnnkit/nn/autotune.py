"""``impl="auto"`` chosen by measurement on the host it runs on, like ``torch.backends.cudnn.benchmark``.

The static table (``sequence._auto_impl``) was written from measurements on one CPU; on another (an Intel
Xeon with AMX, PERF-NOTES.md) a different impl wins. So the first time a ``Recurrent`` meets a *key* — device,
CPU model and the flags that matter, torch version and threads, cell, options, dtype (or the autocast dtype),
shape bucket, training vs inference — every applicable impl runs a few forward(+backward) steps on a private
copy of the parameters and a random input of the same shape, and the fastest is kept: in memory and in a JSON
file in ``$RNNKIT_CACHE`` (default ``~/.cache/rnnkit``), written atomically (temp file, fsync, ``os.replace``).
A file that does not parse or has another ``version`` is ignored and rewritten. A choice measured on a busy
machine (load average above the core count) is kept in memory only: other processes' work is in its times; and
there another impl must beat the preferred one by ``BUSY_MARGIN`` rather than ``MARGIN`` to be picked.

Off (the static table) when ``RNNKIT_AUTOTUNE=0``, when ``torch.use_deterministic_algorithms`` is on, off the
CPU, while tracing / scripting / exporting / compiling, and where only one impl applies.

Reproducibility. All impls compute the same function (parity-tested, tests/cells and tests/nn), but not with
the same rounding: float32 results of two impls differ by ~1e-6 relative. Tuning itself draws no numbers from
the global RNG (it runs under ``torch.random.fork_rng`` with its own generator), so a seeded run replays the same
data order, init and dropout masks; only the impl, and so the last bits, may differ between hosts or between a
run that tuned and one that read the cache. Runs on one host with its cache agree bit for bit; for bit-identical
runs everywhere set ``impl`` explicitly, ``RNNKIT_AUTOTUNE=0``, or ``train.deterministic=true``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from rnnkit.host import cpu_flags, cpu_model

VERSION = 2  # of the cache: layout and choice rule (2: fused wins ties); another version is stale, re-measured
FILE = "autotune.json"
REPEATS = 3  # timed runs per impl after one warm-up; the fastest counts
# ...and more rounds, up to MAX_REPEATS, until every candidate has MIN_SECONDS of samples: three rounds of a 40 ms
# case left ~5% noise, enough to pick bptt for a 2-layer RNN at H=128 that 15 rounds show 1.17x slower than fused
MIN_SECONDS, MAX_REPEATS = 0.3, 12
SLOW, SLOW_REPEATS = 1.0, 2  # an impl whose warm-up took more seconds than SLOW is timed twice only
MARGIN = 0.05  # the preferred impl (fused, else the static table's) is kept unless another beats it by more than this
BUSY_MARGIN = 0.25  # the same while the load average exceeds the core count: noise then reaches 10-20% (RESULTS.md)
LOOP_MAX_T = 8  # the plain loop is a candidate only for short inputs (at T=1 it beats oneDNN's setup)


def enabled() -> bool:
    """False when ``RNNKIT_AUTOTUNE`` is 0 / false / off / no (the static table is used then)."""
    return os.environ.get("RNNKIT_AUTOTUNE", "1").strip().lower() not in ("0", "false", "off", "no")


def cache_path() -> Path:
    """``$RNNKIT_CACHE/autotune.json``, else ``~/.cache/rnnkit/autotune.json`` (read per call: tests change it)."""
    return _cache_path(os.environ.get("RNNKIT_CACHE"), os.environ.get("HOME"))


@functools.lru_cache(maxsize=8)
def _cache_path(env: str | None, home: str | None) -> Path:
    root = env or os.path.join(os.path.expanduser("~"), ".cache", "rnnkit")
    return Path(root) / FILE


@functools.cache
def host() -> dict[str, Any]:
    """The part of every key that names the machine and the software."""
    return {
        "cpu": cpu_model(),
        "flags": list(cpu_flags()),
        "torch": torch.__version__,
        "capability": torch.backends.cpu.get_cpu_capability(),
    }


def _bucket(n: int) -> int:
    """The next power of two >= n: batch and time share a choice within a factor of 2."""
    return 1 << max(0, n - 1).bit_length()


def key_of(module: Any, x: torch.Tensor, *, training: bool, lengths: bool, dtype: torch.dtype) -> dict[str, Any]:
    """Everything the fastest impl may depend on, as a JSON-able dict."""
    N, T, D = x.shape
    return {
        **host(),
        "device": x.device.type,
        "threads": torch.get_num_threads(),
        "cell": module.cell,
        "options": repr(module.options),
        "dtype": str(dtype).removeprefix("torch."),
        "N": _bucket(N),
        "T": _bucket(T),
        "D": D,
        "H": module.hidden_size,
        "layers": module.num_layers,
        "dirs": module.dirs,
        "bias": module.bias,
        "training": training,
        "dx": bool(x.requires_grad),
        "lengths": lengths,
    }


def key_str(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


class Tuner:
    """The choices made so far (memory, then the file at ``path``) and the measurement of new ones.

    ``clock`` is the timer (tests pass a fake one). ``choose(key, candidates, run)`` returns the cached impl
    for ``key`` or times ``run(impl)`` for each candidate (one warm-up, then ``repeats`` interleaved rounds, more
    for quick cases until each has ``MIN_SECONDS`` of samples; each
    candidate's fastest round counts) and keeps the fastest. A choice measured while the machine was busy (1-minute
    load average above the core count, ``load``) is kept for this process only: the next one measures again.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
        load: Callable[[], float] | None = None,
    ) -> None:
        self.path = path
        self.clock = clock
        self.load = load or _load
        self.memory: dict[str, dict[str, Any]] = {}
        self._loaded = False
        self._warned = False

    # ---- the file ----------------------------------------------------------------------------------------

    def read(self) -> dict[str, dict[str, Any]]:
        """The entries in the file; {} when it is missing, unreadable, corrupt or of another version."""
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("entries"), dict):
            return {}
        return {k: v for k, v in data["entries"].items() if isinstance(v, dict) and isinstance(v.get("impl"), str)}

    def write(self, entry_key: str, entry: dict[str, Any]) -> None:
        """Merge one entry into the file (re-read first: another process may have added some), atomically."""
        if self.path is None:
            return
        entries = self.read()
        entries[entry_key] = entry
        text = json.dumps({"version": VERSION, "entries": entries}, indent=1, sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".autotune-", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as e:  # a read-only home: keep the choice in memory only, say so once
            if not self._warned:
                warnings.warn(
                    f"rnnkit autotune: cannot write {self.path} ({e}); set RNNKIT_CACHE to a writable "
                    "folder to keep choices between runs",
                    stacklevel=3,
                )
                self._warned = True

    # ---- choosing ----------------------------------------------------------------------------------------

    def lookup(self, key: dict[str, Any], candidates: Sequence[str]) -> str | None:
        """The cached impl for ``key`` if it is still one of ``candidates``."""
        k = key_str(key)
        if k not in self.memory and not self._loaded:
            self.memory = {**self.read(), **self.memory}
            self._loaded = True
        entry = self.memory.get(k)
        return entry["impl"] if entry and entry["impl"] in candidates else None

    def choose(
        self,
        key: dict[str, Any],
        candidates: Sequence[str],
        run: Callable[[str], object],
        *,
        repeats: int = REPEATS,
        prefer: str | None = None,
        force: bool = False,
        min_seconds: float = MIN_SECONDS,
    ) -> str:
        """The fastest of ``candidates`` for ``key``: from the cache, else measured now and cached. ``prefer`` (the
        static table's choice) is kept unless another candidate's time is more than ``MARGIN`` below its own.
        ``force`` measures again even when the key is cached."""
        if len(candidates) == 1:
            return candidates[0]
        found = None if force else self.lookup(key, candidates)
        if found is not None:
            return found
        samples: dict[str, list[float]] = {c: [] for c in candidates}
        slow = set()
        for c in candidates:  # warm-up: first-call allocations and oneDNN primitive creation
            t0 = self.clock()
            run(c)
            if self.clock() - t0 > SLOW:
                slow.add(c)
        r = 0
        while r < repeats or (
            r < MAX_REPEATS
            and min((sum(samples[c]) for c in candidates if c not in slow), default=min_seconds) < min_seconds
        ):
            # interleaved: a noisy neighbour slows every candidate alike
            for c in candidates:
                if c in slow and r >= SLOW_REPEATS:
                    continue
                t0 = self.clock()
                run(c)
                samples[c].append(self.clock() - t0)
            r += 1
        # the fastest sample of each: noise from other processes only ever adds time (as timeit advises)
        ms = {c: 1e3 * min(s) for c, s in samples.items()}
        best = min(candidates, key=lambda c: ms[c])
        load = self.load()
        busy = load > (os.cpu_count() or 1)
        if prefer in ms and ms[best] > (1.0 - (BUSY_MARGIN if busy else MARGIN)) * ms[prefer]:
            best = prefer
        entry = {
            "impl": best,
            "ms": {c: round(v, 3) for c, v in ms.items()},
            "load": round(load, 1),
            "when": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "key": key,
        }
        k = key_str(key)
        self.memory[k] = entry
        if not busy:  # other processes' work is in these times: don't keep them for the next process
            self.write(k, entry)
        return best


def _load() -> float:
    """The 1-minute load average (above the core count, times include other processes' work)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


_tuners: dict[Path, Tuner] = {}


def tuner() -> Tuner:
    """The process-wide tuner of the current cache path (``$RNNKIT_CACHE`` is read on every call)."""
    path = cache_path()
    if path not in _tuners:
        _tuners[path] = Tuner(path)
    return _tuners[path]


# ---- the Recurrent side -------------------------------------------------------------------------------------


def applies(x: torch.Tensor) -> bool:
    """Whether to tune here at all (see the module docstring for when it is off)."""
    if x.device.type != "cpu" or torch.are_deterministic_algorithms_enabled() or not enabled():
        return False
    # ONNX export traces (TorchScript exporter) or compiles (dynamo exporter): both are caught here
    return not (torch.jit.is_scripting() or torch.compiler.is_compiling() or torch.jit.is_tracing())


def candidates(module: Any, x: torch.Tensor) -> list[str]:
    """The impls that run ``module``'s cell on ``x``; the loop only for short inputs or when nothing else does."""
    out: list[str] = []
    for impl in ("fused", "bptt", "scan", "loop"):
        if impl == "loop" and out and x.shape[1] > LOOP_MAX_T:
            continue
        try:
            module.check_impl(impl, x)
        except ValueError:
            continue
        out.append(impl)
    return out


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """x's dtype, or the autocast dtype when autocast is on for x's device (its products run in that one)."""
    dev = x.device.type
    if torch.is_autocast_enabled(dev) and x.dtype in (torch.float32, torch.bfloat16, torch.float16):
        return torch.get_autocast_dtype(dev)
    return x.dtype


def training_key(module: Any, x: torch.Tensor, lengths: torch.Tensor | None) -> dict[str, Any]:
    """The key ``choose`` files this forward under."""
    training = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters()))
    return key_of(module, x, training=training, lengths=lengths is not None, dtype=compute_dtype(x))


def choose(
    module: Any,
    x: torch.Tensor,
    state: tuple[torch.Tensor, ...],
    params: list[dict[str, torch.Tensor]],
    lengths: torch.Tensor | None,
    *,
    force: bool = False,
) -> str:
    """The fastest impl for ``module.forward(x, state, lengths)`` with the per-(layer, direction) ``params`` it
    built, on this host: read from the cache, or measured now the first time the key is met."""
    tn = tuner()
    training = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in module.parameters()))
    fast = (
        id(tn),
        tuple(x.shape),
        x.dtype,
        x.device,
        x.requires_grad,
        training,
        lengths is None,
        compute_dtype(x),
        torch.get_num_threads(),
    )
    memo = module.__dict__.setdefault("_autotune_memo", {})  # per module: a forward costs a dict lookup
    if not force and fast in memo:
        return memo[fast]
    cands = candidates(module, x)
    key = key_of(module, x, training=training, lengths=lengths is not None, dtype=compute_dtype(x))
    if len(cands) > 1 and (force or tn.lookup(key, cands) is None):
        run = _runner(module, x, state, params, lengths, training=training)
        impl = tn.choose(key, cands, run, prefer=_preferred(module, x, cands), force=force)
    else:
        impl = tn.choose(key, cands, lambda impl: None)  # one candidate, or cached: nothing runs
    memo[fast] = impl
    return impl


def _runner(
    module: Any,
    x: torch.Tensor,
    state: tuple[torch.Tensor, ...],
    params: list[dict[str, torch.Tensor]],
    lengths: torch.Tensor | None,
    *,
    training: bool,
) -> Callable[[str], None]:
    """``run(impl)``: one forward (+ backward when training) of ``module``'s math with ``impl`` on private copies of
    its parameters and a random input shaped like ``x``; the global RNG and the real parameters are not touched."""
    g = torch.Generator(device=x.device).manual_seed(0)
    xs = torch.randn(x.shape, generator=g, dtype=x.dtype, device=x.device).requires_grad_(x.requires_grad and training)
    st = tuple(s.detach() for s in state)
    params = [{k: v.detach().clone().requires_grad_(training) for k, v in p.items()} for p in params]

    def run(impl: str) -> None:
        with _quiet_rng(x.device), torch.set_grad_enabled(training):
            out, final = module.run_impl(impl, xs, st, params, lengths)  # dropout's draws are undone below
            if training:
                torch.autograd.backward([out, *final], [torch.ones_like(out), *(torch.ones_like(f) for f in final)])

    return run


def _preferred(module: Any, x: torch.Tensor, cands: Sequence[str]) -> str | None:
    """The impl that wins ties: torch's own fused kernel where it applies, else the static table's choice.

    A hand-written path must beat ``fused`` (the very kernel ``torch.nn`` runs) by more than ``MARGIN`` to be
    picked, so ``auto`` is never slower than ``torch.nn`` by more than measuring noise on any host. With the
    static table as the tie-winner instead, a path up to ``MARGIN`` slower was kept (measured 1.09x on Zen 4 for
    rnn H=256 L=2, whose table entry was written on Zen 5)."""
    return "fused" if "fused" in cands else _static(module, x)


def _static(module: Any, x: torch.Tensor) -> str | None:
    try:
        return module.resolve_impl(x)  # impl is 'auto' here: the static table's choice
    except ValueError:
        return None


@contextlib.contextmanager
def _quiet_rng(device: torch.device) -> Iterator[None]:
    """Dropout between layers draws random numbers: restore the global RNG afterwards (seeded runs unchanged)."""
    with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device], device_type=device.type):
        yield
