"""Sequence-to-sequence translation: attention encoder-decoder, greedy and beam decoding, sacreBLEU."""

from rnnkit.tasks.translate.task import Translator, TranslatorConfig

__all__ = ["Translator", "TranslatorConfig"]
