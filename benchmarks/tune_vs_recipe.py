"""Tuned vs recipe under equal compute (issue #24): for one case, three arms through the CLI at ``--threads 1``.

1. **recipe**: the committed config (``configs/*.json``) trained once with a wall-clock budget of B seconds
   (``--time_limit=B``), scored on the test split.
2. **tune**: ``rnnkit tune`` with N trials of B/N seconds each (``--time_limit=B/N`` in the base config, so the
   search costs B of training in total), judged on validation only. The best trial's own weights are then scored
   on the test split (``rnnkit TASK eval``): that is the tuned result at *equal* compute.
3. **final**: the best config retrained once with the full budget B and scored on the test split: what a user
   would deploy; it costs B more, so the tuned side has spent 2B by then. Both are reported, labelled.

Every arm sees the same train / validation / test split (the recipe gets the validation split it needs to pick
``best`` too), the same seed (0) and the same sampler seed (0). One JSON line per case goes to
``benchmarks/results/tune_vs_recipe.jsonl`` with the commands, host, load and wall times.

    python benchmarks/tune_vs_recipe.py monthly-sunspots            # one case, about 3 x its budget
    python benchmarks/tune_vs_recipe.py mr-polarity --budget 20 --trials 2 --out /tmp/smoke --no-record
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))
from common import host_line, shared_data_root  # noqa: E402

RESULTS = HERE / "results" / "tune_vs_recipe.jsonl"


@dataclass(frozen=True)
class Case:
    task: str
    config: str  # the committed recipe, relative to the repo
    space: str  # relative to the repo
    budget: float  # B: seconds of training for the recipe, for the whole search, and for the final retrain
    trials: int  # N: the search's trials get B / N seconds each
    test_key: str  # the headline test metric in eval.json / `eval --json`
    higher_is_better: bool
    split: tuple[str, ...] = field(default_factory=tuple)  # overrides giving every arm the same val/test split

    @property
    def common(self) -> tuple[str, ...]:
        """Overrides every arm gets: the split, and ``best`` picked by the task's own validation metric (the
        search's objective, e.g. val_acc, val_MAE) rather than the recipes' val_loss."""
        root = os.environ.get("RNNKIT_DATA") or shared_data_root() or "data"
        return (*(x.replace("{data}", root) for x in self.split), "--train.checkpoint.monitor=auto")


CASES = {
    "mr-polarity": Case(
        "classify",
        "configs/classify-mr-polarity.json",
        "benchmarks/tune_spaces/mr-polarity.json",
        150,
        6,
        "accuracy",
        True,
        ("--data.val_fraction=0.1",),  # fold 0 of 10 is the test; 10% of the rest validates
    ),
    "tiny-shakespeare": Case(
        "lm",
        "configs/lm-tiny-shakespeare-3min.json",
        "benchmarks/tune_spaces/tiny-shakespeare.json",
        120,
        4,
        "test.loss",
        False,
        # the dataset has no test split: the file itself, its last 5% test and the 5% before it validation (a
        # smaller validation than the recipe's 10%: a full pass costs ~35 s on a loaded core, per trial)
        ("--data", "{data}/tiny-shakespeare/input.txt", "--data.val_fraction=0.05", "--data.test_fraction=0.05"),
    ),
    "monthly-sunspots": Case(
        "forecast",
        "configs/forecast-monthly-sunspots.json",
        "benchmarks/tune_spaces/monthly-sunspots.json",
        90,
        6,
        "MAE",
        False,  # the recipe's spans: train to 70%, validation to 80%, test after
    ),
}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnnkit.cli", "--threads", "1", *args]


def run(cmd: list[str], log: Path) -> tuple[float, str]:
    """Run ``cmd`` (stdout+stderr to ``log``); returns wall seconds and stdout. Raises with the log's tail."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"}  # rich tables in the logs unclipped
    if shared_data_root() and not env.get("RNNKIT_DATA"):
        env["RNNKIT_DATA"] = shared_data_root()
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    secs = time.monotonic() - t0
    log.write_text(f"$ {' '.join(cmd)}\n{p.stdout}\n--- stderr ---\n{p.stderr}")
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return secs, p.stdout


def read_eval(run_dir: Path) -> dict:
    return json.loads((run_dir / "eval.json").read_text())


