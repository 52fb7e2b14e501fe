"""Every event pseudonym comes from one digest path (Pseudonymiser._event_digest, the keyed
SHA-256 states): checked here against ``hmac.new`` itself, not against another method of the
same class, so a change to the states or to the loop of event_numbers shows up."""
from __future__ import annotations

import contextlib
import hashlib
import hmac

import numpy as np
import pytest

from streams.service.pseudonym import EVENT_PREFIX, Pseudonymiser, event_key

KEY = bytes(range(32))
IDS = ["weibo:42", "微博:7", "x" * 200, "twitter:1\x00tail", "reddit:t3_abc"]


def reference(event_id: str) -> bytes:
    return hmac.new(event_key(KEY), event_id.encode("utf-8"), hashlib.sha256).digest()


def test_event_pseudonyms_are_hmac_sha256_of_the_event_key():
    p = Pseudonymiser(KEY)
    for event_id in IDS:
        want = reference(event_id)[:8]
        assert p.event(event_id) == EVENT_PREFIX + want.hex()
        assert p.event_number(event_id) == int.from_bytes(want, "big")


def test_event_numbers_are_hmac_sha256_of_the_event_key_with_zero_for_none():
    got = Pseudonymiser(KEY).event_numbers(IDS + [None])
    want = [int.from_bytes(reference(i)[:8], "big") for i in IDS] + [0]
    assert got.dtype == np.uint64
    assert got.tolist() == want


def test_a_key_longer_than_a_sha256_block_still_gives_hmac_digests():
    from streams.service.pseudonym import _keyed_sha256_states

    for key in (b"k" * 16, b"k" * 64, b"k" * 65, bytes(range(200))):
        inner, outer = _keyed_sha256_states(key)
        inner.update(b"weibo:42")
        outer.update(inner.digest())
        assert outer.digest() == hmac.new(key, b"weibo:42", hashlib.sha256).digest(), len(key)


def test_a_rumours_events_are_hashed_from_the_graphs_own_bytes_as_hmac_sha256(monkeypatch):
    # The cold pev_ lookup hashes the graph's UTF-8 id storage (IdIndex.utf8_range) without
    # decoding it: the values must be those of hmac.new over each id's UTF-8 bytes, for
    # non-ASCII ids, ids past one SHA-256 block, a lone surrogate (kept as the graph stores it,
    # surrogatepass) and placeholders without an event id (0), chunk boundaries included.
    from graph import CascadeGraph
    from streams.service import event_ids
    from streams.service.event_ids import EventPseudonymIndex

    ids = ["weibo:42", "微博:7", "x" * 200, "twitter:1\x00tail", "lone:\ud800", "reddit:t3_abc"]
    g = CascadeGraph("r")
    # "gone" is named as a parent but never arrives (a placeholder with that id); the parent
    # account "p9" without a parent event: an unobserved placeholder without an event id.
    g.add_batch(ids, [f"a{i}" for i in range(len(ids))], np.arange(1, len(ids) + 1),
                [None, "gone", None, None, "weibo:42", None], [None, None, "p9", None, None, None])
    nodes = g.ev.strings(np.arange(g.n_nodes))
    assert None in nodes and set(ids) <= set(nodes)
    want = [0 if e is None else int.from_bytes(hmac.new(
        event_key(KEY), e.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()[:8], "big")
        for e in nodes]
    assert [len(a) for a in g.ev.utf8_range(3, 3)] == [0, 0, 0]
    with pytest.raises(IndexError):
        g.ev.utf8_range(0, g.n_nodes + 1)
    p = Pseudonymiser(KEY)
    buf, starts, ends = g.ev.utf8_range(0, g.n_nodes)
    assert p.encoded_event_numbers(buf, starts, ends).tolist() == want
    assert p.event_numbers(nodes).tolist() == want  # the str path agrees
    for chunk in (1, 3, event_ids.CHUNK):
        monkeypatch.setattr(event_ids, "CHUNK", chunk)
        assert EventPseudonymIndex(p)._hashed(g, contextlib.nullcontext()).tolist() == want, chunk
    # A cold lookup (the pseudonym given out by another process) finds the event.
    shown = Pseudonymiser(KEY).event("微博:7")
    assert EventPseudonymIndex(p).resolve(g, shown) == "微博:7"


def test_none_and_the_empty_id_mean_no_event_on_every_path_and_the_rest_resolve():
    # The graph stores "" and None alike (a node without an event id), so a pseudonym of ""
    # could never be looked up: neither gets one, both number 0 on the str and the encoded path.
    from graph import CascadeGraph
    from graph.ids_encode import encode_batch
    from streams.service.event_ids import EventPseudonymIndex

    real = ["微博:7", "é" * 100, "x" * 200, "微" * 66 + "xx"]
    assert [len(i.encode("utf-8")) for i in real[1:]] == [200, 200, 200]
    ids = [None, ""] + real
    want = [0, 0] + [int.from_bytes(reference(i)[:8], "big") for i in real]
    p = Pseudonymiser(KEY)
    assert p.event_numbers(ids).tolist() == want
    assert p.encoded_event_numbers(*encode_batch(ids)).tolist() == want
    assert [p.event_number(i) for i in ids] == want
    assert p.event(None) is None and p.event("") is None
    assert [p.event(i) for i in real] == [EVENT_PREFIX + reference(i)[:8].hex() for i in real]
    # What the service hands out, a cold lookup (another process's pseudonymiser) resolves.
    g = CascadeGraph("r")
    g.add_batch(real, [f"a{i}" for i in range(len(real))], np.arange(1, len(real) + 1),
                [None] * len(real), [None, None, "p9", None])
    index = EventPseudonymIndex(Pseudonymiser(KEY))
    for event_id in real:
        assert index.resolve(g, p.event(event_id)) == event_id
