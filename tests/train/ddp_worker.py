"""Run by test_distributed.py under ``torchrun --nproc_per_node=2`` (and once as a single process).

Trains the tiny LM for a few steps with fit(); rank 0 writes run_dir (metrics.jsonl, last/model.safetensors).
Not a test module itself (no ``test_`` prefix).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from rnnkit.config import OptimConfig, TrainConfig
from rnnkit.data.streams import TokenStream
from rnnkit.train import fit
from tests.train.helpers import TinyLM, lm_step, token_stream


def main(run_dir: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = TinyLM(p=0.0)  # no dropout: per-rank masks could not match the single-process masks
    # the stream memory-mapped as `rnnkit lm prepare` leaves it: each rank reads only its own rows (TokenStream.shard)
    path = Path(run_dir).parent / f"tokens-{os.getpid()}.bin"
    token_stream(1400).numpy().astype(np.uint16).tofile(path)
    tokens = np.memmap(path, dtype=np.uint16, mode="r")
    train = TokenStream(tokens[:1200], batch_size=4, bptt=12)  # global batch 4 rows: 2 per rank under DDP
    val = TokenStream(tokens[1200:], batch_size=2, bptt=20)
    cfg = TrainConfig(
        max_steps=12, log_every=1, eval_every=6, lr=0.1, quiet=True, optim=OptimConfig(name="sgd", momentum=0.9)
    )
    fit(model, lm_step, train, config=cfg, val_data=val, run_dir=run_dir)


if __name__ == "__main__":
    main(sys.argv[1])
