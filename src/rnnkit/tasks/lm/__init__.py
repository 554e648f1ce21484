"""Language modelling: char/word next-token prediction, exact whole-split evaluation, generation.

``LanguageModel`` (torch) is imported on first use, so ``rnnkit lm prepare`` (tasks/lm/cli.py, NumPy only) starts
without torch."""

from importlib import import_module

__all__ = ["LMConfig", "LanguageModel"]


def __getattr__(name: str) -> type:
    if name in __all__:
        return getattr(import_module("rnnkit.tasks.lm.task"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
