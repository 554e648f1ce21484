"""Language-model quality: run the recipes in configs/ and record figure, wall time, machine and command.

    python benchmarks/quality_lm.py        # every recipe: 3 + 30 + 15 + 115 min of training, plus evaluation
    python benchmarks/quality_lm.py tiny-shakespeare-3min ptb-small-15min
    python benchmarks/quality_lm.py tiny-shakespeare-3min --time-limit 90 --no-write   # a short sanity run

Each recipe is ``configs/lm-<name>.json`` trained with ``LanguageModel.fit_and_test`` (through ``fit``); the figure
is the full validation (and test) split evaluated with the state carried at batch size 1 on the best
checkpoint. The time to reach the target is read from the periodic evaluations (``eval_every``) when the
recipe has them. Results go to ``benchmarks/results/quality_lm.json`` (one record per recipe, the latest run's;
other recipes' records are kept) and, unless ``--no-write``, into the
language-modelling section of ``benchmarks/RESULTS.md`` (between its markers; nothing else is touched).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import print_host, shared_data_root

from rnnkit.config import load_config
from rnnkit.tasks.lm.task import LanguageModel, LMConfig
from rnnkit.train import Callback

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
START, END = "<!-- quality_lm:start -->", "<!-- quality_lm:end -->"

# recipe -> (split the target is on, metric, target, what it is compared with)
TARGETS = {
    "tiny-shakespeare-3min": ("valid", "loss", 1.55, "plain 2x512 nn.LSTM: 1.64 nats/char at 3 min"),
    "tiny-shakespeare-30min": ("valid", "loss", 1.40, "plain 2x512 nn.LSTM: plateau 1.439 at ~17 min"),
    "ptb-small-15min": ("test", "ppl", 114.5, "Zaremba et al. 2014 small (13 epochs): test 114.5"),
    "ptb-medium-2h": ("test", "ppl", 82.7, "Zaremba medium 82.7; pytorch/examples tied 2x650 75.96"),
}


class EvalClock(Callback):
    """Records (seconds since fit start, step, val_loss) at every evaluation, to find the time to a target."""

    def __init__(self) -> None:
        self.t0, self.points = 0.0, []

    def on_fit_start(self, fs) -> None:
        self.t0 = time.monotonic()

    def on_evaluate(self, fs, metrics) -> None:
        self.points.append((round(time.monotonic() - self.t0, 1), fs.step, metrics.get("val_loss")))


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "load_avg_1min_at_start": round(os.getloadavg()[0], 1),
    }


def run(name: str, args: argparse.Namespace) -> dict:
    cfg = load_config(LMConfig, REPO / "configs" / f"lm-{name}.json")
    out = Path(args.runs) / name
    cfg = replace(cfg, run_dir=str(out), data=replace(cfg.data, data_root=args.data_root or cfg.data.data_root))
    if args.time_limit:
        cfg = replace(cfg, time_limit=args.time_limit)
    if args.quiet:
        cfg = replace(cfg, train=replace(cfg.train, quiet=True))
    clock = EvalClock()
    info = machine()
    t0 = time.monotonic()
    res = LanguageModel(cfg).fit_and_test(callbacks=[clock])
    info["load_avg_1min_at_end"] = round(os.getloadavg()[0], 1)
    split, metric, target, anchor = TARGETS[name]
    value = res.get(split, {}).get(metric)
    # the periodic evals run on the validation stream in columns (fast); the final figure is exact (batch 1)
    hit = next((p for p in clock.points if p[2] is not None and metric == "loss" and p[2] <= target), None)
    return {
        "recipe": name,
        "config": f"configs/lm-{name}.json",
        "split": split,
        "metric": metric,
        "value": value,
        "target": target,
        "met": value is not None and value <= target,
        "anchor": anchor,
        "train_seconds": res["train_seconds"],
        "total_seconds": round(time.monotonic() - t0, 1),
        "steps": res["steps"],
        "time_limit": cfg.time_limit,
        "first_eval_at_target": hit,
        "evals": clock.points,
        "results": res,
        "machine": info,
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| recipe | figure | target | met | train time | steps | machine (load at start/end) | compared with |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["machine"]
        fig = f"{r['split']} {r['metric']} {r['value']:.3f}" if r["value"] is not None else "n/a"
        lines.append(
            f"| `{r['config']}` | {fig} | ≤ {r['target']} | {'yes' if r['met'] else 'no'} | "
            f"{r['train_seconds'] / 60:.1f} min (limit {r['time_limit'] / 60:.1f}) | {r['steps']} | "
            f"{m['cores']}x {m['cpu']}, {m['threads']} threads, torch {m['torch']} "
            f"({m['load_avg_1min_at_start']}/{m['load_avg_1min_at_end']}) | {r['anchor']} |"
        )
    return "\n".join(lines)


def write_results_md(rows: list[dict], command: str) -> None:
    """Replace the block between the markers in RESULTS.md (append the block if the markers are absent)."""
    path = HERE / "RESULTS.md"
    block = (
        f"{START}\n## Language modelling quality (benchmarks/quality_lm.py)\n\n"
        f"Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). Figures: whole split, "
        f"state carried, batch 1, best checkpoint; nats/char for Tiny Shakespeare, perplexity for PTB.\n\n"
        f"{table(rows)}\n{END}\n"
    )
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        a, b = text.index(START), text.index(END) + len(END) + 1
        text = text[:a] + block + text[b:]
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + "\n" + block
    path.write_text(text)


def main() -> None:
    print_host(stderr=True)  # the CPU model and flags every figure depends on
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipes", nargs="*", default=list(TARGETS), help=f"any of {', '.join(TARGETS)}")
    ap.add_argument("--data-root", default=None, help="datasets folder (default $RNNKIT_DATA or ../shared/data)")
    ap.add_argument("--runs", default="runs/quality_lm", help="where the run folders go")
    ap.add_argument("--time-limit", type=float, default=0.0, help="override every recipe's time limit (seconds)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args()
    args.data_root = args.data_root or shared_data_root()
    if args.threads:
        torch.set_num_threads(args.threads)
    unknown = [r for r in args.recipes if r not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {unknown}; known: {', '.join(TARGETS)}")
    rows = []
    for name in args.recipes:
        rows.append(run(name, args))
        print(table(rows[-1:]), flush=True)
    out = HERE / "results" / "quality_lm.json"
    out.parent.mkdir(exist_ok=True)
    # keep the other recipes' latest records: a run of one recipe replaces only that recipe's record
    done = {r["recipe"] for r in rows}
    kept = [r for r in json.loads(out.read_text()) if r.get("recipe") not in done] if out.exists() else []
    out.write_text(json.dumps(kept + rows, indent=1) + "\n")
    if not args.no_write:
        write_results_md(rows, rows[0]["command"])


if __name__ == "__main__":
    main()
