"""Classification files as people have them, read by name or detected from the content.

Formats (docs/formats.md shows one small file of each):
- ``tab``: ``label<TAB>text`` or ``text<TAB>label`` (``label_col='first' | 'last'``; detected when not given);
- ``space``: the label is the first word, the text the rest (``1 a gripping film``); ``label_col='last'`` for
  ``a gripping film 1`` (never detected: the last word of a sentence looks too much like a label);
- ``fasttext``: ``__label__pos a gripping film`` (labels after the text are read too, as fastText does); a
  line with several labels keeps the first (rnnkit classify predicts one class per example) and the note
  says how many lines that was;
- ``csv``: a header row, then rows; comma-separated, or TAB-separated (a ``.tsv`` file or a header holding a
  TAB; TSV fields are not quoted); columns by header name or 0-based index (``text_col``, ``label_col``),
  else the usual names (text, sentence, review / label, class, sentiment ...).

Detection (``format='auto'``) never guesses between readings that disagree: a ``__label__`` word in the
first line means fastText; a first line naming a text and a label column means CSV/TSV with a header;
otherwise each headerless reading (label<TAB>text, text<TAB>label, label text) is tried, and a reading is
*plausible* when its label column looks like labels (few distinct values, no spaces, short) and its text
column does not. One plausible reading (or several giving the same examples) is used; none or several that
disagree raise ``DataError`` asking for ``--format``. A label on line 1 that occurs nowhere else in a file
whose other labels repeat is a header, and is refused the same way. What was decided is one line of
``Parsed.note`` (``format: label<TAB>text detected in d.tsv (1,000 lines; 6 labels)``).

Errors name the file, the line and what to pass instead. Empty lines are skipped (and counted).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from rnnkit.data.sources import DataError

FORMATS = ("auto", "tab", "space", "fasttext", "csv")
TEXT_NAMES = ("text", "sentence", "review", "document", "content", "body", "comment", "tweet", "utterance", "message")
LABEL_NAMES = ("label", "labels", "class", "category", "sentiment", "target", "polarity", "intent", "topic")
FASTTEXT = "__label__"
HINT = "pass --format tab|space|fasttext|csv (and --label-col / --text-col); see docs/formats.md"
_FT_LINE = re.compile(r"\s*((?:__label__\S*\s+)*__label__\S*)(?:\s+(.*))?$", re.S)


@dataclass
class Parsed:
    """Examples read from one file, and the one-line note saying which format was used."""

    inputs: list[str]
    labels: list[str]
    skipped: int = 0  # empty lines
    note: str = ""


def lines(text: str) -> list[str]:
    """Split on '\n' only (and drop a trailing '\r'): ``str.splitlines`` also breaks on characters such as
    U+0085 and form feed, which occur inside sentences of the published files (MR in latin-1, UCI imdb)."""
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in out]


def looks_like_labels(values: Sequence[str]) -> bool:
    """Few distinct short values without whitespace: what a label column looks like."""
    if not values or any(not v or len(v) > 40 or any(c.isspace() for c in v) for v in values):
        return False
    return len(set(values)) <= max(3, len(values) // 4)


# ---- headerless line formats -----------------------------------------------------------------------------

_DESCRIBE = {
    ("tab", "first"): "label<TAB>text",
    ("tab", "last"): "text<TAB>label",
    ("space", "first"): "label text (label = first word)",
    ("space", "last"): "text label (label = last word)",
}


def _split(line: str, fmt: str, side: str) -> tuple[str, str] | None:
    """(label, text) of one line, or None when the line has no separator."""
    if fmt == "tab":
        if "\t" not in line:
            return None
        a, b = line.split("\t", 1) if side == "first" else line.rsplit("\t", 1)
    else:
        parts = line.split(None, 1) if side == "first" else line.rsplit(None, 1)
        if len(parts) < 2:
            return None
        a, b = parts
    label, text = (a, b) if side == "first" else (b, a)
    return label.strip(), text.strip()


def _try_lines(rows: list[tuple[int, str]], fmt: str, side: str) -> tuple[list[str], list[str]] | tuple[int, str]:
    """Every row as (label, text) in one layout: (labels, texts), or (line number, what is wrong there)."""
    labels, texts = [], []
    for n, line in rows:
        got = _split(line, fmt, side)
        if got is None:
            return n, f"{'no TAB' if fmt == 'tab' else 'only one word'} in {line[:60]!r}"
        label, text = got
        if not label or not text:
            return n, f"empty {'label' if not label else 'text'} in {line[:60]!r}"
        labels.append(label)
        texts.append(text)
    return labels, texts


def _read_lines(rows: list[tuple[int, str]], where: str, fmt: str, side: str) -> tuple[list[str], list[str]]:
    """``_try_lines`` or DataError naming the first line that does not fit."""
    got = _try_lines(rows, fmt, side)
    if isinstance(got[0], int):
        raise DataError(f"{where}:{got[0]}: {got[1]}; each line must be {_DESCRIBE[(fmt, side)]} ({HINT})")
    return got


def _header_check(labels: list[str], rows: list[tuple[int, str]], where: str) -> None:
    """A first-line label seen nowhere else, in a file whose other labels all repeat, is a header row."""
    counts = Counter(labels)
    if len(labels) >= 10 and counts[labels[0]] == 1 and min(counts[y] for y in labels[1:]) >= 2:
        raise DataError(
            f"{where}:{rows[0][0]}: line 1 looks like a header (its label {labels[0]!r} occurs nowhere else): "
            f"pass --format csv to read a header row (TSV too), or remove the line"
        )


def _why_not(labels: list[str], texts: list[str], fmt: str) -> str:
    """'' when (labels, texts) is a plausible reading, else the reason it is not."""
    if not looks_like_labels(labels):
        return "its labels do not look like labels (few distinct values without spaces)"
    if looks_like_labels(texts):
        return "its texts look like labels too"
    if fmt == "space":  # the first words of plain sentences ('the', 'a') also repeat: labels rarely occur in text
        names = {y.lower() for y in labels}
        inside = sum(t.lower() in names for s in texts for t in s.split())
        if inside >= 0.2 * len(texts):
            return f"its labels occur {inside} times inside the texts (first words of sentences?)"
    return ""


def _detect_lines(rows: list[tuple[int, str]], where: str, side: str) -> tuple[str, str, list[str], list[str]]:
    """The one plausible headerless reading: (format, side, labels, texts).

    A TAB on every line makes it a TAB file (the space reading is not tried: a label holding a space would
    be cut); a TAB on most lines but not all is a damaged TAB file, and is refused.
    """
    tabbed = [n for n, ln in rows if "\t" in ln]
    if len(tabbed) == len(rows):
        candidates = [("tab", "first"), ("tab", "last")]
    elif 2 * len(tabbed) >= len(rows):
        n = next(n for n, ln in rows if "\t" not in ln)
        raise DataError(
            f"{where}:{n}: no TAB on this line, but {len(tabbed):,} of {len(rows):,} lines have one: fix the line, or "
            f"pass --format space if the label is the first word of every line"
        )
    else:
        candidates = [("space", side or "first")]
    candidates = [c for c in candidates if not side or c[1] == side]
    good, reasons = [], []
    for fmt, s in candidates:
        got = _try_lines(rows, fmt, s)
        why = f"line {got[0]}: {got[1]}" if isinstance(got[0], int) else _why_not(*got, fmt)
        if why:
            reasons.append(f"not {_DESCRIBE[(fmt, s)]}: {why}")
        else:
            good.append((fmt, s, *got))
    if not good:
        raise DataError(f"{where}: cannot tell the format ({'; '.join(reasons) or 'no candidate'}). {HINT}")
    first = good[0]
    for other in good[1:]:
        if other[2:] != first[2:]:
            a, b = _DESCRIBE[first[:2]], _DESCRIBE[other[:2]]
            raise DataError(
                f"{where}: ambiguous: it reads as {a} (labels {sorted(set(first[2]))[:5]}) and as {b} "
                f"(labels {sorted(set(other[2]))[:5]}). {HINT}"
            )
    return first


# ---- fastText --------------------------------------------------------------------------------------------


def _read_fasttext(rows: list[tuple[int, str]], where: str) -> tuple[list[str], list[str], str]:
    """Labels at the start of the line (the usual layout: the text is kept as written), or anywhere (fastText
    reads any ``__label__`` word as a label: the other words, joined by one space, are the text)."""
    labels, texts, multi, first_multi, inside = [], [], 0, 0, 0
    for n, line in rows:
        m = _FT_LINE.match(line)
        if m is not None:
            names, text = [t[len(FASTTEXT) :] for t in m.group(1).split()], (m.group(2) or "").strip()
        else:
            words = line.split()
            names = [t[len(FASTTEXT) :] for t in words if t.startswith(FASTTEXT)]
            text = " ".join(t for t in words if not t.startswith(FASTTEXT))
            inside += bool(names)
        if not names:
            raise DataError(
                f"{where}:{n}: no {FASTTEXT} label in {line[:60]!r}; every fastText line has one (or {HINT})"
            )
        if not names[0] or not text:
            raise DataError(f"{where}:{n}: empty {'label' if not names[0] else 'text'} in {line[:60]!r} (fastText)")
        if len(names) > 1:
            multi += 1
            first_multi = first_multi or n
        labels.append(names[0])
        texts.append(text)
    extra = f"; lines with labels after the text: {inside:,}" if inside else ""
    if multi:
        extra += (
            f"; lines with several labels: {multi:,} (first: line {first_multi}); the first label of each is kept "
            f"(rnnkit classify predicts one class)"
        )
    return labels, texts, extra


# ---- CSV / TSV with a header ----------------------------------------------------------------------------


def _delimiter(first: str, suffix: str) -> str:
    if suffix == ".tsv" or ("\t" in first and "," not in first):
        return "\t"
    if suffix == ".csv" or "," in first:
        return ","
    return "\t" if "\t" in first else ","


def _header_fields(first: str, delim: str) -> list[str]:
    return [f.strip() for f in next(csv.reader([first], delimiter=delim, **_quoting(delim)), [])]


def _quoting(delim: str) -> dict:
    return {"quoting": csv.QUOTE_NONE} if delim == "\t" else {}


def _column(header: list[str], want: str, names: Sequence[str], what: str, where: str) -> int | None:
    """Index of a column given by name or 0-based index, or (want='auto') the first of the usual names."""
    low = [h.lower() for h in header]
    if want not in ("", "auto"):
        if want in header:
            return header.index(want)
        if want.lower() in low:
            return low.index(want.lower())
        if want.lstrip("-").isdigit() and -len(header) <= int(want) < len(header):
            return int(want) % len(header)
        raise DataError(
            f"{where}: no column {want!r} in the header {header}; pass --{what}-col with one of these names "
            f"or a 0-based index"
        )
    return next((low.index(n) for n in names if n in low), None)


def _read_table(text: str, where: str, suffix: str, text_col: str, label_col: str) -> tuple[list, list, int, str]:
    all_lines = text.split("\n")
    lead = next(i for i, ln in enumerate(all_lines) if ln.strip())  # blank lines before the header
    body = "\n".join(all_lines[lead:])
    delim = _delimiter(all_lines[lead], suffix)
    opts = {"delimiter": delim, **_quoting(delim)}
    rows = list(csv.reader(io.StringIO(body, newline=""), **opts))
    header = [h.strip() for h in rows[0]]
    at = f"{where}:{lead + 1}"
    if len(header) < 2:
        raise DataError(f"{at}: a CSV/TSV header needs at least 2 columns, got {header}. {HINT}")
    ti = _column(header, text_col, TEXT_NAMES, "text", at)
    li = _column(header, label_col, LABEL_NAMES, "label", at)
    if (ti is None or li is None) and len(header) == 2:
        if ti is None and li is None:  # two unnamed columns: the label one looks like labels, the other not
            cols = [[r[k].strip() for r in rows[1:] if len(r) == 2 and any(f.strip() for f in r)] for k in (0, 1)]
            lab = [k for k in (0, 1) if looks_like_labels(cols[k]) and not looks_like_labels(cols[1 - k])]
            if len(lab) == 1:
                li = lab[0]
                if header[li] in cols[li]:
                    raise DataError(
                        f"{at}: the first line looks like data, not a header ({header[li]!r} is one of the labels): "
                        f"add a header row naming the columns (e.g. text{delim}label), or {HINT}"
                    )
        if li is not None:
            ti = 1 - li if ti is None else ti
        elif ti is not None:
            li = 1 - ti
    if ti is None or li is None or ti == li:
        raise DataError(
            f"{at}: which columns hold the text and the label? header {header}; pass --text-col NAME and "
            f"--label-col NAME (or 0-based indexes)"
        )
    inputs, labels, skipped = [], [], 0
    reader = csv.reader(io.StringIO(body, newline=""), **opts)
    next(reader)
    for row in reader:
        n = lead + reader.line_num
        if not any(f.strip() for f in row):
            skipped += 1
            continue
        if len(row) != len(header):
            quote = "fields holding a comma must be in double quotes" if delim == "," else "TSV fields hold no TAB"
            raise DataError(f"{where}:{n}: {len(row)} fields but the header has {len(header)} ({quote})")
        label, body_ = row[li].strip(), row[ti].strip()
        if not label or not body_:
            col = header[li] if not label else header[ti]
            raise DataError(f"{where}:{n}: empty {'label' if not label else 'text'} in column {col!r}")
        inputs.append(body_)
        labels.append(label)
    kind = "TSV" if delim == "\t" else "CSV"
    return inputs, labels, skipped, f"{kind} with a header (text column {header[ti]!r}, label column {header[li]!r})"


def _is_table(first: str, suffix: str, text_col: str, label_col: str) -> bool:
    """Auto: the first line is a header naming a text and a label column (or the columns asked for)."""
    if suffix == ".csv":
        return True
    fields = [f.lower() for f in _header_fields(first, _delimiter(first, suffix))]
    if len(fields) < 2:
        return False
    given = [c.lower() for c in (text_col, label_col) if c not in ("", "auto", "first", "last")]
    if given:
        return all(g in fields for g in given)
    return any(n in fields for n in TEXT_NAMES) and any(n in fields for n in LABEL_NAMES)


# ---- the entry point -------------------------------------------------------------------------------------


def parse_labelled(
    text: str, where: str, *, format: str = "auto", text_col: str = "auto", label_col: str = "auto"
) -> Parsed:
    """Examples and labels of a classification file's decoded text (see the module docstring)."""
    if format not in FORMATS:
        raise DataError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    text = text.removeprefix("\ufeff")  # a byte-order mark the decoder kept
    name, suffix = PurePath(where).name, PurePath(where).suffix.lower()
    side = label_col if label_col in ("first", "last") else ""
    rows = [(n, ln) for n, ln in enumerate(lines(text), 1) if ln.strip()]
    skipped = len(lines(text)) - len(rows)
    if not rows:
        raise DataError(f"{where} holds no examples (only empty lines); see docs/formats.md for the formats read")
    if format in ("tab", "space", "fasttext") and text_col not in ("", "auto"):
        raise DataError(f"--text-col applies to --format csv (a header row); {format!r} files have no column names")
    if format in ("tab", "space") and label_col not in ("", "auto", "first", "last"):
        raise DataError(f"--label-col for --format {format} is 'first' or 'last', got {label_col!r}")
    fmt, detected, extra = format, format == "auto", ""
    if fmt == "auto":
        first = rows[0][1]
        if any(t.startswith(FASTTEXT) for t in first.split()):
            fmt = "fasttext"
        elif _is_table(first, suffix, text_col, label_col):
            fmt = "csv"
        named = [
            f"--{k}-col {c!r}"
            for k, c in (("text", text_col), ("label", label_col))
            if c not in ("", "auto", "first", "last")
        ]
        if named and fmt != "csv":
            raise DataError(
                f"{where}:{rows[0][0]}: {' and '.join(named)} name header columns, but the first line is not a "
                f"header holding them; pass --format csv if it is one, or drop the option"
            )
    if fmt == "csv":
        inputs, labels, skipped, desc = _read_table(text, where, suffix, text_col, label_col)
        if not inputs:
            raise DataError(f"{where} has a header but no rows")
    elif fmt == "fasttext":
        labels, inputs, extra = _read_fasttext(rows, where)
        desc = "fastText __label__"
    else:
        if fmt == "auto" or (fmt == "tab" and not side):
            fmt, side, labels, inputs = _detect_lines(rows, where, side) if fmt == "auto" else _tab_side(rows, where)
        else:
            side = side or "first"
            labels, inputs = _read_lines(rows, where, fmt, side)
        if detected:
            _header_check(labels, rows, where)
        desc = _DESCRIBE[(fmt, side)]
    note = (
        f"format: {desc} {'detected' if detected else 'as given'} in {name} ({len(inputs):,} lines; "
        f"{len(set(labels))} labels" + (f"; {skipped:,} empty lines skipped" if skipped else "") + f"){extra}"
    )
    return Parsed(inputs, labels, skipped, note)


def _tab_side(rows: list[tuple[int, str]], where: str) -> tuple[str, str, list[str], list[str]]:
    """--format tab without --label-col: which end of the line is the label (else ask)."""
    good = []
    for s in ("first", "last"):
        labels, texts = _read_lines(rows, where, "tab", s)
        if not _why_not(labels, texts, "tab"):
            good.append(("tab", s, labels, texts))
    if len(good) == 1 or (len(good) == 2 and good[0][2:] == good[1][2:]):
        return good[0]
    raise DataError(
        f"{where}: cannot tell whether the label is before or after the TAB "
        f"({'both ends' if good else 'neither end'} look like labels); pass --label-col first or --label-col last"
    )
