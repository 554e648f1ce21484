"""How task reports are shown: rich tables for classification, a PNG of the confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def print_report(report: dict[str, Any], *, title: str = "") -> None:
    """Accuracy / macro-F1 line, per-class precision/recall/F1 and the confusion matrix as rich tables."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(
        f"[bold]{title}[/bold] accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
        f"loss {report['loss']:.4f}  n={report['n']}"
    )
    t = Table(title="per class")
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for name, v in report["per_class"].items():
        t.add_row(name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    con.print(t)
    cm = Table(title="confusion matrix (rows: true, columns: predicted)")
    cm.add_column("")
    classes = report["classes"]
    for c in classes:
        cm.add_column(c[:4], justify="right")
    for k, (c, row) in enumerate(zip(classes, report["confusion"], strict=True)):
        cm.add_row(c, *[f"[bold]{v}[/bold]" if i == k else (str(v) if v else ".") for i, v in enumerate(row)])
    con.print(cm)


def save_confusion_png(report: dict[str, Any], path: Path) -> Path:
    """Row-normalised confusion matrix as a PNG (``rnnkit.plots.plot_confusion_matrix``)."""
    import numpy as np

    from rnnkit.plots import plot_confusion_matrix

    return plot_confusion_matrix(np.asarray(report["confusion"]), report["classes"], path)
