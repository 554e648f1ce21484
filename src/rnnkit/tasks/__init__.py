"""The jobs RNNs are used for, each a thin layer over the shared core; importing registers them."""

from rnnkit.tasks.classification import Classifier
from rnnkit.tasks.forecasting import Forecaster
from rnnkit.tasks.labeling import Tagger
from rnnkit.tasks.language_model import LanguageModel
from rnnkit.tasks.translation import Translator

__all__ = ["Classifier", "Forecaster", "LanguageModel", "Tagger", "Translator"]
