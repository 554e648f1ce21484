"""A study read back: its trials as a table, ``show`` for ``rnnkit tune show``, and plots (``write_plots``).

Companion of ``rnnkit.tune`` (which runs the search); ``write_plots`` draws the optimisation history, PED-ANOVA
parameter importances and parallel coordinates with Optuna's matplotlib backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnnkit.tune import STUDY_FILE, TuneError, open_study, require_optuna

# ---- results -------------------------------------------------------------------------------------------------


def trials_table(study: Any, *, monitor: str = "value") -> Any:
    """A rich table of the study's trials, best first (then running, pruned, failed), with each one's params."""
    from rich.table import Table

    keys = sorted({k for t in study.trials for k in t.params})
    sign = -1.0 if study.direction.name.lower() == "maximize" else 1.0
    order = {"COMPLETE": 0, "RUNNING": 1, "PRUNED": 2, "FAIL": 3}
    rows = sorted(study.trials, key=lambda t: (order.get(t.state.name, 4), sign * (t.value or 0.0), t.number))
    table = Table(
        title=f"study {study.study_name}: {len(study.trials)} trials, {study.direction.name.lower()} {monitor}"
    )
    for col in ("trial", "state", monitor, *keys, "seconds", "note"):
        table.add_column(col, justify="left" if col in ("state", "note") else "right")
    for t in rows:
        secs = t.duration.total_seconds() if t.duration is not None else None
        note = t.user_attrs.get("error", "")
        table.add_row(
            str(t.number),
            t.state.name.lower(),
            "" if t.value is None else f"{t.value:.4g}",
            *[_fmt(t.params.get(k)) for k in keys],
            "" if secs is None else f"{secs:.1f}",
            note[:80],
        )
    return table


def _fmt(v: Any) -> str:
    return "" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


def study_task(study_dir: str | Path) -> str:
    """The task a study folder tunes (its study.json); TuneError when it is not a study folder."""
    meta = Path(study_dir) / STUDY_FILE
    try:
        return str(json.loads(meta.read_text(encoding="utf-8"))["task"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TuneError(
            f"{study_dir} is not a study folder (no readable {STUDY_FILE} naming its task); "
            "pass the --out of `rnnkit tune TASK`"
        ) from None


def show(study_dir: str | Path, *, storage: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The study in ``study_dir`` and its study.json (what ``rnnkit tune show`` prints)."""
    d = Path(study_dir)
    study = open_study(d, storage=storage)
    return study, json.loads((d / STUDY_FILE).read_text(encoding="utf-8"))


# ---- plots ---------------------------------------------------------------------------------------------------

PLOTS = {
    "history": "optimization-history.png",
    "importances": "param-importances.png",
    "parallel": "parallel-coordinates.png",
}
IMPORTANCE = "PED-ANOVA"  # optuna's default evaluator (fANOVA) needs scikit-learn; PED-ANOVA needs nothing more


def write_plots(study: Any, out_dir: str | Path, *, monitor: str = "value") -> dict[str, Path]:
    """Optimisation history, parameter importances and parallel coordinates of ``study`` as PNGs in ``out_dir``
    (names in ``PLOTS``); returns ``{plot: path}``.

    Importances are Optuna's PED-ANOVA (``PedAnovaImportanceEvaluator``, no scikit-learn needed): how much each
    parameter's distribution differs between the best 10% of completed trials and all of them. With a handful of
    trials they are a rough hint, not a measurement. TuneError when fewer than two trials completed (nothing to
    compare) or the study has no parameters."""
    import warnings

    optuna = require_optuna()
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.visualization import matplotlib as ovm

    from rnnkit.plots import save_figure

    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(done) < 2:
        states = _count_states(study)
        raise TuneError(
            f"plots need at least 2 completed trials; study {study.study_name!r} has {len(done)} "
            f"({states or 'no trials'}): add trials (`rnnkit tune TASK --trials N` resumes)"
        )
    if not any(t.params for t in done):
        raise TuneError(f"study {study.study_name!r} has no parameters to plot")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target_name = monitor
    draw = {
        "history": lambda: ovm.plot_optimization_history(study, target_name=target_name),
        "importances": lambda: ovm.plot_param_importances(
            study, evaluator=PedAnovaImportanceEvaluator(), target_name=target_name
        ),
        "parallel": lambda: ovm.plot_parallel_coordinate(study, target_name=target_name),
    }
    written = {}
    with warnings.catch_warnings():
        # "experimental" (every matplotlib plot), "too few trials: importances equal" and flat-axis warnings: the
        # PNG still says what there is, and the caller's message says how many trials it is drawn from
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)
        for name, fn in draw.items():
            ax = fn()
            fig = ax.figure
            if name == "importances":
                ax.set_title(f"Hyperparameter importances ({IMPORTANCE}, {len(done)} completed trials)", loc="left")
            fig.set_size_inches(max(fig.get_figwidth(), 8), max(fig.get_figheight(), 5))
            fig.tight_layout()
            written[name] = save_figure(fig, out / PLOTS[name])
    return written


def _count_states(study: Any) -> str:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
