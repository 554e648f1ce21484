"""Tagging files: CoNLL-U (Universal Dependencies) and its detection, beside the whitespace column files
(``word POS chunk``, CoNLL-2000/2002) that ``rnnkit.data.readers.parse_columns`` reads.

CoNLL-U (https://universaldependencies.org/format.html): one word per line, 10 TAB-separated fields
``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``, a blank line after each sentence, ``#`` comment lines.
The word is FORM and the tag UPOS (``tag='xpos'``: XPOS). Like the CoNLL 2018 shared task evaluation
(``conll18_ud_eval.py``), which scores tags on syntactic words, two kinds of line are not words and are
skipped both when reading and therefore when scoring:
- multiword-token ranges ``1-2 du _ ...`` (the surface token; its words ``de`` + ``le`` follow as lines 1, 2);
- empty nodes ``8.1 ...`` (enhanced-dependency ellipsis, not in the surface sentence).

Detection: a ``.conllu`` file, or a first word line of 10 TAB-separated fields whose first field is a word ID
(``1``, ``1-2``, ``8.1``), is CoNLL-U. A whitespace column file whose first column counts 1, 2, 3 ... in every
sentence holds token IDs, not words: ``reject_id_column`` refuses it instead of training on the numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from rnnkit.data.formats import lines
from rnnkit.data.sources import DataError

TAG_FIELDS = {"upos": 3, "xpos": 4}
TAGGING_FORMATS = ("auto", "conll", "conllu")
_ID = re.compile(r"\d+(?:-\d+|\.\d+)?")


def is_conllu(text: str, where: str = "") -> bool:
    """A ``.conllu`` name, or a first word line with 10 TAB-separated fields starting with a word ID."""
    if PurePath(where).suffix.lower() == ".conllu":
        return True
    for line in lines(text):
        if line.strip() and not line.startswith("#"):
            fields = line.split("\t")
            return len(fields) == 10 and _ID.fullmatch(fields[0]) is not None
    return False


def parse_conllu(text: str, where: str, *, tag: str = "upos") -> tuple[list[list[tuple[str, str]]], str]:
    """Sentences of (FORM, UPOS or XPOS) pairs, and a one-line note of what was read and skipped."""
    if tag not in TAG_FIELDS:
        raise DataError(f"CoNLL-U tag column must be 'upos' or 'xpos', got {tag!r}")
    k = TAG_FIELDS[tag]
    sentences: list[list[tuple[str, str]]] = []
    cur: list[tuple[str, str]] = []
    ranges = empty = comments = 0
    for n, line in enumerate(lines(text.removeprefix("\ufeff")), 1):
        if not line.strip():
            if cur:
                sentences.append(cur)
                cur = []
            continue
        if line.startswith("#"):
            comments += 1
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataError(
                f"{where}:{n}: a CoNLL-U word line has 10 TAB-separated fields, this one has {len(fields)} "
                f"({line[:60]!r}); if the file is not CoNLL-U pass --format conll"
            )
        wid = fields[0]
        if _ID.fullmatch(wid) is None:
            raise DataError(f"{where}:{n}: {wid!r} is not a CoNLL-U word ID (1, 2-3 or 4.1)")
        if "-" in wid:
            ranges += 1
            continue
        if "." in wid:
            empty += 1
            continue
        if int(wid) != len(cur) + 1:
            raise DataError(
                f"{where}:{n}: word ID {wid} after {len(cur)} words; IDs count 1, 2, 3 ... in each sentence "
                f"(is the blank line before a new sentence missing?)"
            )
        cur.append((fields[1], fields[k]))
    if cur:
        sentences.append(cur)
    if not sentences:
        raise DataError(f"{where} holds no CoNLL-U words; expected 10 TAB-separated fields per word line")
    tags = {t for s in sentences for _, t in s}
    if tags == {"_"}:
        other = "xpos" if tag == "upos" else "upos"
        raise DataError(
            f"{where}: every {tag.upper()} is '_' (not annotated); use the {other.upper()} column "
            f"(--conllu-tag {other})"
        )
    words = sum(map(len, sentences))
    skipped = [
        f"{what} {c:,}"
        for c, what in ((ranges, "multiword-token ranges"), (empty, "empty nodes"), (comments, "comment lines"))
        if c
    ]
    note = f"{len(sentences):,} sentences, {words:,} words; word = FORM, tag = {tag.upper()}" + (
        f"; skipped: {', '.join(skipped)}" if skipped else ""
    )
    return sentences, note


def reject_id_column(sentences: Sequence[Sequence[Sequence[str]]], where: str) -> None:
    """Refuse a column file whose first column counts 1, 2, 3 ... in every sentence: token IDs, not words."""
    if not sentences or any(len(s[0]) < 2 for s in sentences):
        return
    if all(all(row[0] == str(i) for i, row in enumerate(s, 1)) for s in sentences):
        ncols = len(sentences[0][0])
        raise DataError(
            f"{where}: the first column counts 1, 2, 3 ... in every sentence: token IDs, not words "
            f"(a CoNLL-U or CoNLL-X file with {ncols} columns?). CoNLL-U has 10 TAB-separated fields per word "
            f"(pass --format conllu); for another layout pass --format conll --data.word_column=N --tag-column M"
        )
