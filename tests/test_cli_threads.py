"""`rnnkit --threads N` and the busy-machine guard, which every command but `bench` / `gradcheck` goes through."""

from __future__ import annotations

import os

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli import app

runner = CliRunner()
BUSY = "the CPU is busy"


@pytest.fixture(autouse=True)
def _threads_restored():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _eval_missing_run(tmp_path, *root: str):
    """Any task command will do: the root callback runs before `classify eval` fails on the missing folder."""
    return runner.invoke(app, [*root, "classify", "eval", str(tmp_path / "nothing")])


def test_threads_option_sets_torch_threads(tmp_path):
    torch.set_num_threads(1)
    r = _eval_missing_run(tmp_path, "--threads", "2")
    assert r.exit_code == 1  # the command's own error (not a run folder), after the option took effect
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize(("load", "threads_after"), [(99.0, 1), (0.0, 2)])
def test_busy_machine_gets_one_thread_for_task_commands(tmp_path, monkeypatch, load, threads_after):
    """Load >= cores: 2 OpenMP threads would wait on descheduled peers, so a task command drops to 1 and says so."""
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    torch.set_num_threads(2)
    r = _eval_missing_run(tmp_path)
    assert torch.get_num_threads() == threads_after
    assert (BUSY in r.output) == (threads_after == 1)


def test_explicit_threads_and_bench_skip_the_busy_guard(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    torch.set_num_threads(2)
    r = _eval_missing_run(tmp_path, "--threads", "2")  # the user's choice wins over the guard
    assert torch.get_num_threads() == 2 and BUSY not in r.output
    r = runner.invoke(app, ["bench"])  # bench reports its own thread counts: the guard stays out of it
    assert torch.get_num_threads() == 2 and BUSY not in r.output
