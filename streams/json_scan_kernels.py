"""The numba kernels of :mod:`streams.json_columns`: one pass over a batched message's bytes that
finds, per event and field, whether the value is absent, null, a string (where its bytes are) or
an integer, copying each string's bytes (escapes decoded) into its field's NUL-joined region.

Only the shapes the scanner reads exactly are accepted; anything else makes the scan report
failure (a negative count) and the message takes orjson's path: keys other than the v1 fields,
a key twice in one object, nested values, true/false, floats, integers of more than 18 digits,
a backslash in a key, escapes in values other than the JSON ones decoded by :func:`_escape`
(``\\u0000`` and lone surrogates refused), a raw control byte in a string (invalid JSON),
bytes after the top value. UTF-8 inside strings is checked by the caller's ``bytes.decode``;
outside strings only ASCII JSON syntax is accepted.

Strings are copied while scanning, each field's values NUL-joined in a region of their own
(a raw NUL cannot be in a JSON string, and ``\\u0000`` is an escape, refused), so the caller
turns a column into its list of str with one ``decode`` and one ``split``. Copying in the scan
rather than in a second pass over the slots: 0.56 + 0.46 -> ~0.6 us per event of the bench's
arrays. The kernels release the GIL (they read the message's bytes and write arrays of their
own): the worker's other threads (observers, store writes, the consumer) run meanwhile.
"""
from __future__ import annotations

import numba
import numpy as np

ABSENT, NULL, STRING, INT = 0, 1, 2, 3  # a value's state
FAIL = -1


@numba.njit(cache=True, nogil=True)
def _ws(buf, i, n):  # pragma: no cover - compiled
    while i < n:
        c = buf[i]
        if c != 32 and c != 10 and c != 13 and c != 9:  # JSON's four whitespace bytes
            break
        i += 1
    return i


