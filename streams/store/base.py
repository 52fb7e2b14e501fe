"""The Store interface the pipeline writes to, with the read side shared by all backends.

A backend supplies four primitives (run a statement, select rows, select columns, and insert
one batch of events / dead letters); every query text comes from :mod:`sql.queries`, so the
ClickHouse server and chDB run the same SQL.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import sql
from sql import queries
from streams.events import DeadLetter, EventBatch


# Bytes of ids (UTF-8) per query that lists them (account_regions; rumour_region_counts of the
# rumours a list refresh recomputes; the source texts of ranked rumours): a trace names up to ~1000 cut-off accounts plus its chains'
# hops, and each query scans the rumour's rows again, so as many ids as fit go into one; 100 KB
# (quoting at most doubles it) keeps the text under ClickHouse's max_query_size (256 KiB).
ID_BYTES_PER_QUERY = 100_000


class StoreError(RuntimeError):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """The backend could not be reached within the retry budget."""


class Store(ABC):
    """A sink and query surface for share events and dead letters in one ClickHouse database."""

    database: str
    cluster: str | None = None  # a remote_servers name: tables in their cluster form (sql/cluster.py)
    tables_made: dict = {}  # the last migrate's tables made on nodes that lacked them (a cluster's; never mutated)

    # ---- backend primitives -------------------------------------------------------------
    @abstractmethod
    def _command(self, statement: str) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT)."""

    @abstractmethod
    def _rows(self, query: str) -> list[tuple]:
        """Run a SELECT and return its rows."""

    @abstractmethod
    def _columns(self, query: str, ncols: int) -> list[Sequence]:
        """Run a SELECT and return ``ncols`` columns (lists or arrays), even when empty."""

    @abstractmethod
    def _insert_events(self, batch: EventBatch) -> None:
        """One INSERT of every row of ``batch`` (non-empty)."""

    @abstractmethod
    def _insert_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        """One INSERT of every dead letter (non-empty)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the data stays."""

    def give_up_by(self, deadline: float) -> None:
        """Stop retrying an unreachable server at ``deadline`` (``time.monotonic()``), calls
        already retrying included: a process that stops must not outlast its stop's grace in
        retries. A store with no server (chDB, in-process) has nothing to give up."""

    # ---- public API ---------------------------------------------------------------------
    def _execute(self, statement: str):
        # migrate() needs one callable that runs any statement and returns SELECT rows.
        head = statement.lstrip()[:6].upper()
        if head == "SELECT":
            return self._rows(statement)
        self._command(statement)
        return None

    def migrate(self, allow_changed: bool | None = None, ddl_timeout: int | None = None,
                create_lacking: bool = False) -> list[str]:
        """Create the database and apply pending schema files; returns the names applied.
        Refuses (:class:`sql.MigrationRefused`) a store migrated by a newer release, and one whose
        applied files were edited since unless ``allow_changed`` (None: the
        ``migrate_allow_changed`` setting, from its environment variable). ``ddl_timeout``: how
        long an ON CLUSTER statement waits for the nodes (None: the ``clickhouse_ddl_timeout``
        setting), and ``create_lacking``: make the tables a node of the cluster lacks (one added
        since), else refuse; both are for a store on a cluster (ClickHouseStore's migrate), and
        taken and unused here: one server (or chDB) runs no ON CLUSTER statement and has no
        other node, so every caller passes them whatever its store."""
        return sql.migrate(self._execute, self.database, cluster=self.cluster,
                           allow_changed=setting_or_env("migrate_allow_changed", allow_changed))

    def require_store(self, url: str) -> None:
        """ValueError (one line: bad input, exit 2) unless the database already is a store of
        this service (it records its migrations). For the commands that only read a store
        (``rumour dead-letters``, ``rumour report monthly`` without files): a mistyped URL's
        database does not exist, and migrating it first would create an empty store and answer
        from it (an empty monthly report; no dead letters) as if the real one had nothing.
        ``url`` is named in the message without its password."""
        found = self._rows("SELECT count() FROM system.tables "
                           f"WHERE database = '{sql.check_identifier(self.database)}' AND name = 'schema_migrations'")
        if not found or not int(found[0][0]):
            raise ValueError(f"{redact_url(url)}: database {self.database!r} holds no store of this "
                             "service (never migrated: a mistyped URL or database name?); nothing read, "
                             "nothing created")

    def applied_migrations(self) -> list[int]:
        return sql.applied_versions(self._execute, self.database)

    def write(self, batch: EventBatch, dead: Sequence[DeadLetter] = ()) -> None:
        """All sink I/O for one pipeline batch: one INSERT of events, one of dead letters.

        Safe to repeat after a failure: events are keyed by (rumour_id, event_id) and
        re-delivered copies collapse (dead letters are plain appends and may repeat).
        """
        if len(batch):
            self._insert_events(batch)
        if dead:
            self._insert_dead_letters(list(dead))

    def count_events(self, rumour_id: str | None = None) -> int:
        """Distinct stored events, over all rumours or one."""
        return int(self._rows(queries.count_events(self.database, rumour_id))[0][0])

    def load_events(self, rumour_id: str | None = None, rumour_ids=None) -> EventBatch:
        """Stored events (one per id) ordered by ts then event_id, as an EventBatch: of every
        rumour, of ``rumour_id``, or of the rumours in the list ``rumour_ids``."""
        if rumour_ids is not None and not isinstance(rumour_ids, str):
            rumour_ids = list(rumour_ids)
            if not rumour_ids and rumour_id is None:
                return EventBatch()
        cols = self._columns(queries.load_events(self.database, rumour_id, rumour_ids), 10)
        return EventBatch.from_columns(cols)

    def rumour_ids(self) -> list[str]:
        return [r[0] for r in self._rows(queries.rumour_ids(self.database))]

    def dead_letters(self, limit: int = 100, reason_prefix: str | None = None) -> list[dict]:
        """Newest dead letters first, as dicts with the :class:`DeadLetter` field names;
        ``reason_prefix``: the newest ``limit`` of those whose reason starts with it."""
        out = []
        for received_ms, source, reason, rumour_id, event_id, raw_hex in self._rows(
                queries.dead_letters(self.database, limit, reason_prefix)):
            out.append({
                "raw": bytes.fromhex(raw_hex),
                "reason": reason,
                "source": source,
                "received_ms": int(received_ms),
                "rumour_id": rumour_id,
                "event_id": event_id,
            })
        return out

    def count_dead_letters(self) -> int:
        return int(self._rows(queries.count_dead_letters(self.database))[0][0])

    def minute_counts(self, rumour_id: str) -> list[tuple]:
        """``(minute_ms, region or None, kind, shares)`` per minute, distinct events only."""
        return [(int(m), region or None, kind, int(n))
                for m, region, kind, n in self._rows(queries.minute_counts(self.database, rumour_id))]

    def rumour_region_kinds(self, rumour_id: str) -> set | None:
        """``(region or None, kind)`` of the shares of one rumour, each pair once; None when the
        store holds no share of it."""
        rows = self._rows(queries.rumour_region_kinds(self.database, rumour_id))
        return {(region or None, kind) for region, kind in rows} if rows else None

    # ---- service: audit log and dashboard reads (streams/service) -------------------------
    def _insert_audit(self, columns: list[list]) -> None:
        """One INSERT of audit rows given as columns in :data:`sql.queries.AUDIT_COLUMNS` order."""
        raise NotImplementedError(f"{type(self).__name__} keeps no audit log")

    def write_audit(self, rows: Sequence[dict]) -> None:
        """Append audit rows (dicts keyed by :data:`sql.queries.AUDIT_COLUMNS`); never updates."""
        rows = list(rows)
        if not rows:
            return
        ints = queries.AUDIT_INT_COLUMNS
        # A row without token_expires_ms says "not recorded", as the column's default does.
        optional = {"token_expires_ms": queries.AUDIT_EXPIRY_UNRECORDED}
        cols = [[int(r[c] if c not in optional else r.get(c, optional[c])) if c in ints
                 else str(r.get(c) or "") for r in rows]
                for c in queries.AUDIT_COLUMNS]
        self._insert_audit(cols)

    def audit_refusal_hours(self, since_ms: int, until_ms: int) -> list[dict]:
        """Requests refused for their token per UTC hour and reason (:func:`sql.queries.audit_refusal_hours`),
        as dicts ``hour_ms``, ``reason``, ``rows``, ``summarised``, ``requests`` (their sum)."""
        out = []
        for hour, reason, rows, summarised in self._rows(
                queries.audit_refusal_hours(self.database, since_ms, until_ms)):
            out.append({"hour_ms": int(hour), "reason": reason, "rows": int(rows),
                        "summarised": int(summarised), "requests": int(rows) + int(summarised)})
        return out

    def audit_rows(self, limit: int = 100, case_id: str | None = None, since_ms: int | None = None,
                   jurisdiction_prefix: str | None = None, until_ms: int | None = None,
                   auth_failure: str | None = None) -> list[dict]:
        """Audit rows newest first, as dicts keyed by :data:`sql.queries.AUDIT_COLUMNS`
        (the filters: :func:`sql.queries.audit_rows`)."""
        rows = self._rows(queries.audit_rows(self.database, limit, case_id, since_ms, jurisdiction_prefix,
                                             until_ms, auth_failure))
        out = []
        for row in rows:
            d = dict(zip(queries.AUDIT_COLUMNS, row))
            for c in queries.AUDIT_INT_COLUMNS:
                d[c] = int(d[c])
            out.append(d)
        return out

    def rumour_region_counts(self, since_ms: int | None = None, rumour_ids=None) -> list[tuple]:
        """``(rumour_id, region or None, kind, shares, last_minute_ms)`` per group (distinct events),
        of every rumour or of those in ``rumour_ids`` (one query per
        :data:`ID_BYTES_PER_QUERY` of ids)."""
        if rumour_ids is None:
            chunks = [None]
        else:
            chunks = list(id_chunks(sorted(set(rumour_ids))))
        return [(r, region or None, kind, int(n), int(last))
                for chunk in chunks
                for r, region, kind, n, last in self._rows(
                    queries.rumour_region_counts(self.database, since_ms, chunk))]

    def rumours_changed_since(self, since_s: int) -> tuple[int, int, set]:
        """``(server clock, server start, {rumour ids that got events at or after since_s})``,
        times in epoch seconds of the server's clock (sql/017_rumour_changes.sql); on a cluster
        the start is the latest of its nodes' (:func:`sql.queries.rumours_changed_since`)."""
        (now_s, started_s, changed), = self._rows(queries.rumours_changed_since(self.database, since_s,
                                                                                self.cluster))
        return int(now_s), int(started_s), set(changed)

    def top_spreaders(self, rumour_id: str, limit: int = 10) -> list[tuple]:
        """``(account_id, direct reshares, distinct resharing accounts)``, most reshared first."""
        return [(a, int(n), int(u)) for a, n, u in self._rows(queries.top_spreaders(self.database, rumour_id, limit))]

    def event_details(self, rumour_id: str, event_ids) -> dict:
        """``event_id -> (platform, region, text)`` for the stored events among ``event_ids``."""
        ids = [e for e in event_ids if e is not None]
        if not ids:
            return {}
        return {e: (p, r, t) for e, p, r, t in self._rows(queries.event_details(self.database, rumour_id, ids))}

    def account_regions(self, rumour_id: str, account_ids) -> dict:
        """``account_id -> {region or None}`` of the events (any kind) of the listed accounts in
        one rumour; an account with no event of its own there (unknown, or known only as a
        parent account) is absent. One query per :data:`ID_BYTES_PER_QUERY` of ids."""
        out: dict[str, set] = {}
        for chunk in id_chunks(sorted({a for a in account_ids if a is not None})):
            for account, region in self._rows(queries.account_regions(self.database, rumour_id, chunk)):
                out.setdefault(account, set()).add(region or None)
        return out

    def rumour_accounts(self, rumour_id: str) -> list[str]:
        """Distinct account ids that appear in one rumour (sharers and parent accounts)."""
        return sorted({r[0] for r in self._rows(queries.rumour_accounts(self.database, rumour_id)) if r[0]})

    def drop(self) -> None:
        """Drop the whole database (tests, resets)."""
        self._command(queries.drop_database(self.database, self.cluster))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def setting_or_env(name: str, value):
    """``value``, or when None the setting ``name`` from its environment variable (a caller with
    no Settings of its own: tests, scripts).

    >>> setting_or_env("migrate_allow_changed", True), setting_or_env("clickhouse_ddl_timeout", 7)
    (True, 7)
    """
    if value is not None:
        return value
    from streams.settings import resolve, setting

    return resolve((setting(name),))[name]


