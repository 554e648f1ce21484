"""The package is laid out as docs/contributing.md says: no import circle between folders, no import of a higher
floor, one folder per task with the same files, modules of one concern (sizes), real package docstrings, and every
moved import path listed and still working for one release."""

from __future__ import annotations

import ast
import importlib
import re
import warnings
from pathlib import Path

import pytest

from rnnkit.moved import MOVED, MOVED_NAMES
from rnnkit.tasks import TASKS
from tests.layout import imports

SRC = imports.SRC / "rnnkit"
DOC = Path(__file__).resolve().parents[1] / "docs" / "contributing.md"
TASK_FILES = {"__init__.py", "config.py", "model.py", "data.py", "task.py", "cli.py", "onnx.py"}


def test_no_import_circle_between_folders():
    assert imports.cross_folder_circles() == []


def test_no_module_imports_a_higher_floor():
    assert imports.upward_imports() == []


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The checks above count imports inside functions and under TYPE_CHECKING too (a knot hidden there is a knot)."""
    pkg = tmp_path / "rnnkit"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from rnnkit.b import y\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rnnkit.a import x\n")
    assert imports.circles(imports.graph(tmp_path)) == [["rnnkit.a.x", "rnnkit.b"]]
    assert imports.cross_folder_circles(tmp_path) == [["rnnkit.a.x", "rnnkit.b"]]


@pytest.mark.parametrize("info", TASKS, ids=lambda t: t.name)
def test_every_task_is_one_folder_with_the_same_files(info):
    folder = SRC / "tasks" / info.task.split(":")[0].split(".")[2]
    assert TASK_FILES <= {p.name for p in folder.glob("*.py")}, folder
    assert info.task.startswith(f"rnnkit.tasks.{folder.name}.") and info.cli.startswith(f"rnnkit.tasks.{folder.name}.")
    assert info.load().name == info.name  # the TaskInfo and the Task agree on the name a run's task.json holds


def _longer_allowed() -> dict[str, str]:
    """The modules docs/contributing.md names as longer than 400 lines, with their reason."""
    rows = re.findall(r"^\| `src/(rnnkit/[\w/]+\.py)` \| ~?\d+ \| (.+) \|$", DOC.read_text(encoding="utf-8"), re.M)
    return dict(rows)


def test_modules_stay_small_or_are_named_with_a_reason():
    allowed = _longer_allowed()
    long = {}
    for f in SRC.rglob("*.py"):
        n = len(f.read_text(encoding="utf-8").splitlines())
        rel = f.relative_to(SRC.parent).as_posix()
        limit = 350 if f.name == "task.py" else 400
        if n > limit and rel not in allowed:
            long[rel] = n
    assert not long, f"over the limit and not named in docs/contributing.md: {long}"
    assert all(reason.strip() for reason in allowed.values())


def test_every_package_says_what_it_holds():
    for init in SRC.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "placeholder" not in doc.lower(), f"{init} needs a docstring saying what the package holds"


def _stubs() -> set[str]:
    """Modules whose source is only a moved-path alias."""
    out = set()
    for name, f in imports.modules().items():
        if "__getattr__ = alias(__name__)" in f.read_text(encoding="utf-8"):
            out.add(name)
    return out


def test_every_stub_is_listed_and_nothing_else_is():
    assert _stubs() == set(MOVED)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_moved_module_warns_and_forwards(old):
    new = importlib.import_module(MOVED[old])
    public = [
        n for n in vars(new) if not n.startswith("_") and getattr(vars(new)[n], "__module__", None) == new.__name__
    ]
    if not public:
        pytest.skip(f"{MOVED[old]} defines no public name of its own")
    stub = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=re.escape(f"{old}.{public[0]} moved to {MOVED[old]}")):
        assert getattr(stub, public[0]) is getattr(new, public[0])


@pytest.mark.parametrize("module", sorted(MOVED_NAMES))
def test_moved_names_warn_and_resolve(module):
    old = importlib.import_module(module)
    for name, home in MOVED_NAMES[module].items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = getattr(old, name)
        assert value is getattr(importlib.import_module(home), name)
        assert any(issubclass(w.category, DeprecationWarning) for w in caught), f"{module}.{name} did not warn"
