"""rnnkit: recurrent neural networks as a glass box.

``rnnkit.reference`` is the NumPy engine (hand-written forward and BPTT, float64), ``rnnkit.nn`` the
PyTorch engine (same cells, fast paths), ``rnnkit.tasks`` the jobs RNNs are used for.
"""

__version__ = "0.1.0"
