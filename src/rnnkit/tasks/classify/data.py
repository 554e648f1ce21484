"""The classify task's data: which examples, the train / validation / test split, and text as tokens.

The reading itself is ``rnnkit.data.readers`` (text files, CSV, series, idx and image folders); the seeded random
and k-fold splits are ``rnnkit.data.splits``, drawn in torch's order so a seed keeps the examples it always had.
"""

from __future__ import annotations

from rnnkit.config import ConfigError
from rnnkit.data import readers, splits
from rnnkit.data.images import has_test_split, is_image_source
from rnnkit.data.readers import ClassificationData
from rnnkit.tasks.classify.config import ClassifierDataConfig


def tokenize(text: str, level: str, *, lowercase: bool = False) -> list[str]:
    """Characters, or whitespace-separated words (MR and UCI are already tokenised)."""
    if lowercase:
        text = text.lower()
    return list(text) if level == "char" else text.split()


def random_split(data: ClassificationData, test_fraction: float, seed: int) -> tuple[ClassificationData, ...]:
    """Train/test as ``torch.utils.data.random_split(data, [1-f, f], generator=manual_seed(seed))`` does it."""
    n_train, _ = splits.random_split_sizes(len(data), [1 - test_fraction, test_fraction])
    perm = splits.permutation(len(data), seed)
    return data.subset(perm[:n_train]), data.subset(perm[n_train:])


def kfold_split(data: ClassificationData, folds: int, fold: int, seed: int) -> tuple[ClassificationData, ...]:
    """Fold ``fold`` of a seeded k-fold partition as the test set, the rest as training."""
    train, test = splits.kfold(splits.permutation(len(data), seed), folds, fold)
    return data.subset(train), data.subset(test)


def load_splits(cfg: ClassifierDataConfig) -> tuple[ClassificationData, ClassificationData | None, ClassificationData]:
    """(train, val, test) for a config: official test split where one exists, else a seeded random or k-fold
    split; validation (for checkpoint selection and early stopping) is cut from training, never from test."""
    source = cfg.path or cfg.dataset
    if source is None:
        raise ConfigError("data: give data.path (a file or folder) or data.dataset (a known dataset name)")
    kw = cfg.reader_options()
    data = readers.read_classification(source, data_root=cfg.data_root, split="train", **kw)
    if cfg.test_path:
        train, test = data, readers.read_classification(cfg.test_path, data_root=cfg.data_root, **kw)
    elif (
        source == "japanese-vowels" or source == "fashion-mnist" or (is_image_source(source) and has_test_split(source))
    ):
        # the dataset's own test split (JapaneseVowels' TEST file; idx t10k files; an image folder's test/)
        train, test = data, readers.read_classification(source, data_root=cfg.data_root, split="test")
    elif cfg.folds:
        train, test = kfold_split(data, cfg.folds, cfg.fold, cfg.split_seed)
    else:
        train, test = random_split(data, cfg.test_fraction, cfg.split_seed)
    val = None
    if cfg.val_path:
        val = readers.read_classification(cfg.val_path, data_root=cfg.data_root, **kw)
    elif cfg.val_fraction > 0:
        train, val = random_split(train, cfg.val_fraction, cfg.split_seed + 1)
    return train, val, test
