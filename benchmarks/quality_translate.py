"""Quality of the translation task on fra-eng (Tatoeba), greedy vs beam 5, BLEU / chrF with sacrebleu.

    python benchmarks/quality_translate.py tutorial     # PyTorch tutorial subset, fra -> eng, test 10% (seed 1234)
    python benchmarks/quality_translate.py table        # latest record per setting as a markdown table

Trains once (fixed number of optimiser steps, through ``Translator.fit``), then scores the held-out test
split with greedy and beam-5 decoding (batched, sentences sorted by length), and prints one JSON line
(scores, sacrebleu signatures, wall times, load average, settings, machine) that is appended to
``benchmarks/results/quality_translate.jsonl``. Any config field can be overridden with dotted keys after
``--``, e.g. ``-- train.max_steps=100 model.hidden_size=128``. Needs the data root ($RNNKIT_DATA or
../shared/data). The validation split only picks the checkpoint (by validation BLEU); the test split is scored
once. ``bleu`` / ``chrf`` are sacreBLEU on the detokenised output against the raw references; the tutorial setting
trains on the tutorial's normalised (lowercased, ASCII) text, so it also records ``bleu_normalised`` /
``chrf_normalised`` (references normalised the same way: the figures earlier records call ``bleu``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import print_host, split_overrides

from rnnkit.config import apply_overrides, to_dict
from rnnkit.tasks.translate.task import Translator, TranslatorConfig

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "quality_translate.jsonl"

# The settings the RESULTS.md figures were measured with (dotted overrides of TranslatorConfig).
SETTINGS: dict[str, list[str]] = {
    "tutorial": [
        "data.dataset=fra-eng",
        "data.setting=tutorial",
        "data.normalize=tutorial",
        "data.direction=fra-eng",
        "data.max_len=10",
        "data.test_fraction=0.1",
        "data.val_fraction=0.05",
        "data.split_seed=1234",
        "data.level=word",
        "model.cell.name=gru",
        "model.hidden_size=256",
        "model.embed_size=128",
        "model.attention=general",
        "model.input_feed=true",
        "model.dropout=0.1",
        "data.batch_size=64",
        "train.lr=2e-3",
        "train.epochs=100",
        "train.max_steps=700",
        "train.eval_every=350",
        "train.schedule.name=cosine",
        "train.schedule.min_lr_ratio=0.1",
        "objective.label_smoothing=0.1",
        "decode.length_penalty=0.6",
    ],
}


def run(name: str, overrides: list[str], *, threads: int, data_root: str | None) -> dict:
    torch.set_num_threads(threads)
    cfg = apply_overrides(TranslatorConfig(), [*SETTINGS[name], *overrides, "train.quiet=true"])
    if data_root:
        cfg = apply_overrides(cfg, [f"data.data_root={data_root}"])
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tr = Translator(replace(cfg, run_dir=tmp))
        splits = tr.load_data()
        t0 = time.perf_counter()
        tr.fit(splits.train, splits.val)
        train_s = time.perf_counter() - t0
        tr = Translator.load(tmp, which="best")
    torch.set_num_threads(threads)
    reports = {"greedy": tr.evaluate(splits.test, beam_size=1), "beam5": tr.evaluate(splits.test, beam_size=5)}
    keys = ("bleu", "chrf", "bleu_normalised", "chrf_normalised", "exact_match", "sentences_per_s", "decode_seconds")
    return {
        "setting": name,
        "pairs": {"train": len(splits.train), "val": len(splits.val or ()), "test": len(splits.test)},
        "notes": splits.notes,
        "vocab": {"src": len(tr.src_vocab), "tgt": len(tr.tgt_vocab)},
        "train_seconds": round(train_s, 1),
        "steps": int(tr.model.train_steps),
        "scoring": f"sacreBLEU: {reports['beam5']['output']} output vs {reports['beam5']['references']} references",
        "decode": {k: {x: round(r[x], 4) for x in keys if x in r} for k, r in reports.items()},
        "bleu_signature": reports["beam5"]["bleu_signature"],
        "chrf_signature": reports["beam5"]["chrf_signature"],
        "samples": reports["beam5"]["samples"],
        "overrides": [*SETTINGS[name], *overrides],
        "config": to_dict(tr.config),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": threads,
            "torch": torch.__version__,
            "loadavg_start": [round(x, 1) for x in load0],
            "loadavg_end": [round(x, 1) for x in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table() -> str:
    """Latest record per setting. Records written before the honest scoring (no "scoring" key) scored normalised
    output against normalised references: their BLEU goes in the normalised columns, the raw ones stay empty."""
    latest: dict[str, dict] = {}
    for line in OUT.read_text().splitlines():
        rec = json.loads(line)
        latest[rec["setting"]] = rec
    rows = [
        "| setting | pairs train/test | decoding | BLEU (raw refs) | chrF (raw refs) | BLEU (normalised) | "
        "chrF (normalised) | exact | sentences/s | train time | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for name, r in latest.items():
        for k, d in r["decode"].items():
            raw = "scoring" in r
            bleu, chrf = (d["bleu"], d["chrf"]) if raw else (None, None)
            bn, cn = (d.get("bleu_normalised"), d.get("chrf_normalised")) if raw else (d["bleu"], d["chrf"])
            rows.append(
                f"| {name} | {r['pairs']['train']}/{r['pairs']['test']} | {k} | {f(bleu)} | {f(chrf)} | {f(bn)} | "
                f"{f(cn)} | {d['exact_match']:.3f} | {d['sentences_per_s']:.0f} | "
                f"{r['train_seconds']:.0f} s ({r['steps']} steps) | "
                f"{r['machine']['loadavg_start'][0]}-{r['machine']['loadavg_end'][0]} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    print_host(stderr=True)  # the CPU model and flags every figure depends on
    argv, extra = split_overrides(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=[*SETTINGS, "table"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--no-save", action="store_true", help="print only, do not append to the results file")
    args = ap.parse_args(argv)
    if args.what == "table":
        print(table())
        return
    rec = run(args.what, extra, threads=args.threads, data_root=args.data_root)
    line = json.dumps(rec)
    print(line)
    if not args.no_save:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with OUT.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
