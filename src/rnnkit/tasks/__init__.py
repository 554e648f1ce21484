"""The jobs RNNs are used for, each a small package over the shared Task base (tasks/base.py); importing
registers them."""

from rnnkit.tasks.classify import Classifier
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.lm import LanguageModel
from rnnkit.tasks.music import MusicModel
from rnnkit.tasks.speech import SpeechCTC, SpeechRecognizer
from rnnkit.tasks.tag import Tagger
from rnnkit.tasks.translate import Translator

__all__ = ["Classifier", "Forecaster", "LanguageModel", "MusicModel", "SpeechCTC", "SpeechRecognizer", "Tagger",
           "Translator"]
