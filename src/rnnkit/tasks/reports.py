"""Moved to ``rnnkit.tasks.classify.report`` (rnnkit 0.2); this alias warns and goes in 0.3."""

from rnnkit.moved import alias

__getattr__ = alias(__name__)
