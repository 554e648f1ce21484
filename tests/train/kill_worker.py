"""Run by test_killed.py as a subprocess that is killed with SIGKILL at a random point: trains the tiny LM with
``last`` written after every step (so the kill often lands inside a checkpoint swap) and prints each finished step.
Not a test module itself (no ``test_`` prefix).
"""

from __future__ import annotations

import sys

import torch

from rnnkit.train import Callback, fit
from tests.train.helpers import TinyLM, lm_step
from tests.train.test_killed import CONFIG, streams


class PrintSteps(Callback):
    """Print every finished step; at ``wait_at`` block (on stdin) so that the kill always comes before the end."""

    def __init__(self, wait_at: int) -> None:
        self.wait_at = wait_at

    def on_step_end(self, fs, logs):
        print(fs.step, flush=True)
        if fs.step == self.wait_at:
            sys.stdin.readline()


def main(run_dir: str, wait_at: int) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(123)
    train, val = streams()
    fit(TinyLM(), lm_step, train, config=CONFIG, val_data=val, run_dir=run_dir, callbacks=[PrintSteps(wait_at)])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
