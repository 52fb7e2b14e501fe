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


def load_or_create_key(path: Path, nbytes: int = 32) -> bytes:
    """Read a secret key, creating it (mode 0600, from the OS CSPRNG) on first use; a key file
    shorter than 16 bytes is refused (ValueError)."""
    import secrets

    path = Path(path)
    try:
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(nbytes)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    try:
        # link() fails if another process created the key meanwhile: then theirs wins.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    key = path.read_bytes()
    if len(key) < 16:
        # link() kept a short file already there (emptied, truncated): signing or hashing with
        # it would let anyone forge signatures or reverse pseudonyms, so refuse to start.
        raise ValueError(f"{path}: a key of at least 16 bytes is expected, found {len(key)}; "
                         "restore it from a backup (remove it only if nothing was signed with it)")
    return key
