"""Classification file formats (rnnkit.data.formats): each format by name and detected, what the note says,
refusals with file:line messages, and property tests: a file written in any format reads back as written,
or detection refuses it with a DataError; never other columns."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data import formats, readers
from rnnkit.data.sources import DataError

ROWS = [
    ("pos", "a gripping film"),
    ("neg", "the plot goes nowhere"),
    ("pos", "warm and funny"),
    ("neg", "too long by an hour"),
    ("pos", "a small gem"),
    ("neg", "I wanted to leave"),
] * 2
LABELS, TEXTS = [y for y, _ in ROWS], [x for _, x in ROWS]


def _parse(text, where="d.txt", **kw):
    return formats.parse_labelled(text, where, **kw)


@pytest.mark.parametrize(
    "text, where, desc",
    [
        ("".join(f"{y}\t{x}\n" for y, x in ROWS), "d.tsv", "label<TAB>text"),
        ("".join(f"{x}\t{y}\n" for y, x in ROWS), "d.txt", "text<TAB>label"),
        ("".join(f"{y} {x}\n" for y, x in ROWS), "d.txt", "label text (label = first word)"),
        ("".join(f"__label__{y} {x}\n" for y, x in ROWS), "d.txt", "fastText __label__"),
        ("text,label\n" + "".join(f"{x},{y}\n" for y, x in ROWS), "d.txt", "CSV with a header"),
        ("id,Label,Review\n" + "".join(f'{i},{y},"{x}, yes"\n' for i, (y, x) in enumerate(ROWS)), "d.csv", "CSV"),
        ("sentence\tsentiment\n" + "".join(f"{x}\t{y}\n" for y, x in ROWS), "d.tsv", "TSV with a header"),
    ],
)
def test_each_format_is_detected_and_said(text, where, desc):
    got = _parse(text, where)
    assert got.labels == LABELS
    assert [x.removesuffix(", yes") for x in got.inputs] == TEXTS
    assert got.note.startswith(f"format: {desc}") and f"detected in {where} (12 lines; 2 labels)" in got.note


def test_named_formats_and_label_side():
    assert _parse("".join(f"{x} {y}\n" for y, x in ROWS), format="space", label_col="last").labels == LABELS
    got = _parse("".join(f"{x}\t{y}\n" for y, x in ROWS), format="tab")  # which end: detected
    assert got.labels == LABELS and "text<TAB>label as given" in got.note
    assert _parse("very good\tfine film\nbad\tmeh\n", format="tab", label_col="first").labels == ["very good", "bad"]
    with pytest.raises(DataError, match="before or after the TAB .*--label-col first or --label-col last"):
        _parse("very good\tfine film\nbad\tmeh\n", format="tab")
    got = _parse("a,b\n" + "".join(f"{x},{y}\n" for y, x in ROWS), format="csv", text_col="a", label_col="1")
    assert got.labels == LABELS and "text column 'a', label column 'b'" in got.note
    with pytest.raises(DataError, match=r"no column 'txt' in the header \['a', 'b'\]; pass --text-col"):
        _parse("a,b\nx,y\n", format="csv", text_col="txt")
    with pytest.raises(DataError, match=r"d.txt:1: --text-col 'review' name header columns, but the first line is"):
        _parse("".join(f"{y}\t{x}\n" for y, x in ROWS), text_col="review")
    assert _parse("".join(f"{x} {y}\n" for y, x in ROWS), label_col="last").labels == LABELS  # auto, label last
    with pytest.raises(DataError, match="--label-col for --format tab is 'first' or 'last'"):
        _parse("a\tb\n", format="tab", label_col="label")


def test_fasttext_several_labels_keep_the_first_and_say_so():
    got = _parse("__label__a __label__b two labels here\n__label__b one\n__label__a  x\n")
    assert got.labels == ["a", "b", "a"] and got.inputs == ["two labels here", "one", "x"]
    assert "lines with several labels: 1 (first: line 1); the first label of each is kept" in got.note
    got = _parse("a fine film __label__pos\n__label__neg dull\tbad\n")  # labels after the text, as fastText reads
    assert got.labels == ["pos", "neg"] and got.inputs == ["a fine film", "dull\tbad"]
    assert "lines with labels after the text: 1" in got.note
    with pytest.raises(DataError, match=r"d.txt:2: no __label__ label in 'plain line'"):
        _parse("__label__a fine\nplain line\n")
    with pytest.raises(DataError, match=r"d.txt:1: empty text"):
        _parse("__label__a\n", format="fasttext")


def test_the_uci_layout_and_the_real_files(data_root):
    """sentence<TAB>0|1 with trailing spaces before the TAB (imdb): text<TAB>label, detected."""
    for src in readers.UCI_SOURCES:
        d = readers.read_labelled_file(data_root / "uci-sentiment-sentences" / f"{src}_labelled.txt")
        assert len(d) == 1000 and set(d.labels) == {"0", "1"}
        assert d.notes == [f"format: text<TAB>label detected in {src}_labelled.txt (1,000 lines; 2 labels)"]


@pytest.mark.parametrize(
    "text, msg",
    [
        ("pos\tgood\nneg\tbad\n", r"d.txt: ambiguous|cannot tell"),  # two words each side: either could be the label
        ("the cat saw the dog\nthe dog saw a cat\na man saw the cat\n" * 5, r"labels occur 15 times inside the texts"),
        ("one\ntwo\n", r"line 1: only one word in 'one'"),
        ("\t".join(["pos", "good film"]) + "\n" + "neg bad film\n" + "pos\tfine\n", r"d.txt:2: no TAB on this line"),
        ("label\tsentence_\n" + "".join(f"{y}\t{x}\n" for y, x in ROWS), r"d.txt:1: line 1 looks like a header"),
        ("\n \n", "holds no examples"),
    ],
)
def test_refusals_name_the_file_line_and_fix(text, msg):
    with pytest.raises(DataError, match=msg) as e:
        _parse(text, "d.txt")
    assert "--format" in str(e.value) or "docs/formats.md" in str(e.value) or "--text-col" in str(e.value)


def test_csv_errors_and_data_in_the_header_line():
    with pytest.raises(DataError, match=r"d.csv:3: 3 fields but the header has 2 \(fields holding a comma"):
        _parse("text,label\nfine,pos\nnot, fine,neg\n", "d.csv")
    with pytest.raises(DataError, match=r"d.csv:2: empty label in column 'label'"):
        _parse("text,label\nfine,\n", "d.csv")
    with pytest.raises(DataError, match=r"d.csv:1: the first line looks like data, not a header \('pos'"):
        _parse("".join(f"{y},{x}\n" for y, x in ROWS), "d.csv")
    with pytest.raises(DataError, match=r"d.csv:1: which columns hold the text and the label\? header \['a', 'b'"):
        _parse("a,b,c\n1,2,3\n", "d.csv")
    got = _parse("\n\ntext,label\n\nfine,pos\n", "d.csv")  # blank lines before the header and between rows
    assert got.inputs == ["fine"] and got.skipped == 1


def test_bom_crlf_and_unicode_line_breaks(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(b"\xef\xbb\xbf" + "".join(f"{x}\x85 ok\t{y}\r\n\r\n" for y, x in ROWS).encode())
    d = readers.read_labelled_file(p)
    assert d.labels == LABELS and d.inputs[0] == "a gripping film\x85 ok" and d.skipped == 12


def test_read_classification_passes_options_and_keeps_old_sources(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("".join(f"{x} {y}\n" for y, x in ROWS))
    d = readers.read_classification(p, format="space", label_col="last", encoding="utf-8")
    assert d.labels == LABELS and d.notes and "as given" in d.notes[0]
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.txt").write_text("x\ny\n")
    d = readers.read_classification(tmp_path / "f", format="csv")  # a folder: one file per class, format unused
    assert d.labels == ["a", "a"] and d.notes[0].startswith("format: a folder of one file per class")
    assert readers.notes_of(d, None, d) == d.notes


# ---- property tests -----------------------------------------------------------------------------------------

_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\ufeff")
_WORD = st.text(_CHARS, min_size=1, max_size=6)
_LABEL = _WORD.filter(lambda s: not s.startswith("__label__"))


def _texts(tabs: bool):
    seps = st.sampled_from([" ", "\t"] if tabs else [" "])
    return st.lists(st.tuples(_WORD, seps), min_size=1, max_size=5).map(
        lambda ws: "".join(w + s for w, s in ws)[:-1] if len(ws) > 1 else ws[0][0]
    )


WRITERS = {  # format -> (write one example, options naming the format, texts may hold TABs)
    "tab-first": (lambda y, x: f"{y}\t{x}", {"format": "tab", "label_col": "first"}, True),
    "tab-last": (lambda y, x: f"{x}\t{y}", {"format": "tab", "label_col": "last"}, False),
    "space": (lambda y, x: f"{y} {x}", {"format": "space"}, False),
    "fasttext": (lambda y, x: f"__label__{y} {x}", {"format": "fasttext"}, True),
    "csv": (None, {"format": "csv"}, True),
    "tsv": (None, {"format": "csv"}, False),
}


@st.composite
def labelled_file(draw, fmt):
    write, options, tabs = WRITERS[fmt]
    pool = draw(st.lists(_LABEL, min_size=1, max_size=3, unique=True))
    rows = draw(st.lists(st.tuples(st.sampled_from(pool), _texts(tabs)), min_size=1, max_size=25))
    if fmt in ("csv", "tsv"):
        header = draw(st.permutations(["text", "label", "id"]))
        out = io.StringIO()
        if fmt == "csv":
            w = csv.writer(out, lineterminator="\n")
            w.writerow(header)
            for i, (y, x) in enumerate(rows):
                w.writerow([{"text": x, "label": y, "id": str(i)}[h] for h in header])
        else:
            out.write("\t".join(header) + "\n")
            for i, (y, x) in enumerate(rows):
                out.write("\t".join({"text": x, "label": y, "id": str(i)}[h] for h in header) + "\n")
        lines_ = out.getvalue().split("\n")[:-1]
    else:
        lines_ = [write(y, x) for y, x in rows]
    blanks = draw(st.lists(st.sampled_from(["", "  "]), max_size=3))
    for b in blanks:  # empty lines anywhere after the first
        lines_.insert(draw(st.integers(1, len(lines_))), b)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    raw = (newline.join(lines_) + newline).encode("utf-8")
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    return raw, [y for y, _ in rows], [x for _, x in rows], options


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_detection_returns_what_was_written_or_refuses(tmp_path, fmt, data):
    raw, labels, texts, options = data.draw(labelled_file(fmt))
    p = tmp_path / ("d.csv" if fmt == "csv" else "d.txt")
    p.write_bytes(raw)
    named = readers.read_labelled_file(p, **options)  # the format named: always read as written
    assert (named.labels, named.inputs) == (labels, texts)
    try:
        got = readers.read_labelled_file(p)
    except DataError as e:
        assert "--format" in str(e) or "--text-col" in str(e) or "--label-col" in str(e)  # a refusal says the fix
        return
    assert (got.labels, got.inputs) == (labels, texts), got.notes
    assert "detected" in got.notes[0]
