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
    def on_step_end(self, fs, logs):
        print(fs.step, flush=True)


def main(run_dir: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(123)
    train, val = streams()
    fit(TinyLM(), lm_step, train, config=CONFIG, val_data=val, run_dir=run_dir, callbacks=[PrintSteps()])


if __name__ == "__main__":
    main(sys.argv[1])
