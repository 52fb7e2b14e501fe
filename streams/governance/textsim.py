"""Text similarity for matching reports to rumours: character 3-gram Jaccard, with MinHash +
LSH banding to find candidates among many rumours before the exact Jaccard is computed.

Character n-grams suit Chinese (no word boundaries) and survive small edits. Texts are
normalised first: Weibo repost chains (``//@name: ...``), links, mentions, whitespace and
punctuation are removed, Latin letters lower-cased, full-width forms made half-width (NFKC) and
traditional characters folded to simplified ones (:mod:`streams.governance.hanzi_fold`), so a
report written in traditional characters (Hong Kong, Taiwan, a converted copy) matches a post in
simplified ones.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import NamedTuple

import numpy as np

from streams.governance.hanzi_fold import fold_table

_CHAIN = re.compile(r"//@[^:：\s]{1,40}[:：]")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@[^\s:：,，@]{1,40}")


def normalise_text(text: str | None) -> str:
    """Letters and digits only, lower case, simplified characters, without links, mentions and
    repost chains.

    >>> normalise_text("转发：谣言！ //@张三: 真的吗 http://t.cn/abc")
    '转发谣言真的吗'
    >>> normalise_text("【怎麼鑒定地溝油】蒜頭（蒜子）ＡＢＣ１２"), normalise_text("怎么鉴定地沟油 蒜头(蒜子) abc12")
    ('怎么鉴定地沟油蒜头蒜子abc12', '怎么鉴定地沟油蒜头蒜子abc12')
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(fold_table())
    text = _URL.sub(" ", _CHAIN.sub(" ", text))
    text = _MENTION.sub(" ", text)
    return "".join(ch for ch in text.lower() if ch.isalnum())


def shingles(text: str | None, n: int = 3) -> frozenset:
    """Character n-grams of the normalised text (the whole text when shorter than n).

    >>> sorted(shingles("abcd"))
    ['abc', 'bcd']
    """
    t = normalise_text(text)
    if not t:
        return frozenset()
    if len(t) <= n:
        return frozenset([t])
    return frozenset(t[i:i + n] for i in range(len(t) - n + 1))


def jaccard(a, b) -> float:
    """Jaccard similarity of two shingle sets (0 when both are empty).

    >>> jaccard({"a", "b"}, {"b", "c"})
    0.3333333333333333
    """
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def quoted_in(texts, grams: frozenset, share: float, min_grams: int) -> list[tuple[str, float]]:
    """The keys of ``texts`` (``(key, shingle set)`` pairs) whose text holds at least ``share``
    of ``grams`` (a quote of part of it), with that share, best first (then by key); nothing
    for fewer than ``min_grams`` grams, which too many texts would hold. Every text is scanned
    (no LSH band finds a short quote of a long text: their Jaccard is low): about 40 ms over
    10,000 texts here.

    >>> quoted_in([("a", shingles("abcdef")), ("b", shingles("abcxyz"))], shingles("abcde"), 0.6, 2)
    [('a', 1.0)]
    """
    if len(grams) < min_grams:
        return []
    need = share * len(grams)
    found = []
    for key, known in texts:
        common = len(grams & known)
        if common >= need:
            found.append((key, common / len(grams)))
    return sorted(found, key=lambda x: (-x[1], x[0]))


def _hash64(items) -> np.ndarray:
    # A stable hash (Python's hash() of str changes between processes).
    return np.fromiter((int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
                        for s in items), np.uint64, len(items))


