"""Polyphonic music: next-frame prediction on binary piano rolls (88 Bernoullis per frame), frame-level NLL."""

from rnnkit.tasks.music.task import MusicConfig, MusicModel

__all__ = ["MusicConfig", "MusicModel"]
