"""Every event pseudonym comes from one digest path (Pseudonymiser._event_digest, the keyed
SHA-256 states): checked here against ``hmac.new`` itself, not against another method of the
same class, so a change to the states or to the loop of event_numbers shows up."""
from __future__ import annotations

import hashlib
import hmac

import numpy as np

from streams.service.pseudonym import EVENT_PREFIX, Pseudonymiser, event_key

KEY = bytes(range(32))
IDS = ["weibo:42", "微博:7", "", "x" * 200, "twitter:1\x00tail", "reddit:t3_abc"]


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
