"""Placeholder package docstring."""
from rnnkit.tasks.classification import Classifier  # noqa: E402,F401 - registers task 'classify'
from rnnkit.tasks.forecasting import Forecaster  # noqa: E402,F401 - registers task 'forecast'
from rnnkit.tasks.labeling import Tagger  # noqa: E402,F401 - registers task 'tag'
from rnnkit.tasks.language_model import LanguageModel  # noqa: E402,F401 - registers task 'lm'
