"""Word tokenising of UTF-8 bytes at NumPy speed, exactly as ``tokenize(text, "word")`` does it.

``tokenize`` is ``str.splitlines()`` then ``str.split()`` per line, with ``<eos>`` ending every line. Doing that
with Python strings costs ~130 ns a word (a string object and a dict lookup each: 23 MB/s). Here a block of
bytes is tokenised with whole-array operations and the words are interned in an open-addressing hash table
held in NumPy arrays; only words of 16 bytes or more (rare in prose) go through a Python dict.

Exactness (a test compares both ways on odd texts):
- Whitespace and line breaks are the code points ``str.isspace`` / ``str.splitlines`` use (``WHITESPACE`` and
  ``LINE_BREAKS``, checked against the running Python by a test). In UTF-8 every one of them is either an ASCII
  byte or a multi-byte sequence starting with a lead byte, so it is found without decoding, and a word (the
  bytes between two of them) is always whole characters.
- ``\\r\\n`` is one line break (the ``\\r`` counts as plain whitespace); a lone ``\\r`` is a line break.
- A text that does not end with a line break still ends its last line (one more ``<eos>``); an empty one has none.
- Word keys are exact, not hashes: a word of ``L <= 15`` bytes is the pair ``(k1, k2)`` of little-endian
  uint64s holding its bytes, with ``L`` in the top byte of ``k2`` (bytes 8..14 leave it free), so two words
  have the same key only if they are the same bytes. The table's hash only picks the slot to start probing at.
"""

from __future__ import annotations

import re

import numpy as np

EOS = b"<eos>"

# str.isspace() and str.splitlines() boundaries (test_words.py checks them against this Python's unicodedata)
WHITESPACE = (
    0x09,
    0x0A,
    0x0B,
    0x0C,
    0x0D,
    0x1C,
    0x1D,
    0x1E,
    0x1F,
    0x20,
    0x85,
    0xA0,
    0x1680,
    *range(0x2000, 0x200B),
    0x2028,
    0x2029,
    0x202F,
    0x205F,
    0x3000,
)
LINE_BREAKS = (0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029)

_WORD, _SPACE, _BREAK = 0, 1, 2
_CLASS = np.zeros(256, dtype=np.uint8)  # ASCII byte -> class; bytes >= 0x80 are word bytes unless _MULTI says so
for _c in WHITESPACE:
    if _c < 0x80:
        _CLASS[_c] = _BREAK if _c in LINE_BREAKS else _SPACE
_MULTI = re.compile(b"|".join(re.escape(chr(c).encode()) for c in WHITESPACE if c >= 0x80))
_MULTI_BREAKS = {chr(c).encode() for c in LINE_BREAKS if c >= 0x80}
_ENDS_LINE = tuple(chr(c).encode() for c in LINE_BREAKS)
_LEADS = tuple({chr(c).encode()[:1] for c in WHITESPACE if c >= 0x80})

_SHORT = 15  # longest word (bytes) held in a (k1, k2) key
_LEN_SHIFT = np.uint64(56)
_MASK = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)  # low n bytes
_M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)  # odd multipliers (golden ratio, xxhash)


def classes(block: bytes) -> np.ndarray:
    """Per byte: 0 word byte, 1 whitespace, 2 first byte of a line break (later bytes of a multi-byte one: 1)."""
    a = np.frombuffer(block, dtype=np.uint8)
    cls = np.take(_CLASS, a)
    if b"\r" in block and b"\r\n" in block:  # \r\n is one line break: its \r is plain whitespace
        crlf = np.flatnonzero((a[:-1] == 0x0D) & (a[1:] == 0x0A))
        cls[crlf] = _SPACE
    if any(lead in block for lead in _LEADS):
        for m in _MULTI.finditer(block):
            cls[m.start()] = _BREAK if m.group() in _MULTI_BREAKS else _SPACE
            cls[m.start() + 1 : m.end()] = _SPACE
    return cls


