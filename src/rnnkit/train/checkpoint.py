"""Checkpoints without pickle: safetensors for tensors, JSON for everything else, written atomically.

A checkpoint is a folder::

    model.safetensors      the model's state_dict (tied weights are stored once per name)
    optimizer.safetensors  every tensor of optimizer.state_dict()["state"], keyed "<param index>.<name>"
    state.safetensors      other tensors the loop needs back (the carried TBPTT state), optional
    state.json             step, epoch, position, RNG states, schedule, callbacks, the optimiser's
                           non-tensor state and param_groups, and the sha256 of every file above

The folder is written under a temporary name (every file fsynced) and swapped into place with one atomic
rename (Linux ``renameat2(RENAME_EXCHANGE)``; two renames elsewhere, with ``prev`` covering the gap), so a crash
while saving leaves the previous checkpoint untouched; ``state.json`` is written last and lists checksums, so a
truncated or edited file is detected at load time with a message naming it. Loading uses ``safetensors`` and
``json`` only: it never executes code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from rnnkit.durable import exchange, fsync_dir, fsync_file, temp_name
from rnnkit.errors import CheckpointError  # noqa: F401 - re-exported where it used to be defined
from rnnkit.train.distributed import unwrap

FORMAT = "rnnkit.checkpoint/1"
MODEL, OPTIM, EXTRA, STATE = "model.safetensors", "optimizer.safetensors", "state.safetensors", "state.json"


# --------------------------------------------------------------------------------------------- JSON helpers


def _to_json(x: Any) -> Any:
    """JSON-able form that keeps tuples distinguishable from lists (optimiser betas are tuples)."""
    if isinstance(x, tuple):
        return {"__tuple__": [_to_json(v) for v in x]}
    if isinstance(x, list):
        return [_to_json(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _to_json(v) for k, v in x.items()}
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, Tensor):
        raise TypeError("tensors belong in safetensors, not JSON")
    return x


def _from_json(x: Any) -> Any:
    if isinstance(x, dict):
        if set(x) == {"__tuple__"}:
            return tuple(_from_json(v) for v in x["__tuple__"])
        return {k: _from_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_from_json(v) for v in x]
    return x


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _own(t: Tensor) -> Tensor:
    # clone: safetensors refuses tensors that share storage (tied embedding/decoder weights)
    return t.detach().to("cpu", copy=True).contiguous()


# --------------------------------------------------------------------------------------------- optimiser


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors ``{"<idx>.<name>": t}`` and a JSON-able rest."""
    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    state_json: dict[str, dict[str, Any]] = {}
    for idx, slots in sd["state"].items():
        state_json[str(idx)] = {}
        for name, v in slots.items():
            if isinstance(v, Tensor):
                tensors[f"{idx}.{name}"] = _own(v)
            else:
                state_json[str(idx)][name] = _to_json(v)
    meta = {"class": type(optimizer).__name__, "state": state_json, "param_groups": _to_json(sd["param_groups"])}
    return tensors, meta


