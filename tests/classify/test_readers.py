"""Readers on small fixtures written into tmp_path, bad-input messages, and the real files when present."""

from __future__ import annotations

import zipfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import readers
from rnnkit.data.sources import DataError

TS = """# comment
@problemName toy
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
1.0,2.0,3.0:4.0,5.0,6.0:a
7.5,8.5:9.5,10.5:b
"""


def test_labelled_lines_skip_empty_and_report(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("pos\tgreat film\n\n   \nneg\tdull\n", encoding="utf-8")
    d = readers.read_labelled_lines(p)
    assert d.inputs == ["great film", "dull"] and d.labels == ["pos", "neg"] and d.skipped == 2
    assert d.classes == ("neg", "pos")
    q = tmp_path / "e.tsv"
    q.write_text("great film\t1\n", encoding="utf-8")
    assert readers.read_labelled_lines(q, label_first=False).labels == ["1"]


def test_labelled_lines_errors(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("pos\tok\nno separator here\n")
    with pytest.raises(DataError, match=r"bad.tsv:2: no TAB in 'no separator here'; each line must be label<TAB>text"):
        readers.read_labelled_lines(p)
    p.write_text("\n\n")
    with pytest.raises(DataError, match="holds no examples"):
        readers.read_labelled_lines(p)
    p.write_bytes("pos\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid utf-8: byte offset 7 \(line 1\).*encoding='latin-1'"):
        readers.read_labelled_lines(p)
    assert readers.read_labelled_lines(p, encoding="latin-1").inputs == ["café"]
    with pytest.raises(DataError, match="does not exist"):
        readers.read_labelled_lines(tmp_path / "missing.tsv")


def test_lines_do_not_split_on_unicode_line_breaks():
    assert readers.lines("a\x85b\r\nc\x0cd\n") == ["a\x85b", "c\x0cd"]


def test_class_folder(tmp_path):
    (tmp_path / "French.txt").write_text("Béringer\n\nDupont\n", encoding="utf-8")
    (tmp_path / "Irish.txt").write_text("O'Neill\n", encoding="utf-8")
    d = readers.read_class_folder(tmp_path, ascii=True)
    assert d.inputs == ["Beringer", "Dupont", "O'Neill"] and d.labels == ["French", "French", "Irish"]
    assert d.skipped == 1 and d.classes == ("French", "Irish")
    with pytest.raises(DataError, match="holds no files matching"):
        readers.read_class_folder(tmp_path, pattern="*.csv")
    with pytest.raises(DataError, match="is not a folder"):
        readers.read_class_folder(tmp_path / "French.txt")


def test_ts_parser(tmp_path):
    p = tmp_path / "toy.ts"
    p.write_text(TS)
    d = readers.read_ts(p)
    assert d.labels == ["a", "b"] and d.classes == ("a", "b")
    assert d.inputs[0].shape == (3, 2) and d.inputs[1].shape == (2, 2)
    np.testing.assert_array_equal(d.inputs[0][:, 1], [4.0, 5.0, 6.0])  # channels are columns: (T, D)


@pytest.mark.parametrize(
    "body, msg",
    [
        ("1,2:3,4,5:a\n", "channels of one series differ in length"),
        ("1,?:3,4:a\n", "not a number"),
        ("1,2:3,4:a\n1,2:a\n", "1 channels, earlier series have 2"),
        ("1,2:3,4:c\n", r"labels \['c'\] are not in the declared @classLabel"),
    ],
)
def test_ts_errors(tmp_path, body, msg):
    p = tmp_path / "bad.ts"
    p.write_text(TS.split("@data")[0] + "@data\n" + body)
    with pytest.raises(DataError, match=msg):
        readers.read_ts(p)


def test_ts_without_data_line(tmp_path):
    p = tmp_path / "x.ts"
    p.write_text("@problemName x\n")
    with pytest.raises(DataError, match="no @data line"):
        readers.read_ts(p)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.from_regex(r"[A-Za-z.,]{1,6}", fullmatch=True), st.sampled_from(["B-NP", "I-NP", "O"])),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_columns_round_trip(sents):
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sents) + "\n"
    d = readers.parse_columns(text, "mem")
    assert d.sentences == [[(w, t) for w, t in s] for s in sents]
    assert d.column(-1) == [[t for _, t in s] for s in sents]


