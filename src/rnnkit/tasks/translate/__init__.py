"""Sequence-to-sequence translation: attention encoder-decoder, greedy and beam decoding, sacreBLEU."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="translate",
    help="Translation: attention seq2seq, greedy/beam decoding, sacreBLEU on raw references.",
    task="rnnkit.tasks.translate.task:Translator",
    cli="rnnkit.tasks.translate.cli:CLI",
)

__all__ = ["TASK", "Translator", "TranslatorConfig"]
__getattr__ = lazy_exports(
    {"Translator": "rnnkit.tasks.translate.task", "TranslatorConfig": "rnnkit.tasks.translate.config"}
)