def optimizer_from_flat(optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Load what ``optimizer_to_flat`` produced into ``optimizer`` (same class, same parameter layout)."""
    if meta["class"] != type(optimizer).__name__:
        raise CheckpointError(
            f"checkpoint holds {meta['class']} state but the optimiser is {type(optimizer).__name__}; "
            f"use the same train.optim.name as the saved run"
        )
    state: dict[int, dict[str, Any]] = {int(i): _from_json(slots) for i, slots in meta["state"].items()}
    for key, t in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = t
    optimizer.load_state_dict({"state": state, "param_groups": _from_json(meta["param_groups"])})


# --------------------------------------------------------------------------------------------- RNG


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states as JSON-able lists."""
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global RNG user code may draw from
    out = {
        "python": _to_json(random.getstate()),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        out["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    random.setstate(_from_json(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np_state = (name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached)
    np.random.set_state(np_state)  # noqa: NPY002 - the legacy global RNG
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


# --------------------------------------------------------------------------------------------- save / load


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    state: dict[str, Any] | None = None,
    tensors: dict[str, Tensor] | None = None,
    keep_prev: bool = False,
) -> Path:
    """Write a checkpoint folder at ``path`` atomically (temp folder + rename).

    ``keep_prev``: move the checkpoint being replaced to ``<parent>/prev`` instead of deleting it, so one
    older good checkpoint survives whatever happens to the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        files = {MODEL: {k: _own(v) for k, v in unwrap(model).state_dict().items()}}
        meta: dict[str, Any] = {"format": FORMAT, "state": _to_json(state or {})}
        if optimizer is not None:
            files[OPTIM], meta["optimizer"] = optimizer_to_flat(optimizer)
        if tensors:
            files[EXTRA] = {k: _own(v) for k, v in tensors.items()}
        meta["files"] = {}
        for name, tdict in files.items():
            save_file(tdict, str(tmp / name))
            fsync_file(tmp / name)
            meta["files"][name] = _sha256(tmp / name)
        with open(tmp / STATE, "w") as f:  # written last: its presence means the folder is complete
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(tmp)
        _swap_in(tmp, path, keep_prev=keep_prev)
        fsync_dir(path.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _swap_in(tmp: Path, path: Path, *, keep_prev: bool) -> None:
    """Put the complete folder ``tmp`` at ``path``. Where the OS allows, one atomic exchange: at every instant
    ``path`` is a whole checkpoint (old or new). The replaced one then becomes ``prev`` (keep_prev) or is deleted;
    a kill in between leaves it under a temp name that ``rnnkit.durable.clean_stale`` removes at the next start."""
    if not path.exists():
        os.replace(tmp, path)
        return
    if not exchange(tmp, path):  # pragma: no cover - no renameat2: two renames, `prev` covers the gap
        old = path.parent / "prev" if keep_prev else path.parent / f".{path.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
        os.replace(tmp, path)
        if not keep_prev:
            shutil.rmtree(old)
        return
    if not keep_prev:  # tmp now holds the replaced checkpoint
        shutil.rmtree(tmp, ignore_errors=True)
        return
    prev = path.parent / "prev"
    trash = path.parent / f".prev.old-{os.getpid()}"
    if prev.exists():
        os.replace(prev, trash)  # one rename: `prev` is never half-deleted
    os.replace(tmp, prev)
    shutil.rmtree(trash, ignore_errors=True)


def shape_diff(tensors: dict[str, Tensor], model: nn.Module) -> list[str]:
    """How a checkpoint's weights differ from ``model``'s: ``"rnn.weight_hh_l0: (64, 16) in the checkpoint, (128, 32)
    in the model"``, ``"x: missing in the checkpoint"``, ``"y: not in the model"`` (empty: they fit)."""
    own = unwrap(model).state_dict()
    out = [f"{k}: missing in the checkpoint" for k in own if k not in tensors]
    out += [f"{k}: in the checkpoint, not in the model" for k in tensors if k not in own]
    out += [
        f"{k}: {tuple(t.shape)} in the checkpoint, {tuple(own[k].shape)} in the model"
        for k, t in tensors.items()
        if k in own and tuple(t.shape) != tuple(own[k].shape)
    ]
    return out


def checkpoint_path(run_dir: str | os.PathLike, which: str = "best") -> Path:
    """``run_dir/best`` (falling back to ``last`` when no best exists) or ``run_dir/last``."""
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    run = Path(run_dir)
    if (run / STATE).is_file():  # already a checkpoint folder
        return run
    if which == "best" and (run / "best" / STATE).is_file():
        return run / "best"
    return run / "last"


def _hint(path: Path) -> str:
    prev = path.parent / "prev"
    if path.name != "prev" and (prev / STATE).is_file():
        return f" The previous good checkpoint is kept at {prev}: resume from it (resume='{prev}')."
    return " Delete the folder and train again, or point to another checkpoint."


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Verify and load a checkpoint folder (or a run folder: its ``last``) into ``model`` / ``optimizer``.

    Returns ``{"state": <the saved state dict>, "tensors": <state.safetensors contents>}``.
    Raises CheckpointError naming the bad file when anything is missing, truncated or mismatched.
    """
    path = Path(path)
    if not (path / STATE).is_file() and (path / "last").is_dir():
        path = path / "last"
    meta_path = path / STATE
    if not meta_path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: {STATE} is missing (an interrupted save?)." + _hint(path))
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {meta_path} is corrupt or truncated ({e})." + _hint(path)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not an rnnkit checkpoint (format {FORMAT!r} expected)." + _hint(path))
    loaded: dict[str, dict[str, Tensor]] = {}
    for name, digest in meta["files"].items():
        fp = path / name
        if not fp.is_file():
            raise CheckpointError(f"checkpoint file {fp} is missing." + _hint(path))
        if _sha256(fp) != digest:
            raise CheckpointError(
                f"checkpoint file {fp} is corrupt or truncated (sha256 differs from {STATE})." + _hint(path)
            )
        try:
            loaded[name] = load_file(str(fp), device=str(map_location))
        except (SafetensorError, OSError) as e:  # pragma: no cover - checksum catches it first
            raise CheckpointError(f"cannot read {fp}: {e}." + _hint(path)) from None
    if model is not None:
        target = unwrap(model)
        diff = shape_diff(loaded[MODEL], target)
        if diff:
            raise CheckpointError(
                f"checkpoint {path / MODEL} does not fit {type(target).__name__}: {'; '.join(diff[:5])}"
                f"{f' (and {len(diff) - 5} more)' if len(diff) > 5 else ''}; build the model with the run's config.json"
            )
        target.load_state_dict(loaded[MODEL], strict=False)
    if optimizer is not None:
        if OPTIM not in loaded:
            raise CheckpointError(f"checkpoint {path} has no optimiser state (a 'best' folder?); resume from 'last'")
        optimizer_from_flat(optimizer, loaded[OPTIM], meta["optimizer"])
    return {"state": _from_json(meta["state"]), "tensors": loaded.get(EXTRA, {}), "path": path}


EMA_PREFIX = "ema."  # a `last` checkpoint of a run with train.ema keeps the averaged weights under these names


def ema_weights(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The averaged weights a ``last`` checkpoint's extra tensors hold, by parameter name (empty without EMA)."""
    return {k[len(EMA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}


def load_model(path: str | os.PathLike, model: nn.Module, *, which: str = "best") -> dict[str, Any]:
    """Load weights for inference from a run folder (``best``, else ``last``) or a checkpoint folder. A ``last``
    written with ``train.ema`` holds the live weights (for resuming) and the averaged ones: inference gets those."""
    ck = load_checkpoint(checkpoint_path(path, which), model=model)
    ema = ema_weights(ck["tensors"])
    if ema:
        params = dict(unwrap(model).named_parameters())
        if set(ema) != set(params):
            raise CheckpointError(
                f"checkpoint {ck['path']}: its averaged (EMA) weights do not match {type(unwrap(model)).__name__}'s "
                f"parameters (differ: {sorted(set(ema) ^ set(params))[:5]}); build the model with the run's config.json"
            )
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(ema[n])
    return ck["state"]
