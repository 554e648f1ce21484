"""Speech recognition: isolated words (log-mel/MFCC frames -> recurrent classifier) and connected words (CTC)."""

from rnnkit.tasks.speech.connected import CTCConfig, SpeechCTC
from rnnkit.tasks.speech.task import SpeechConfig, SpeechRecognizer

__all__ = ["CTCConfig", "SpeechCTC", "SpeechConfig", "SpeechRecognizer"]
