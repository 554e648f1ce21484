"""Sequence classification: characters, words or numeric multivariate series -> one class per sequence.

A thin task over the shared core: token embedding (or the raw numeric channels, standardised with
training statistics) -> ``rnnkit.nn.Recurrent`` (any registered cell, stacked, optionally bidirectional,
lengths-aware) -> ``PooledClassifier`` (last / mean / max / attention) -> cross-entropy with optional class
weights. Training goes through ``rnnkit.train.fit``; batches are length-bucketed (``BucketBatches``).

The run folder holds ``config.json`` (a valid ``--config``), ``task.json`` (classes, vocabulary, scaler) and
fit's checkpoints, so ``Classifier.load(run_dir)`` rebuilds the exact model for ``eval`` and ``predict``.

Beside this file: ``config.py`` (the sections), ``data.py`` (reading and the seeded splits), ``model.py``
(``ClassifierNet``), ``ensemble.py`` (the report, for one run or the mean of several), ``images.py`` (images as
sequences), ``report.py`` (printing, the confusion PNG).

Shape letters: N batch, T time, D input channels, E embedding size, H hidden, C classes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import RunConfig, apply_overrides
from rnnkit.data import readers
from rnnkit.data.images import ImageData, has_test_split, is_image_source
from rnnkit.data.readers import ClassificationData
from rnnkit.data.sequences import BucketBatches, PadCollate, truncate
from rnnkit.data.sources import DataError
from rnnkit.data.text import UNK, Vocab
from rnnkit.moved import names
from rnnkit.tasks.base import Splits, Task
from rnnkit.tasks.classify.config import ClassifierConfig
from rnnkit.tasks.classify.data import load_splits, tokenize
from rnnkit.tasks.classify.ensemble import evaluate_ensemble
from rnnkit.tasks.classify.images import ImageSequencer, image_defaults, plot_misclassified, read_predict_images
from rnnkit.tasks.classify.model import ClassifierNet
from rnnkit.tasks.classify.report import save_confusion_png

TASK_FILE = "task.json"


def _step(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor], state: Any) -> Any:
    """fit's step: mean cross-entropy of the batch, accuracy as a metric."""
    from rnnkit.train import StepOutput, unwrap

    x, lengths, y = batch
    logits, _ = model(x, lengths)  # (N, C)
    net = unwrap(model)
    assert isinstance(net, ClassifierNet), type(net)  # fit trains what build_model gave
    loss = F.cross_entropy(logits, y, weight=net.class_weight)
    acc = (logits.argmax(1) == y).float().mean().item()
    return StepOutput(loss, None, int(y.shape[0]), {"acc": acc})


