"""Validation of API and CLI query parameters: a clear 4xx, never a changed query."""
from __future__ import annotations

import re

MAX_K = 1000
_ID_RE = re.compile(r"^[\w.:@/+\-]{1,256}$", re.UNICODE)


class ApiError(ValueError):
    """A refused parameter (400 unless ``status`` says otherwise); ``code``: the API's error code
    of it (streams/service/error_codes.py)."""

    def __init__(self, message: str, status: int = 400, code: str = "bad_parameter"):
        super().__init__(message)
        self.status = status
        self.code = code


def validate_rumour_id(value: str) -> str:
    """A rumour id as given in a URL: 1-256 word characters or ``.:@/+-``.

    >>> validate_rumour_id("weibo:123")
    'weibo:123'
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ApiError("rumour id: 1-256 letters, digits or . : @ / + - _")
    return value


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def validate_path_id(value: str, what: str) -> str:
    """An event or account id as given in a URL: any id the event format accepts (1-256
    characters, not blank; streams/events.py), without control characters. Platforms' account
    ids hold characters a rumour id's alphabet lacks (Weibo's ``addlez?st=4c9e7e``), and an
    account that could be stored could not be traced.

    >>> validate_path_id("addlez?st=4c9e7e", "account id")
    'addlez?st=4c9e7e'
    >>> validate_path_id("a\\nb", "event id")
    Traceback (most recent call last):
    ...
    streams.api.ApiError: event id: 1-256 characters, not blank, no control characters
    """
    if (not isinstance(value, str) or not value.strip() or len(value) > 256
            or _CONTROL_RE.search(value)):
        raise ApiError(f"{what}: 1-256 characters, not blank, no control characters")
    return value


def parse_k(value, default: int) -> int:
    """The number of cut-off accounts asked for.

    >>> parse_k("5", 10), parse_k(None, 10)
    (5, 10)
    """
    if value is None or value == "":
        return default
    try:
        if isinstance(value, str) and not value.isascii():
            raise ValueError(value)  # int() would also read "５"
        k = int(value)
    except (TypeError, ValueError):
        raise ApiError("k: expected an integer") from None
    if not 0 <= k <= MAX_K:
        raise ApiError(f"k: expected 0..{MAX_K}")
    return k
