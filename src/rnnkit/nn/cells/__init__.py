"""PyTorch-engine cells, one module per cell. Importing this package imports every module in its folder, which
registers each cell: a new cell is a new file here, with no list to edit."""

import importlib
import pkgutil

from rnnkit.nn.cells.base import CellBase

for _module in pkgutil.iter_modules(__path__):  # sorted by name; base.py registers nothing
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CellBase"]
