"""CoNLL-2002 NER read from its zip: a tiny zip written in the test, and the published file when present; the
seeded sentence split of a single file."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from rnnkit.data import readers
from rnnkit.data.readers import ColumnData
from rnnkit.data.sources import DataError
from rnnkit.tasks.tag.config import TaggerDataConfig
from rnnkit.tasks.tag.data import load_splits, split_sentences

NED = "-DOCSTART- -DOCSTART- O\nDe Art O\nMorgen N B-ORG\n\n-DOCSTART- -DOCSTART- O\nJan N B-PER\nloopt V O\n"
ESP = "Juan NC B-PER\nPérez NC I-PER\nvive VMI O\n\nen SP O\nMadrid NC B-LOC\n"


def _zip(tmp_path, members: dict[str, str]):
    p = tmp_path / "conll2002.zip"
    with zipfile.ZipFile(p, "w") as z:
        for name, text in members.items():
            z.writestr(f"conll2002/{name}", text.encode("utf-8"))
    return p


def test_tiny_zip_docstart_and_columns(tmp_path):
    p = _zip(tmp_path, {"ned.train": NED, "esp.testb": ESP})
    nl = readers.read_conll2002("conll2002-nl", path=p, split="train")
    assert nl.sentences == [
        [("De", "Art", "O"), ("Morgen", "N", "B-ORG")],
        [("Jan", "N", "B-PER"), ("loopt", "V", "O")],
    ]
    assert "-DOCSTART- lines skipped: 2" in nl.notes[0]
    es = readers.read_conll2002("conll2002-es", path=p, split="test")  # test = testb
    assert es.column(0) == [["Juan", "Pérez", "vive"], ["en", "Madrid"]]
    assert es.column(-1) == [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]


def test_tiny_zip_errors(tmp_path):
    p = _zip(tmp_path, {"ned.train": NED})
    with pytest.raises(DataError, match="has no member conll2002/ned.testa"):
        readers.read_conll2002("conll2002-nl", path=p, split="val")
    with pytest.raises(DataError, match="split must be one of train, val, test"):
        readers.read_conll2002("conll2002-nl", path=p, split="dev")
    with pytest.raises(DataError, match="choose one of conll2002-es, conll2002-nl"):
        readers.read_conll2002("conll2002-de", path=p)


@pytest.mark.parametrize(
    ("name", "sizes", "tokens", "first"),
    [
        ("conll2002-es", (8323, 1915, 1517), 51533, ("Melbourne", "NP", "B-LOC")),
        ("conll2002-nl", (15806, 2895, 5195), 68875, ("De", "Art", "O")),
    ],
)
def test_conll2002_real(data_root, name, sizes, tokens, first):
    """Sentence counts of the shared task (Tjong Kim Sang 2002, Table 1 gives tokens); word first, tag last."""
    tr, va, te = load_splits(TaggerDataConfig(dataset=name, data_root=str(data_root)))
    assert (len(tr), len(va), len(te)) == sizes
    assert sum(map(len, te.sentences)) == tokens
    assert tr.sentences[0][0] == first
    tags = {t for s in tr.column(-1) for t in s}
    assert tags == {"O"} | {f"{p}-{x}" for p in "BI" for x in ("PER", "LOC", "ORG", "MISC")}
    assert all(len(row) == 3 for s in tr.sentences for row in s)
    assert not any(row[0] == "-DOCSTART-" for s in tr.sentences + va.sentences + te.sentences for row in s)


@pytest.mark.parametrize("n, fraction, seed", [(1, 0.1, 2024), (7, 0.1, 2024), (40, 0.1, 2025), (33, 0.25, 5)])
def test_random_sentence_split_is_the_published_one(n, fraction, seed):
    """The split of a single file through rnnkit.data.splits keeps the order tagging runs were split with
    (torch.randperm, seeded; the first floor(n * fraction) held out, at least one), so old runs' test sets stand."""
    data = ColumnData([[(f"w{i}", "O")] for i in range(n)], "toy", [])
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    k = max(1, int(np.floor(n * fraction)))
    rest, held = split_sentences(data, fraction, seed)
    assert held.sentences == [data.sentences[i] for i in perm[:k]]
    assert rest.sentences == [data.sentences[i] for i in perm[k:]]
    assert (rest.source, held.source) == ("toy", "toy")


def test_the_old_tagger_module_path_warns_and_forwards():
    """rnnkit.models.tagger moved to rnnkit.tasks.tag.model in 0.2; the old path forwards for one release."""
    import rnnkit.models.tagger as old
    from rnnkit.tasks.tag.model import TaggerNet

    with pytest.warns(DeprecationWarning, match="rnnkit.models.tagger.TaggerNet moved to rnnkit.tasks.tag.model"):
        assert old.TaggerNet is TaggerNet
