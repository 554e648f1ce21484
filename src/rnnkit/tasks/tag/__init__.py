"""Sequence labelling: a tag per token (POS, chunks, entities), softmax or CRF output."""

from rnnkit.tasks.tag.task import Tagger, TaggerConfig

__all__ = ["Tagger", "TaggerConfig"]
