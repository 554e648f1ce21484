"""Connected speech: CTC decoding and loss against brute force over every alignment of tiny posteriors, WER/CER
by hand, the string generator (deterministic, never mixing training and test recordings), the task on tones."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.tasks.speech import SpeechCTC
from rnnkit.tasks.speech import data as speech_data
from rnnkit.tasks.speech_ctc.ctc import beam_decode, collapse, edit_distance, error_rates, greedy_decode
from rnnkit.tasks.speech_ctc.data import Transcribed, make_strings, render, split_transcribed, split_validation
from tests.speech.tones import write_tones

runner = CliRunner()


def _posteriors(T: int, C: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal((T, C)) * 2
    return z - np.log(np.exp(z).sum(1, keepdims=True))  # (T, C) log-softmax


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 6), C=st.integers(2, 4), seed=st.integers(0, 10_000))
def test_greedy_decoding_is_the_labelling_of_the_single_most_probable_path(T, C, seed):
    logp = _posteriors(T, C, seed)
    best = max(itertools.product(range(C), repeat=T), key=lambda path: sum(logp[t, k] for t, k in enumerate(path)))
    assert greedy_decode(logp) == collapse(best)


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 5), C=st.integers(2, 3), seed=st.integers(0, 10_000))
def test_a_wide_prefix_beam_finds_the_most_probable_labelling_summed_over_its_paths(T, C, seed):
    logp = _posteriors(T, C, seed)
    prob: dict[tuple, float] = {}
    for path in itertools.product(range(C), repeat=T):  # every alignment, grouped by the labelling it spells
        key = tuple(collapse(path))
        prob[key] = prob.get(key, 0.0) + math.exp(sum(logp[t, k] for t, k in enumerate(path)))
    best = max(prob, key=prob.get)
    got = tuple(beam_decode(logp, beam=10_000))  # wider than the number of prefixes: exact
    assert prob[got] == pytest.approx(prob[best], rel=1e-9)  # the same probability (the same labelling bar ties)
    assert prob[tuple(beam_decode(logp, beam=2))] <= prob[best] * (1 + 1e-9)  # a narrow beam is at best as good
    assert prob[tuple(greedy_decode(logp))] <= prob[got] * (1 + 1e-9)  # best path is not always best labelling


def test_beam_beats_greedy_where_many_paths_share_a_labelling():
    # frame 0: blank 0.4, "1" 0.35, "2" 0.25; frame 1 the same. Best path: blank blank -> "" (p 0.16), but
    # "1" is spelt by (1,1), (1,b), (b,1): 0.1225 + 0.14 + 0.14 = 0.4025
    logp = np.log(np.array([[0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]))
    assert greedy_decode(logp) == [] and beam_decode(logp, beam=4) == [1]


@pytest.mark.parametrize("seed", range(4))
def test_torch_ctc_loss_as_we_call_it_is_minus_log_the_sum_over_all_alignments(seed):
    T, C = 5, 3  # blank 0, labels 1, 2
    logp = _posteriors(T, C, seed)
    for target in ([1], [1, 2], [2, 2], [1, 2, 1]):
        total = sum(
            math.exp(sum(logp[t, k] for t, k in enumerate(path)))
            for path in itertools.product(range(C), repeat=T)
            if collapse(path) == target
        )
        got = F.ctc_loss(
            torch.tensor(logp)[:, None],
            torch.tensor([target]),
            torch.tensor([T]),
            torch.tensor([len(target)]),
            blank=0,
            reduction="sum",
        )
        assert float(got) == pytest.approx(-math.log(total), rel=1e-9)  # float64 both


def test_edit_distance_and_error_rates_by_hand():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["a"]) == 1 and edit_distance(["a"], []) == 1 and edit_distance([], []) == 0
    r = error_rates([("1", "2", "3"), ("4",)], [("1", "3"), ("4",)])
    assert r["wer"] == pytest.approx(1 / 4)  # one deletion over four reference words
    assert r["cer"] == pytest.approx(2 / 6)  # "1 2 3" -> "1 3": two characters ("2" and a space) over 5 + 1
    assert r["string_accuracy"] == 0.5


def test_the_generator_is_seeded_and_never_mixes_training_and_test_recordings(tmp_path, monkeypatch):
    recs = speech_data.list_recordings(write_tones(tmp_path / "rec", per_word=5))
    train, test, _ = speech_data.split_recordings(
        recs, split="index", test_below=2, test_speaker="", test_fraction=0.1, seed=0
    )
    a = make_strings([r.label for r in train], 200, min_len=1, max_len=7, max_gap=50, seed=4)
    assert a == make_strings([r.label for r in train], 200, min_len=1, max_len=7, max_gap=50, seed=4)
    assert {len(s.parts) for s in a} == set(range(1, 8)) and all(0 <= g <= 50 for s in a for g in s.gaps)
    task = SpeechCTC.from_options(
        data=str(tmp_path / "rec"),
        strings=30,
        test_strings=20,
        overrides={"data.test_below": 2, "data.val_fraction": 0.2},
    )
    seen: dict[str, list] = {}
    real = speech_data.read_waves

    def spy(paths, rate, **kw):  # which recordings each part's strings are rendered from
        seen.setdefault("calls", []).append({p.name for p in paths})
        return real(paths, rate, **kw)

    monkeypatch.setattr(speech_data, "read_waves", spy)
    s = task.load_data()
    tr, va, te = seen["calls"]
    assert all(int(n.split("_")[2].split(".")[0]) < 2 for n in te)  # test strings: test recordings only
    assert all(int(n.split("_")[2].split(".")[0]) >= 2 for n in tr | va) and not tr & va
    assert (len(s.train), len(s.val), len(s.test)) == (30, 6, 20)


@pytest.mark.parametrize(
    ("n", "test_fraction", "val_fraction", "seed", "test_given"),
    [(10, 0.15, 0.1, 2024, False), (57, 0.2, 0.0, 1, False), (33, 0.15, 0.2, 9, True), (2, 0.1, 0.5, 0, False)],
)
def test_transcript_splits_are_numpys_seeded_order_cut_as_before(n, test_fraction, val_fraction, seed, test_given):
    """A CSV of transcripts is split in one ``default_rng(seed).permutation`` order (through rnnkit.data.splits):
    test first (at least one unless a test file is given), then validation, the rest training, as before the move."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_test = 0 if test_given else max(1, round(n * test_fraction))
    n_val = round((n - n_test) * val_fraction)
    train, val, test = split_transcribed(
        n, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed, test_given=test_given
    )
    assert (train, val, test) == (order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test])
    assert sorted(train + val + test) == list(range(n))
    if (n, seed) == (10, 2024):
        assert (train, val, test) == ([9, 0, 7, 4, 1, 6, 8], [2], [3, 5])  # pinned: the draw before the move (0.1)
    every = Transcribed([np.full((1, 1), i, np.float32) for i in range(n)], [(str(i),) for i in range(n)], "t.csv")
    part = every.subset(test)
    assert part.words == [(str(i),) for i in test] and [int(x[0, 0]) for x in part.inputs] == test
    assert part.source == "t.csv"


