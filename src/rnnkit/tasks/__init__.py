"""Placeholder package docstring."""
from rnnkit.tasks.language_model import LanguageModel  # noqa: E402,F401 - registers task 'lm'
