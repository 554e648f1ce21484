"""Quality of the classification and tagging tasks on the classic datasets, in their published settings.

    python benchmarks/quality_classify.py names            # names -> language, 85/15 split seed 2024
    python benchmarks/quality_classify.py japanese-vowels  # official 270 / 370 split
    python benchmarks/quality_classify.py mr               # MR polarity, 10-fold CV (--fold-limit K: first K folds)
    python benchmarks/quality_classify.py conll-chunk      # CoNLL-2000 chunking, official test set, span F1
    python benchmarks/quality_classify.py conll-pos        # CoNLL-2000 POS column as target, token accuracy
    python benchmarks/quality_classify.py all
    python benchmarks/quality_classify.py table            # latest record per dataset as a markdown table
    python benchmarks/quality_classify.py mr --fold-limit 3 --validate 0.1 -- model.hidden_size=128   # tuning:
        # scored on 10% held out of each training part, never on test; goes to results/tune_classify.jsonl
    python benchmarks/quality_classify.py mr --ensemble 5  # per fold, the mean of 5 runs' probabilities (seeds
        # train.seed .. +4), with each member's own accuracy beside it (`rnnkit classify eval RUN RUN ...`)

Each run prints one JSON line (figures, wall time, settings, machine) and appends it to
``benchmarks/results/quality_classify.jsonl``; ``benchmarks/RESULTS.md`` quotes those lines. Any config field can
be overridden with dotted keys after ``--``, e.g. ``-- train.epochs=3 model.hidden_size=64``. Needs the data root
($RNNKIT_DATA or ../shared/data). No validation split is taken from the test data: models are trained for a fixed
number of epochs and the final model (with ``train.ema``, its averaged weights) is scored once on the test set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import print_host, split_overrides

from rnnkit.config import apply_overrides, to_dict
from rnnkit.tasks import metrics as class_metrics
from rnnkit.tasks.classify.config import ClassifierConfig
from rnnkit.tasks.classify.data import load_splits as classify_splits
from rnnkit.tasks.classify.ensemble import evaluate_ensemble
from rnnkit.tasks.classify.task import Classifier
from rnnkit.tasks.tag.config import TaggerConfig
from rnnkit.tasks.tag.data import load_splits as tag_splits
from rnnkit.tasks.tag.task import Tagger

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "quality_classify.jsonl"

# The settings the RESULTS.md figures were measured with (dotted overrides of the task configs).
# The tuned settings, written out in full where they differ from today's task defaults (which choose input,
# pooling and CRF from the data and stop early on validation): these reproduce RESULTS.md's figures.
_FIXED = ["train.patience=0", "train.checkpoint.monitor=val_loss", "train.checkpoint.mode=min"]
SETTINGS: dict[str, list[str]] = {
    "names": [
        "data.dataset=names",
        "data.test_fraction=0.15",
        "data.split_seed=2024",
        "data.val_fraction=0",
        "model.input=char",
        "model.cell.name=lstm",
        "model.bidirectional=true",
        "model.hidden_size=256",
        "model.num_layers=2",
        "model.dropout=0.5",
        "model.embed_size=64",
        "model.pooling=last",
        "model.embed_dropout=0.1",
        "model.head_dropout=0.3",
        "data.batch_size=64",
        "train.lr=3e-3",
        "train.epochs=12",
        "train.schedule.name=cosine",
        *_FIXED,
    ],
    "japanese-vowels": [
        "data.dataset=japanese-vowels",
        "data.val_fraction=0",
        "model.input=numeric",
        "model.cell.name=lstm",
        "model.bidirectional=true",
        "model.hidden_size=64",
        "model.pooling=mean",
        "model.head_dropout=0.3",
        "data.batch_size=16",
        "train.lr=3e-3",
        "train.epochs=40",
        "model.embed_dropout=0",
        "model.embed_size=64",
        *_FIXED,
    ],
    "mr": [
        "data.dataset=mr-polarity",
        "data.folds=10",
        "data.split_seed=2024",
        "data.val_fraction=0",
        "model.input=word",
        "model.cell.name=gru",
        "model.bidirectional=true",
        "model.hidden_size=64",
        "model.embed_size=128",
        "model.pooling=mean",
        "model.embed_dropout=0.5",
        "model.head_dropout=0.5",
        "data.min_freq=1",
        "data.batch_size=50",
        "train.lr=2e-3",
        "train.epochs=8",
        "train.optim.weight_decay=0.01",
        "train.ema=0.99",
        *_FIXED,
    ],
    "conll-chunk": [
        "data.dataset=conll2000",
        "data.tag_column=2",
        "data.val_fraction=0",
        "model.cell.name=lstm",
        "model.hidden_size=128",
        "model.word_embed=100",
        "model.char_embed=25",
        "model.char_hidden=25",
        "model.crf=true",
        "model.embed_dropout=0.5",
        "data.batch_size=32",
        "train.lr=3e-3",
        "train.epochs=8",
        *_FIXED,
    ],
    "conll-pos": [
        "data.dataset=conll2000",
        "data.tag_column=1",
        "data.val_fraction=0",
        "model.cell.name=lstm",
        "model.hidden_size=128",
        "model.word_embed=100",
        "model.char_embed=25",
        "model.char_hidden=25",
        "model.crf=false",
        "model.embed_dropout=0.5",
        "data.batch_size=32",
        "train.lr=3e-3",
        "train.epochs=8",
        *_FIXED,
    ],
}


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }


def run_classify(
    name: str, extra: list[str], fold_limit: int, fold_start: int = 0, validate: float = 0.0, ensemble: int = 1
) -> dict:
    """Train on each fold's (or the split's) training part and score on its test part; with ``validate`` > 0
    score instead on that fraction of the training part, held out from training (for choosing a setting
    without looking at test data); with ``ensemble`` K > 1 train K seeds per fold and score their mean."""
    tail = [f"data.val_fraction={validate}"] if validate else []
    cfg = apply_overrides(ClassifierConfig(), [*SETTINGS[name], "train.quiet=true", *extra, *tail])
    folds = cfg.data.folds or 1
    results, t0 = [], time.perf_counter()
    for fold in range(fold_start, min(folds, fold_start + fold_limit) if fold_limit else folds):
        c_cfg = apply_overrides(cfg, [f"data.fold={fold}"]) if cfg.data.folds else cfg
        train, val, test = classify_splits(c_cfg.data)
        if validate:
            test = val
        members, members_acc = [], []
        for k in range(ensemble):
            clf = Classifier(apply_overrides(c_cfg, [f"train.seed={c_cfg.train.seed + k}"]))
            fr = clf.fit(train)
            members.append(clf)
            if ensemble > 1:
                members_acc.append(clf.evaluate(test)["accuracy"])
        r = evaluate_ensemble(members, test)
        index = {c: i for i, c in enumerate(clf.classes)}
        base = class_metrics.majority_baseline([index[y] for y in train.labels], [index[y] for y in test.labels])
        results.append(
            {
                "fold": fold,
                "accuracy": r["accuracy"],
                "macro_f1": r["macro_f1"],
                "majority": base,
                "epochs_done": fr.epoch,
                "steps": fr.step,
                "interrupted": fr.interrupted,
            }
        )
        if ensemble > 1:
            results[-1]["members_accuracy"] = members_acc
        print(json.dumps({"dataset": name, **results[-1]}), flush=True)
    acc = [r["accuracy"] for r in results]
    return {
        "dataset": name,
        "accuracy": float(np.mean(acc)),
        "accuracy_std": float(np.std(acc)),
        "macro_f1": float(np.mean([r["macro_f1"] for r in results])),
        "majority_baseline": float(np.mean([r["majority"] for r in results])),
        "folds_run": len(results),
        "folds_list": [r["fold"] for r in results],
        "folds": cfg.data.folds,
        "n_train": len(train),
        "n_test": len(test),
        "per_fold": results,
        "seconds": round(time.perf_counter() - t0, 1),
        "settings": SETTINGS[name] + extra,
        "ensemble": ensemble,
        "members_mean_accuracy": float(np.mean([a for r in results for a in r.get("members_accuracy", [])] or acc)),
        "scored_on": f"validation ({validate:.0%} of each training part)" if validate else "test",
        "config": to_dict(cfg),
    }


def run_tag(name: str, extra: list[str]) -> dict:
    cfg = apply_overrides(TaggerConfig(), [*SETTINGS[name], "train.quiet=true", *extra])
    t0 = time.perf_counter()
    train, _, test = tag_splits(cfg.data)
    tagger = Tagger(cfg)
    fr = tagger.fit(train)
    r = tagger.evaluate(test)
    return {
        "dataset": name,
        **r,
        "epochs_done": fr.epoch,
        "steps": fr.step,
        "interrupted": fr.interrupted,
        "n_train": len(train),
        "seconds": round(time.perf_counter() - t0, 1),
        "settings": SETTINGS[name] + extra,
        "config": to_dict(cfg),
    }


def _same_run(a: dict, b: dict) -> bool:
    """Two slices of one k-fold run: same settings and ensemble, disjoint folds, together not over the total."""
    if not (a.get("folds_list") and a["settings"] == b["settings"] and a.get("ensemble") == b.get("ensemble")):
        return False
    return not set(a["folds_list"]) & set(b.get("folds_list", [])) and a["folds_run"] + b["folds_run"] <= a["folds"]


def _merge_folds(a: dict, b: dict) -> dict:
    """One record from two slices: per-fold figures joined, means and sd recomputed, wall times added."""
    per = sorted(a["per_fold"] + b["per_fold"], key=lambda r: r["fold"])
    acc = [r["accuracy"] for r in per]
    return {
        **b,
        "per_fold": per,
        "folds_run": len(per),
        "folds_list": [r["fold"] for r in per],
        "accuracy": float(np.mean(acc)),
        "accuracy_std": float(np.std(acc)),
        "macro_f1": float(np.mean([r["macro_f1"] for r in per])),
        "majority_baseline": float(np.mean([r["majority"] for r in per])),
        "seconds": round(a["seconds"] + b["seconds"], 1),
    }


def table(path: Path = OUT) -> str:
    """The latest record per dataset in ``path`` as the markdown table RESULTS.md quotes; a k-fold run made of
    slices (``--fold-start/--fold-limit``, run side by side) is merged with the earlier slices of the same setting."""
    latest: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            prev = latest.get(rec["dataset"])
            if prev is not None and _same_run(prev, rec):
                rec = _merge_folds(prev, rec)
            latest[rec["dataset"]] = rec
    rows = ["| dataset | measure | ours | reference | run | time (s) |", "|---|---|---|---|---|---|"]
    for name, r in latest.items():
        c = r["config"]
        m, t = c["model"], c["train"]
        run = f"{'bi' if m['bidirectional'] else ''}{m['cell']['name']} H={m['hidden_size']}"
        run += f" x{m['num_layers']} layers, dropout {m['dropout']}" if m["num_layers"] > 1 else ""
        run += f", {t['epochs']} epochs, lr {t['lr']} {t['schedule']['name']}"
        run += f", weight EMA {t['ema']}" if t.get("ema") else ""
        run += ", CRF" if m.get("crf") else ""
        run += f", char features {m['char_embed']}/{m['char_hidden']}" if m.get("char_embed") else ""
        run += f", pooling {m['pooling']}" if "pooling" in m else ""
        run += f", mean of {r['ensemble']} seeds' probabilities" if r.get("ensemble", 1) > 1 else ""
        if name.startswith("conll"):
            figure = f"token acc {r['token_accuracy']:.4f}"
            if "span_f1" in r:
                figure = f"span F1 {r['span_f1']:.4f} (P {r['span_precision']:.4f} R {r['span_recall']:.4f}); " + figure
            rows.append(f"| {name} | test set | {figure} | | {run} | {r['seconds']} |")
        else:
            folds = f"{r['folds_run']}/{r['folds']} folds" if r["folds"] else "1 split"
            rows.append(
                f"| {name} | accuracy / macro-F1 ({folds}) | {r['accuracy']:.4f} / {r['macro_f1']:.4f} | "
                f"majority {r['majority_baseline']:.4f} | {run} | {r['seconds']} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    print_host(stderr=True)  # the CPU model and flags every figure depends on
    argv, extra = split_overrides(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("which", choices=[*SETTINGS, "all"])
    ap.add_argument("--fold-limit", type=int, default=0, help="run only the first K folds of a k-fold setting")
    ap.add_argument("--fold-start", type=int, default=0, help="first fold to run (with --fold-limit: a slice)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--no-save", action="store_true", help="print only; do not append to the results file")
    ap.add_argument(
        "--validate",
        type=float,
        default=0.0,
        metavar="F",
        help="hold out F of each training part and score on it instead of the test part (goes to tune_classify.jsonl)",
    )
    ap.add_argument("--ensemble", type=int, default=1, metavar="K", help="per fold, score the mean of K seeds' runs")
    if argv and argv[0] == "table":
        print(table())
        return
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("RNNKIT_DATA", str(HERE.parent.parent / "shared" / "data"))
    names = list(SETTINGS) if args.which == "all" else [args.which]
    for name in names:
        torch.manual_seed(0)
        if name.startswith("conll"):
            rec = run_tag(name, extra)
        else:
            rec = run_classify(name, extra, args.fold_limit, args.fold_start, args.validate, args.ensemble)
        rec.update(machine=machine(), command=" ".join(["python benchmarks/quality_classify.py", *sys.argv[1:]]))
        rec["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        line = json.dumps(rec)
        print(line, flush=True)
        if not args.no_save:
            out = OUT.with_name("tune_classify.jsonl") if args.validate else OUT
            out.parent.mkdir(exist_ok=True)
            with out.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
