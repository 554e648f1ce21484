"""`rnnkit translate train|eval|predict` (+ the older `translate` verb) from the CLI factory: a round trip in tmp
folders with two-file training data (gzip), validation files and a test TSV; honest, labelled BLEU; the errors;
resume; and a run folder written before the Task contract still loads and translates as it did."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import pytest
import sacrebleu
from typer.testing import CliRunner

from rnnkit.cli import app

pytestmark = pytest.mark.xdist_group(name="translate-cli")  # one worker: the trained run is made once
runner = CliRunner()
HERE = Path(__file__).resolve().parent
OLD_RUN = HERE / "fixtures" / "run_before_contract"  # written by `rnnkit translate train` at commit 320efe1


def reverse_pairs(rnd: random.Random, n: int, longest: int = 3) -> list[tuple[str, str]]:
    """Cased sentences with punctuation: 'A b c.' -> 'c b a !' (so detokenisation and case matter)."""
    out = []
    for _ in range(n):
        w = [rnd.choice("abcd") for _ in range(rnd.randint(1, longest))]
        out.append((" ".join(w).capitalize() + ".", " ".join(reversed(w)) + " !"))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny run trained from --src/--tgt (target gzipped), --val-src/--val-tgt and a --test TSV."""
    tmp = tmp_path_factory.mktemp("translate")
    rnd = random.Random(0)
    pool, val, test = reverse_pairs(rnd, 300, longest=8), reverse_pairs(rnd, 12), reverse_pairs(rnd, 20)
    (tmp / "train.src").write_text("".join(f"{s}\n" for s, _ in pool))
    (tmp / "train.tgt.gz").write_bytes(gzip.compress("".join(f"{t}\n" for _, t in pool).encode()))
    (tmp / "val.src").write_text("".join(f"{s}\n" for s, _ in val))
    (tmp / "val.tgt").write_text("".join(f"{t}\n" for _, t in val))
    (tmp / "test.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in test))
    (tmp / "test.src").write_text("".join(f"{s}\n" for s, _ in test))
    (tmp / "test.tgt").write_text("".join(f"{t}\n" for _, t in test))
    run = tmp / "run"
    res = runner.invoke(
        app,
        [
            "translate",
            "train",
            "--src",
            str(tmp / "train.src"),
            "--tgt",
            str(tmp / "train.tgt.gz"),
            "--val-src",
            str(tmp / "val.src"),
            "--val-tgt",
            str(tmp / "val.tgt"),
            "--test",
            str(tmp / "test.tsv"),
            "--max-len",
            "6",
            "--hidden",
            "16",
            "--max-steps",
            "8",
            "--batch-size",
            "32",
            "--beam",
            "2",
            "--run-dir",
            str(run),
            "--quiet",
            "--",
            "--model.embed_size=8",
            "--train.lr=1e-2",
            "--train.eval_every=4",
        ],
    )
    assert res.exit_code == 0, res.output
    return {"run": run, "tmp": tmp, "output": res.output, "test": test}


def test_train_writes_a_loadable_run_and_says_what_it_read(trained: dict) -> None:
    run, out = trained["run"], trained["output"]
    for f in ("config.json", "task.json", "eval.json", "metrics.jsonl"):
        assert (run / f).is_file(), f
    assert "training text: raw text (cased)" in out
    assert "max_len 6 (more than 6 words" in out and "dropped" in out  # the length filter is never silent
    assert "validation: " in out and "val.src + " in out and "(all 12 pairs)" in out
    assert "test.tsv (all 20 pairs)" in out  # the test file is scored whole: no fraction cut from the pool
    ev = json.loads((run / "eval.json").read_text())
    assert ev["greedy"]["n"] == ev["beam2"]["n"] == 20 and ev["pairs"]["test"] == 20 and ev["pairs"]["val"] == 12
    # best is chosen by validation BLEU (greedy, whole validation set), and eval.json says so
    assert json.loads((run / "config.json").read_text())["train"]["checkpoint"]["monitor"] == "val_bleu"
    assert ev["weights"]["which"] == "best" and "val_bleu" in ev["weights"]["metrics"]
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum("val_bleu" in e for e in evals) == 2  # steps 4 and 8


def test_bleu_is_sacrebleu_on_what_predict_prints_against_the_raw_references(trained: dict) -> None:
    run, tmp, test = trained["run"], trained["tmp"], trained["test"]
    res = runner.invoke(app, ["translate", "eval", str(run), "--beam", "1", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["n"] == 20 and rep["output"] == "detokenised, cased" and rep["references"] == "raw"
    assert "bleu_normalised" not in rep  # raw, cased text: there is no other text space to report
    pred = runner.invoke(app, ["translate", "predict", str(run), "--file", str(tmp / "test.src"), "--beam", "1"])
    assert pred.exit_code == 0, pred.output
    hyps = pred.stdout.splitlines()
    assert len(hyps) == 20 and not any(" ." in h or " ," in h for h in hyps)  # detokenised
    refs = [t for _, t in test]
    assert rep["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert rep["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)
    bleu = sacrebleu.BLEU()  # sacreBLEU's defaults are what was done: 13a, case-sensitive, one reference
    bleu.corpus_score(hyps, [refs])
    assert rep["bleu_signature"] == str(bleu.get_signature()) and "case:mixed|eff:no|tok:13a" in rep["bleu_signature"]
    # the same pairs as two files give the same report; the human-readable form prints the signatures
    two = runner.invoke(
        app,
        [
            "translate",
            "eval",
            str(run),
            "--src",
            str(tmp / "test.src"),
            "--tgt",
            str(tmp / "test.tgt"),
            "--beam",
            "1",
            "--json",
        ],
    )
    assert two.exit_code == 0, two.output
    assert json.loads(two.output)["bleu"] == rep["bleu"]
    text = runner.invoke(app, ["translate", "eval", str(run), "--data", str(tmp / "test.tsv")])
    assert text.exit_code == 0, text.output
    assert "(detokenised, cased output vs raw references)" in text.output and "beam=2" in text.output
    assert "BLEU signature: nrefs:1|case:mixed|eff:no|tok:13a" in text.output
    assert "chrF signature: nrefs:1" in text.output


def test_predict_from_arguments_stdin_the_old_verb_and_plot(trained: dict, tmp_path: Path) -> None:
    run = trained["run"]
    res = runner.invoke(app, ["translate", "predict", str(run), "A b.", "C d a.", "--plot", str(tmp_path / "a.png")])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("\n") == 2  # one line per sentence (an 8-step model may well print empty ones)
    assert (tmp_path / "a.png").stat().st_size > 1000
    res2 = runner.invoke(app, ["translate", "predict", str(run)], input="A b.\n\nC d a.\n")
    assert res2.exit_code == 0 and res2.stdout == res.stdout  # blank stdin lines skipped; same translations
    old = runner.invoke(app, ["translate", "translate", str(run), "A b.", "C d a."])  # the older command
    assert old.exit_code == 0 and old.stdout == res.stdout


def test_errors(trained: dict, tmp_path: Path) -> None:
    run, tmp = trained["run"], trained["tmp"]
    res = runner.invoke(app, ["translate", "predict", str(run)], input="\n  \n")
    assert res.exit_code == 2 and "rnnkit translate: error: nothing to translate" in res.output
    res = runner.invoke(app, ["translate", "translate", str(run), "   ...   "])  # punctuation: tokens, fine
    assert res.exit_code == 0, res.output
    (tmp_path / "p.tsv").write_text("a b\tb a\nc\td\n")
    res = runner.invoke(
        app, ["translate", "train", "--data", str(tmp_path / "p.tsv"), "--columns", "src-tgt", "--direction", "src-deu"]
    )
    assert res.exit_code == 1 and "error: unknown language direction 'src-deu'" in res.output
    (tmp_path / "short.tgt").write_text("x\n")
    res = runner.invoke(
        app,
        [
            "translate",
            "train",
            "--src",
            str(tmp / "train.src"),
            "--tgt",
            str(tmp_path / "short.tgt"),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 1 and "train.src has 300 lines but" in res.output and "short.tgt has 1" in res.output
    res = runner.invoke(app, ["translate", "train", "--src", str(tmp / "train.src"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "give both src_path and tgt_path" in res.output
    (tmp_path / "three.tsv").write_text("a\tb\nc\td\te\n")
    res = runner.invoke(app, ["translate", "eval", str(run), "--data", str(tmp_path / "three.tsv")])
    assert res.exit_code == 1 and "three.tsv line 2: 3 tab-separated columns" in res.output
    res = runner.invoke(app, ["translate", "eval", str(tmp)])
    assert res.exit_code == 1 and "is not a run folder (no config.json)" in res.output


def test_old_run_folder_loads_translates_as_before_and_is_scored_honestly(tmp_path: Path) -> None:
    """A run written before the Task contract (task.json without "task" or "text"; tutorial normalisation):
    loads, translates exactly as it did then (outputs recorded at commit 320efe1), and its BLEU is against raw,
    cased references, with the normalised-text score beside it, labelled."""
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    res = runner.invoke(app, ["translate", "translate", str(run), "a b", "c d a", "d", "--beam", "1"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == ["d d d d d d", "d d d d d d d d", "d d d d"]
    (tmp_path / "cased.tsv").write_text("a b\tD D D D D D\nd\tD D D D\n")  # what it outputs, in capitals
    res = runner.invoke(app, ["translate", "eval", str(run), "--data", str(tmp_path / "cased.tsv"), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["output"] == "detokenised, lowercased" and rep["normalised_text"].startswith("tutorial normalisation")
    assert rep["bleu_normalised"] == pytest.approx(100.0) and rep["bleu"] < 10  # case errors count in the headline


def test_train_resume_continues_exactly(trained: dict, tmp_path: Path, monkeypatch) -> None:
    """`translate train --epochs 1`, then `--config RUN --epochs 2 --resume` == a straight 2-epoch run."""
    from tests.train.helpers import assert_same_last, spy_resume

    resumed_from = spy_resume(monkeypatch)
    data = tmp_path / "p.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in reverse_pairs(random.Random(1), 100)))
    args = [
        "translate",
        "train",
        "--data",
        str(data),
        "--columns",
        "src-tgt",
        "--direction",
        "src-tgt",
        "--hidden",
        "8",
        "--batch-size",
        "32",
        "--beam",
        "1",
        "--quiet",
        "--test-fraction",
        "0",
    ]
    tail = ["--", "--model.embed_size=8"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert runner.invoke(app, [*args, "--epochs", "2", "--out", str(full), *tail]).exit_code == 0
    assert runner.invoke(app, [*args, "--epochs", "1", "--out", str(cut), *tail]).exit_code == 0
    res = runner.invoke(app, [*args, "--epochs", "2", "--out", str(cut), "--resume", *tail])
    assert res.exit_code == 0, res.output
    assert resumed_from == [cut / "last"]
    assert_same_last(full / "last", cut / "last")
    assert not (cut / "eval.json").exists()  # --test-fraction 0 and no --test: nothing to score, nothing claimed
