"""Stable keyed pseudonyms of account ids and of event ids (analyst role).

``psn_`` + the first 16 hex digits of HMAC-SHA256(key, account id): the same id always gives the
same pseudonym under one key, a different key gives unrelated pseudonyms, and without the key a
pseudonym cannot be tied back to an id (except by whoever holds the key: the service resolves a
pseudonym to its account through a per-rumour map built by hashing the rumour's accounts once,
see :class:`streams.service.accounts.PseudonymIndex`).
The key lives beside the tokens file (``pseudonym.key``, created on first use).

Event ids get pseudonyms of their own, ``pev_`` + 16 hex digits of an HMAC under a key derived
from the same one (:func:`event_key`): a platform's post id leads to its author on the platform,
so wherever an account is pseudonymised its events must be too. The derived key keeps the two
domains apart (an account id that happens to equal an event id gets unrelated digits), and the
prefix tells a caller which of the two a value is. The way back is
:class:`streams.service.event_ids.EventPseudonymIndex` (the rumour's graph, hashed once).

The empty event id means no event id, as None does: the graph stores both as a node without one
(:mod:`graph.ids` interns no empty id, and the event format refuses an empty ``event_id``), so a
pseudonym of "" could never be resolved. It gets none (:meth:`Pseudonymiser.event` gives None)
and its number is 0 on every path, as None's is.
"""
from __future__ import annotations

import hashlib
import hmac
import re

import numpy as np

from graph.ids_encode import encode_batch
from streams.lru import LRU
from streams.service.sha256_kernel import hmac_key_blocks, hmac_midstates, hmac_numbers

PREFIX = "psn_"
EVENT_PREFIX = "pev_"
# ~210 bytes per cached account (id, pseudonym, ordered table slot; tracemalloc): 65,536 is
# ~14 MB; the former 10^6 grew a long-running worker's memory by up to ~170 MB as dashboards
# viewed more rumours. An HMAC costs microseconds (16 us on this loaded 2-core box), so a miss
# is cheap; least recently used accounts make way, so the accounts viewed now stay cached.
CACHED_ACCOUNTS = 65_536
_RE = re.compile(r"^psn_[0-9a-f]{16}$")
_EVENT_RE = re.compile(r"^pev_[0-9a-f]{16}$")


def event_key(key: bytes) -> bytes:
    """The key of event pseudonyms, derived from the pseudonym key (one file, two domains).

    >>> event_key(b"k" * 32) != b"k" * 32, len(event_key(b"k" * 32))
    (True, 32)
    """
    return hmac.new(key, b"rumour-trace event pseudonym key", hashlib.sha256).digest()


def _keyed_sha256_states(key: bytes) -> tuple:
    """HMAC-SHA256's inner and outer hash states after the padded key (RFC 2104): the digest of
    a message is outer.update(inner.update(message).digest()), as ``hmac.new`` computes it.

    >>> inner, outer = _keyed_sha256_states(b"k" * 100)  # a key longer than a block is hashed
    >>> inner.update(b"m"); outer.update(inner.digest())
    >>> outer.digest() == hmac.new(b"k" * 100, b"m", hashlib.sha256).digest()
    True
    """
    inner, outer = hmac_key_blocks(key)
    return hashlib.sha256(inner), hashlib.sha256(outer)


