"""Bearer tokens: issued by an admin command, stored hashed, checked on every request.

A token reads ``rt_<id>_<secret>``: ``id`` (12 hex characters) finds the record, ``secret``
(43 URL-safe characters, 256 bits from the OS CSPRNG) is never stored: the file keeps a per-token
random salt and ``SHA-256(salt || secret)``, compared in constant time. The file is JSON,
written atomically (temp file + rename) under an exclusive lock, with mode 0600. The server
re-reads it when its modification time or size changes, so a token issued or revoked while the
server runs takes effect at the next request, without restart.

A token may expire (``expires_ms``, epoch ms, UTC): from that instant it is refused exactly like a
revoked one. Records written before expiries existed have no ``expires_ms`` and never expire
(listed as ``never``); files of either form load. The clock is injectable (``clock``, seconds like
:func:`time.time`) so tests move time without sleeping.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from streams.service.access import ROLES, Principal, check_code

_TOKEN_RE = re.compile(r"^rt_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
_NAME_RE = re.compile(r"^[\w .@\-]{1,64}$", re.UNICODE)
# Why a request's token was refused (TokenStore.verdict), as its audit row records it; the
# caller gets the same 401 for each.
REFUSAL_REASONS = ("missing", "malformed", "unknown", "wrong_secret", "revoked", "expired")


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
    expires_ms: int | None = None  # None: never (every record written before expiries existed)

    def expired(self, now_ms: int) -> bool:
        """Whether the token has lapsed at ``now_ms``.

        >>> r = TokenRecord("0123456789ab", "n", "admin", "000000", "", "", 0, expires_ms=10)
        >>> r.expired(9), r.expired(10)
        (False, True)
        """
        return self.expires_ms is not None and now_ms >= self.expires_ms

    def public(self, now_ms: int) -> dict:
        """The record without its salt and hash (for listings), with its expiry and state."""
        state = "revoked" if self.revoked_ms is not None else "expired" if self.expired(now_ms) else "active"
        return {"id": self.id, "name": self.name, "role": self.role,
                "jurisdiction": self.jurisdiction, "created_ms": self.created_ms,
                "revoked_ms": self.revoked_ms, "expires_ms": self.expires_ms,
                "expires": expiry_text(self.expires_ms), "expired": self.expired(now_ms),
                "state": state}


_FIELDS = {f.name for f in fields(TokenRecord)}


def expiry_text(expires_ms: int | None) -> str:
    """An expiry for people: ISO 8601 UTC to the second, or ``never``.

    >>> expiry_text(None), expiry_text(86_400_000)
    ('never', '1970-01-02T00:00:00Z')
    """
    if expires_ms is None:
        return "never"
    return datetime.fromtimestamp(expires_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_LAST_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z: expiry_text writes times before it


def expiry_ms(now_ms: int, days: float | None = None, until: str | None = None) -> int | None:
    """When a token issued at ``now_ms`` expires: after ``days`` (0 or None: never), or at the end
    of the UTC day ``until`` (YYYY-MM-DD: the token works through that whole day). Not both.

    >>> expiry_ms(0, days=2)
    172800000
    >>> expiry_text(expiry_ms(0, until="1970-01-03"))
    '1970-01-04T00:00:00Z'
    >>> expiry_ms(0, days=0) is None
    True
    >>> expiry_ms(0, days=10 ** 8)
    Traceback (most recent call last):
    ...
    ValueError: expiry days: 100000000 is too far ahead (the last expiry is 9999-12-31; 0: never)
    """
    if days is not None and until is not None:
        raise ValueError("expiry: give a number of days or a date, not both")
    if until is not None:
        try:
            day = date.fromisoformat(until)
        except ValueError:
            raise ValueError(f"expires: expected a date YYYY-MM-DD, got {until!r}") from None
        if day >= date(9999, 12, 31):  # its end is past what a date can hold
            raise ValueError(f"expires: {until} is too far ahead (the last is 9999-12-30; "
                             "--expires-days 0: never)")
        end = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
        end_ms = int(end.timestamp() * 1000)
        if end_ms <= now_ms:
            raise ValueError(f"expires: {until} is already over (UTC)")
        return end_ms
    if days is None or days == 0:
        return None
    if not days > 0:  # also refuses NaN
        raise ValueError(f"expiry days: expected 0 (never) or more, got {days!r}")
    if not now_ms + days * 86_400_000 < _LAST_MS:  # also refuses inf
        # Stored, such an expiry broke every later `rumour token list` and the token's /api/me.
        raise ValueError(f"expiry days: {days!r} is too far ahead (the last expiry is 9999-12-31; 0: never)")
    return now_ms + int(days * 86_400_000)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("ascii")).hexdigest()


class TokensFileError(ValueError):
    """The tokens file exists but cannot be read as one (not JSON, no token records)."""


class TokenStore:
    """The tokens file. Thread-safe; several processes may issue and revoke at once."""

    def __init__(self, path: str | os.PathLike, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._stamp = None
        self._records: dict[str, TokenRecord] = {}

    # -- file ---------------------------------------------------------------------------
    def _read(self) -> dict[str, TokenRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise TokensFileError(f"tokens file {self.path}: cannot read it ({exc})") from None
        if not text.strip():
            return {}  # a file made by `touch`: no token yet, the first issue writes it whole
        try:
            data = json.loads(text)
            records = data.get("tokens", []) if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise TypeError('no "tokens" list')
            # Fields this version does not know (a newer writer's) are left out rather than
            # refused, and missing optional ones take their defaults: old files load.
            return {r["id"]: TokenRecord(**{k: v for k, v in r.items() if k in _FIELDS})
                    for r in records}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # Said with the file's name: json's "Expecting value: line 1 column 1" alone reached
            # `rumour token` users, and `rumour serve` started and answered every request 500.
            raise TokensFileError(f"tokens file {self.path}: not a tokens file of this service "
                                  f"({type(exc).__name__}: {exc})") from None

    def check(self) -> int:
        """Read the file now (a server calls this at start); the number of token records, or
        :class:`TokensFileError` saying why the file is not a tokens file."""
        return len(self._current())

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
        # A unique temporary name (mode 0600): one by process id was shared by the replicas'
        # containers (each worker is PID 1 in its own). The lock already orders the writers.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise

    # -- admin --------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def issue(self, role: str, jurisdiction: str, name: str | None = None,
              expires_ms: int | None = None, now_ms: int | None = None) -> tuple[str, TokenRecord]:
        """Create a token; returns ``(token, record)``. The token is shown once, never stored.
        ``expires_ms`` (see :func:`expiry_ms`): when it lapses; None: never. ``now_ms``: the
        issue time (default: the store's clock now); a caller that computed ``expires_ms`` from
        a clock reading passes the same one, so "N days" means exactly N days after issue."""
        if role not in ROLES:
            raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        check_code(jurisdiction)
        name = name or f"{role}-{jurisdiction}"
        if not _NAME_RE.match(name):
            raise ValueError("name: 1-64 letters, digits, spaces or . @ - _")
        now = self.now_ms() if now_ms is None else int(now_ms)
        if expires_ms is not None and expires_ms <= now:
            raise ValueError("expiry: the token would be expired already")
        with self._locked():
            records = self._read()
            token_id = secrets.token_hex(6)
            while token_id in records:
                token_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            salt = secrets.token_hex(16)
            rec = TokenRecord(token_id, name, role, jurisdiction, salt, _digest(salt, secret),
                              now, expires_ms=expires_ms)
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
            rec.revoked_ms = self.now_ms()
            self._write(records)
        return True

    def listing(self) -> list[dict]:
        """Every token without secrets, with its expiry and state (active, expired, revoked) now."""
        now = self.now_ms()
        return [rec.public(now) for rec in self.list()]

    def list(self) -> list[TokenRecord]:
        return sorted(self._current().values(), key=lambda r: (r.created_ms, r.id))

    def startup_note(self) -> str | None:
        """What a server starting on this tokens file says when no token in it works: every
        ``/api/`` request then answers 401 and the dashboard asks for a token nobody has (the
        first ``rumour serve`` of a new install said only where the file was). The file is read
        again when it changes, so a token issued now works without a restart.

        >>> import tempfile
        >>> store = TokenStore(Path(tempfile.mkdtemp()) / "tokens.json")
        >>> store.startup_note().startswith(f"no active API token in {store.path}: the dashboard")
        True
        >>> _ = store.issue("analyst", "310000")
        >>> store.startup_note() is None
        True
        """
        now = self.now_ms()
        if any(rec.public(now)["state"] == "active" for rec in self.list()):
            return None
        return (f"no active API token in {self.path}: the dashboard and API answer 401 until one is issued "
                f"(rumour token issue --role analyst --jurisdiction CODE --tokens-file {self.path}); "
                "it works at once, no restart needed")

    # -- requests -----------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked, unexpired token; None otherwise (an expired token
        is refused exactly like a revoked one)."""
        return self.verdict(token)[0]

    def verdict(self, token: str | None) -> tuple[Principal | None, str]:
        """``(principal, "")`` for a valid token, else ``(None, reason)``: one of
        :data:`REFUSAL_REASONS`, for the audit row of the refusal (the caller is answered the
        same 401 whatever the reason). The secret is compared before the record's state is
        read, so a guessed secret of a revoked token's id reads ``wrong_secret``, not ``revoked``."""
        if not token:
            return None, "missing"
        m = _TOKEN_RE.match(token)
        if not m:
            return None, "malformed"
        rec = self._current().get(m.group(1))
        if rec is None:
            return None, "unknown"
        if not hmac.compare_digest(rec.sha256, _digest(rec.salt, m.group(2))):
            return None, "wrong_secret"
        if rec.revoked_ms is not None:
            return None, "revoked"
        if rec.expired(self.now_ms()):
            return None, "expired"
        return Principal(rec.id, rec.name, rec.role, rec.jurisdiction, rec.expires_ms), ""
