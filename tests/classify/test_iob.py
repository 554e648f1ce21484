"""IOB1 / IOB2 / IOBES conversion (round trips over random entity layouts) and entity scores on hand-made cases
whose expected numbers were worked out by hand with conlleval's / seqeval's rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import iob
from rnnkit.data.sources import DataError
from rnnkit.tasks.metrics import span_f1, span_f1_by_type

TYPES = ["PER", "LOC", "ORG"]


@st.composite
def layouts(draw):
    """(entities, length): non-overlapping spans, some adjacent with the same type (where IOB1 needs B-)."""
    entities, pos = [], 0
    for gap, size, typ in draw(
        st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4), st.sampled_from(TYPES)), max_size=6)
    ):
        entities.append((typ, pos + gap, pos + gap + size))
        pos += gap + size
    return entities, pos + draw(st.integers(0, 2))


@settings(max_examples=200, deadline=None)
@given(layouts())
def test_round_trips(layout):
    entities, n = layout
    written = {s: iob.from_spans(entities, n, s) for s in iob.SCHEMES}
    for s, tags in written.items():
        assert iob.spans(tags) == entities, s
        for s2 in iob.SCHEMES:
            assert iob.convert(tags, s2) == written[s2], (s, s2)
    touching = sum(a == b and t1 == t2 for (t1, _, b), (t2, a, _) in zip(entities, entities[1:], strict=False))
    assert sum(t.startswith("B-") for t in written["iob1"]) == touching  # IOB1: B- only to separate two entities
    assert sum(t.startswith("B-") for t in written["iob2"]) == len(entities)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["O"] + [f"{p}-{t}" for p in "BIES" for t in TYPES[:2]]), max_size=12))
def test_any_sequence_keeps_its_entities(tags):
    """Ill-formed input (O I-X, B-X I-Y, E-X I-X...) is read once, as conlleval reads it, and written well-formed."""
    for s in iob.SCHEMES:
        out = iob.convert(tags, s)
        assert iob.spans(out) == iob.spans(tags)
        assert iob.convert(out, s) == out


def test_schemes_by_hand():
    tags = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "I-ORG"]
    assert iob.convert(tags, "iob1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "I-ORG"]
    assert iob.convert(tags, "iobes") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "I-ORG", "E-ORG"]
    assert iob.convert(["O", "I-LOC", "I-LOC", "I-PER"], "iob2") == ["O", "B-LOC", "I-LOC", "B-PER"]


def test_not_iob_is_a_clear_error():
    with pytest.raises(DataError, match=r"token 1: tag 'NN' is not IOB"):
        iob.convert(["O", "NN"], "iobes")
    with pytest.raises(DataError, match="unknown tag scheme 'bilou'; choose one of iob1, iob2, iobes"):
        iob.convert(["O"], "bilou")
    with pytest.raises(DataError, match="overlaps"):
        iob.from_spans([("X", 0, 2), ("X", 1, 3)], 4, "iob2")


@pytest.mark.parametrize(
    ("gold", "pred", "spans_of_pred", "counts"),
    [  # counts: (n_true, n_pred, n_correct) over the two sequences
        (["B-PER", "I-PER", "O"], ["B-PER", "O", "O"], [("PER", 0, 1)], (1, 1, 0)),  # partial span: wrong
        (["B-PER", "I-PER"], ["B-ORG", "I-ORG"], [("ORG", 0, 2)], (1, 1, 0)),  # right span, wrong type
        (["O", "B-LOC", "I-LOC"], ["O", "I-LOC", "I-LOC"], [("LOC", 1, 3)], (1, 1, 1)),  # I- without B- starts one
        (["B-PER", "I-PER"], ["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)], (1, 2, 0)),  # consecutive B-s
        (["B-PER", "I-PER"], ["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)], (1, 2, 0)),  # type change splits
        (["B-X", "E-X", "S-X"], ["B-X", "E-X", "I-X"], [("X", 0, 2), ("X", 2, 3)], (2, 2, 2)),  # I after E starts
    ],
)
def test_span_cases(gold, pred, spans_of_pred, counts):
    assert iob.spans(pred) == spans_of_pred
    s = span_f1([gold], [pred])
    assert (s.n_true, s.n_pred, s.n_correct) == counts


def test_per_type_report_matches_seqeval_readme_example():
    """seqeval's README example: MISC p=r=f=0 (support 1), PER p=r=f=1, micro average 0.5."""
    gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    by = span_f1_by_type(gold, pred)
    assert {k: (v.precision, v.recall, v.f1, v.n_true) for k, v in by.items()} == {
        "MISC": (0.0, 0.0, 0.0, 1),
        "PER": (1.0, 1.0, 1.0, 1),
    }
    s = span_f1(gold, pred)
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)


def test_per_type_counts_add_up_with_a_type_error():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-ORG", "I-ORG", "O", "B-LOC"]]
    by = span_f1_by_type(gold, pred)
    assert {k: (v.n_true, v.n_pred, v.n_correct) for k, v in by.items()} == {
        "LOC": (1, 1, 1),
        "ORG": (0, 1, 0),
        "PER": (1, 0, 0),
    }
    total = span_f1(gold, pred)
    assert sum(v.n_correct for v in by.values()) == total.n_correct == 1
    assert by["ORG"].precision == 0.0 and by["PER"].recall == 0.0 and by["LOC"].f1 == 1.0
