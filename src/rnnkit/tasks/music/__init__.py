"""Polyphonic music: next-frame prediction on binary piano rolls (88 Bernoullis or an RNN-NADE per frame), frame-level
NLL, MIDI in and out."""

from rnnkit.tasks.info import TaskInfo, lazy_exports

TASK = TaskInfo(
    name="music",
    help="Polyphonic music: next-frame piano-roll prediction (88 Bernoullis or RNN-NADE), frame-level NLL, MIDI.",
    task="rnnkit.tasks.music.task:MusicModel",
    cli="rnnkit.tasks.music.cli:CLI",
)

__all__ = ["TASK", "MusicConfig", "MusicModel"]
__getattr__ = lazy_exports({"MusicModel": "rnnkit.tasks.music.task", "MusicConfig": "rnnkit.tasks.music.config"})
