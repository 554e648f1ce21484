"""Prepared corpora (tasks/lm/prepare.py): the same ids as the in-memory path, memory-mapped streams, the cache's
freshness and atomicity, and the error for each bad input."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnkit.tasks.lm.prepare as P
from rnnkit.cli import app
from rnnkit.config import TrainConfig
from rnnkit.data.sources import DataError
from rnnkit.data.streams import TokenStream
from rnnkit.data.text import encode_splits, load_splits
from rnnkit.tasks.lm.config import LMConfig, LMDataConfig

runner = CliRunner()
MIXED = "Ünïcödé line one\n  two  words\r\n\n\tthree\u2028four\nlast line, no newline — é"


def assert_same_ids(path, settings: P.Settings, out):
    """prepare(path) == load_splits + encode_splits on the same file (the ids today's path trains on)."""
    enc, built = P.prepare(path, out, settings)
    ref = encode_splits(
        load_splits(path=path, valid_fraction=settings.valid_fraction, test_fraction=settings.test_fraction),
        level=settings.level,
        max_size=settings.max_vocab or None,
    )
    assert built and enc.vocab == ref.vocab
    for s in ("train", "valid", "test"):
        a, b = getattr(enc, s), getattr(ref, s)
        assert (a is None) == (b is None), s
        if a is not None:
            assert isinstance(a, np.memmap) and a.dtype == P.dtype_for(len(enc.vocab))
            np.testing.assert_array_equal(np.asarray(a, dtype=np.int64), b, err_msg=s)
    return enc


def test_tiny_shakespeare_char_ids_equal_the_in_memory_path(data_root, tmp_path):
    enc = assert_same_ids(data_root / "tiny-shakespeare" / "input.txt", P.Settings(level="char"), tmp_path / "p")
    assert enc.train.dtype == np.uint8 and len(enc.train) == 1_003_854  # the published 90% (char-rnn, nanoGPT)


def test_word_level_sample_ids_equal_the_in_memory_path(data_root, tmp_path):
    # PTB's validation file as a word-level sample, with a test split and a capped vocabulary (<unk> for the rest)
    settings = P.Settings(level="word", max_vocab=500, valid_fraction=0.1, test_fraction=0.1)
    enc = assert_same_ids(data_root / "ptb" / "ptb.valid.txt", settings, tmp_path / "p")
    assert len(enc.vocab) == 500 and enc.train.dtype == np.uint16


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_block_cuts_and_split_points_inside_blocks_change_nothing(tmp_path, monkeypatch, level, block):
    monkeypatch.setattr(P, "BLOCK", block)  # tiny blocks: every split point and line falls inside/across blocks
    f = tmp_path / "t.txt"
    f.write_bytes(b"\xef\xbb\xbf" + (MIXED * 7).encode("utf-8"))  # a BOM is dropped, as read_text does
    assert_same_ids(f, P.Settings(level=level, valid_fraction=0.23, test_fraction=0.11), tmp_path / "p")


def test_folder_and_gzip_are_joined_as_lines(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "a.txt").write_text("first file\nno newline at end", encoding="utf-8")
    with gzip.open(d / "b.txt.gz", "wt", encoding="utf-8") as g:
        g.write("second file\n" * 20)
    (tmp_path / "joined.txt").write_text("first file\nno newline at end\n" + "second file\n" * 20, encoding="utf-8")
    a, _ = P.prepare(d, tmp_path / "p1", P.Settings(level="word"))
    b, _ = P.prepare(tmp_path / "joined.txt", tmp_path / "p2", P.Settings(level="word"))
    assert a.vocab == b.vocab and np.array_equal(a.train, b.train) and np.array_equal(a.valid, b.valid)


def test_token_stream_over_a_memmap_serves_the_same_chunks_without_a_copy(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 40, encoding="utf-8")
    enc, _ = P.prepare(f, tmp_path / "p", P.Settings())
    mapped = TokenStream(enc.train, batch_size=3, bptt=9, variable=True, seed=4)
    inmem = TokenStream(np.asarray(enc.train, dtype=np.int64), batch_size=3, bptt=9, variable=True, seed=4)
    assert np.shares_memory(mapped.data, enc.train)  # a view of the file's pages: nothing copied
    for e in (0, 1):
        got, want = list(mapped.epoch(e, start=2)), list(inmem.epoch(e, start=2))  # resuming mid-epoch
        assert len(got) == len(want) > 3
        for g, w in zip(got, want, strict=True):
            assert g.x.dtype == w.x.dtype and g.x.equal(w.x) and g.y.equal(w.y) and g.lr_scale == w.lr_scale


def test_cache_is_reused_rebuilt_on_a_change_and_stale_caches_are_refused(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abc\n" * 100, encoding="utf-8")
    out = tmp_path / "p"
    assert P.prepare(f, out, P.Settings())[1]
    assert not P.prepare(f, out, P.Settings())[1]  # up to date: reused
    os.utime(f, ns=(1, 1))  # touched, same bytes: the sha256 says unchanged
    assert P.open_prepared(out) and not P.prepare(f, out, P.Settings())[1]
    assert P.prepare(f, out, P.Settings(valid_fraction=0.2))[1]  # a tokenizer/split setting changed: rebuilt
    f.write_text("abd\n" * 100, encoding="utf-8")  # same size, new bytes
    with pytest.raises(DataError, match=r"is stale: source .*t\.txt changed since it was prepared.*prepare"):
        P.open_prepared(out)
    f.write_text("abcd\n" * 100, encoding="utf-8")
    with pytest.raises(DataError, match=r"is stale: .* 400 bytes when prepared, 500 now"):
        P.open_prepared(out)
    enc, built = P.prepare(f, out, P.Settings())
    assert built and len(enc.train) + len(enc.valid) == 500
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp or old folders left


def test_a_half_written_cache_is_never_used(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abc\n" * 100, encoding="utf-8")
    out = tmp_path / "p"
    P.prepare(f, out, P.Settings())
    with open(out / "train.bin", "r+b") as h:
        h.truncate(10)
    with pytest.raises(DataError, match=r"is damaged: train\.bin should hold 360 uint8 ids"):
        P.open_prepared(out)
    (out / "meta.json").unlink()  # what a writer killed before its last step leaves
    with pytest.raises(DataError, match=r"is not a prepared corpus \(no meta.json\)"):
        P.open_prepared(out)
    with pytest.raises(DataError, match="exists and is not a prepared corpus"):
        P.prepare(f, out, P.Settings())


def test_binary_file_names_the_byte_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "BLOCK", 16)
    f = tmp_path / "model.bin"
    f.write_bytes(b"hello\nworld\n" * 5 + b"\x89PNG\xff\xfe\n")
    with pytest.raises(DataError, match=r"model\.bin is not valid UTF-8: byte offset 60 has bytes 89 .*binary"):
        P.prepare(f, tmp_path / "p", P.Settings())
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p*"))


@pytest.mark.parametrize("content", [b"", b" \n\t\n"])
def test_empty_file(tmp_path, content):
    f = tmp_path / "e.txt"
    f.write_bytes(content)
    with pytest.raises(DataError, match="is empty"):
        P.prepare(f, tmp_path / "p", P.Settings())


def test_cli_prepare_then_train_from_it_and_a_corpus_shorter_than_one_batch(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("to be or not to be\n" * 60, encoding="utf-8")
    prep = tmp_path / "prep"
    res = runner.invoke(app, ["lm", "prepare", "--data", str(f), "--out", str(prep), "--quiet"])
    assert res.exit_code == 0 and "vocabulary 9 (uint8)" in res.output, res.output
    meta = json.loads((prep / "meta.json").read_text())
    assert meta["counts"] == {"train": 1026, "valid": 114} and meta["sources"][0]["sha256"]
    args = [
        "lm",
        "train",
        "--data",
        str(prep),
        "--hidden",
        "8",
        "--layers",
        "1",
        "--embedding",
        "4",
        "--bptt",
        "8",
        "--batch-size",
        "4",
        "--quiet",
        "--train.max_steps=3",
        "--model.impl=loop",
    ]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["valid"]["tokens"] == 113
    big = [*args]
    big[big.index("--batch-size") + 1] = "600"  # 1,026 training tokens: not 2 per row
    res = runner.invoke(app, [*big, "--out", str(tmp_path / "run2")])
    assert res.exit_code == 1 and "too short for 600 rows" in res.output, res.output
    res = runner.invoke(app, [*args, "--level", "word", "--out", str(tmp_path / "run3")])
    assert res.exit_code == 1 and "was prepared at char level, not word" in res.output, res.output


def test_train_on_a_large_file_uses_a_cache_and_rebuilds_it_when_the_file_changes(tmp_path, monkeypatch):
    import rnnkit.tasks.lm.data as D
    import rnnkit.tasks.lm.task as T

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(D, "AUTO_PREPARE_BYTES", 100)  # "large" for this test
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 30, encoding="utf-8")
    cfg = LMConfig(data=LMDataConfig(path=str(f), level="word"), train=TrainConfig(quiet=True))
    got, want = T.LanguageModel(cfg).data(), encode_splits(load_splits(path=f), level="word")
    assert isinstance(got.train, np.memmap) and got.vocab == want.vocab
    assert np.array_equal(got.train, want.train) and np.array_equal(got.valid, want.valid)
    (prep,) = (tmp_path / "cache" / "lm").iterdir()
    f.write_text(MIXED * 31, encoding="utf-8")
    again = T.LanguageModel(cfg).data()
    assert [*(tmp_path / "cache" / "lm").iterdir()] == [prep]  # the same cache folder, rebuilt
    assert len(again.train) + len(again.valid) > len(got.train) + len(got.valid)


def test_cli_prepare_a_known_dataset_and_what_it_refuses(data_root, tmp_path):
    prep = tmp_path / "ptb"
    args = ["lm", "prepare", "--dataset", "ptb", "--data-root", str(data_root), "--level", "word", "--quiet"]
    res = runner.invoke(app, [*args, "--out", str(prep)])
    assert res.exit_code == 0 and "vocabulary 10,000 (uint16)" in res.output, res.output
    meta = json.loads((prep / "meta.json").read_text())
    assert meta["split_rule"] == "one file each" and [s["path"].rsplit("/", 1)[1] for s in meta["sources"]] == [
        "ptb.train.txt",
        "ptb.valid.txt",
        "ptb.test.txt",
    ]
    res = runner.invoke(app, ["lm", "prepare", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "give --data PATH or --dataset NAME" in res.output, res.output
    res = runner.invoke(app, ["lm", "prepare", "--dataset", "imdb", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "no text dataset 'imdb' to prepare" in res.output, res.output
    with pytest.raises(DataError, match="split files must name train and valid"):
        P.prepare({"train": prep / "meta.json"}, tmp_path / "y")
    (tmp_path / "tr.txt").write_text("a b\n", encoding="utf-8")
    (tmp_path / "va.txt").write_text(" \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"the valid split \(.*va\.txt\) is empty"):
        P.prepare({"train": tmp_path / "tr.txt", "valid": tmp_path / "va.txt"}, tmp_path / "y")