class Classifier(Task):
    """Train, evaluate and use a sequence classifier; see the module docstring."""

    name = "classify"
    Config: ClassVar[type[RunConfig]] = ClassifierConfig
    model: ClassifierNet | None  # build_model's network (fit and load set it)

    def __init__(self, config: RunConfig | None = None) -> None:  # a ClassifierConfig, or one like it (speech's)
        super().__init__(config)
        self.classes: list[str] = []
        self.vocab: Vocab | None = None  # <pad> 0, <unk> 1, then the training tokens
        self.scaler: tuple[np.ndarray, np.ndarray] | None = None  # numeric: per-channel mean, std (train only)
        self.input_size = 0
        self.class_weight: list[float] | None = None  # data.class_weights='balanced': n / (C * count_c)
        self.images: ImageSequencer | None = None  # image input: shape, sequence mode, normaliser, permutation
        self.image_defaults: dict[str, Any] = {}  # image input: settings applied in place of classify's defaults

    # -- data --
    def load_data(self) -> Splits:
        train, val, test = load_splits(self.config.data)
        return Splits(train, val, test, notes=readers.notes_of(train, val, test))

    def prepare(self, train: ClassificationData) -> None:
        """Classes, vocabulary or scaler (and balanced class weights) from the training data only."""
        if isinstance(train, ImageData) and self.config.model.input in ("auto", "image"):
            self._apply_image_defaults()  # first: the table may settle pooling, which _decide_input reports
        self._decide_input(train)
        m, d = self.config.model, self.config.data
        self.classes = list(train.classes)
        if m.input == "image":
            if not isinstance(train, ImageData):
                raise DataError(
                    f"model.input='image' needs images (idx files or PNG/JPEG folders); {train.source} "
                    "holds text or series"
                )
            self.images = ImageSequencer.fit(train, mode=d.image_sequence, seed=d.permutation_seed)
            self.input_size = self.images.input_size
        elif m.input == "numeric":
            if not isinstance(train.inputs[0], np.ndarray):
                raise DataError(f"model.input='numeric' needs numeric series; {train.source} holds text")
            allx = np.concatenate(train.inputs, axis=0)  # (sum T, D)
            self.scaler = (allx.mean(0), allx.std(0) + 1e-8)
            self.input_size = allx.shape[1]
        else:
            if not isinstance(train.inputs[0], str):
                raise DataError(f"model.input={m.input!r} needs text; {train.source} holds numeric series")
            toks = [tokenize(t, m.input, lowercase=d.lowercase) for t in train.inputs]
            self.vocab = Vocab.from_token_lists(toks, min_freq=d.min_freq)
        self.class_weight = None
        if d.class_weights == "balanced":
            index = {c: i for i, c in enumerate(self.classes)}
            counts = np.bincount([index[y] for y in train.labels], minlength=len(self.classes)).astype(np.float64)
            self.class_weight = (len(train) / (len(self.classes) * np.maximum(counts, 1))).tolist()

    def _decide_input(self, train: ClassificationData) -> None:
        """Settle model.input / embed_size / pooling when they are 'auto', from the training data, and say why."""
        m = self.config.model
        if "auto" not in (m.input, m.pooling) and m.embed_size:
            return
        images = train if isinstance(train, ImageData) else None
        numeric = len(train) > 0 and not isinstance(train.inputs[0], str)
        words = [len(t.split()) for t in train.inputs] if not numeric else []
        mean = float(np.mean(words)) if words else 0.0
        level = m.input
        if level == "auto":
            level = "image" if images is not None else "numeric" if numeric else ("word" if mean >= 3 else "char")
        why = {
            "image": (
                ImageSequencer.describe_images(images, self.config.data.image_sequence)
                if images is not None
                else "images"
            ),
            "numeric": "numeric input: the examples are series",
            "word": f"word input: mean {mean:.1f} whitespace tokens per example (>= 3: sentences)",
            "char": f"char input: mean {mean:.1f} whitespace tokens per example (< 3: names, codes, single words)",
        }[level]
        pooling = m.pooling if m.pooling != "auto" else ("last" if level == "char" else "mean")
        embed = m.embed_size or (64 if level == "char" else 128)
        bi = "bidirectional" if m.bidirectional else "one direction"
        self.decide(
            f"{why}; {bi} {m.cell.name.upper()} {m.num_layers}x{m.hidden_size}, {pooling} pooling"
            + (f", embedding {embed}" if level in ("char", "word") else ""),
            input=level,
            pooling=pooling,
            embed_size=embed,
        )

    def _apply_image_defaults(self) -> None:
        """Image runs train with their own defaults where the config left classify's (``images.image_defaults``);
        task.json keeps them, so a resume or a load rebuilds the same run."""
        if not self.config.image_defaults:
            return
        self.image_defaults = image_defaults(self.config, ClassifierConfig())
        if self.image_defaults:
            self.config = apply_overrides(self.config, self.image_defaults)
            shown = ", ".join(f"{k}={v}" for k, v in self.image_defaults.items())
            self.notes.append(f"image defaults: {shown} (--image_defaults=false keeps classify's)")

    def default_monitor(self) -> tuple[str, str]:
        return "val_acc", "max"  # fit's per-example mean over the validation set = its accuracy

    def build_model(self) -> ClassifierNet:
        net = ClassifierNet(
            self.config.model,
            num_classes=len(self.classes),
            vocab_size=len(self.vocab) if self.vocab else 0,
            input_size=self.input_size,
        )
        if self.class_weight is not None:
            net.class_weight.copy_(torch.as_tensor(self.class_weight, dtype=torch.float32))
        return net

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        from rnnkit.tasks.classify.onnx import classify_spec

        return classify_spec(self, model)

    def state_dict(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "vocab": self.vocab.itos if self.vocab else None,
            "scaler": [a.tolist() for a in self.scaler] if self.scaler else None,
            "input_size": self.input_size,
            "class_weight": self.class_weight,
            "images": self.images.state_dict() if self.images else None,
            "image_defaults": self.image_defaults,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.classes = state["classes"]
        self.vocab = Vocab(state["vocab"]) if state["vocab"] else None
        sc = state["scaler"]
        self.scaler = (np.asarray(sc[0], dtype=np.float32), np.asarray(sc[1], dtype=np.float32)) if sc else None
        self.input_size = state["input_size"]
        self.class_weight = state.get("class_weight")
        self.images = ImageSequencer.from_state(state["images"]) if state.get("images") else None
        self.image_defaults = state.get("image_defaults") or {}  # already in the run's config.json; kept to say so

    def encode_inputs(self, inputs: Sequence[Any]) -> list[Any]:
        """Texts -> id lists, or series -> standardised float32 arrays; truncated to data.max_len with a warning.

        A text with no tokens (e.g. only whitespace) becomes a single ``<unk>``: a sequence needs one step.
        """
        m, d = self.config.model, self.config.data
        seqs: list[Any]
        if m.input == "image":
            assert self.images is not None  # prepare / load_state_dict set it for image input
            return self.images.encode(inputs)  # (T, D) float32 each; every image the same size: no truncation
        if m.input == "numeric":
            assert self.scaler is not None  # prepare / load_state_dict set it for numeric input
            mean, std = self.scaler
            seqs = [np.asarray(x, dtype=np.float32) for x in inputs]
            for i, s in enumerate(seqs):
                if s.ndim != 2 or s.shape[1] != self.input_size or len(s) == 0:
                    raise DataError(f"input {i}: expected a (T>0, D={self.input_size}) series, got {s.shape}")
            seqs = [((s - mean) / std).astype(np.float32) for s in seqs]
        else:
            assert self.vocab is not None  # prepare / load_state_dict set it for text input
            seqs = [self.vocab.ids(tokenize(t, m.input, lowercase=d.lowercase)) or [1] for t in inputs]
        seqs, _ = truncate(seqs, d.max_len or None, what="inputs")
        return seqs

    def encode(self, data: ClassificationData, *, unknown: str = "error") -> list[tuple[Any, int]]:
        """(sequence, class id) items. Labels not seen in training: ``unknown='error'`` raises DataError
        naming them; ``'skip'`` drops those examples with a warning."""
        index = {c: i for i, c in enumerate(self.classes)}
        bad = sorted(set(data.labels) - set(index))
        keep = list(range(len(data)))
        if bad:
            if unknown == "error":
                raise DataError(
                    f"{data.source}: labels {bad[:10]} were not seen in training (known: {self.classes[:20]}); "
                    f"retrain with them, or evaluate with unknown='skip' (--unknown skip) to drop those examples"
                )
            keep = [i for i in keep if data.labels[i] in index]
            warnings.warn(
                f"{data.source}: dropped {len(data) - len(keep)} examples with unseen labels {bad[:10]}", stacklevel=2
            )
        seqs = self.encode_inputs([data.inputs[i] for i in keep])
        return [(s, index[data.labels[i]]) for s, i in zip(seqs, keep, strict=True)]

    def _collate(self) -> PadCollate:
        numeric = self.config.model.input in ("numeric", "image")
        return PadCollate(dtype=torch.float32 if numeric else torch.long, target_dtype=torch.long)

    # -- training --
    def make_batches(self, train: ClassificationData, val: ClassificationData | None) -> tuple[Any, Any]:
        cfg = self.config
        bs = cfg.data.batch_size
        train_b = BucketBatches(self.encode(train), bs, collate_fn=self._collate(), seed=cfg.train.seed)
        val_b = None
        if val is not None and len(val):
            val_b = BucketBatches(
                self.encode(val, unknown="skip"),
                cfg.data.eval_batch_size or bs,
                collate_fn=self._collate(),
                shuffle=False,
            )
        return train_b, val_b

    step = staticmethod(_step)

    # -- inference --
    def predict_proba(self, inputs: Sequence[Any], *, batch_size: int = 256) -> tuple[np.ndarray, list[np.ndarray]]:
        """Class probabilities (N, C) in input order, and attention weights per input (empty unless attention)."""
        self.require_model()
        return self._proba(self.encode_inputs(inputs), batch_size)

    def _proba(self, seqs: list[Any], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        collate, dev, model = self._collate(), self.device, self.require_model()

        def run(batch: list[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
            x, lengths, _ = collate([(s, 0) for s in batch])
            logits, w = model(x.to(dev), lengths.to(dev))  # (N, C), (N, T) | None
            p = torch.softmax(logits.double(), 1).cpu().numpy()
            att = [w[j, : lengths[j]].cpu().numpy() if w is not None else np.zeros(0) for j in range(len(batch))]
            return list(zip(p, att, strict=True))

        res = self.infer(seqs, run, batch_size=batch_size)
        probs = np.stack([p for p, _ in res]) if res else np.zeros((0, len(self.classes)))
        return probs, [a for _, a in res]

    def predict(self, inputs: Sequence[Any], *, k: int = 1) -> list[list[tuple[str, float]]]:
        """Top-``k`` (class, probability) per input, most probable first."""
        probs, _ = self.predict_proba(inputs)
        k = min(k, len(self.classes))
        top = np.argsort(-probs, axis=1)[:, :k]
        return [[(self.classes[j], float(p[j])) for j in row] for p, row in zip(probs, top, strict=True)]

    def attention(self, text_or_series: Any) -> tuple[list[str], np.ndarray]:
        """Tokens (or step indices) of one input and the attention weights over them (pooling='attention')."""
        if self.config.model.pooling != "attention":
            raise ValueError("attention weights exist only with model.pooling='attention'")
        _, attn = self.predict_proba([text_or_series])
        m = self.config.model
        if m.input in ("numeric", "image"):
            toks = [str(t) for t in range(len(attn[0]))]
        else:
            toks = tokenize(text_or_series, m.input, lowercase=self.config.data.lowercase)[: len(attn[0])] or [UNK]
        return toks, attn[0]

    def evaluate(self, data: ClassificationData, *, unknown: str = "error", batch_size: int = 256) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, mean loss, majority baseline."""
        return evaluate_ensemble([self], data, unknown=unknown, batch_size=batch_size)

    def read_eval_data(self, path: Path) -> ClassificationData:
        # an image source's test split when it has one (idx t10k files): `eval --data FOLDER` scores its test images
        split = "test" if is_image_source(path) and has_test_split(path) else "train"
        return readers.read_classification(path, split=split, **self.config.data.reader_options())

    def read_predict_file(self, path: Path) -> list[Any]:
        if self.config.model.input == "image":
            return read_predict_images(path)
        return readers.read_ts(path).inputs if Path(path).suffix == ".ts" else super().read_predict_file(path)

    def test_report(self, splits: Splits) -> dict[str, Any] | None:
        return self.evaluate(splits.test, unknown="skip") if splits.test is not None else None

    def after_report(self, report: dict[str, Any]) -> None:
        run = self.run_dir
        assert run is not None  # fit_and_test calls it only with a run folder
        save_confusion_png(report, run / "confusion.png")
        test = getattr(self, "splits", None) and self.splits.test
        if isinstance(test, ImageData):
            plot_misclassified(self, test, run / "misclassified.png")


# the config sections and the splits moved to config.py and data.py (0.2): still importable from here, with a warning
__getattr__ = names(__name__)