def pick(report: dict, key: str) -> float:
    """The headline metric: ``key`` may be a dotted path ("test.loss": eval.json of an lm run also holds "valid");
    `eval --json` reports the test split flat, so the last part alone is tried next."""
    node: object = report
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, (int, float)):
        return float(node)
    last = key.split(".")[-1]
    if isinstance(report.get(last), (int, float)):
        return float(report[last])
    raise KeyError(f"{key!r} not in the report {sorted(report)}")


def steps_of(run_dir: Path) -> int:
    last = 0
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        last = max(last, int(rec.get("step", 0) or 0))
    return last


def _short(params: dict) -> str:
    return ", ".join(
        f"{k.split('.')[-1]} {v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]} {v}" for k, v in params.items()
    )


def table(rows: list[dict]) -> str:
    """The RESULTS.md table: one line per recorded case (the newest record of each)."""
    newest = {r["case"]: r for r in rows if r.get("kind") is None}
    out = [
        "| case (test metric) | B s, N x B/N | recipe | tuned, best trial (= compute) | tuned, retrained (2B) | "
        "steps recipe / trial / retrained | trials | best params | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in newest.values():
        arrow = "higher" if r["higher_is_better"] else "lower"
        states = ", ".join(f"{n} {s}" for s, n in sorted(r["trial_states"].items()))
        out.append(
            f"| {r['case']} ({r['test_metric']}, {arrow} better) | {r['budget_s']:g}, {r['trials']} x "
            f"{r['per_trial_s']:g} | {r['recipe_test']:.4f} | {r['tuned_best_trial_test']:.4f} | "
            f"{r['tuned_final_test']:.4f} | {r['recipe_steps']} / {r['best_trial_steps']} / {r['final_steps']} | "
            f"{states} | {_short(r['best_params'])} | {r['load_1min_start']:.0f}-{r['load_1min_end']:.0f} |"
        )
    return "\n".join(out)


def seed_runs(a: argparse.Namespace, case: Case, budget: float, out: Path, study: Path) -> None:
    """The recipe and the study's best config (full budget B) trained again with other seeds: how far one seed's
    test score moves by chance. Appends ``{"kind": "seeds", ...}`` (the table of ``--table`` skips it)."""
    if not (study / "best-config.json").is_file():
        raise SystemExit(f"{study}/best-config.json is missing: run the case first")
    load0, scores, cmds = os.getloadavg()[0], {"recipe": {}, "tuned_final": {}}, []
    for seed in a.seeds:
        for arm, config, extra in (
            ("recipe", case.config, case.common),
            ("tuned_final", str(study / "best-config.json"), ()),
        ):
            run_dir = out / f"{arm}-seed{seed}"
            cmd = cli(
                case.task,
                "train",
                "--config",
                config,
                *extra,
                f"--time_limit={budget:g}",
                f"--train.seed={seed}",
                "--out",
                str(run_dir),
                "--overwrite",
                "--quiet",
            )
            run(cmd, out / f"{arm}-seed{seed}.log")
            scores[arm][seed] = pick(read_eval(run_dir), case.test_key)
            cmds.append(" ".join(["rnnkit", *cmd[3:]]))
            print(f"{arm} seed {seed}: {case.test_key} {scores[arm][seed]:.4f} ({steps_of(run_dir)} steps)", flush=True)
    row = {
        "case": a.case,
        "kind": "seeds",
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "host": host_line(),
        "load_1min_start": round(load0, 2),
        "load_1min_end": round(os.getloadavg()[0], 2),
        "budget_s": budget,
        "test_metric": case.test_key,
        "scores": scores,
        "commands": cmds,
    }
    print(json.dumps(row["scores"]))
    if not a.no_record:
        with RESULTS.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", nargs="?", choices=sorted(CASES))
    ap.add_argument("--table", action="store_true", help="print the recorded rows as a markdown table and exit")
    ap.add_argument("--budget", type=float, help="B in seconds (default: the case's)")
    ap.add_argument("--trials", type=int, help="N (default: the case's)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/rnnkit-tune-vs-recipe"), help="where the runs go")
    ap.add_argument("--no-record", action="store_true", help="do not append to results/tune_vs_recipe.jsonl")
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help="after a run: train the recipe and the study's best config "
        "again with these training seeds (the noise of one seed), recorded as a 'seeds' row",
    )
    a = ap.parse_args()
    if a.table:
        print(table([json.loads(x) for x in RESULTS.read_text().splitlines() if x.strip()]))
        return
    if a.case is None:
        ap.error("name a case (or --table)")
    case = CASES[a.case]
    budget, trials = a.budget or case.budget, a.trials or case.trials
    per_trial = round(budget / trials, 1)
    out = a.out / a.case
    out.mkdir(parents=True, exist_ok=True)
    print(host_line(), flush=True)
    load0 = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())

    recipe, study, final = out / "recipe", out / "study", out / "final"
    if a.seeds:
        return seed_runs(a, case, budget, out, study)
    cmds = {
        "recipe": cli(
            case.task,
            "train",
            "--config",
            case.config,
            *case.common,
            f"--time_limit={budget:g}",
            "--out",
            str(recipe),
            "--overwrite",
            "--quiet",
        ),
        "tune": cli(
            "tune",
            case.task,
            "--config",
            case.config,
            *case.common,
            f"--time_limit={per_trial:g}",
            "--space",
            case.space,
            "--trials",
            str(trials),
            "--seed",
            "0",
            "--out",
            str(study),
        ),
    }
    if study.exists():
        raise SystemExit(f"{study} exists: a study resumes, which is not this benchmark; remove it or pass --out")
    walls = {}
    walls["recipe"], _ = run(cmds["recipe"], out / "recipe.log")
    print(f"recipe: {walls['recipe']:.0f} s", flush=True)
    walls["tune"], _ = run(cmds["tune"], out / "tune.log")
    print(f"tune: {walls['tune']:.0f} s", flush=True)

    import optuna  # the study the CLI left, read back for the best trial and the states

    from rnnkit.tune import open_study

    s = open_study(study)
    best = s.best_trial
    states = {}
    for t in s.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    best_dir = study / f"trial-{best.number:04d}"
    cmds["best_trial_test"] = cli(case.task, "eval", str(best_dir), "--json")
    walls["best_trial_test"], stdout = run(cmds["best_trial_test"], out / "best-trial-eval.log")
    best_report = json.loads(stdout.strip().splitlines()[-1])
    cmds["final"] = cli(
        case.task,
        "train",
        "--config",
        str(study / "best-config.json"),
        f"--time_limit={budget:g}",
        "--out",
        str(final),
        "--overwrite",
        "--quiet",
    )
    walls["final"], _ = run(cmds["final"], out / "final.log")
    print(f"final: {walls['final']:.0f} s", flush=True)

    rec_report, fin_report = read_eval(recipe), read_eval(final)
    key = case.test_key
    row = {
        "case": a.case,
        "task": case.task,
        "started_utc": started,
        "host": host_line(),
        "load_1min_start": round(load0, 2),
        "load_1min_end": round(os.getloadavg()[0], 2),
        "threads": 1,
        "budget_s": budget,
        "trials": trials,
        "per_trial_s": per_trial,
        "seed": 0,
        "sampler_seed": 0,
        "optuna": optuna.__version__,
        "test_metric": key,
        "higher_is_better": case.higher_is_better,
        "recipe_test": pick(rec_report, key),
        "tuned_best_trial_test": pick(best_report, key),
        "tuned_final_test": pick(fin_report, key),
        "recipe_steps": steps_of(recipe),
        "best_trial_steps": steps_of(best_dir),
        "final_steps": steps_of(final),
        "best_trial": best.number,
        "best_val": best.value,
        "monitor": json.loads((study / "study.json").read_text())["monitor"],
        "best_params": best.params,
        "trial_states": states,
        "wall_s": {k: round(v, 1) for k, v in walls.items()},
        "commands": {k: " ".join(["rnnkit", *v[3:]]) for k, v in cmds.items()},
        "reports": {"recipe": rec_report, "tuned_best_trial": best_report, "tuned_final": fin_report},
    }
    print(
        json.dumps(
            {
                k: row[k]
                for k in (
                    "case",
                    "recipe_test",
                    "tuned_best_trial_test",
                    "tuned_final_test",
                    "best_params",
                    "trial_states",
                    "wall_s",
                )
            },
            default=str,
        )
    )
    if not a.no_record:
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as fh:
            fh.write(json.dumps(row, default=str) + "\n")


if __name__ == "__main__":
    main()