def redact_url(url: str) -> str:
    """``url`` without its password (the store's URL carries it in a deployment: logs, error
    messages and the open /healthz must not).

    >>> redact_url("clickhouse://rumour:s3cret@clickhouse:9000/rumour")
    'clickhouse://rumour:***@clickhouse:9000/rumour'
    >>> redact_url("clickhouse://127.0.0.1:9000/rumour"), redact_url("chdb:///tmp/x")
    ('clickhouse://127.0.0.1:9000/rumour', 'chdb:///tmp/x')
    """
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def id_chunks(ids: list[str], max_bytes: int | None = None):
    """``ids`` in consecutive lists of at most ``max_bytes`` (UTF-8; default
    :data:`ID_BYTES_PER_QUERY`, read at the call), each at least one id: one list per query.

    >>> list(id_chunks(["aa", "bb", "c", "dddd"], 20))
    [['aa', 'bb', 'c'], ['dddd']]
    """
    if max_bytes is None:
        max_bytes = ID_BYTES_PER_QUERY
    chunk, size = [], 0
    for a in ids:
        n = len(a.encode("utf-8")) + 4  # quotes, comma, space
        if chunk and size + n > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(a)
        size += n
    if chunk:
        yield chunk


def dead_letter_columns(dead: Sequence[DeadLetter]) -> list[list]:
    """Columns in :data:`sql.queries.DEAD_LETTER_COLUMNS` order; raw always bytes."""
    raw = []
    for d in dead:
        value = d.raw
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        raw.append(bytes(value))
    return [
        [int(d.received_ms) for d in dead],
        [d.source or "" for d in dead],
        [d.reason or "" for d in dead],
        [d.rumour_id or "" for d in dead],
        [d.event_id or "" for d in dead],
        raw,
    ]
