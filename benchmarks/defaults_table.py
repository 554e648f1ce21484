"""The defaults table: what a stranger gets from `rnnkit <task> train --data TRAIN --test TEST` with no other
options, beside the tuned recipe's figure in RESULTS.md, on the same split.

    python benchmarks/defaults_table.py names mr-fold0 japanese-vowels conll-chunk conll-pos
    python benchmarks/defaults_table.py table          # the latest record per case, as a markdown table

Each case writes the tuned recipe's train/test split as plain files (TSV ``label<TAB>text``, CoNLL columns) with
the project's own readers, then runs the installed CLI in a subprocess exactly as a user would, and reads the
run's eval.json. Records go to ``benchmarks/results/defaults.jsonl`` with the wall time, the machine and the
load. The tuned figures are copied from RESULTS.md (the row named in ``TUNED``), not re-run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import machine_info, shared_data_root

OUT = Path(__file__).with_name("results") / "defaults.jsonl"


def _root() -> str | None:
    return os.environ.get("RNNKIT_DATA") or shared_data_root()


def _tsv(data, path: Path) -> Path:
    path.write_text("".join(f"{y}\t{x}\n" for x, y in zip(data.inputs, data.labels, strict=True)), encoding="utf-8")
    return path


def _classify_files(d: Path, **data: object) -> list[str]:
    from rnnkit.tasks.classify.config import ClassifierDataConfig
    from rnnkit.tasks.classify.data import load_splits

    train, _, test = load_splits(ClassifierDataConfig(data_root=_root(), val_fraction=0, **data))
    return ["classify", "--data", str(_tsv(train, d / "train.tsv")), "--test", str(_tsv(test, d / "test.tsv"))]


def _conll_files(d: Path) -> tuple[Path, Path]:
    from rnnkit.tasks.tag.config import TaggerDataConfig
    from rnnkit.tasks.tag.data import load_splits

    train, _, test = load_splits(TaggerDataConfig(dataset="conll2000", data_root=_root(), val_fraction=0))
    paths = []
    for name, part in (("train.txt", train), ("test.txt", test)):
        p = d / name
        p.write_text("".join("".join(" ".join(r) + "\n" for r in s) + "\n" for s in part.sentences), encoding="utf-8")
        paths.append(p)
    return paths[0], paths[1]


def _conll(d: Path, *extra: str) -> list[str]:
    train, test = _conll_files(d)
    return ["tag", "--data", str(train), "--test", str(test), *extra]


def _fra_eng(d: Path) -> list[str]:
    """The tuned recipe's own pairs (the tutorial subset, split by seed 1234), raw as Tatoeba has them: its train and
    validation parts as the training file, its 1,092 test pairs as the test file; the recipe's ~500 s as budget."""
    from quality_translate import SETTINGS

    from rnnkit.config import apply_overrides
    from rnnkit.tasks.translate import Translator, TranslatorConfig

    root = [f"data.data_root={_root()}"] if _root() else []
    cfg = apply_overrides(TranslatorConfig(), [*SETTINGS["tutorial"], *root])
    s = Translator(cfg).load_data()
    write = lambda name, pairs: (d / name).write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")  # noqa: E731
    write("train.tsv", [*s.train, *(s.val or [])])
    write("test.tsv", s.test)
    return ["translate", "--data", str(d / "train.tsv"), "--test", str(d / "test.tsv"), "--seconds", "500"]


def _tuned_translate() -> float:
    """Greedy BLEU on the raw references of the latest `quality_translate.py tutorial` record (run it first)."""
    recs = [json.loads(x) for x in (OUT.parent / "quality_translate.jsonl").read_text().splitlines()]
    return [r for r in recs if r["setting"] == "tutorial" and "scoring" in r][-1]["decode"]["greedy"]["bleu"]


