"""Sequence classification: text (sentiment, names -> language), multivariate series and images as sequences."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="classify",
    help="Sequence classification: names, sentiment, multivariate series, images as sequences.",
    task="rnnkit.tasks.classify.task:Classifier",
    cli="rnnkit.tasks.classify.cli:CLI",
)

__all__ = ["TASK", "Classifier", "ClassifierConfig"]
__getattr__ = lazy_exports(
    {"Classifier": "rnnkit.tasks.classify.task", "ClassifierConfig": "rnnkit.tasks.classify.config"}
)
