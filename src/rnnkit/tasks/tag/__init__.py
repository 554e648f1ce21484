"""Sequence labelling: a tag per token (POS, chunks, entities), softmax or CRF output."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="tag",
    help="Sequence labelling: POS tags, IOB chunks and entities (BiLSTM/BiGRU, CRF).",
    task="rnnkit.tasks.tag.task:Tagger",
    cli="rnnkit.tasks.tag.cli:CLI",
)

__all__ = ["TASK", "Tagger", "TaggerConfig"]
__getattr__ = lazy_exports({"Tagger": "rnnkit.tasks.tag.task", "TaggerConfig": "rnnkit.tasks.tag.config"})
