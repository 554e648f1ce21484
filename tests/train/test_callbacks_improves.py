"""Which evaluation counts as better: the monitored metric, ties broken by the validation loss."""

from __future__ import annotations

from rnnkit.train.callbacks import EarlyStopping, improves


def test_a_tie_on_accuracy_is_broken_by_the_loss():
    best = {"val_acc": 0.9, "val_loss": 0.5}
    assert improves({"val_acc": 0.9, "val_loss": 0.4}, best, "val_acc", "max")
    assert not improves({"val_acc": 0.9, "val_loss": 0.6}, best, "val_acc", "max")
    assert improves({"val_acc": 0.91, "val_loss": 9.0}, best, "val_acc", "max")  # the metric comes first
    assert not improves({"val_acc": 0.89, "val_loss": 0.0}, best, "val_acc", "max")
    assert not improves({"val_loss": 0.5}, {"val_loss": 0.5}, "val_loss", "min")  # the loss itself: no tie-break
    assert improves({"val_acc": 0.0}, None, "val_acc", "max")


class _FS:
    should_stop, stop_reason = False, ""


def test_early_stopping_counts_a_plateau_with_falling_loss_as_progress():
    es, fs = EarlyStopping(2, metric="val_acc", mode="max"), _FS()
    for loss in (0.9, 0.8, 0.7, 0.6):  # accuracy flat, loss falling: keep going
        es.on_evaluate(fs, {"val_acc": 0.5, "val_loss": loss})
    assert not fs.should_stop
    es.on_evaluate(fs, {"val_acc": 0.5, "val_loss": 0.65})
    es.on_evaluate(fs, {"val_acc": 0.5, "val_loss": 0.61})
    assert fs.should_stop and "val_acc did not improve" in fs.stop_reason
    restored = EarlyStopping(2, metric="val_acc", mode="max")
    restored.load_state_dict(es.state_dict())
    assert (restored.best, restored.best_loss, restored.bad) == (0.5, 0.6, 2)
