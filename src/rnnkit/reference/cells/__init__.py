"""Reference (NumPy) cells: one module per cell, each a set of pure functions that registers itself.

Every module here defines ``init_state(N, H, dtype)``, ``step(params, x, state, options)`` and
``step_backward(dnew_state, cache)`` and ends with ``register_cell(NAME, engine="reference")``.
Importing this package imports every cell module so the registry sees them all; add a line per new cell.
"""

from rnnkit.reference.cells import gru, indrnn, layernorm_lstm, lstm, mingru, minlstm, rnn

__all__ = ["gru", "indrnn", "layernorm_lstm", "lstm", "mingru", "minlstm", "rnn"]
