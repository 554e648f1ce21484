"""Every registered cell on Tiny Shakespeare at a fixed time budget and (almost) the same parameter count.

    python benchmarks/quality_cells.py --threads 1                       # every cell, 10 minutes each
    python benchmarks/quality_cells.py --cells gru mingru --threads 1    # a subset (run two such at once on 2 cores)
    python benchmarks/quality_cells.py table                             # markdown table of the latest row per cell
    python benchmarks/quality_cells.py sizes                             # the hidden size chosen for each cell

Each cell trains the 3-minute recipe (``configs/lm-tiny-shakespeare-3min.json``: 2 layers, embedding 64,
dropout 0.1, batch 32, TBPTT 64, AdamW 3e-3, warmup-stable-decay over the budget) with only the cell and the
hidden size changed; the hidden size is picked so the whole model's parameter count is the closest to the
reference (the recipe's own 2x256 LSTM, ~877k) and within ±10% of it. The figure is the validation split's
exact loss (batch 1, state carried) on the best checkpoint. One JSON line per run goes to
``benchmarks/results/quality_cells.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import print_host, shared_data_root
from quality_lm import machine

from rnnkit.config import load_config
from rnnkit.registry import cell_names
from rnnkit.tasks.lm.task import LanguageModel, LMConfig

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RECIPE = REPO / "configs" / "lm-tiny-shakespeare-3min.json"
OUT = HERE / "results" / "quality_cells.jsonl"
TOLERANCE = 0.10  # the "same parameter count ±10%"


def base_config(data_root: str | None) -> LMConfig:
    cfg = load_config(LMConfig, RECIPE)
    return replace(cfg, data=replace(cfg.data, data_root=data_root or cfg.data.data_root))


def with_layers(cfg: LMConfig, layers: int | None) -> LMConfig:
    return replace(cfg, model=replace(cfg.model, num_layers=layers)) if layers else cfg


def count(lm: LanguageModel, cell: str, hidden: int) -> int:
    m = lm.config.model
    lm.config = replace(lm.config, model=replace(m, hidden_size=hidden, cell=replace(m.cell, name=cell)))
    return sum(p.numel() for p in lm.build_model().parameters())


def matched_hidden(cfg: LMConfig, cell: str, layers: int | None = None) -> tuple[int, int, int]:
    """(hidden size, its parameter count, the reference count): the multiple of 8 closest to the reference
    (the recipe's own model), for ``cell`` with ``layers`` layers (default: the recipe's)."""
    lm = LanguageModel(cfg)
    target = count(lm, cfg.model.cell.name, cfg.model.hidden_size)
    lm.config = with_layers(lm.config, layers)
    lo, hi = 1, 256  # in units of 8; the count grows with the hidden size, so bisect for the first one >= target
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(lm, cell, 8 * mid) < target else (lo, mid)
    best = min((8 * max(lo - 1, 1), 8 * lo), key=lambda h: abs(count(lm, cell, h) - target))
    n = count(lm, cell, best)
    if abs(n - target) > TOLERANCE * target:
        raise SystemExit(f"{cell}: no hidden size within ±10% of {target} parameters (closest {best}: {n})")
    return best, n, target


def run(cell: str, args: argparse.Namespace) -> dict:
    cfg = base_config(args.data_root)
    hidden, params, target = matched_hidden(cfg, cell, args.layers)
    cfg = with_layers(cfg, args.layers)
    m = cfg.model
    name = f"{cell}-L{m.num_layers}" if args.layers else cell
    cfg = replace(
        cfg,
        run_dir=str(Path(args.runs) / name),
        time_limit=args.budget,
        model=replace(m, hidden_size=hidden, cell=replace(m.cell, name=cell)),
        train=replace(cfg.train, quiet=True, seed=args.seed),
    )
    info = machine()
    t0 = time.monotonic()
    res = LanguageModel(cfg).fit_and_test()
    info["load_avg_1min_at_end"] = round(os.getloadavg()[0], 1)
    tokens = res["steps"] * cfg.data.batch_size * cfg.data.bptt
    return {
        "cell": cell,
        "layers": m.num_layers,
        "hidden": hidden,
        "parameters": params,
        "reference_parameters": target,
        "valid_loss": res["valid"]["loss"],
        "valid_bpc": res["valid"].get("bpc"),
        "steps": res["steps"],
        "train_seconds": res["train_seconds"],
        "tokens_per_second": round(tokens / res["train_seconds"]),
        "total_seconds": round(time.monotonic() - t0, 1),
        "budget": args.budget,
        "seed": args.seed,
        "machine": info,
        "command": "python " + shlex.join(sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(rows: list[dict]) -> str:
    latest = {(r["cell"], r.get("layers", 2)): r for r in rows}
    ref = latest.get(("gru", 2))
    lines = [
        "| cell | layers x hidden | parameters | valid nats/char | bits/char | vs gru | steps | tokens/s | threads "
        "| load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(latest.values(), key=lambda r: r["valid_loss"]):
        d = f"{r['valid_loss'] - ref['valid_loss']:+.3f}" if ref else "–"
        m = r["machine"]
        lines.append(
            f"| {r['cell']} | {r.get('layers', 2)} x {r['hidden']} | {r['parameters']:,} | {r['valid_loss']:.3f} | "
            f"{r['valid_bpc']:.3f} | "
            f"{d} | {r['steps']} | {r['tokens_per_second']:,} | {m['threads']} | "
            f"{m['load_avg_1min_at_start']}/{m['load_avg_1min_at_end']} |"
        )
    return "\n".join(lines)


def main() -> None:
    print_host(stderr=True)  # the CPU model and flags every figure depends on
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", default="run", choices=["run", "table", "sizes"])
    ap.add_argument("--cells", nargs="+", default=None, help="default: every registered cell")
    ap.add_argument("--budget", type=float, default=600.0, help="training seconds per cell")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=None, help="layers (default: the recipe's 2); hidden re-matched")
    ap.add_argument("--data-root", default=None, help="datasets folder (default $RNNKIT_DATA or ../shared/data)")
    ap.add_argument("--runs", default="runs/quality_cells", help="where the run folders go")
    ap.add_argument("--out", type=Path, default=OUT, help="the JSON-lines record to append to / read")
    args = ap.parse_args()
    args.data_root = args.data_root or shared_data_root()
    cells = args.cells or cell_names(engine="nn")
    if args.what == "table":
        out = args.out
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
        print(table(rows))
        return
    if args.what == "sizes":
        cfg = base_config(args.data_root)
        for cell in cells:
            h, n, target = matched_hidden(cfg, cell, args.layers)
            print(f"{cell:16s} hidden {h:5d}  parameters {n:,} ({(n - target) / target:+.1%} of {target:,})")
        return
    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for cell in cells:
        row = run(cell, args)
        with args.out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(table([row]), flush=True)


if __name__ == "__main__":
    main()
