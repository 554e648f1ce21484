"""Classification and tagging metrics, shared by classify, tag and speech: accuracy, confusion matrix, per-class
precision/recall/F1, macro-F1, token accuracy and IOB span F1 (CoNLL-2000 ``conlleval`` chunk semantics).

Everything works on plain integer class ids (NumPy arrays or lists) so it is independent of the model.
Convention for an empty denominator (a class never predicted, or never present): the ratio is 0, as
scikit-learn's ``zero_division=0``; macro averages run over the classes given by ``num_classes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.data import iob


def _ids(y: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.int64).ravel()


def accuracy(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Fraction of positions where prediction equals truth (0.0 for no examples)."""
    t, p = _ids(y_true), _ids(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"accuracy: y_true has {t.size} labels but y_pred has {p.size}")
    return float((t == p).mean()) if t.size else 0.0


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int
) -> np.ndarray:
    """``C[i, j]`` = number of examples of true class i predicted as class j, shape (K, K)."""
    t, p = _ids(y_true), _ids(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: y_true has {t.size} labels but y_pred has {p.size}")
    bad = (t < 0) | (t >= num_classes) | (p < 0) | (p >= num_classes)
    if bad.any():
        raise ValueError(f"confusion_matrix: class ids must be in [0, {num_classes}); found {int(t[bad][0])}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class ClassReport:
    """Per-class precision, recall, F1 and support, plus accuracy and the macro averages."""

    precision: np.ndarray  # (K,)
    recall: np.ndarray  # (K,)
    f1: np.ndarray  # (K,)
    support: np.ndarray  # (K,) true examples per class
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: np.ndarray  # (K, K)

    def as_dict(self, classes: Sequence[str] | None = None) -> dict:
        """JSON-ready summary (per-class values keyed by class name when given)."""
        names = list(classes) if classes is not None else [str(i) for i in range(len(self.f1))]
        return {
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": {
                n: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for n, p, r, f, s in zip(names, self.precision, self.recall, self.f1, self.support, strict=True)
            },
            "confusion": self.confusion.tolist(),
        }


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def class_report(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int
) -> ClassReport:
    """Precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2PR/(P+R) per class; macro = unweighted mean."""
    C = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    tp = np.diag(C)
    precision = _div(tp, C.sum(0))  # column sums: predicted as k
    recall = _div(tp, C.sum(1))  # row sums: truly k
    f1 = _div(2 * precision * recall, precision + recall)
    total = C.sum()
    return ClassReport(
        precision=precision,
        recall=recall,
        f1=f1,
        support=C.sum(1).astype(np.int64),
        accuracy=float(tp.sum() / total) if total else 0.0,
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        confusion=C.astype(np.int64),
    )


def macro_f1(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int) -> float:
    """Unweighted mean of per-class F1 over ``num_classes`` classes."""
    return class_report(y_true, y_pred, num_classes).macro_f1


def majority_baseline(y_train: Sequence[int] | np.ndarray, y_test: Sequence[int] | np.ndarray) -> float:
    """Accuracy on ``y_test`` of always predicting the most frequent class of ``y_train``."""
    tr, te = _ids(y_train), _ids(y_test)
    return float((te == np.bincount(tr).argmax()).mean()) if te.size else 0.0


# ---- tagging ---------------------------------------------------------------------------------------------


def token_accuracy(true_seqs: Iterable[Sequence], pred_seqs: Iterable[Sequence]) -> float:
    """Fraction of tokens tagged correctly over all sentences (the POS-tagging measure)."""
    right = total = 0
    for i, (t, p) in enumerate(zip(true_seqs, pred_seqs, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"token_accuracy: sentence {i} has {len(t)} gold tags but {len(p)} predicted")
        right += sum(a == b for a, b in zip(t, p, strict=True))
        total += len(t)
    return right / total if total else 0.0


def iob_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Chunks ``(type, start, end_exclusive)`` of one tag sequence, read with conlleval's rules
    (``rnnkit.data.iob.spans``: IOB1, IOB2, IOBES and ill-formed sequences read as conlleval reads them)."""
    return set(iob.spans(tags))


@dataclass(frozen=True)
class SpanScore:
    precision: float
    recall: float
    f1: float
    n_true: int
    n_pred: int
    n_correct: int


def span_f1(true_seqs: Iterable[Sequence[str]], pred_seqs: Iterable[Sequence[str]]) -> SpanScore:
    """Exact-match chunk precision/recall/F1 over a corpus (micro-averaged over all chunks, as conlleval)."""
    n_true = n_pred = n_correct = 0
    for i, (t, p) in enumerate(zip(true_seqs, pred_seqs, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"span_f1: sentence {i} has {len(t)} gold tags but {len(p)} predicted")
        ts, ps = iob_spans(t), iob_spans(p)
        n_true += len(ts)
        n_pred += len(ps)
        n_correct += len(ts & ps)
    prec = n_correct / n_pred if n_pred else 0.0
    rec = n_correct / n_true if n_true else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return SpanScore(prec, rec, f1, n_true, n_pred, n_correct)


def span_f1_by_type(true_seqs: Iterable[Sequence[str]], pred_seqs: Iterable[Sequence[str]]) -> dict[str, SpanScore]:
    """``span_f1`` per entity type (seqeval's ``classification_report`` / conlleval's per-type lines): a
    predicted span counts for its own type, so a right span with the wrong type is a false positive of the
    predicted type and a false negative of the gold one. Types present in gold or predictions, sorted."""
    true_by: dict[str, set] = {}
    pred_by: dict[str, set] = {}
    for i, (t, p) in enumerate(zip(true_seqs, pred_seqs, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"span_f1: sentence {i} has {len(t)} gold tags but {len(p)} predicted")
        for typ, a, b in iob.spans(t):
            true_by.setdefault(typ, set()).add((i, a, b))
        for typ, a, b in iob.spans(p):
            pred_by.setdefault(typ, set()).add((i, a, b))
    out = {}
    for typ in sorted(set(true_by) | set(pred_by)):
        ts, ps = true_by.get(typ, set()), pred_by.get(typ, set())
        c = len(ts & ps)
        prec = c / len(ps) if ps else 0.0
        rec = c / len(ts) if ts else 0.0
        out[typ] = SpanScore(prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0, len(ts), len(ps), c)
    return out
