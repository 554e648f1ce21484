"""Speech recognition of connected words: digit strings from recordings, recurrent acoustic model + CTC, greedy and
prefix-beam decoding, WER/CER (extends ``speech``)."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="speech-ctc",
    help="Connected speech: digit strings from recordings, BiGRU + CTC, greedy/beam decoding, WER/CER.",
    task="rnnkit.tasks.speech_ctc.task:SpeechCTC",
    cli="rnnkit.tasks.speech_ctc.cli:CLI",
)

__all__ = ["TASK", "CTCConfig", "SpeechCTC"]
__getattr__ = lazy_exports({"SpeechCTC": "rnnkit.tasks.speech_ctc.task", "CTCConfig": "rnnkit.tasks.speech_ctc.config"})
