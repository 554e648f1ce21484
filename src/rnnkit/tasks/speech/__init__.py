"""Speech recognition: isolated words from recordings (log-mel/MFCC frames -> recurrent classifier)."""

from rnnkit.tasks.speech.task import SpeechConfig, SpeechRecognizer

__all__ = ["SpeechConfig", "SpeechRecognizer"]
