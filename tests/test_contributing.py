"""docs/contributing.md stays true: its example task, taken out of the page's code blocks, becomes a working task
with one line added to TASKS and its example added to the contract test, and passes that test."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rnnkit.tasks
from rnnkit.cli import app
from tests import test_task_contract as contract

DOC = Path(__file__).resolve().parents[1] / "docs" / "contributing.md"
runner = CliRunner()
pytestmark = pytest.mark.xdist_group(name="task-contract")  # it adds a task to TASKS: keep it off other workers


def code_blocks(text: str, package: str) -> dict[str, str]:
    """``{"config.py": source, ...}`` of the ```python blocks whose first line is ``# <package>/<file>.py``."""
    out = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        first, _, rest = block.partition("\n")
        m = re.fullmatch(rf"# {package}/(\w+\.py)", first.strip())
        if m:
            out[m.group(1)] = rest
    return out


@pytest.fixture
def parity(tmp_path_factory, monkeypatch):
    """The page's example task written as a package `parity` and added to TASKS (and to the contract's EXAMPLES)."""
    root = tmp_path_factory.mktemp("contrib")
    files = code_blocks(DOC.read_text(encoding="utf-8"), "parity")
    assert set(files) == {"__init__.py", "config.py", "data.py", "model.py", "task.py", "cli.py"}, sorted(files)
    (root / "parity").mkdir()
    for name, source in files.items():
        (root / "parity" / name).write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    import parity

    rnnkit.tasks.TASKS.append(parity.TASK)  # the one line in TASKS
    example = re.search(r'^EXAMPLES\["parity"\] = (.*?)(?:  #.*)?$', DOC.read_text(encoding="utf-8"), flags=re.M)
    monkeypatch.setitem(contract.EXAMPLES, "parity", eval(example.group(1)))  # the example in the contract test
    yield parity
    rnnkit.tasks.TASKS.remove(parity.TASK)
    for name in [m for m in sys.modules if m == "parity" or m.startswith("parity.")]:
        del sys.modules[name]


def test_the_example_task_is_in_every_listing(parity):
    for args in (["--help"], ["tune", "--help"], ["serve", "--help"], ["export", "--help"]):
        r = runner.invoke(app, args, terminal_width=200)
        assert r.exit_code == 0 and "parity" in r.output, (args, r.output)
    r = runner.invoke(app, ["parity", "train", "--help"], terminal_width=200)
    assert r.exit_code == 0 and "--length" in r.output and "Bits per string" in r.output


def test_the_example_task_passes_the_contract(parity, tmp_path):
    contract.test_same_verbs_and_common_options_with_defaults("parity")
    contract.test_train_eval_load_predict_share_one_run_folder("parity", tmp_path / "a")
    contract.test_python_options_are_the_cli_options("parity", tmp_path / "b")
    contract.test_a_used_run_folder_is_refused_unchanged_then_moved_aside_whole("parity", tmp_path / "c")


def test_the_example_task_learns_parity(parity, tmp_path):
    """The recipe is a real task, not a stub: with its defaults it learns the parity of 8 bits."""
    from parity.task import Parity

    report = Parity.from_options(out=str(tmp_path / "run"), overrides={"train.quiet": True}).fit_and_test()
    assert report["accuracy"] >= 0.9, report
    r = runner.invoke(app, ["parity", "predict", str(tmp_path / "run"), "0110", "1110"])
    assert r.exit_code == 0 and r.stdout.splitlines() == ["0110\t0", "1110\t1"], r.output


def test_the_cell_recipe_shows_the_toy_cell_the_tests_run():
    """The page's two cell files are the toy cell that tests/cells/test_toy_cell.py runs through the conformance
    suite, bench and explain."""
    text = DOC.read_text(encoding="utf-8")
    toy = Path(__file__).resolve().parent / "cells" / "toy"
    for marker, name in (
        ("reference/cells/scaled_rnn.py", "scaled_rnn_reference.py"),
        ("nn/cells/scaled_rnn.py", "scaled_rnn_nn.py"),
    ):
        block = re.search(rf"```python\n# {re.escape(marker)}\n(.*?)```", text, flags=re.S)
        assert block, marker
        assert block.group(1).strip() == (toy / name).read_text(encoding="utf-8").strip(), marker
