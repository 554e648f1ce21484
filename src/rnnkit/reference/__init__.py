"""The NumPy reference engine: hand-written forward and BPTT in float64, no framework, readable as the math.

``cells/`` holds one module of pure functions per cell (``init_state``, ``step``, ``step_backward``);
``sequence`` unrolls them over time, layers, directions and lengths (full and truncated BPTT);
``layers``, ``losses`` and ``optim`` are enough to train a small model end to end; ``gradcheck`` checks the
backward against central finite differences. The PyTorch engine (``rnnkit.nn``) is tested against this one.
"""

from rnnkit.reference import cells, functional, gradcheck, layers, losses, optim, sequence
from rnnkit.reference.gradcheck import gradcheck_sequence, gradcheck_tbptt
from rnnkit.reference.sequence import Chunk, backward, forward, tbptt_forward_backward, tbptt_windows

__all__ = [
    "Chunk",
    "backward",
    "cells",
    "forward",
    "functional",
    "gradcheck",
    "gradcheck_sequence",
    "gradcheck_tbptt",
    "layers",
    "losses",
    "optim",
    "sequence",
    "tbptt_forward_backward",
    "tbptt_windows",
]
