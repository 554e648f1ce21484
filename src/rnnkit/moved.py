"""Import paths that moved when every task became one package (0.2), kept for one release with a warning.

``MOVED`` maps an old module to its new one; the old file is a stub whose ``__getattr__`` (``alias``) warns and
hands over the name. ``MOVED_NAMES`` does the same for single names that left a module that stays. Both lists go
in 0.3 (CHANGELOG.md); ``tests/test_layout.py`` checks that every stub is listed here and that nothing else imports
a higher floor.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

REMOVED_IN = "0.3"

MOVED: dict[str, str] = {
    "rnnkit.tasks.reports": "rnnkit.tasks.classify.report",
    "rnnkit.models.music": "rnnkit.tasks.music.model",
    "rnnkit.data.midi": "rnnkit.tasks.music.midi",
    "rnnkit.data.music": "rnnkit.tasks.music.data",
    "rnnkit.tasks.forecast.spans": "rnnkit.tasks.forecast.data",
    "rnnkit.data.forecast_datasets": "rnnkit.tasks.forecast.datasets",
    "rnnkit.data.windowing": "rnnkit.tasks.forecast.windowing",
    "rnnkit.models.forecast": "rnnkit.tasks.forecast.model",
    "rnnkit.tasks.classify.metrics": "rnnkit.tasks.metrics",
    "rnnkit.models.classifier": "rnnkit.tasks.classify.model",
    "rnnkit.data.words": "rnnkit.tasks.lm.words",
    "rnnkit.data.prepare": "rnnkit.tasks.lm.prepare",
    "rnnkit.demo": "rnnkit.tasks.lm.demo",
    "rnnkit.decoder": "rnnkit.tasks.lm.decoder",
    "rnnkit.generate": "rnnkit.tasks.lm.generate",
    "rnnkit.data.pairs": "rnnkit.tasks.translate.data",
    "rnnkit.models.tagger": "rnnkit.tasks.tag.model",
    "rnnkit.tasks.speech.plot": "rnnkit.tasks.speech_ctc.plot",
    "rnnkit.tasks.speech.strings": "rnnkit.tasks.speech_ctc.data",
    "rnnkit.tasks.speech.ctc": "rnnkit.tasks.speech_ctc.ctc",
    "rnnkit.tasks.speech.connected": "rnnkit.tasks.speech_ctc.task",
}

MOVED_NAMES: dict[str, dict[str, str]] = {
    "rnnkit.tasks.classify.task": {
        "INPUTS": "rnnkit.tasks.classify.config",
        "ClassifierModelConfig": "rnnkit.tasks.classify.config",
        "ClassifierDataConfig": "rnnkit.tasks.classify.config",
        "random_split": "rnnkit.tasks.classify.data",
        "kfold_split": "rnnkit.tasks.classify.data",
    },
    "rnnkit.tasks.speech.task": {
        "SPLITS": "rnnkit.tasks.speech.config",
        "NORMALIZE": "rnnkit.tasks.speech.config",
        "SpeechModelConfig": "rnnkit.tasks.speech.config",
        "SpeechDataConfig": "rnnkit.tasks.speech.config",
    },
    "rnnkit.tasks.speech_ctc.task": {
        "CTCModelConfig": "rnnkit.tasks.speech_ctc.config",
        "CTCDataConfig": "rnnkit.tasks.speech_ctc.config",
    },
    "rnnkit.models.encoder": {"RecurrentLM": "rnnkit.tasks.lm.model", "check_adaptive": "rnnkit.tasks.lm.model"},
    "rnnkit.registry": {"get_task": "rnnkit.tasks", "task_names": "rnnkit.tasks"},
    "rnnkit.host": {"matmul_peak": "rnnkit.nn.gemm"},
    "rnnkit.plots": {"plot_loss": "rnnkit.train.metrics"},
    "rnnkit.models.seq2seq": {
        "ATTENTIONS": "rnnkit.models.attention",
        "Attention": "rnnkit.models.attention",
        **dict.fromkeys(
            ("DecoderState", "Seq2Seq", "Seq2SeqSpec", "count_parameters", "padded_loss"),
            "rnnkit.tasks.translate.model",
        ),
    },
}


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}; import it from there ({old} goes in rnnkit {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=3,
    )


def alias(old: str) -> Callable[[str], Any]:
    """The ``__getattr__`` of the stub left at ``old`` (a module listed in ``MOVED``)."""
    new = MOVED[old]

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        _warn(f"{old}.{name}", f"{new}.{name}")
        return getattr(importlib.import_module(new), name)

    return __getattr__


def names(module: str) -> Callable[[str], Any]:
    """The ``__getattr__`` of a module some of whose names moved (``MOVED_NAMES[module]``)."""
    moved = MOVED_NAMES[module]

    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        _warn(f"{module}.{name}", f"{moved[name]}.{name}")
        return getattr(importlib.import_module(moved[name]), name)

    return __getattr__
