"""Scoring the mean of several classifiers' class probabilities: ``Classifier.evaluate`` (one member) and
``rnnkit classify eval RUN RUN ...`` (an ensemble, e.g. one run per seed) share it, so both print the same report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from rnnkit.data.readers import ClassificationData
from rnnkit.tasks import metrics as class_metrics


class Member(Protocol):
    """What the ensemble needs of a trained classifier (``Classifier`` and its subclasses)."""

    classes: list[str]

    def encode(self, data: ClassificationData, *, unknown: str = "error") -> list[tuple[Any, int]]: ...

    def _proba(self, seqs: list[Any], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]: ...


def evaluate_ensemble(
    members: Sequence[Member], data: ClassificationData, *, unknown: str = "error", batch_size: int = 256
) -> dict[str, Any]:
    """Score the mean of several classifiers' class probabilities (e.g. one run per seed), with the same
    report as ``Classifier.evaluate``: averaging cancels part of each run's seed noise, at K times the cost."""
    if not members:
        raise ValueError("evaluate_ensemble needs at least one trained classifier")
    classes = list(members[0].classes)
    for i, m in enumerate(members[1:], 1):
        if sorted(m.classes) != sorted(classes):
            raise ValueError(
                f"ensemble member {i} knows the classes {list(m.classes)} but member 0 knows {classes}: "
                "members must be trained on the same label set"
            )
    items = members[0].encode(data, unknown=unknown)
    y = np.array([t for _, t in items], dtype=np.int64)
    probs = np.zeros((len(y), len(classes)))  # (N, C)
    for m in members:
        # each member reads the inputs with its own vocabulary; columns are put in member 0's class order
        seqs = [s for s, _ in (items if m is members[0] else m.encode(data, unknown=unknown))]
        p, _ = m._proba(seqs, batch_size)
        probs += p[:, [list(m.classes).index(c) for c in classes]]
    probs /= len(members)
    report = class_metrics.class_report(y, probs.argmax(1), len(classes))
    nll = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))
    out = report.as_dict(classes)
    out.update(loss=nll, n=len(y), classes=classes, members=len(members))
    return out