class MinHash:
    """MinHash signatures with ``num_perm`` seeded hash functions ``a*x + b`` (mod 2^64, a odd).

    >>> mh = MinHash(64, seed=1)
    >>> s1, s2 = mh.signature(shingles("山东济南发生地震")), mh.signature(shingles("山东济南发生地震了"))
    >>> bool(mh.similarity(s1, s2) > 0.5)
    True
    """

    def __init__(self, num_perm: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = rng.integers(0, np.iinfo(np.uint64).max, num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, np.iinfo(np.uint64).max, num_perm, dtype=np.uint64)

    def signature(self, grams) -> np.ndarray:
        if not grams:
            return np.full(self.num_perm, np.iinfo(np.uint64).max, np.uint64)
        x = _hash64(sorted(grams))
        # (a*x + b) wrapping mod 2^64 with odd a: a bijection of the 64-bit hashes per row,
        # which is all MinHash needs from a "permutation".
        v = self.a[:, None] * x[None, :] + self.b[:, None]
        return v.min(axis=1)

    @staticmethod
    def similarity(s1: np.ndarray, s2: np.ndarray) -> float:
        return float(np.mean(s1 == s2))


class Signed(NamedTuple):
    """A text's shingles and their MinHash signature under one index's hash functions: the CPU
    part of adding or querying a text, made by :meth:`TextIndex.sign` without touching the
    index (so a caller can make it outside its lock)."""

    grams: frozenset
    sig: np.ndarray | None  # None when there are no grams


class TextIndex:
    """Known texts by key; :meth:`query` returns the keys whose Jaccard with a text reaches a
    threshold, best first. LSH bands (``bands`` x ``rows`` = ``num_perm``) pick candidates;
    with 16 bands of 4 rows a pair at Jaccard 0.5 is a candidate with probability 0.65 and at
    0.7 with 0.9998, so thresholds below 0.5 also scan every text (exact, slower).

    :meth:`add` and :meth:`query` take the text or, as ``signed``, what :meth:`sign` made of it.
    """

    def __init__(self, num_perm: int = 64, bands: int = 16, seed: int = 0):
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        self.mh = MinHash(num_perm, seed)
        self.bands = bands
        self.rows = num_perm // bands
        self.grams: dict[str, frozenset] = {}
        self.buckets: list[dict[bytes, set[str]]] = [{} for _ in range(bands)]

    def __len__(self) -> int:
        return len(self.grams)

    def sign(self, text: str | None = None, grams: frozenset | None = None) -> Signed:
        """The shingles of ``text`` (or ``grams``, shingled already) and their signature here.
        Reads nothing that changes: safe to call from any thread without a lock.

        >>> idx = TextIndex()
        >>> signed = idx.sign("the same words here")
        >>> idx.add("a", None, signed); idx.query(None, 0.9, idx.sign(grams=signed.grams))
        [('a', 1.0)]
        """
        grams = shingles(text) if grams is None else grams
        return Signed(grams, self.mh.signature(grams) if grams else None)

    def add(self, key: str, text: str | None, signed: Signed | None = None) -> None:
        if key in self.grams:
            return
        grams, sig = signed if signed is not None else self.sign(text)
        if not grams:
            return
        self.grams[key] = grams
        for band in range(self.bands):
            chunk = sig[band * self.rows:(band + 1) * self.rows].tobytes()
            self.buckets[band].setdefault(chunk, set()).add(key)

    def remove(self, key: str) -> None:
        """Forget ``key`` (nothing when it is not known).

        >>> idx = TextIndex()
        >>> idx.add("a", "the same words here"); idx.remove("a"); idx.remove("a")
        >>> len(idx), idx.query("the same words here", 0.9), sum(map(len, idx.buckets))
        (0, [], 0)
        """
        grams = self.grams.pop(key, None)
        if grams is None:
            return
        sig = self.mh.signature(grams)
        for band in range(self.bands):
            chunk = sig[band * self.rows:(band + 1) * self.rows].tobytes()
            keys = self.buckets[band].get(chunk)
            if keys is not None:
                keys.discard(key)
                if not keys:  # an empty set per evicted text would itself grow without bound
                    del self.buckets[band][chunk]

    def quoted(self, grams: frozenset, share: float, min_grams: int) -> list[tuple[str, float]]:
        """:func:`quoted_in` over the texts known here.

        >>> idx = TextIndex()
        >>> idx.add("a", "the bridge over the river collapsed this morning, avoid the area")
        >>> idx.quoted(shingles("bridge over the river collapsed"), 0.9, 12)
        [('a', 1.0)]
        >>> idx.quoted(shingles("bridge collapsed on a road"), 0.9, 12), idx.quoted(shingles("the river"), 0.9, 12)
        ([], [])
        """
        return quoted_in(self.grams.items(), grams, share, min_grams)

    def query(self, text: str | None, threshold: float, signed: Signed | None = None) -> list[tuple[str, float]]:
        grams, sig = signed if signed is not None else self.sign(text)
        if not grams:
            return []
        if threshold < 0.5:
            candidates = set(self.grams)
        else:
            candidates = set()
            for band in range(self.bands):
                chunk = sig[band * self.rows:(band + 1) * self.rows].tobytes()
                candidates |= self.buckets[band].get(chunk, set())
        scored = [(k, jaccard(grams, self.grams[k])) for k in candidates]
        return sorted([x for x in scored if x[1] >= threshold], key=lambda x: (-x[1], x[0]))
