"""Reference (NumPy) cells: one module per cell, each a set of pure functions that registers itself.

Every module here defines ``init_state(N, H, dtype)``, ``step(params, x, state, options)`` and
``step_backward(dnew_state, cache)`` and ends with ``register_cell(NAME, engine="reference", facts=FACTS)``.
Importing this package imports every module in its folder, so the registry sees them all: a new cell is a new
file here, with no list to edit.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):  # sorted by name
    importlib.import_module(f"{__name__}.{_module.name}")