def test_columns_errors_and_zip(tmp_path):
    with pytest.raises(DataError, match=r"mem:2: expected 3 columns, got 2"):
        readers.parse_columns("a DT B-NP\nb NN\n", "mem")
    with pytest.raises(DataError, match="holds no sentences"):
        readers.parse_columns("\n\n-DOCSTART- -X- O\n", "mem")
    d = readers.parse_columns("# a comment line\n# # I-NP\nfive CD I-NP\n", "mem")  # the pound sign is a token
    assert d.sentences == [[("#", "#", "I-NP"), ("five", "CD", "I-NP")]]
    z = tmp_path / "c.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("c/train.txt", "He PRP B-NP\nran VBD B-VP\n\nOK UH O\n")
    d = readers.read_zip_columns(z, "c/train.txt")
    assert len(d) == 2 and d.column(1) == [["PRP", "VBD"], ["UH"]]


def test_unknown_source_message(tmp_path):
    with pytest.raises(DataError, match="no such dataset or path"):
        readers.read_classification(tmp_path / "nope")


# ---- the real published files -------------------------------------------------------------------------------


def test_names_real(data_root):
    d = readers.read_names(data_root)
    assert len(d) == 20074 and len(d.classes) == 18  # the tutorial's count
    assert Counter(d.labels)["Russian"] == 9408
    assert all(n.isascii() and n for n in d.inputs)


def test_mr_uci_real(data_root):
    mr = readers.read_mr_polarity(data_root)
    assert Counter(mr.labels) == {"neg": 5331, "pos": 5331}
    uci = readers.read_uci_sentiment(data_root)
    assert len(uci) == 3000 and Counter(uci.labels) == {"0": 1500, "1": 1500}


def test_japanese_vowels_real(data_root):
    tr = readers.read_japanese_vowels(data_root, split="train")
    te = readers.read_japanese_vowels(data_root, split="test")
    assert (len(tr), len(te)) == (270, 370)
    assert all(x.shape[1] == 12 and 7 <= x.shape[0] <= 29 for x in tr.inputs + te.inputs)
    assert Counter(tr.labels) == {str(k): 30 for k in range(1, 10)}


def test_conll2000_real(data_root):
    tr = readers.read_conll2000(data_root, split="train")
    te = readers.read_conll2000(data_root, split="test")
    assert (len(tr), len(te)) == (8936, 2012)
    assert sum(map(len, te.sentences)) == 47377  # the official test set's token lines (conlleval counts the same)
    assert sum(row[0] == "#" for s in tr.sentences + te.sentences for row in s) == 47  # '# # I-NP': tokens
    assert tr.sentences[0][0] == ("Confidence", "NN", "B-NP")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.sampled_from(["1", "2", "3"])),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 3),
)
def test_ts_round_trip(series, dims):
    rng = np.random.default_rng(len(series) * 10 + dims)
    arrays = [np.round(rng.normal(size=(T, dims)), 3).astype(np.float32) for T, _ in series]
    body = "\n".join(
        ":".join(",".join(repr(float(v)) for v in a[:, d]) for d in range(dims)) + f":{y}"
        for a, (_, y) in zip(arrays, series)
    )
    text = f"@dimensions {dims}\n@classLabel true 1 2 3\n@data\n{body}\n"
    got, labels, header = readers.parse_ts(text, "mem")
    assert labels == [y for _, y in series] and header["dimensions"] == str(dims)
    for a, b in zip(arrays, got, strict=True):
        np.testing.assert_array_equal(a, b)  # float32 values printed with repr parse back exactly