class Pseudonymiser:
    """Maps account ids to pseudonyms with one key.

    >>> p = Pseudonymiser(b"k" * 32)
    >>> p("weibo:42") == p("weibo:42"), p("weibo:42") == Pseudonymiser(b"j" * 32)("weibo:42")
    (True, False)
    >>> p(None) is None
    True
    """

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("pseudonym key: at least 16 bytes")
        self._key = bytes(key)
        self._cache = LRU(CACHED_ACCOUNTS)  # account id -> pseudonym
        # HMAC's two keyed SHA-256 states (RFC 2104), copied per event by _event_digest, the one
        # path of every event pseudonym: hmac.new per id would re-key every time, and a copied
        # hmac object costs about twice these two copies in event_numbers' loop (same digests).
        self._event_inner, self._event_outer = _keyed_sha256_states(event_key(self._key))
        self._event_midstates = None  # the same two states as words, for event_numbers' kernel
        self._event_cache = LRU(CACHED_ACCOUNTS)  # event id -> pseudonym (same size per entry)
        # pseudonym -> event id of the events this process named lately: the tree's events are
        # followed into their traces without hashing the rumour (see shown_event).
        self._event_back = LRU(CACHED_ACCOUNTS)

    def __call__(self, account_id: str | None) -> str | None:
        if account_id is None:
            return None
        out = self._cache.get(account_id)
        if out is None:
            out = self._cache[account_id] = PREFIX + self._hex(account_id)
        return out

    def _hex(self, account_id: str) -> str:
        return hmac.new(self._key, account_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def number(self, account_id: str) -> int:
        """The pseudonym's 64 bits as an integer, not cached: for hashing every account of a
        rumour at once, which would push the accounts on the dashboards out of the cache.

        >>> p = Pseudonymiser(b"k" * 32)
        >>> p.number("weibo:42") == int(p("weibo:42")[len(PREFIX):], 16)
        True
        """
        return int(self._hex(account_id), 16)

    def reporter(self, name: str | None) -> str | None:
        """A public reporter's pseudonym, in a domain of its own: reports are submitted with any
        reporter name, so with account pseudonyms a report naming an account id would reveal
        that account's pseudonym.

        >>> p = Pseudonymiser(b"k" * 32)
        >>> p.reporter("weibo:42") == p.reporter("weibo:42"), p.reporter("weibo:42") == p("weibo:42")
        (True, False)
        """
        return None if name is None else self("reporter:" + name)

    def event(self, event_id: str | None) -> str | None:
        """An event id's pseudonym: another prefix and key than the account pseudonyms.

        >>> p = Pseudonymiser(b"k" * 32)
        >>> e = p.event("weibo:42")
        >>> e.startswith("pev_"), e == p.event("weibo:42"), e[4:] == p("weibo:42")[4:], p.event(None)
        (True, True, False, None)
        >>> p.event("") is None  # no event id: nothing a lookup could resolve
        True
        """
        if not event_id:
            return None
        out = self._event_cache.get(event_id)
        if out is None:
            out = self._event_cache[event_id] = EVENT_PREFIX + self._event_hex(event_id)
        self._event_back[out] = event_id
        return out

    def shown_event(self, pseudonym: str) -> str | None:
        """The event id whose pseudonym this process gave out lately (:meth:`event`), or None.

        >>> p = Pseudonymiser(b"k" * 32)
        >>> p.shown_event(p.event("weibo:42")), p.shown_event("pev_0123456789abcdef")
        ('weibo:42', None)
        """
        return self._event_back.get(pseudonym)

    def _event_digest(self, event_id: str) -> bytes:
        """HMAC-SHA256(event key, event id) from the precomputed keyed states.

        >>> p = Pseudonymiser(b"k" * 32)
        >>> want = hmac.new(event_key(b"k" * 32), "微博:7".encode("utf-8"), hashlib.sha256).digest()
        >>> p._event_digest("微博:7") == want
        True
        """
        inner = self._event_inner.copy()
        inner.update(event_id.encode("utf-8"))
        outer = self._event_outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def _event_hex(self, event_id: str) -> str:
        return self._event_digest(event_id)[:8].hex()

    def event_number(self, event_id: str | None) -> int:
        """The event pseudonym's 64 bits as an integer, not cached (see :meth:`number`); 0 for
        no event id (None or "").

        >>> p = Pseudonymiser(b"k" * 32)
        >>> p.event_number("weibo:42") == int(p.event("weibo:42")[len(EVENT_PREFIX):], 16)
        True
        >>> p.event_number(""), p.event_number(None)
        (0, 0)
        """
        if not event_id:
            return 0
        return int(self._event_hex(event_id), 16)

    def event_numbers(self, event_ids) -> np.ndarray:
        """:meth:`event_number` of many event ids at once (0 for None and ""), as uint64, not cached:
        for hashing a rumour's events (streams/service/event_ids.py). The same HMAC, computed by
        :mod:`streams.service.sha256_kernel` without the interpreter lock (hashlib holds it for
        short messages, so other requests slowed down meanwhile) and faster.

        >>> p = Pseudonymiser(b"k" * 32)
        >>> got = p.event_numbers(["weibo:42", None, "微博:7", ""])
        >>> got.dtype, got.tolist() == [p.event_number("weibo:42"), 0, p.event_number("微博:7"), 0]
        (dtype('uint64'), True)
        """
        event_ids = event_ids if isinstance(event_ids, list) else list(event_ids)
        # None is encoded as an empty id, and means the same: the encoded path's answer.
        return self.encoded_event_numbers(*encode_batch(event_ids))

    def encoded_event_numbers(self, buf, starts, ends) -> np.ndarray:
        """:meth:`event_numbers` of ids already UTF-8 encoded, ``buf[starts[i]:ends[i]]`` (the
        graph's own bytes, :meth:`graph.ids.IdIndex.utf8_range`), an empty one being a node
        without an event id (0, as for None and "" on the str path): no str is decoded and
        encoded again.

        >>> from graph.ids_encode import encode_batch
        >>> p = Pseudonymiser(b"k" * 32)
        >>> p.encoded_event_numbers(*encode_batch(["微博:7", None])).tolist() == [p.event_number("微博:7"), 0]
        True
        """
        out = self._event_hmacs(buf, starts, ends)
        out[np.asarray(starts) == np.asarray(ends)] = 0
        return out

    def _event_hmacs(self, buf, starts, ends) -> np.ndarray:
        if self._event_midstates is None:
            self._event_midstates = hmac_midstates(event_key(self._key))
        return hmac_numbers(buf, starts, ends, self._event_midstates)

    @staticmethod
    def looks_like(value: str) -> bool:
        return bool(_RE.match(value or ""))

    @staticmethod
    def looks_like_event(value: str) -> bool:
        """
        >>> Pseudonymiser.looks_like_event("pev_" + "0" * 16), Pseudonymiser.looks_like_event("psn_" + "0" * 16)
        (True, False)
        """
        return bool(_EVENT_RE.match(value or ""))
