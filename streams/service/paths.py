"""Where the service keeps its secrets: the tokens file and, beside it, the keys.

The default is computed from the package location (``<project root>/.run/tokens.json``), so
``rumour serve`` and ``rumour token`` agree whatever the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOKENS_ENV = "RUMOUR_TOKENS_FILE"
PSEUDONYM_KEY = "pseudonym.key"
EVIDENCE_KEY = "evidence.key"


def tokens_file(explicit: str | os.PathLike | None = None) -> Path:
    """The tokens file: ``explicit``, else env ``RUMOUR_TOKENS_FILE``, else the project default.

    >>> tokens_file("/tmp/x/tokens.json").name
    'tokens.json'
    """
    if explicit:
        return Path(explicit)
    env = os.environ.get(TOKENS_ENV)
    return Path(env) if env else PROJECT_ROOT / ".run" / "tokens.json"


def key_file(tokens: Path, name: str) -> Path:
    """A key kept beside the tokens file (same directory, same protection)."""
    return Path(tokens).parent / name


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new file ``path`` (mode 0600) whole or not at all: True when this call
    created it, False when the file already existed (it is then left as it is). Written to a
    temporary file of a unique name in the same folder, flushed to disk, then linked to ``path``
    (``os.link`` fails when the name exists), so a reader never sees it half written and a
    process or thread that loses a race reads the winner's file. Temporary names by process id
    were shared by threads and by containers (each worker is PID 1 in its own).

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> create_exclusive(folder / "k", b"first"), create_exclusive(folder / "k", b"second")
    (True, False)
    >>> (folder / "k").read_bytes(), sorted(p.name for p in folder.iterdir())
    (b'first', ['k'])
    """
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def load_or_create_key(path: Path, nbytes: int = 32) -> bytes:
    """Read a secret key, creating it (mode 0600, from the OS CSPRNG) on first use; a key file
    shorter than 16 bytes is refused (ValueError). Replicas starting together on one folder all
    get the key of the one that created it first (:func:`create_exclusive`)."""
    import secrets

    path = Path(path)
    try:
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    except FileNotFoundError:
        pass
    create_exclusive(path, secrets.token_bytes(nbytes))  # False: another one's key is there
    key = path.read_bytes()
    if len(key) < 16:
        # link() kept a short file already there (emptied, truncated): signing or hashing with
        # it would let anyone forge signatures or reverse pseudonyms, so refuse to start.
        raise ValueError(f"{path}: a key of at least 16 bytes is expected, found {len(key)}; "
                         "restore it from a backup (remove it only if nothing was signed with it)")
    return key
