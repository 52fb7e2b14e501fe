"""Bearer tokens: issued by an admin command, stored hashed, checked on every request.

A token reads ``rt_<id>_<secret>``: ``id`` (12 hex characters) finds the record, ``secret``
(43 URL-safe characters, 256 bits from the OS CSPRNG) is never stored: the file keeps a per-token
random salt and ``SHA-256(salt || secret)``, compared in constant time. The file is JSON,
written atomically (temp file + rename) under an exclusive lock, with mode 0600. The server
re-reads it when its modification time or size changes, so a token issued or revoked while the
server runs takes effect at the next request, without restart.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.service.access import ROLES, Principal, check_code

_TOKEN_RE = re.compile(r"^rt_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
_NAME_RE = re.compile(r"^[\w .@\-]{1,64}$", re.UNICODE)


@dataclass
class TokenRecord:
    id: str
    name: str
    role: str
    jurisdiction: str
    salt: str
    sha256: str
    created_ms: int
    revoked_ms: int | None = None

    def public(self) -> dict:
        """The record without its salt and hash (for listings)."""
        return {"id": self.id, "name": self.name, "role": self.role,
                "jurisdiction": self.jurisdiction, "created_ms": self.created_ms,
                "revoked_ms": self.revoked_ms}


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("ascii")).hexdigest()


class TokenStore:
    """The tokens file. Thread-safe; several processes may issue and revoke at once."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp = None
        self._records: dict[str, TokenRecord] = {}

    # -- file ---------------------------------------------------------------------------
    def _read(self) -> dict[str, TokenRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {r["id"]: TokenRecord(**r) for r in data.get("tokens", [])}

    def _current(self) -> dict[str, TokenRecord]:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._records = self._read() if stamp else {}
                self._stamp = stamp
            return self._records

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, records: dict[str, TokenRecord]) -> None:
        body = json.dumps({"version": 1, "tokens": [asdict(r) for r in records.values()]},
                          indent=1, ensure_ascii=False)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # -- admin --------------------------------------------------------------------------
    def issue(self, role: str, jurisdiction: str, name: str | None = None) -> tuple[str, TokenRecord]:
        """Create a token; returns ``(token, record)``. The token is shown once, never stored."""
        if role not in ROLES:
            raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        check_code(jurisdiction)
        name = name or f"{role}-{jurisdiction}"
        if not _NAME_RE.match(name):
            raise ValueError("name: 1-64 letters, digits, spaces or . @ - _")
        with self._locked():
            records = self._read()
            token_id = secrets.token_hex(6)
            while token_id in records:
                token_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            salt = secrets.token_hex(16)
            rec = TokenRecord(token_id, name, role, jurisdiction, salt, _digest(salt, secret),
                              int(time.time() * 1000))
            records[token_id] = rec
            self._write(records)
        return f"rt_{token_id}_{secret}", rec

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False if there is no such (unrevoked) token."""
        with self._locked():
            records = self._read()
            rec = records.get(token_id)
            if rec is None or rec.revoked_ms is not None:
                return False
            rec.revoked_ms = int(time.time() * 1000)
            self._write(records)
        return True

    def list(self) -> list[TokenRecord]:
        return sorted(self._current().values(), key=lambda r: (r.created_ms, r.id))

    # -- requests -----------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise."""
        if not token:
            return None
        m = _TOKEN_RE.match(token)
        if not m:
            return None
        rec = self._current().get(m.group(1))
        if rec is None or rec.revoked_ms is not None:
            return None
        if not hmac.compare_digest(rec.sha256, _digest(rec.salt, m.group(2))):
            return None
        return Principal(rec.id, rec.name, rec.role, rec.jurisdiction)
