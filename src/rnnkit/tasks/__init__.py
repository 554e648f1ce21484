"""The jobs RNNs are used for, each a small package over the shared Task base (tasks/base.py).

A task's package is imported on first use (``from rnnkit.tasks import Classifier`` works as before), so the CLI
and torch-free commands (``rnnkit --help``, ``rnnkit lm prepare``) start without importing torch; ``load_all()``
imports, and so registers, every task (``registry.get_task`` and ``task_names`` call it).
"""

from importlib import import_module

_PACKAGE = {  # public name -> the task package defining it
    "Classifier": "rnnkit.tasks.classify",
    "Forecaster": "rnnkit.tasks.forecast",
    "LanguageModel": "rnnkit.tasks.lm",
    "MusicModel": "rnnkit.tasks.music",
    "SpeechCTC": "rnnkit.tasks.speech",
    "SpeechRecognizer": "rnnkit.tasks.speech",
    "Tagger": "rnnkit.tasks.tag",
    "Translator": "rnnkit.tasks.translate",
}
__all__ = sorted(_PACKAGE)


def __getattr__(name: str) -> type:
    if name in _PACKAGE:
        return getattr(import_module(_PACKAGE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_all() -> None:
    """Import every task (each registers itself with ``rnnkit.registry``)."""
    for name in _PACKAGE:
        __getattr__(name)
