"""HMAC-SHA256 of many messages in one numba call that releases the interpreter lock: the bulk
path of event pseudonyms (:meth:`streams.service.pseudonym.Pseudonymiser.event_numbers`).

hashlib holds Python's interpreter lock for short messages, so hashing a rumour's 10^6 events on
a thread of its own (streams/service/event_ids.py) slowed every other request of the service
meanwhile. Here the SHA-256 compression function (FIPS 180-4) runs over uint32 words (every
result cast back to uint32: numba widens uint32 arithmetic to 64 bits, and the casts let LLVM
use 32-bit rotations, 0.29 against 0.40 us a block with 64-bit words masked), from HMAC's
two keyed states (RFC 2104) computed once per key by the same compression, since hashlib does
not expose its state. Single ids keep hashlib (:meth:`~streams.service.pseudonym.Pseudonymiser.
event_number`); tests/test_pseudonym_digests.py checks both against ``hmac.new``.
"""
from __future__ import annotations

import hashlib

import numpy as np
from numba import njit, uint32

BLOCK = 64  # bytes of a SHA-256 block
_IV = np.array([0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19], np.uint32)
_K = np.array([
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
], np.uint32)


@njit(nogil=True, cache=True, inline="always")
def _rotr(x, n):
    return uint32((x >> n) | (x << (32 - n)))


@njit(nogil=True, cache=True)
def _load(w, data, pos):
    """The 16 big-endian words of the block ``data[pos:pos + 64]`` into ``w[:16]``."""
    for t in range(16):
        p = pos + 4 * t
        w[t] = uint32((uint32(data[p]) << 24) | (uint32(data[p + 1]) << 16) | (
            uint32(data[p + 2]) << 8) | uint32(data[p + 3]))


@njit(nogil=True, cache=True)
def _compress(state, w):
    """One SHA-256 compression of the block whose words are ``w[:16]`` into ``state`` (8 words);
    ``w[16:64]`` is the message schedule's scratch."""
    for t in range(16, 64):
        x, y = w[t - 15], w[t - 2]
        s0 = uint32(_rotr(x, 7) ^ _rotr(x, 18) ^ (x >> 3))
        s1 = uint32(_rotr(y, 17) ^ _rotr(y, 19) ^ (y >> 10))
        w[t] = uint32(w[t - 16] + s0 + w[t - 7] + s1)
    a, b, c, d = state[0], state[1], state[2], state[3]
    e, f, g, h = state[4], state[5], state[6], state[7]
    for t in range(64):
        big_s1 = uint32(_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25))
        ch = uint32((e & f) ^ (~e & g))
        t1 = uint32(h + big_s1 + ch + _K[t] + w[t])
        big_s0 = uint32(_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22))
        maj = uint32((a & b) ^ (a & c) ^ (b & c))
        h, g, f = g, f, e
        e = uint32(d + t1)
        d, c, b = c, b, a
        a = uint32(t1 + big_s0 + maj)
    state[0] = uint32(state[0] + a)
    state[1] = uint32(state[1] + b)
    state[2] = uint32(state[2] + c)
    state[3] = uint32(state[3] + d)
    state[4] = uint32(state[4] + e)
    state[5] = uint32(state[5] + f)
    state[6] = uint32(state[6] + g)
    state[7] = uint32(state[7] + h)


@njit(nogil=True, cache=True)
def _block_state(block):
    """SHA-256's state after the one 64-byte ``block`` (uint8), from the initial state."""
    state = _IV.copy()
    w = np.empty(64, np.uint32)
    _load(w, block, 0)
    _compress(state, w)
    return state


def hmac_midstates(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """HMAC-SHA256's inner and outer states (8 uint32 words each) after the key block XOR ipad
    and XOR opad (RFC 2104): what :func:`hmac_numbers` starts every message from.

    >>> inner, outer = hmac_midstates(b"k" * 32)
    >>> inner.shape, outer.shape, inner.tolist() != outer.tolist()
    ((8,), (8,), True)
    """
    inner, outer = hmac_key_blocks(key)
    return _block_state(np.frombuffer(inner, np.uint8)), _block_state(np.frombuffer(outer, np.uint8))


def hmac_key_blocks(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's first block of the inner and of the outer hash: the key (hashed first when
    longer than a block), zero-padded to a block, XOR ipad and XOR opad (RFC 2104). Both the
    hashlib path and this kernel's start from these.

    >>> inner, outer = hmac_key_blocks(b"k" * 100)
    >>> len(inner), inner == outer, bytes(a ^ b for a, b in zip(inner, outer)) == bytes([0x6A]) * 64
    (64, False, True)
    """
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    block = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


@njit(nogil=True, cache=True)
def _hmac_first_words(buf, starts, ends, inner, outer):
    out = np.empty(starts.shape[0], np.uint64)
    w = np.empty(64, np.uint32)
    state = np.empty(8, np.uint32)
    tail = np.empty(2 * 64, np.uint8)  # the message's last bytes and SHA-256's padding
    for i in range(starts.shape[0]):
        start, length = starts[i], ends[i] - starts[i]
        state[:] = inner
        full = length // 64
        for k in range(full):
            _load(w, buf, start + 64 * k)
            _compress(state, w)
        rest = length - 64 * full
        blocks = 1 if rest < 56 else 2  # room for 0x80 and the 8-byte bit length?
        tail[:] = 0
        for j in range(rest):
            tail[j] = buf[start + 64 * full + j]
        tail[rest] = 0x80
        bits = (64 + length) * 8  # the key block counts: the inner hash started before it
        for j in range(8):
            tail[64 * blocks - 1 - j] = (bits >> (8 * j)) & 0xFF
        for k in range(blocks):
            _load(w, tail, 64 * k)
            _compress(state, w)
        # The outer hash: its key block, then the 32-byte inner digest, padded in one block.
        w[:8] = state
        w[8] = 0x80000000
        w[9:15] = 0
        w[15] = (64 + 32) * 8
        state[:] = outer
        _compress(state, w)
        out[i] = (np.uint64(state[0]) << np.uint64(32)) | np.uint64(state[1])
    return out


def hmac_numbers(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 midstates: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The first 8 bytes, big-endian, of HMAC-SHA256 of each message ``buf[starts[i]:ends[i]]``
    (uint8 buffer, as :func:`graph.ids_encode.encode_batch` gives), as uint64; ``midstates``
    from :func:`hmac_midstates`. Runs without the interpreter lock.

    >>> import hmac
    >>> buf = np.frombuffer(b"weibo:42" + b"x" * 100, np.uint8)
    >>> got = hmac_numbers(buf, np.array([0, 8]), np.array([8, 108]), hmac_midstates(b"k" * 32))
    >>> want = [hmac.new(b"k" * 32, m, hashlib.sha256).digest()[:8] for m in (b"weibo:42", b"x" * 100)]
    >>> got.dtype, got.tolist() == [int.from_bytes(d, "big") for d in want]
    (dtype('uint64'), True)
    """
    inner, outer = midstates
    return _hmac_first_words(buf, np.asarray(starts, np.int64), np.asarray(ends, np.int64),
                             inner, outer)
