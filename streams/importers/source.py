"""Read a dataset from its extracted folder or straight from its .tar.gz, without extracting.

Both give ``(relative/path, bytes)`` pairs with ``/`` separators. A tar is read as a stream
(one pass, members in archive order) so a 30 MB archive never touches the disk; a folder is
walked in an order chosen by the caller so related files can arrive next to each other.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import tarfile
import zlib
from pathlib import Path

from streams.compression import compression_of


class SourceError(ValueError):
    """The source is neither a readable folder nor a tar archive."""


class Source:
    """A dataset folder or archive. ``files(order)`` yields ``(relpath, data)``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "a.txt").write_text("x")
    1
    >>> [(p, b) for p, b in Source(d).files()]
    [('a.txt', b'x')]
    """

    def __init__(self, src):
        self.path = Path(src)
        self.compression = None  # "gzip", "bz2" or "xz" for a compressed archive, read once here
        if self.path.is_dir():
            self.kind = "dir"
        elif self.path.is_file():
            try:
                is_tar = tarfile.is_tarfile(self.path)
                self.compression = compression_of(self.path)
            except (EOFError, OSError, zlib.error) as exc:  # a .gz too short to hold a tar header
                raise SourceError(f"{self.path}: truncated or corrupt archive: {exc}") from None
            if not is_tar:
                if self.compression is not None:
                    # A cut gzip/bz2/xz whose first block does not decompress to a whole tar
                    # header: whether is_tarfile raises or says no depends on where the cut falls.
                    raise SourceError(f"{self.path}: truncated or corrupt archive: compressed data "
                                      "that holds no readable tar header")
                raise SourceError(f"{self.path}: not a folder or a tar archive")
            self.kind = "tar"
        else:
            raise SourceError(f"{self.path}: no such folder or file")

    def __str__(self) -> str:
        return str(self.path)

    def files(self, order=None):
        """Yield ``(relpath, bytes)`` for every regular file.

        ``order`` (a key on relpath) sorts a folder's files; an archive is always read in its
        own order, in one pass.
        """
        if self.kind == "dir":
            yield from self._dir_files(order)
        else:
            yield from self._tar_files()

    def _dir_files(self, order):
        paths = []
        for root, dirs, names in os.walk(self.path):
            dirs.sort()
            for name in names:
                full = Path(root) / name
                if full.is_file():
                    paths.append(full.relative_to(self.path).as_posix())
        paths.sort(key=order)
        for rel in paths:
            yield rel, (self.path / rel).read_bytes()

    def _tar_files(self):
        # "r|" is the streaming mode: members are read front to back, never seeked, so a
        # compressed archive is decompressed exactly once. The decompression is ours (gzip, bz2,
        # lzma), not tarfile's: tarfile's own stream ends quietly where a cut .gz ends, while
        # these check the stream's end marker once the rest is read after the last member.
        name = None
        try:
            raw = _decompressed(self.path, self.compression)
            with raw, tarfile.open(fileobj=raw, mode="r|") as tar:
                for member in tar:
                    if not member.isreg():
                        continue
                    handle = tar.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    name = member.name
                    while name.startswith("./"):
                        name = name[2:]
                    yield name, data
                while raw.read(1 << 20):  # to the end: a cut stream raises EOFError here
                    pass
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            # EOFError: a truncated stream; TarError: a damaged tar; zlib.error: corrupt blocks.
            after = f" after {name}" if name else ""
            raise SourceError(f"{self.path}: truncated or corrupt archive{after}: {exc}") from None


_OPENERS = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def _decompressed(path: Path, compression: str | None):
    """The file as a stream of its decompressed bytes (``compression`` as
    :func:`streams.compression.compression_of` named it; a plain tar as it is)."""
    return _OPENERS.get(compression, open)(path, "rb")
