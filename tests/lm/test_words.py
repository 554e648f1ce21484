"""The NumPy word tokeniser (tasks/lm/words.py) against its slow twin ``tokenize(text, "word")``: the same tokens on odd
texts (every Unicode space and line break, \\r\\n, empty lines, no final newline, words of 15/16+ bytes, many
distinct words), and the prepared ids against the in-memory path whatever the block size."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit.tasks.lm.prepare as P
import rnnkit.tasks.lm.words as W
from rnnkit.data.text import encode_splits, load_splits, tokenize

SPACES = [chr(c) for c in W.WHITESPACE]
PIECES = [
    *string.ascii_letters[:6],
    "é",
    "中",
    "😀",
    "<eos>",
    "<unk>",
    "\r\n",
    "\x00",
    "x" * 15,
    "y" * 16,
    "é" * 8,
    "\u200b",
    "\u201c",
    "\u2014",
    "\u180e",
    "\ufeff",
]  # neighbours of spaces in UTF-8 that are not spaces
texts = st.lists(st.sampled_from(PIECES + SPACES), max_size=60).map("".join)


def tokens_of(blocks: list[bytes]) -> list[str]:
    """What WordInterner makes of the blocks, as words."""
    wi = W.WordInterner()
    ids = np.concatenate([wi.encode(b) for b in blocks]) if blocks else np.zeros(0, np.uint32)
    words = wi.words()
    assert len(words) == len(wi) and len(set(words)) == len(words)  # each distinct word has exactly one id
    return [words[i] for i in ids.tolist()]


def test_whitespace_and_line_breaks_are_this_pythons():
    # the tables in words.py are what str.split / str.splitlines use here (a newer Unicode could change them)
    assert [c for c in range(0x110000) if chr(c).isspace()] == list(W.WHITESPACE)
    assert [c for c in range(0x110000) if len(f"a{chr(c)}b".splitlines()) == 2] == list(W.LINE_BREAKS)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_one_block_gives_the_tokens_of_tokenize(text):
    assert tokens_of([text.encode()]) == tokenize(text, "word")


@settings(max_examples=150, deadline=None)
@given(texts, st.lists(st.integers(0, 10**6), max_size=5))
def test_blocks_cut_after_newlines_give_the_tokens_of_the_whole(text, cuts):
    # prepare cuts blocks just after a "\n": tokens never span such a cut, so blocks concatenate
    raw = text.encode()
    after_nl = [i + 1 for i, b in enumerate(raw) if b == 0x0A]
    at = sorted({after_nl[c % len(after_nl)] for c in cuts}) if after_nl else []
    blocks = [raw[a:b] for a, b in zip([0, *at], [*at, len(raw)], strict=True) if b > a]
    assert tokens_of(blocks) == tokenize(text, "word")


def test_many_distinct_words_grow_the_table_and_keep_their_ids():
    rng = np.random.default_rng(0)
    vocab = [f"w{i:x}{'z' * (i % 19)}" for i in range(70_000)]  # 2 to 24 bytes: short keys and long words
    lines = [" ".join(vocab[j] for j in rng.integers(0, len(vocab), 9)) for _ in range(30_000)]
    text = "\n".join(lines)
    wi = W.WordInterner()
    blocks = []
    for i in range(0, len(lines), 5000):  # blocks that end at a newline, as prepare cuts them
        blocks.append(("\n".join(lines[i : i + 5000]) + ("\n" if i + 5000 < len(lines) else "")).encode())
    ids = np.concatenate([wi.encode(b) for b in blocks])
    assert wi._bits > 16  # the table grew (more than 32,768 distinct short words) ...
    words = wi.words()
    assert [words[i] for i in ids.tolist()] == tokenize(text, "word")  # ... and kept every id
    assert len(wi) == len(set(tokenize(text, "word")))


def test_encode_of_nothing():
    assert W.WordInterner().encode(b"").shape == (0,)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([*PIECES, " ", " ", "\n", "\n", "\u2028", "\r", "\t"]), min_size=30, max_size=200).map(
        "".join
    ),
    st.sampled_from([1, 3, 7, 64]),
    st.sampled_from([(0.1, 0.0), (0.23, 0.11), (0.5, 0.3)]),
)
def test_prepared_word_ids_equal_the_in_memory_path(tmp_path_factory, text, block, fractions):
    # tiny blocks: reads end inside words and inside multi-byte characters; the split points fall anywhere
    if not text.strip():
        return
    d = tmp_path_factory.mktemp("w")
    f = d / "t.txt"
    f.write_bytes(text.encode())
    valid, test = fractions
    try:
        ref = encode_splits(load_splits(path=f, valid_fraction=valid, test_fraction=test), level="word")
    except Exception as e:  # too short to split, or no word in the training part: prepare must refuse too
        with pytest.raises(type(e)):
            with pytest.MonkeyPatch.context() as m:
                m.setattr(P, "BLOCK", block)
                P.prepare(f, d / "p", P.Settings(level="word", valid_fraction=valid, test_fraction=test))
        return
    with pytest.MonkeyPatch.context() as m:
        m.setattr(P, "BLOCK", block)
        enc, _ = P.prepare(f, d / "p", P.Settings(level="word", valid_fraction=valid, test_fraction=test))
    assert enc.vocab == ref.vocab
    for s in ("train", "valid", "test"):
        a, b = getattr(enc, s), getattr(ref, s)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(np.asarray(a, dtype=np.int64), b, err_msg=s)


@pytest.mark.parametrize("name", ["tiny-shakespeare", "ptb"])
def test_published_corpora_word_ids_equal_the_in_memory_path(data_root, tmp_path, name):
    # through prepare_dataset: Tiny Shakespeare's 90/10 split of one file, PTB's own three files
    enc, built = P.prepare_dataset(name, tmp_path / "p", P.Settings(level="word"), data_root=data_root)
    ref = encode_splits(load_splits(dataset=name, data_root=data_root), level="word")
    assert built and enc.vocab == ref.vocab and enc.source == ref.source == name
    for s in ("train", "valid", "test"):
        a, b = getattr(enc, s), getattr(ref, s)
        assert (a is None) == (b is None) == (s == "test" and name == "tiny-shakespeare")
        if a is not None:
            np.testing.assert_array_equal(np.asarray(a, dtype=np.int64), b, err_msg=s)
    assert not P.prepare_dataset(name, tmp_path / "p", P.Settings(level="word"), data_root=data_root)[1]  # reused
