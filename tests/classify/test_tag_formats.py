"""Tagging files (rnnkit.data.conllu, readers.read_tagging_file): CoNLL-U by name or content, FORM + UPOS|XPOS,
multiword ranges / empty nodes / comments skipped; CoNLL column files; a token-ID first column refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data import conllu, readers
from rnnkit.data.sources import DataError


def _row(i, form, upos, xpos="_"):
    return f"{i}\t{form}\t_\t{upos}\t{xpos}\t_\t0\t_\t_\t_"


UD = "\n".join(
    [
        "# text = I cannot go",
        _row(1, "I", "PRON", "PRP"),
        "2-3\tcannot" + "\t_" * 8,
        _row(2, "can", "AUX", "MD"),
        _row(3, "not", "PART", "RB"),
        _row(4, "go", "VERB", "VB"),
        "",
        _row(1, "Sue", "PROPN", "NNP"),
        _row(2, "likes", "VERB", "VBZ"),
        "2.1\tlikes" + "\t_" * 8,
        _row(3, "tea", "NOUN", "NN"),
        "",
    ]
)


@pytest.mark.parametrize("name", ["ud.conllu", "ud.txt"])  # by extension, and by the ID column without one
def test_conllu_by_name_or_content(tmp_path, name):
    p = tmp_path / name
    p.write_text(UD)
    d = readers.read_tagging(p)
    assert d.sentences == [
        [("I", "PRON"), ("can", "AUX"), ("not", "PART"), ("go", "VERB")],
        [("Sue", "PROPN"), ("likes", "VERB"), ("tea", "NOUN")],
    ]
    assert d.notes == [
        f"format: CoNLL-U detected in {name} (2 sentences, 7 words; word = FORM, tag = UPOS; skipped: "
        "multiword-token ranges 1, empty nodes 1, comment lines 1)"
    ]
    x = readers.read_tagging(p, conllu_tag="xpos")
    assert x.column(-1) == [["PRP", "MD", "RB", "VB"], ["NNP", "VBZ", "NN"]] and "tag = XPOS" in x.notes[0]


def test_conllu_errors(tmp_path):
    with pytest.raises(DataError, match=r"m:2: a CoNLL-U word line has 10 TAB-separated fields, this one has 3"):
        conllu.parse_conllu(_row(1, "a", "X") + "\n1\ta\tX\n", "m")
    with pytest.raises(DataError, match=r"m:2: word ID 1 after 1 words; .*blank line before a new sentence"):
        conllu.parse_conllu(_row(1, "a", "X") + "\n" + _row(1, "b", "X") + "\n", "m")
    with pytest.raises(DataError, match=r"m:1: 'x1' is not a CoNLL-U word ID"):
        conllu.parse_conllu(_row("x1", "a", "X") + "\n", "m")
    with pytest.raises(DataError, match=r"every XPOS is '_' \(not annotated\); use the UPOS column \(--conllu-tag"):
        conllu.parse_conllu(_row(1, "a", "X") + "\n", "m", tag="xpos")
    with pytest.raises(DataError, match="unknown tagging format 'ud'"):
        readers.read_tagging_file(tmp_path / "x", format="ud")


def test_token_ids_are_never_words(tmp_path):
    """The bug this guards: a CoNLL-U-like file read as columns trained on '1', '2', ... as words."""
    p = tmp_path / "ids.txt"
    p.write_text("1 The DT\n2 dog NN\n\n1 A DT\n2 cat NN\n3 ran VBD\n")
    with pytest.raises(DataError, match=r"ids.txt: the first column counts 1, 2, 3 \.\.\. .* --format conllu"):
        readers.read_tagging(p)
    d = readers.read_tagging(p, format="conll")  # said explicitly: the columns as they are
    assert d.sentences[0][0] == ("1", "The", "DT") and "CoNLL columns as given" in d.notes[0]


def test_conll_columns_note_and_docstart(tmp_path):
    p = tmp_path / "c.conll"
    p.write_text("-DOCSTART- -X- O\n\nHe PRP B-NP\nran VBD B-VP\n\r\nOK UH O\r\n")
    d = readers.read_tagging(p)
    assert d.column(0) == [["He", "ran"], ["OK"]]
    assert d.notes == [
        "format: CoNLL columns detected in c.conll (3 whitespace-separated columns; 2 sentences, "
        "3 tokens; -DOCSTART- lines skipped: 1)"
    ]


_TOKEN = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=5)
_TAG = st.sampled_from(["NOUN", "VERB", "DET", "B-NP", "I-NP", "O"])
_SENTS = st.lists(st.lists(st.tuples(_TOKEN, _TAG), min_size=1, max_size=6), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sents=_SENTS,
    extras=st.lists(st.sampled_from(["range", "empty", "comment"]), max_size=4),
    conllu_=st.booleans(),
    crlf=st.booleans(),
    bom=st.booleans(),
)
def test_tagging_files_read_back_as_written(tmp_path, sents, extras, conllu_, crlf, bom):
    """CoNLL-U (with ranges, empty nodes, comments mixed in) or 'word tag' columns, detected from the content:
    the (word, tag) pairs come back, or a DataError; never the ID column as words."""
    out = []
    for s in sents:
        for i, (w, t) in enumerate(s, 1):
            if conllu_:
                kind = extras[(i + len(out)) % len(extras)] if extras else ""
                if kind == "range" and i < len(s):
                    out.append(f"{i}-{i + 1}\t{w}{s[i][0]}" + "\t_" * 8)
                elif kind == "comment" and i == 1:
                    out.append(f"# sent {len(out)}")
                out.append(_row(i, w, t))
                if kind == "empty":
                    out.append(f"{i}.1\tghost" + "\t_" * 8)
            else:
                out.append(f"{w} {t}")
        out.append("")
    raw = ("\r\n" if crlf else "\n").join(out).encode()
    p = tmp_path / "d.txt"
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    try:
        d = readers.read_tagging(p)
    except DataError as e:
        assert not conllu_ and "counts 1, 2, 3" in str(e)  # words that are 1, 2, 3...: refused, never trained on
        return
    assert d.sentences == [[(w, t) for w, t in s] for s in sents]
    assert ("CoNLL-U" in d.notes[0]) == conllu_
