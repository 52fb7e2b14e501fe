"""The numba HMAC-SHA256 of event_numbers (streams/service/sha256_kernel.py) against ``hmac.new``
and against the single-id path (hashlib), on seeded random ids of every length around SHA-256's
block and padding edges (55/56/64 bytes of message, plus the 64-byte key block before it)."""
from __future__ import annotations

import hashlib
import hmac
import random

import numpy as np
import pytest

from graph.ids_encode import encode_batch
from streams.service.pseudonym import Pseudonymiser, event_key
from streams.service.sha256_kernel import hmac_midstates, hmac_numbers

KEY = bytes(range(32))
ALPHABETS = {"ascii": "abcdefghijklmnopqrstuvwxyz0123456789:_-", "chinese": "微博转发谣言辟谣北京上海"}


def reference(key: bytes, message: bytes) -> int:
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:8], "big")


def numbers(key: bytes, messages: list[bytes]) -> list[int]:
    lens = np.array([len(m) for m in messages], np.int64)
    ends = np.cumsum(lens)
    buf = np.frombuffer(b"".join(messages), np.uint8)
    return hmac_numbers(buf, ends - lens, ends, hmac_midstates(key)).tolist()


def seeded_ids(alphabet: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 101)))
        if 1 <= len(s.encode("utf-8")) <= 300 or not s:
            out.append(s)
    return out


@pytest.mark.parametrize("key", [KEY, b"k" * 16, b"k" * 64, b"k" * 65, bytes(range(200))],
                         ids=["32", "16", "64", "65", "200"])
def test_every_message_length_0_to_130_is_hmac_sha256(key):
    rng = random.Random(len(key))
    messages = [bytes(rng.randrange(256) for _ in range(n)) for n in range(131)]
    got = numbers(key, messages)
    for n, (g, m) in enumerate(zip(got, messages)):
        assert g == reference(key, m), n


def test_long_messages_of_several_blocks():
    rng = random.Random(3)
    messages = [bytes(rng.randrange(256) for _ in range(n)) for n in (191, 192, 247, 248, 255, 256, 1000, 4099)]
    assert numbers(KEY, messages) == [reference(KEY, m) for m in messages]


@pytest.mark.parametrize("alphabet", sorted(ALPHABETS))
def test_seeded_random_ids_give_the_pseudonyms_of_event_number(alphabet):
    ids = seeded_ids(ALPHABETS[alphabet], 500, seed=11) + [""]
    assert max(len(i.encode("utf-8")) for i in ids) > 64  # some ids past one block
    p = Pseudonymiser(KEY)
    got = p.event_numbers(ids)
    assert got.dtype == np.uint64
    # The empty id is no event id (0); the kernel's own empty message is checked above.
    assert got.tolist() == [reference(event_key(KEY), i.encode("utf-8")) if i else 0 for i in ids]
    assert got.tolist() == [p.event_number(i) for i in ids]


def test_none_and_the_empty_id_are_both_no_event_id():
    p = Pseudonymiser(KEY)
    got = p.event_numbers([None, "", None, "weibo:1"]).tolist()
    assert got == [0, 0, 0, p.event_number("weibo:1")] and got[3] != 0
    assert p.event_numbers([]).tolist() == [] and p.event_numbers([None]).tolist() == [0]


def test_ids_containing_nul_take_encode_batch_s_slow_path_and_still_match():
    ids = ["a\x00b", "", None, "微\x00博"]
    buf, starts, ends = encode_batch(ids)
    assert [bytes(buf[a:b]) for a, b in zip(starts, ends)][0] == b"a\x00b"
    p = Pseudonymiser(KEY)
    assert p.event_numbers(ids).tolist() == [p.event_number("a\x00b"), 0, 0, p.event_number("微\x00博")]


def test_the_midstates_differ_per_key():
    a, b = hmac_midstates(b"k" * 32), hmac_midstates(b"j" * 32)
    assert a[0].tolist() != b[0].tolist() and a[1].tolist() != b[1].tolist()
