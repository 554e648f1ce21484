"""reference/ and nn/ mirror each other file for file, and the leaf modules name the same public things.

A reader who knows one engine finds the same file, and the same function names, in the other.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from rnnkit import registry

SRC = Path(__file__).resolve().parents[2] / "src" / "rnnkit"
REF, NN = SRC / "reference", SRC / "nn"

# Files in nn/ with no reference twin, and why. Each has its own parity test against the loop / reference.
NN_ONLY = {
    "fused.py": "torch.nn's fused kernels run on our weights; NumPy has no such kernels",
    "bptt.py": "hand-written autograd.Function fast path; the reference IS hand-written BPTT",
    "bptt_extra.py": "hand-written BPTT fast path for layernorm_lstm and indrnn; the reference IS hand-written BPTT",
    "gemm.py": "oneDNN linear route for the fast path's products; a torch-only concern",
    "scan.py": "parallel scans for input-gated cells; the reference runs those cells step by step",
    "autotune.py": "measures which nn impl is fastest on this host; the reference has one impl",
    "precision.py": "bf16 autocast for the torch engine; the reference computes in float64",
    "cells/base.py": "nn.Module base for the cells; reference cells are pure functions and need no base",
}

# Modules whose public names are compared. cells/*.py and sequence.py are excluded on purpose: a reference
# cell is three pure functions (init_state, step, step_backward) while an nn cell is one nn.Module, and the
# reference runner is forward/backward functions while the nn runner is the Recurrent module; those pairs
# are tied together by the registry test below and by tests/parity.
NAMED = ["functional.py", "layers.py", "losses.py", "optim.py", "gradcheck.py"]
# Reference-only names by rule: hand-written derivatives and backward passes (autograd's job in nn), the
# caches those backwards read, and type aliases of NumPy containers.
TYPE_ALIASES = {"Params", "State"}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py") if "__pycache__" not in p.parts}


def _public_names(path: Path) -> set[str]:
    """Top-level functions, classes and assigned names defined in ``path`` (not imported), not _private."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def _reference_only(name: str, names: set[str]) -> bool:
    derivative = name.startswith("d") and name[1:] in names  # dsigmoid is sigmoid's derivative
    return derivative or name.endswith(("_backward", "Cache")) or name in TYPE_ALIASES


def test_same_files():
    ref, nn = _files(REF), _files(NN)
    assert ref - nn == set(), f"reference files with no nn twin: {sorted(ref - nn)}"
    extra = nn - ref - set(NN_ONLY)
    assert extra == set(), f"nn files with no reference twin (add the twin, or a reason to NN_ONLY): {sorted(extra)}"


@pytest.mark.parametrize("module", NAMED)
def test_same_public_names(module):
    ref = _public_names(REF / module)
    wanted = {n for n in ref if not _reference_only(n, ref)}
    # nn may re-export an engine-neutral name (gradcheck's report types) instead of redefining it
    nn_module = importlib.import_module(f"rnnkit.nn.{module.removesuffix('.py')}")
    missing = {n for n in wanted if not hasattr(nn_module, n)}
    assert not missing, f"nn/{module} lacks the reference's public names {sorted(missing)}"


def test_reference_only_rule_is_not_vacuous():
    names = _public_names(REF / "functional.py")
    assert _reference_only("dsigmoid", names) and not _reference_only("sigmoid", names)


def test_every_reference_cell_has_an_nn_cell_and_back():
    assert registry.cell_names("reference") == registry.cell_names("nn")
    for name in registry.cell_names("nn"):
        assert (REF / "cells" / f"{name}.py").exists() and (NN / "cells" / f"{name}.py").exists(), name
