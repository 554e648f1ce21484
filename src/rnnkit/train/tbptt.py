"""Truncated BPTT helpers: detaching a carried state, and flattening it for checkpoints.

In truncated BPTT (Williams & Peng 1990) the recurrent state flows forward across chunk boundaries but
gradients stop there: the state that ends chunk k is the *value* that starts chunk k+1, cut from the graph
of chunk k. Without the cut, backward on chunk k+1 would run back through every earlier chunk (memory and
time growing with the epoch) and then fail on graphs already freed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def detach_state(state: Any) -> Any:
    """The same nested structure with every tensor detached (values kept, autograd history dropped)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    raise TypeError(
        f"detach_state: cannot carry a state of type {type(state).__name__}; return tensors or "
        f"tuples/lists/dicts of tensors from step()"
    )


def flatten_state(state: Any, prefix: str = "carry") -> tuple[dict[str, Tensor], Any]:
    """Tensors keyed ``prefix.i`` plus a JSON-able spec that ``unflatten_state`` turns back into ``state``."""
    tensors: dict[str, Tensor] = {}

    def go(s: Any) -> Any:
        if s is None:
            return None
        if isinstance(s, Tensor):
            key = f"{prefix}.{len(tensors)}"
            tensors[key] = s.detach().contiguous().cpu()
            return {"tensor": key}
        if isinstance(s, (tuple, list)):
            return {"list" if isinstance(s, list) else "tuple": [go(x) for x in s]}
        if isinstance(s, dict):
            return {"dict": {str(k): go(v) for k, v in s.items()}}
        raise TypeError(f"cannot checkpoint a carried state of type {type(s).__name__}")

    return tensors, go(state)


def unflatten_state(spec: Any, tensors: dict[str, Tensor], device: torch.device | str = "cpu") -> Any:
    """Inverse of ``flatten_state`` (NamedTuples come back as plain tuples)."""
    if spec is None:
        return None
    if "tensor" in spec:
        return tensors[spec["tensor"]].to(device)
    if "tuple" in spec:
        return tuple(unflatten_state(s, tensors, device) for s in spec["tuple"])
    if "list" in spec:
        return [unflatten_state(s, tensors, device) for s in spec["list"]]
    return {k: unflatten_state(v, tensors, device) for k, v in spec["dict"].items()}
