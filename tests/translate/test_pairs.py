"""Sentence-pair reader: normalisation, the tutorial filter, directions, splits, fixture and real fra-eng zips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import pairs as P
from rnnkit.data.sources import DataError

FRA_TXT = "\n".join(
    [
        "Go.\tVa !",
        "I'm cold.\tJ'ai froid.",
        "He's a good boy.\tC'est un bon garçon.",
        "She is très belle.\tElle est très belle.\tCC-BY 2.0 (France) Attribution: tatoeba.org",
        "You are late!\tTu es en retard !",
        "We're not here.\tNous ne sommes pas ici.",
        "They are eating an apple that was bought at the market yesterday.\tIls mangent une pomme achetée hier.",
        "Tom is here.\tTom est ici.",
        "",
    ]
)


def write_zip(path: Path, text: str = FRA_TXT) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_about.txt", "about")
        z.writestr("fra.txt", text.encode("utf-8"))
    return path


def test_normalisation_is_the_tutorials() -> None:
    assert P.normalize("I'm cold.") == "i m cold ."
    assert P.normalize("  Ça va?! ") == "ca va ? !"
    assert P.normalize("Élève, 3 ans: «très» bien.") == "eleve ans tres bien ."
    assert P.unicode_to_ascii("garçon déçu") == "garcon decu"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalise_is_idempotent_and_ascii(s: str) -> None:
    n = P.normalize(s)
    assert P.normalize(n) == n
    assert set(n) <= set("abcdefghijklmnopqrstuvwxyz.!? ")
    assert "  " not in n and n == n.strip()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text("abc é.!", min_size=1).filter(str.strip), st.text("xyz ç?", min_size=1)),
        min_size=1,
        max_size=8,
    )
)
def test_tsv_reader_round_trip(pairs: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{a}\t{b}" for a, b in pairs)
    assert P.read_tsv(text, source="mem") == pairs


def test_fixture_zip_tutorial_and_general_settings(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "fra-eng.zip")
    raw, _ = P.read_raw_pairs(path=z)
    assert len(raw) == 8 and raw[3] == ("She is très belle.", "Elle est très belle.")  # 3rd column ignored
    tut = P.select_pairs(raw, columns=("eng", "fra"), setting="tutorial", max_len=10)
    # "Go." and "Tom is here." have no tutorial prefix; the long sentence has >= 10 words
    assert [e for e, _ in tut] == [
        "i m cold .",
        "he s a good boy .",
        "she is tres belle .",
        "you are late !",
        "we re not here .",
    ]
    gen = P.select_pairs(raw, columns=("eng", "fra"), setting="general", max_len=5)
    assert ("go .", "va !") in gen and ("tom is here .", "tom est ici .") in gen
    assert all(len(a.split()) <= 5 and len(b.split()) <= 5 for a, b in gen)


def test_directions_and_the_error_for_an_unknown_one(tmp_path: Path) -> None:
    z = write_zip(tmp_path / "pairs.zip")
    fe = P.load_pairs(path=z, direction="fra-eng", setting="general", max_len=20, test_fraction=0.25, val_fraction=0)
    ef = P.load_pairs(path=z, direction="eng-fra", setting="general", max_len=20, test_fraction=0.25, val_fraction=0)
    assert ef.test == [(b, a) for a, b in fe.test] and ef.train == [(b, a) for a, b in fe.train]
    assert ("va !", "go .") in fe.train + fe.test
    with pytest.raises(ValueError, match=r"unknown language direction 'eng-deu'.*use 'eng-fra' or 'fra-eng'"):
        P.load_pairs(path=z, direction="eng-deu")
    with pytest.raises(ValueError, match="unknown language direction 'fra_eng'"):
        P.parse_direction("fra_eng", ("eng", "fra"))


def test_split_is_seeded_disjoint_and_complete() -> None:
    pairs = [(f"s{i}", f"t{i}") for i in range(100)]
    a = P.split_pairs(pairs, test_fraction=0.1, val_fraction=0.05, seed=7)
    b = P.split_pairs(pairs, test_fraction=0.1, val_fraction=0.05, seed=7)
    c = P.split_pairs(pairs, test_fraction=0.1, val_fraction=0.05, seed=8)
    assert a == b and a[2] != c[2]
    assert [len(x) for x in a] == [85, 5, 10]
    assert sorted(a[0] + a[1] + a[2]) == sorted(pairs)


def test_bad_inputs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        P.read_raw_pairs(path=tmp_path / "nope.tsv")
    (tmp_path / "one.tsv").write_text("only one column\n")
    with pytest.raises(DataError, match="line 1: expected 'sentence<TAB>translation'"):
        P.read_raw_pairs(path=tmp_path / "one.tsv")
    (tmp_path / "empty.tsv").write_text("\n\n")
    with pytest.raises(DataError, match="holds no sentence pairs"):
        P.read_raw_pairs(path=tmp_path / "empty.tsv")
    with pytest.raises(ValueError, match="setting must be one of"):
        P.select_pairs([("a", "b")], columns=("eng", "fra"), setting="easy", max_len=3)


def test_vocab_reuses_text_vocab_with_specials() -> None:
    v = P.build_vocab(["i am cold .", "i am here ."], level="word")
    assert v.itos[:4] == ["<unk>", "<pad>", "<sos>", "<eos>"] and v.itos[4:7] == [
        ".",
        "am",
        "i",
    ]  # by count, ties by token
    ids = P.encode(v, "i am lost .")
    assert ids[-1] == P.EOS_ID and ids[2] == 0  # unknown word -> <unk>
    assert P.decode(v, [*ids[:2], P.EOS_ID, 5]) == "i am"
    c = P.build_vocab(["ab", "ba"], level="char")
    assert P.decode(c, P.encode(c, "abba")) == "abba"


def test_real_fra_eng_zip(data_root: Path) -> None:
    s = P.load_pairs(data_root=data_root, direction="fra-eng", setting="tutorial", max_len=10)
    # measured on the checksum-verified published fra-eng.zip (142,787 lines); 10% test, 5% val by seed 1234
    assert (len(s.train), len(s.val), len(s.test)) == (9284, 546, 1092)
    every = s.train + s.val + s.test
    assert all(t.startswith(P.ENG_PREFIXES) for _, t in every)
    assert all(len(a.split()) < 10 and len(b.split()) < 10 for a, b in every)
    assert ("je suis froid .", "i m cold .") in every or any(t == "i m cold ." for _, t in every)