class WordInterner:
    """Bytes blocks -> provisional word ids (uint32, numbered as words are first met), the same tokens as
    ``tokenize(block.decode(), "word")``. ``words()`` gives the word of each id."""

    def __init__(self) -> None:
        self._bits = 16
        self._t1 = np.zeros(1 << self._bits, dtype=np.uint64)
        self._t2 = np.zeros(1 << self._bits, dtype=np.uint64)  # 0: empty slot (a key's k2 holds L >= 1)
        self._tid = np.zeros(1 << self._bits, dtype=np.uint32)
        self._keys: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (k1, k2, id) of short words, by block
        self._n_short = 0
        self._long: dict[bytes, int] = {}
        self._n = 0
        # "<eos>" written in a text is the EOS token too (as with tokenize)
        self.eos = int(self._word_ids(EOS, np.zeros(1, dtype=np.int64), np.array([len(EOS)]))[0])

    def __len__(self) -> int:
        return self._n

    def encode(self, block: bytes) -> np.ndarray:
        """Provisional ids (uint32) of the block's tokens; the block must be whole UTF-8 characters."""
        if not block:
            return np.zeros(0, dtype=np.uint32)
        cls = classes(block)
        edge = np.diff((cls == _WORD).view(np.int8), prepend=np.int8(0), append=np.int8(0))  # +1: word starts, -1: ends
        tokens = np.flatnonzero((edge[:-1] == 1) | (cls == _BREAK))  # word starts and line breaks, in text order
        is_eos = cls[tokens] == _BREAK
        starts = tokens[~is_eos]
        lengths = np.flatnonzero(edge == -1) - starts
        ids = np.full(len(tokens) + (not block.endswith(_ENDS_LINE)), self.eos, dtype=np.uint32)  # an unfinished
        ids[: len(tokens)][~is_eos] = self._word_ids(block, starts, lengths)  # last line still ends
        return ids

    def words(self) -> list[str]:
        """The word of each provisional id."""
        out = [""] * self._n
        for k1, k2, ids in self._keys:
            for a, b, i in zip(k1.tolist(), k2.tolist(), ids.tolist(), strict=True):
                n = b >> 56
                out[i] = (a.to_bytes(8, "little") + (b & _MASK[7].item()).to_bytes(7, "little"))[:n].decode()
        for w, i in self._long.items():
            out[i] = w.decode()
        return out

    # ---- interning -----------------------------------------------------------------------------------------

    def _word_ids(self, block: bytes, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        short = lengths <= _SHORT
        every = bool(short.all())
        s, n = (starts, lengths) if every else (starts[short], lengths[short])
        # 8 bytes read at every byte offset: an unaligned uint64 view with a stride of one byte
        padded = np.frombuffer(block + bytes(16), dtype=np.uint8)
        at = np.ndarray((len(block) + 9,), dtype="<u8", buffer=padded, strides=(1,))
        k1 = at[s] & _MASK[np.minimum(n, 8)]
        k2 = n.astype(np.uint64) << _LEN_SHIFT
        over8 = np.flatnonzero(n > 8)
        k2[over8] |= at[s[over8] + 8] & _MASK[n[over8] - 8]
        if every:
            return self._lookup(k1, k2)
        ids = np.empty(len(starts), dtype=np.uint32)
        ids[short] = self._lookup(k1, k2)
        long_ids = []
        for a, b in zip(starts[~short].tolist(), (starts + lengths)[~short].tolist(), strict=True):
            w = block[a:b]
            i = self._long.get(w)
            if i is None:
                i = self._long[w] = self._n
                self._n += 1
            long_ids.append(i)
        ids[~short] = long_ids
        return ids

    def _slot(self, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
        return (((k1 ^ (k2 * _M2)) * _M1) >> np.uint64(64 - self._bits)).astype(np.int64)

    def _lookup(self, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
        """Ids of the keys, adding new ones: linear probing in rounds, each over the keys still unresolved."""
        slot = self._slot(k1, k2)
        ids = self._tid[slot]  # right wherever the first slot probed holds the key (most words, once seen)
        todo = np.flatnonzero((self._t1[slot] != k1) | (self._t2[slot] != k2))
        while todo.size:
            s = slot[todo]
            empty = self._t2[s] == 0
            if empty.any():  # claim each empty slot for one of the keys probing it
                free, first = np.unique(s[empty], return_index=True)
                if self._n_short + len(free) > (1 << self._bits) // 2:
                    self._grow()
                    slot[todo] = self._slot(k1[todo], k2[todo])
                    continue
                who = todo[empty][first]
                new = np.arange(self._n, self._n + len(free), dtype=np.uint32)
                self._t1[free], self._t2[free], self._tid[free] = k1[who], k2[who], new
                self._keys.append((k1[who], k2[who], new))
                self._n += len(free)
                self._n_short += len(free)
            hit = (self._t1[s] == k1[todo]) & (self._t2[s] == k2[todo])
            ids[todo[hit]] = self._tid[s[hit]]
            todo = todo[~hit]
            slot[todo] = (s[~hit] + 1) & ((1 << self._bits) - 1)  # the next slot (wrapping)
        return ids

    def _grow(self) -> None:
        """Double the table (until at most a quarter full) and place every key again."""
        while self._n_short * 4 > (1 << self._bits):
            self._bits += 1
        self._bits += 1
        size = 1 << self._bits
        self._t1, self._t2 = np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.uint64)
        self._tid = np.zeros(size, dtype=np.uint32)
        for k1, k2, ids in self._keys:  # keys are distinct: only slot clashes to resolve
            todo, slot = np.arange(len(k1)), self._slot(k1, k2)
            while todo.size:
                s = slot[todo]
                free, first = np.unique(s, return_index=True)
                free_ok = self._t2[free] == 0
                who = todo[first[free_ok]]
                self._t1[free[free_ok]], self._t2[free[free_ok]], self._tid[free[free_ok]] = k1[who], k2[who], ids[who]
                placed = np.zeros(len(todo), dtype=bool)
                placed[first[free_ok]] = True
                todo = todo[~placed]
                slot[todo] = (slot[todo] + 1) & (size - 1)
