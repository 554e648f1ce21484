"""Language modelling: char/word next-token prediction, exact whole-split evaluation, generation."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="lm",
    help="Language modelling: char/word next-token prediction, evaluation over whole splits, generation.",
    task="rnnkit.tasks.lm.task:LanguageModel",
    cli="rnnkit.tasks.lm.cli:CLI",
    light={"prepare": "rnnkit.tasks.lm.cli:prepare_command"},  # NumPy only: runs without importing torch
)

__all__ = ["TASK", "LMConfig", "LanguageModel"]
__getattr__ = lazy_exports({"LanguageModel": "rnnkit.tasks.lm.task", "LMConfig": "rnnkit.tasks.lm.config"})
