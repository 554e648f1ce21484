"""Entity tag schemes: reading spans out of IOB-like tags and writing them back in IOB1, IOB2 or IOBES.

- IOB1 (Ramshaw & Marcus 1995; CoNLL-2003 as published): ``I-X`` inside an entity; ``B-X`` only on the first
  token of an entity that directly follows another entity of the same type.
- IOB2 (Tjong Kim Sang & Veenstra 1999; CoNLL-2000/2002): ``B-X`` on every entity's first token, ``I-X`` after.
- IOBES (used by Lample et al. 2016, 'Tagging schemes'): ``S-X`` a one-token entity; ``B-X``, ``I-X``...,
  ``E-X`` longer ones.

Spans are read with the rules of conlleval / seqeval's default mode, whatever the scheme (so IOB1 input, and
ill-formed sequences such as ``O I-X`` or ``B-X I-Y``, read as those scorers read them): an entity starts at
``B``/``S``, or at ``I``/``E`` after ``O``, after ``E``/``S`` or after a token of another type; it ends before
``O``/``B``/``S`` or a type change, and right after ``E``/``S``. A span is ``(type, start, end)``, end exclusive.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.data.sources import DataError

SCHEMES = ("iob1", "iob2", "iobes")
Span = tuple[str, int, int]


def split_tag(tag: str, *, where: str = "") -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', ''). A tag that is not IOB-like raises DataError saying so."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    raise DataError(
        f"{where + ': ' if where else ''}tag {tag!r} is not IOB ('O' or 'B-TYPE' / 'I-TYPE' / 'E-TYPE' / 'S-TYPE'); "
        f"entity schemes and span scores need IOB-like tags"
    )


def is_iob(tags: Sequence[str]) -> bool:
    """True when every tag is 'O' or 'B-X' / 'I-X' / 'E-X' / 'S-X'."""
    return all(t == "O" or (len(t) > 2 and t[1] == "-" and t[0] in "BIES") for t in tags)


def spans(tags: Sequence[str], *, where: str = "") -> list[Span]:
    """Entities ``(type, start, end_exclusive)`` of one sentence's tags, in order (conlleval's reading)."""
    out: list[Span] = []
    start, ctype, prev = -1, "", "O"
    for i, tag in enumerate(tags):
        p, typ = split_tag(tag, where=f"{where}token {i}" if where else f"token {i}")
        if ctype and (p in ("O", "B", "S") or typ != ctype or prev in ("E", "S")):  # the open entity ends before i
            out.append((ctype, start, i))
            ctype = ""
        if p != "O" and not ctype:
            start, ctype = i, typ
        prev = p
    if ctype:
        out.append((ctype, start, len(tags)))
    return out


def from_spans(entities: Sequence[Span], length: int, scheme: str) -> list[str]:
    """Tags of a sentence of ``length`` tokens holding the non-overlapping ``entities``, in ``scheme``."""
    if scheme not in SCHEMES:
        raise DataError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    tags = ["O"] * length
    prev_end, prev_type = -1, ""
    for typ, a, b in sorted(entities, key=lambda s: s[1]):
        if not 0 <= a < b <= length or a < prev_end:
            raise DataError(f"span ({typ!r}, {a}, {b}) is empty, out of range [0, {length}) or overlaps another")
        if scheme == "iobes" and b - a == 1:
            tags[a] = f"S-{typ}"
        else:
            tags[a:b] = [f"I-{typ}"] * (b - a)
            if scheme in ("iob2", "iobes") or (a == prev_end and typ == prev_type):  # IOB1: B only to separate
                tags[a] = f"B-{typ}"
            if scheme == "iobes":
                tags[b - 1] = f"E-{typ}"
        prev_end, prev_type = b, typ
    return tags


def convert(tags: Sequence[str], scheme: str, *, where: str = "") -> list[str]:
    """The same entities written in ``scheme`` (iob1, iob2 or iobes); any IOB-like input is read as conlleval
    reads it. Raises DataError for a tag that is not IOB-like or an unknown scheme."""
    if scheme not in SCHEMES:
        raise DataError(f"unknown tag scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    return from_spans(spans(tags, where=where), len(tags), scheme)
