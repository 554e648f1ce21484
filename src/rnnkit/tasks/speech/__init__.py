"""Speech recognition of isolated words: log-mel/MFCC frames -> recurrent classifier (extends ``classify``)."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="speech",
    help="Speech: isolated words from wav/flac recordings (log-mel/MFCC, BiGRU), accuracy and confusions.",
    task="rnnkit.tasks.speech.task:SpeechRecognizer",
    cli="rnnkit.tasks.speech.cli:CLI",
)

__all__ = ["TASK", "SpeechConfig", "SpeechRecognizer"]
__getattr__ = lazy_exports(
    {
        "SpeechRecognizer": "rnnkit.tasks.speech.task",
        "SpeechConfig": "rnnkit.tasks.speech.config",
        # connected words moved to rnnkit.tasks.speech_ctc (0.2): still importable from here
        "SpeechCTC": "rnnkit.tasks.speech_ctc.task",
        "CTCConfig": "rnnkit.tasks.speech_ctc.config",
    }
)