# case -> (command after `rnnkit`, minus `train`; metric key in eval.json; tuned figure; the RESULTS.md row)
CASES: dict[str, tuple[Callable[[Path], list[str]], str, float, str]] = {
    "japanese-vowels": (
        lambda d: ["classify", "--dataset", "japanese-vowels"],
        "accuracy",
        0.9757,
        "Classification: JapaneseVowels, BiLSTM H=64, 40 epochs",
    ),
    "names": (
        lambda d: _classify_files(d, dataset="names"),
        "accuracy",
        0.8422,
        "Classification: names, 2-layer char BiLSTM H=256, 12 epochs (single model)",
    ),
    "mr-fold0": (
        lambda d: _classify_files(d, dataset="mr-polarity", folds=10, fold=0),
        "accuracy",
        0.7732,
        "Classification: MR fold 0 of the 10-fold single-model row (BiGRU, 8 epochs + EMA)",
    ),
    "conll-chunk": (
        lambda d: _conll(d),
        "span_f1",
        0.9303,
        "Classification and tagging: CoNLL-2000 chunking, BiLSTM-CRF, 8 epochs",
    ),
    "conll-pos": (
        lambda d: _conll(d, "--tag-column", "1"),
        "token_accuracy",
        0.9734,
        "Classification and tagging: CoNLL-2000 POS, BiLSTM softmax, 5 epochs",
    ),
    "fra-eng": (
        _fra_eng,
        "greedy.bleu",
        float("nan"),
        "Translation: fra-eng tutorial subset, 700 steps (~500 s), greedy, re-run: sacreBLEU, raw references",
    ),
}


def run(case: str) -> dict:
    make, metric, tuned, row = CASES[case]
    if case == "fra-eng":
        tuned = _tuned_translate()
    with tempfile.TemporaryDirectory(prefix=f"defaults-{case}-") as tmp:
        d = Path(tmp)
        task, *args = make(d)
        cmd = [sys.executable, "-m", "rnnkit.cli", task, "train", *args, "--out", str(d / "run"), "--quiet"]
        env = {**os.environ, **({"RNNKIT_DATA": _root()} if _root() else {})}
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.monotonic() - t0
        if p.returncode != 0:
            raise SystemExit(f"{case}: exit {p.returncode}\n{p.stderr[-3000:]}")
        report = json.loads((d / "run" / "eval.json").read_text())
        config = json.loads((d / "run" / "config.json").read_text())
    notes = [line.strip() for line in p.stderr.splitlines() if line.startswith("  ")]
    value = report
    for k in metric.split("."):  # "greedy.bleu": a translation report holds one section per decoding
        value = value[k]
    shown = [a if not a.startswith("/") else Path(a).name for a in args]
    return {
        "case": case,
        "command": f"rnnkit {task} train {' '.join(shown)}",
        "metric": metric,
        "defaults": value,
        "tuned": tuned,
        "tuned_row": row,
        "gap_points": (value - tuned) * (1 if metric.endswith("bleu") else 100),  # BLEU is already in points
        "weights": report.get("weights"),
        "decided": notes,
        "seconds": round(seconds, 1),
        "model": {k: config["model"].get(k) for k in ("input", "hidden_size", "bidirectional", "pooling", "crf")},
        "machine": {**machine_info(), "load_avg_1min_at_end": round(os.getloadavg()[0], 1)},
    }


def table() -> str:
    latest: dict[str, dict] = {}
    for line in OUT.read_text().splitlines():
        r = json.loads(line)
        latest[r["case"]] = r
    rows = [
        "| case | metric | defaults | tuned recipe | gap (points) | command | wall (s) | chosen |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in latest.values():
        w = r["weights"] or {}
        chosen = f"{w.get('which')} (step {w.get('step')})"
        rows.append(
            f"| {r['case']} | {r['metric']} | {r['defaults']:.4g} | {r['tuned']:.4g} | {r['gap_points']:+.2f} "
            f"| `{r['command']}` | {r['seconds']:.0f} | {chosen} |"
        )
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    if argv == ["table"]:
        print(table())
        return
    for case in argv or list(CASES):
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r}; known: {', '.join(CASES)}")
        rec = run(case)
        print(json.dumps(rec), flush=True)
        with OUT.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
