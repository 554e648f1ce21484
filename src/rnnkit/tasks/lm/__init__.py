"""Language modelling: char/word next-token prediction, exact whole-split evaluation, generation."""

from rnnkit.tasks.lm.task import LanguageModel, LMConfig

__all__ = ["LMConfig", "LanguageModel"]
