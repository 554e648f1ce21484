"""The glass box: see vanishing gradients, gates and hidden states — RNN theory made visible.

* ``rnnkit.explain.gradients``: ||dL/dh_t|| against the distance from the loss, spectral radius of W_hh,
  the effect of clipping, for fresh reference cells or trained runs (``rnnkit explain gradients``).
* ``rnnkit.explain.states``: per-character hidden units and gates of a trained LM, ranked by correlation
  with text features; heatmap PNG and a coloured HTML page (``rnnkit explain states``).
* ``rnnkit.explain.trace``: the reference engine step by step on a tiny example, every named intermediate
  of the forward pass and of BPTT (``rnnkit explain trace``).

Submodules import torch/matplotlib lazily where they can, so ``rnnkit --help`` stays fast.
"""