@pytest.mark.parametrize(("n", "fraction", "seed"), [(10, 0.2, 2025), (7, 0.01, 3), (48, 0.1, 2025)])
def test_validation_recordings_are_a_seeded_part_of_training_in_file_order(n, fraction, seed):
    """At least one recording is held out; both parts keep the recordings' order; the draw is NumPy's, as before."""
    recs = [f"r{i}" for i in range(n)]
    train, val = split_validation(recs, fraction, seed)
    perm = np.random.default_rng(seed).permutation(n).tolist()
    k = max(1, round(n * fraction))
    assert val == [recs[i] for i in sorted(perm[:k])] and train == [recs[i] for i in sorted(perm[k:])]
    if (n, seed) == (10, 2025):
        assert val == ["r2", "r3"]  # pinned: the draw before the move (0.1)


def test_render_is_silence_recording_silence_with_seeded_noise():
    waves = [np.ones(3, np.float32), 2 * np.ones(2, np.float32)]
    s = make_strings(["a", "b"], 1, min_len=2, max_len=2, max_gap=3, seed=1)[0]
    x = render(s, waves)
    assert len(x) == sum(s.gaps) + sum(len(waves[p]) for p in s.parts)
    assert x[: s.gaps[0]].sum() == 0 and x[s.gaps[0]] == waves[s.parts[0]][0]
    np.testing.assert_array_equal(render(s, waves, noise=0.1), render(s, waves, noise=0.1))


def test_task_trains_scores_and_transcribes_through_the_cli(tmp_path):
    torch.set_num_threads(1)
    rec = write_tones(tmp_path / "rec", per_word=4)
    run = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "speech-ctc",
            "train",
            "--data",
            str(rec),
            "--hidden",
            "8",
            "--strings",
            "24",
            "--test-strings",
            "6",
            "--max-words",
            "3",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(run),
            "--quiet",
            "--data.test_below=2",
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads((run / "eval.json").read_text())
    assert report["n"] == 6 and 0 <= report["cer"] and "wer" in report and len(report["examples"]) == 5
    assert report["beam"]["width"] == 8 and 0 <= report["beam"]["wer"]  # prefix beam search reported beside greedy
    assert json.loads((run / "task.json").read_text())["words"] == ["hi", "lo", "mid"]
    r = runner.invoke(
        app,
        [
            "speech-ctc",
            "transcribe",
            str(run),
            str(rec / "lo_ann_0.wav"),
            "--beam",
            "3",
            "--plot",
            str(tmp_path / "a.png"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # spectrogram, posteriors, alignment
    line = r.stdout.splitlines()[0].split("\t")
    assert line[0].endswith("lo_ann_0.wav") and set(line[1].split()) <= {"hi", "lo", "mid"}
    csv = tmp_path / "t.csv"
    csv.write_text("path,label\n" + "".join(f"rec/{p.name},{p.stem.split('_')[0]} lo\n" for p in sorted(rec.glob("*"))))
    r = runner.invoke(app, ["speech-ctc", "eval", str(run), "--data", str(csv), "--json", "--beam", "0"])
    assert r.exit_code == 0, r.output
    scored = json.loads(r.stdout)
    assert scored["n"] == 24 and "beam" not in scored  # a CSV of path,transcript scored as it is; greedy only


@pytest.mark.parametrize("cell", ["lstm", "mingru"])
def test_other_cells_are_the_acoustic_model(tmp_path, cell):
    torch.set_num_threads(1)
    rec = write_tones(tmp_path / "rec", per_word=3)
    task = SpeechCTC.from_options(
        data=str(rec),
        cell=cell,
        hidden=4,
        strings=8,
        test_strings=3,
        max_words=2,
        epochs=1,
        batch_size=4,
        overrides={"data.test_below": 1, "train.quiet": True, "model.time_masks": 1},
    )
    report = task.fit_and_test()
    assert task.config.model.cell.name == cell and report["n"] == 3
    assert len(task.predict([rec / "hi_ann_0.wav"], beam=2)) == 1
