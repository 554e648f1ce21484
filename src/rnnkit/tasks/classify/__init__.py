"""Sequence classification: text (sentiment, names -> language) and multivariate series."""

from rnnkit.tasks.classify.task import Classifier, ClassifierConfig

__all__ = ["Classifier", "ClassifierConfig"]
