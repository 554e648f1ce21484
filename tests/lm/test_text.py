"""Vocabularies, file reading and dataset splits: round trips, error messages, the published splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.sources import DataError
from rnnkit.data.text import (
    EOS,
    UNK,
    Vocab,
    builtin_english,
    encode_splits,
    load_splits,
    read_text,
    split_text,
    tokenize,
)

text_st = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(text_st)
def test_char_vocab_round_trip(text):
    v = Vocab.build(text, level="char")
    ids = v.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert (ids > 0).all()  # every training character has its own id; 0 is <unk>


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.from_regex(r"[a-z<>']{1,6}", fullmatch=True), min_size=1, max_size=6), min_size=1))
def test_word_vocab_round_trip(lines):
    text = "".join(" ".join(ws) + "\n" for ws in lines)
    v = Vocab.build(text, level="word")
    ids = v.encode(text)
    assert len(ids) == sum(len(ws) + 1 for ws in lines)  # words + one <eos> per line (PTB convention)
    assert v.decode(ids) == text


@settings(max_examples=30, deadline=None)
@given(text_st)
def test_vocab_json_round_trip(tmp_path_factory, text):
    v = Vocab.build(text, level="char")
    path = tmp_path_factory.mktemp("v") / "vocab.json"
    v.save(path)
    assert Vocab.load(path) == v
    assert json.loads(path.read_text(encoding="utf-8"))["tokens"][0] == UNK


def test_word_vocab_orders_by_frequency_and_caps_size():
    v = Vocab.build("b a b c b a\n", level="word", max_size=3)
    assert v.itos == [UNK, "b", "a"]  # then <eos> and c (count 1) are cut by max_size
    with pytest.warns(UserWarning, match=r"text has 1 word\(s\) outside the vocabulary of 3: 'c'"):
        assert v.encode(["c"], unknown="unk").tolist() == [0]


def test_ptb_unk_is_id_zero_not_a_second_token():
    v = Vocab.build("the <unk> cat\n", level="word")
    assert v.itos.count(UNK) == 1 and v.stoi[UNK] == 0 and EOS in v.stoi


def test_prompt_outside_vocabulary_warns_and_maps_to_unk():
    v = Vocab.build("abc", level="char")
    with pytest.warns(UserWarning, match=r"prompt has 2 char\(s\) outside the vocabulary of 4: 'x', 'z'.*<unk>"):
        ids = v.encode("axbz", where="prompt")
    assert ids.tolist() == [v.stoi["a"], 0, v.stoi["b"], 0]
    assert v.decode(ids) == "a\ufffdb\ufffd"  # <unk> decodes as the replacement character at char level


def test_prompt_outside_vocabulary_strict_raises():
    v = Vocab.build("abc", level="char")
    with pytest.raises(ValueError, match=r"prompt has 1 char\(s\) outside the vocabulary.*'é'.*Remove them"):
        v.encode("é", unknown="error", where="prompt")


def test_word_prompt_without_newline_has_no_eos():
    v = Vocab.build("a b\n", level="word")
    assert v.encode("a b").tolist() == [v.stoi["a"], v.stoi["b"]]
    assert v.encode("a b\n").tolist() == [v.stoi["a"], v.stoi["b"], v.stoi[EOS]]


def test_read_text_errors(tmp_path):
    with pytest.raises(DataError, match=r"does not exist"):
        read_text(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_bytes(b"  \n")
    with pytest.raises(DataError, match=r"empty.txt is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes(b"hello\ncaf\xe9 au lait\n")
    with pytest.raises(DataError, match=r"not valid UTF-8: byte offset 9 \(line 2\) has bytes e9.*iconv"):
        read_text(tmp_path / "latin1.txt")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhi")
    assert read_text(tmp_path / "bom.txt") == "hi"


def test_vocab_load_errors(tmp_path):
    with pytest.raises(DataError, match=r"vocab.json does not exist; is this a language-model run folder"):
        Vocab.load(tmp_path / "vocab.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match=r"not valid JSON"):
        Vocab.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match=r"first or second token must be '<unk>'"):
        Vocab(["a"], level="char")
    with pytest.raises(ValueError, match=r"level must be one of"):
        tokenize("x", "byte")


def test_split_text_is_contiguous_and_validated():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    tr, va, te = split_text(text, valid_fraction=0.1, test_fraction=0.1)
    assert tr + va + te == text and (len(tr), len(va), len(te)) == (800, 100, 100)
    with pytest.raises(ValueError, match=r"valid_fraction 0.0 and test_fraction 0.0 must be"):
        split_text(text, valid_fraction=0.0)
    with pytest.raises(DataError, match=r"too short"):
        split_text("a", valid_fraction=0.1)


def test_load_splits_by_path_and_vocab_from_train_only(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("ab" * 45 + "az" * 5, encoding="utf-8")  # 'z' only in the last 10%
    data = encode_splits(load_splits(path=p), level="char")
    assert "z" not in data.vocab.stoi  # built on the training split only
    assert (data.valid == 0).sum() == 5  # unseen validation chars are <unk>, silently (not a prompt)
    with pytest.raises(ValueError, match=r"exactly one of path"):
        load_splits()


def test_unknown_dataset_and_missing_root(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    with pytest.raises(DataError, match=r"needs a data root: pass --data-root DIR or set \$RNNKIT_DATA"):
        load_splits(dataset="tiny-shakespeare")
    with pytest.raises(DataError, match=r"no text loader for dataset 'names'"):
        load_splits(dataset="names", data_root=tmp_path)


def test_tiny_shakespeare_published_split(data_root):
    s = load_splits(dataset="tiny-shakespeare", data_root=data_root)
    n = len(s.train) + len(s.valid)
    assert n == 1115394 and len(s.train) == int(n * 0.9) and s.test is None  # first 90% / last 10% (nanoGPT)
    v = Vocab.build(s.train, level="char")
    assert len(v) == 66  # 65 characters + <unk>


def test_ptb_standard_files(data_root):
    data = encode_splits(load_splits(dataset="ptb", data_root=data_root), level="word")
    assert len(data.vocab) == 10000  # Mikolov's 10k vocabulary: <unk> already in the text, plus <eos>
    # token counts of the standard split (words + <eos>), as in Zaremba et al. / pytorch/examples
    assert (len(data.train), len(data.valid), len(data.test)) == (929589, 73760, 82430)


def test_builtin_english_is_big_enough():
    text, desc = builtin_english()
    assert len(text) >= 200_000 and "Python" in desc
    assert sum(c.isalpha() or c.isspace() for c in text) / len(text) > 0.8  # prose, not code
