"""The language model's old import paths (before 0.2) still work for one release: a DeprecationWarning naming the
new path, then the very same object."""

from __future__ import annotations

import importlib

import pytest

from rnnkit.moved import MOVED, MOVED_NAMES

# (old module, name, new module): each module moved whole, and the names that left models/encoder.py
OLD_PATHS = [
    ("rnnkit.generate", "generate", "rnnkit.tasks.lm.generate"),
    ("rnnkit.decoder", "FastDecoder", "rnnkit.tasks.lm.decoder"),
    ("rnnkit.demo", "run_demo", "rnnkit.tasks.lm.demo"),
    ("rnnkit.data.prepare", "prepare", "rnnkit.tasks.lm.prepare"),
    ("rnnkit.data.prepare", "source_files", "rnnkit.tasks.lm.prepare"),  # now in corpus.py, still in prepare's names
    ("rnnkit.data.words", "WordInterner", "rnnkit.tasks.lm.words"),
    ("rnnkit.models.encoder", "RecurrentLM", "rnnkit.tasks.lm.model"),
    ("rnnkit.models.encoder", "check_adaptive", "rnnkit.tasks.lm.model"),
]


@pytest.mark.parametrize("old,name,new", OLD_PATHS)
def test_old_path_warns_and_gives_the_same_object(old, name, new):
    assert MOVED.get(old) == new or MOVED_NAMES.get(old, {}).get(name) == new
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}\.{name}"):
        got = getattr(importlib.import_module(old), name)
    assert got is getattr(importlib.import_module(new), name)


def test_the_encoder_keeps_token_encoder_and_refuses_unknown_names():
    from rnnkit.models import encoder
    from rnnkit.tasks.lm.model import RecurrentLM

    assert issubclass(RecurrentLM, encoder.TokenEncoder)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        encoder.Nope  # noqa: B018 - the attribute access is the test


def test_config_and_data_names_are_still_importable_from_the_task_module():
    from rnnkit.tasks.lm import config, data, task

    for name in ("LMConfig", "LMDataConfig", "LMModelConfig"):
        assert getattr(task, name) is getattr(config, name)
    assert task.cache_root is data.cache_root and task.AUTO_PREPARE_BYTES == data.AUTO_PREPARE_BYTES
