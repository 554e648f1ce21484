"""A toy cell kept outside the rnnkit package, as a contributor would add one: its two files and nothing else.

In rnnkit the files would be ``reference/cells/scaled_rnn.py`` and ``nn/cells/scaled_rnn.py`` (each cell package
imports every module in its folder); here importing this package registers the cell, the reference file first
because it declares the cell's facts. ``tests/cells/test_toy_cell.py`` runs it through the conformance suite,
``rnnkit bench cells`` and ``rnnkit explain gradients``; docs/contributing.md ("Add a cell") shows these files.
"""

from tests.cells.toy import scaled_rnn_reference  # registers the cell with its facts

# isort: split
from tests.cells.toy import scaled_rnn_nn  # registers its nn twin, which reads the facts

__all__ = ["scaled_rnn_nn", "scaled_rnn_reference"]
