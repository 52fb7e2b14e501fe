"""Which compression a file is in, by its first bytes: one magic table for every reader.

Standard library only and no project imports, so ``streams/inputs.py`` and
``streams/importers/source.py`` both import it without a cycle.
"""
from __future__ import annotations

# The formats tarfile (and our decompressing readers) open, by the bytes their streams start with.
MAGIC = {
    "gzip": b"\x1f\x8b",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
}
HEAD_BYTES = max(len(magic) for magic in MAGIC.values())  # enough of a file to tell them apart


def compression_of_head(head: bytes) -> str | None:
    """The compression (``"gzip"``, ``"bz2"``, ``"xz"``) whose magic ``head`` starts with, or None.

    >>> compression_of_head(b"\\x1f\\x8b\\x08\\x00"), compression_of_head(b"BZh91AY")
    ('gzip', 'bz2')
    >>> compression_of_head(b"\\xfd7zXZ\\x00\\x00"), compression_of_head(b"ustar"), compression_of_head(b"")
    ('xz', None, None)
    """
    for name, magic in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def compression_of(path) -> str | None:
    """The compression of the file at ``path`` by its first bytes (see :func:`compression_of_head`).

    >>> import tempfile, gzip, os
    >>> fd, name = tempfile.mkstemp(); os.close(fd)
    >>> with gzip.open(name, "wb") as fh: _ = fh.write(b"x")
    >>> compression_of(name)
    'gzip'
    >>> os.remove(name)
    """
    with open(path, "rb") as fh:
        return compression_of_head(fh.read(HEAD_BYTES))