@numba.njit(cache=True, nogil=True)
def _is(buf, s, e, names, offs, f):  # pragma: no cover - compiled
    a = offs[f]
    if offs[f + 1] - a != e - s:
        return False
    for k in range(e - s):
        if buf[s + k] != names[a + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _field(buf, s, e, names, offs):  # pragma: no cover - compiled
    """The index of the field whose name is ``buf[s:e]``, or FAIL (scan_array tries the field at
    this key's place in the previous object first, written out there: events keep one order)."""
    for f in range(offs.shape[0] - 1):
        if _is(buf, s, e, names, offs, f):
            return f
    return FAIL


@numba.njit(cache=True, nogil=True)
def _integer(buf, i, n):  # pragma: no cover - compiled
    """``(index after it, value)`` of the JSON integer at ``i``, index FAIL if there is none
    read here (the caller checks the byte after it is a delimiter: ``12a`` is refused there)."""
    j = i
    if buf[i] == 45:
        j += 1
    if j >= n or buf[j] < 48 or buf[j] > 57:
        return FAIL, 0
    value = np.int64(0)
    if buf[j] == 48:  # a zero is the whole integer part: "01" is not JSON
        j += 1
    else:
        digits = 0
        while j < n and 48 <= buf[j] <= 57:
            digits += 1
            if digits > 18:  # may leave int64: orjson's path decides
                return FAIL, 0
            value = value * 10 + (np.int64(buf[j]) - 48)
            j += 1
    if j < n and (buf[j] == 46 or buf[j] == 101 or buf[j] == 69 or 48 <= buf[j] <= 57):
        return FAIL, 0  # a fraction or exponent (a float), or a leading zero
    return j, (-value if buf[i] == 45 else value)


@numba.njit(cache=True, nogil=True)
def _hex4(buf, i, n):  # pragma: no cover - compiled
    """The value of the four hex digits at ``i``, or -1."""
    if i + 4 > n:
        return -1
    v = 0
    for q in range(4):
        c = np.int64(buf[i + q])
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = v * 16 + d
    return v


@numba.njit(cache=True, nogil=True)
def _escape(buf, i, n, out, o):  # pragma: no cover - compiled
    """The escape at ``i`` (a backslash) decoded as orjson does, its UTF-8 written to ``out`` at
    ``o``: ``(index after it, o after)``, index FAIL for an escape not read here: an unknown one,
    ``\\u0000`` (it would break the NUL join), a lone or reversed surrogate. Never writes more
    bytes than it reads (2 for 1, 6 for at most 3, 12 for 4): the caller's regions hold it."""
    if i + 1 >= n:
        return FAIL, o
    c = buf[i + 1]
    if c == 34 or c == 92 or c == 47:
        out[o] = c
        return i + 2, o + 1
    if c == 110 or c == 116 or c == 114 or c == 98 or c == 102:
        out[o] = 10 if c == 110 else 9 if c == 116 else 13 if c == 114 else 8 if c == 98 else 12
        return i + 2, o + 1
    if c != 117:
        return FAIL, o
    cp = _hex4(buf, i + 2, n)
    if cp <= 0 or 0xDC00 <= cp <= 0xDFFF:
        return FAIL, o
    j = i + 6
    if 0xD800 <= cp <= 0xDBFF:  # a high surrogate: a low one must follow (the pair's code point)
        if j + 1 >= n or buf[j] != 92 or buf[j + 1] != 117:
            return FAIL, o
        low = _hex4(buf, j + 2, n)
        if low < 0xDC00 or low > 0xDFFF:
            return FAIL, o
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
        j += 6
    if cp < 0x80:
        out[o] = cp
        o += 1
    elif cp < 0x800:
        out[o] = 0xC0 | (cp >> 6)
        out[o + 1] = 0x80 | (cp & 0x3F)
        o += 2
    elif cp < 0x10000:
        out[o] = 0xE0 | (cp >> 12)
        out[o + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[o + 2] = 0x80 | (cp & 0x3F)
        o += 3
    else:
        out[o] = 0xF0 | (cp >> 18)
        out[o + 1] = 0x80 | ((cp >> 12) & 0x3F)
        out[o + 2] = 0x80 | ((cp >> 6) & 0x3F)
        out[o + 3] = 0x80 | (cp & 0x3F)
        o += 4
    return j, o


@numba.njit(cache=True, nogil=True)
def _count(buf, byte):  # pragma: no cover - compiled
    k = 0
    for i in range(buf.shape[0]):
        k += buf[i] == byte
    return k


@numba.njit(cache=True, nogil=True)
def scan_array(buf, names, offs):  # pragma: no cover - compiled
    """A JSON array of flat objects: ``(n, state, ints, stride, out, lo, hi, nstr, nint,
    nempty, same)``: event ``i``'s field ``f`` at slot ``f * stride + i``; field ``f``'s values
    NUL-joined (non-strings as empty) in ``out[lo[f]:hi[f]]``, ``nstr[f]``/``nint[f]``/
    ``nempty[f]`` of them strings/ints/empty strings; ``same[f]`` is the length of event 0's
    string when every string of field ``f`` equals it (event 0 has one), else -1.
    ``n`` is FAIL (or 0 for ``[]``) when the message is not of that shape.

    The per-key and per-value steps are written out here, not called: a call of a helper that
    takes the arrays cost ~5 ns (1.15 us per event of the bench's arrays for whitespace checks
    alone), the scan 0.6 us per event with helpers, ~0.33 without.

    >>> names, offs = np.frombuffer(b"idts", np.uint8), np.array([0, 2, 4])
    >>> n, state, ints, stride, out, lo, hi, nstr, nint, nempty, same = scan_array(
    ...     np.frombuffer(b'[{"id": "a", "ts": 5}, {"ts": null, "id": "bc"}]', np.uint8), names, offs)
    >>> n, bytes(out[lo[0]:hi[0]]), state[stride:stride + n].tolist(), int(ints[stride])
    (2, b'a\\x00bc', [3, 1], 5)
    >>> scan_array(np.frombuffer(b'[{"id": "ab"}, {"id": "ab"}]', np.uint8), names, offs)[-1].tolist()
    [2, -1]
    >>> scan_array(np.frombuffer(b'[{"id": "a\\\\q"}]', np.uint8), names, offs)[0]
    -1
    """
    n = buf.shape[0]
    nf = offs.shape[0] - 1
    stride = max(_count(buf, 123), 1)  # at least one '{' per event
    state = np.zeros(nf * stride, np.int8)
    ints = np.empty(nf * stride, np.int64)
    # Each field's region can hold the whole message: 10x its size of address space, but pages
    # are touched only as written (the strings' bytes, about the message's size in all).
    region = n + stride
    out = np.empty(nf * region, np.uint8)
    lo = np.arange(nf) * region
    hi = lo.copy()
    seps = np.zeros(nf, np.int64)
    nstr = np.zeros(nf, np.int64)
    nint = np.zeros(nf, np.int64)
    nempty = np.zeros(nf, np.int64)
    hints = np.full(nf + 1, -1, np.int64)
    same = np.full(nf, -1, np.int64)
    bad = (FAIL, state, ints, stride, out, lo, hi, nstr, nint, nempty, same)
    i = 0
    while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
        i += 1
    if i >= n or buf[i] != 91:
        return bad
    i += 1
    while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
        i += 1
    if i < n and buf[i] == 93:
        return (0, state, ints, stride, out, lo, hi, nstr, nint, nempty, same)
    ev = 0
    while True:
        if i >= n or buf[i] != 123:
            return bad
        i += 1
        while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
            i += 1
        if i < n and buf[i] == 125:
            i += 1
        else:
            place = 0
            while True:
                # The key: a string naming a field (first tried: the field at this place in
                # the previous object).
                if i >= n or buf[i] != 34:
                    return bad
                s = i + 1
                # The field at this place in the previous object, compared in one pass: its
                # name, then the closing quote (a name holds no quote, backslash or control).
                f = hints[place] if place < nf else -1
                if f >= 0:
                    a = offs[f]
                    e = s + offs[f + 1] - a
                    if e >= n or buf[e] != 34:
                        f = -1
                    else:
                        for q in range(e - s):
                            if buf[s + q] != names[a + q]:
                                f = -1
                                break
                if f < 0:
                    e = s
                    while e < n and buf[e] != 34:
                        if buf[e] == 92 or buf[e] < 32:
                            return bad
                        e += 1
                    if e >= n:
                        return bad
                    f = _field(buf, s, e, names, offs)
                    if f < 0:  # an unknown key
                        return bad
                slot = f * stride + ev
                if state[slot] != ABSENT:  # a key twice in one object
                    return bad
                if place < nf:
                    hints[place] = f
                place += 1
                i = e + 1
                while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
                    i += 1
                if i >= n or buf[i] != 58:
                    return bad
                i += 1
                while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
                    i += 1
                if i >= n:
                    return bad
                # The value: a string (copied to the field's region), null or an integer.
                o = hi[f]
                while seps[f] < ev:  # the events before without this field: empty values
                    out[o] = 0
                    o += 1
                    seps[f] += 1
                c = buf[i]
                start = o
                if c == 34:
                    i += 1
                    if i < n and buf[i] == 34:
                        nempty[f] += 1
                    while i < n:
                        c = buf[i]
                        if c == 34:
                            break
                        if c == 92:
                            i, o = _escape(buf, i, n, out, o)
                            if i < 0:
                                return bad
                            continue
                        if c < 32:  # a raw control byte: not JSON
                            return bad
                        out[o] = c
                        o += 1
                        i += 1
                    if i >= n:
                        return bad
                    i += 1
                    state[slot] = STRING
                    nstr[f] += 1
                    # Whether it repeats event 0's string (a message of one rumour repeats its
                    # rumour_id and platform): compared only while every one has.
                    if ev == 0:
                        same[f] = o - start
                    elif same[f] >= 0:
                        length = same[f]
                        if o - start != length:
                            same[f] = -1
                        else:
                            a = lo[f]
                            for q in range(length):
                                if out[start + q] != out[a + q]:
                                    same[f] = -1
                                    break
                elif c == 110:
                    if i + 4 <= n and buf[i + 1] == 117 and buf[i + 2] == 108 and buf[i + 3] == 108:
                        state[slot] = NULL
                        same[f] = -1
                        i += 4
                    else:
                        return bad
                else:
                    i, value = _integer(buf, i, n)
                    if i < 0:  # true, false, a float, a nested value...
                        return bad
                    state[slot] = INT
                    ints[slot] = value
                    nint[f] += 1
                    same[f] = -1
                hi[f] = o
                while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
                    i += 1
                if i < n and buf[i] == 44:
                    i += 1
                    while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
                        i += 1
                    continue
                if i < n and buf[i] == 125:
                    i += 1
                    break
                return bad
        ev += 1
        while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
            i += 1
        if i < n and buf[i] == 44:
            i += 1
            while i < n and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
                i += 1
            continue
        if i < n and buf[i] == 93:
            break
        return bad
    if _ws(buf, i + 1, n) != n:  # bytes after the array
        return bad
    for f in range(nf):
        o = hi[f]
        while seps[f] < ev - 1:
            out[o] = 0
            o += 1
            seps[f] += 1
        hi[f] = o
    return (ev, state, ints, stride, out, lo, hi, nstr, nint, nempty, same)

