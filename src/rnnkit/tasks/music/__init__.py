"""Polyphonic music: next-frame prediction on binary piano rolls (88 Bernoullis or an RNN-NADE per frame), frame-level
NLL, MIDI in and out."""

from rnnkit.tasks.music.task import MusicConfig, MusicModel

__all__ = ["MusicConfig", "MusicModel"]
