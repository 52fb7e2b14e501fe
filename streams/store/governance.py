"""Store methods for the governance tables (reports, status history, alerts).

Two ways to use them:

* mix in: ``class ClickHouseStore(GovernanceStoreMixin, Store)`` (and the same for
  ``ChdbStore``); the methods then sit on every store;
* without wiring: ``governance_store(store)`` returns the store itself when it already has the
  methods, else a thin :class:`GovernanceView` over it (same database, same connection).

The tables come from ``sql/010-012_*.sql`` (and 016, the client's report id), applied by
``store.migrate()`` like every file.
"""
from __future__ import annotations

from typing import Sequence

import orjson

from sql import governance_queries as gq
from streams.governance.status_history import shown
from streams.store.base import id_chunks

_INT_COLUMNS = {"report_ms", "received_ms", "changed_ms", "minute_ms", "minute_shares", "window_shares",
                "previous_window_shares", "linked_ms", "outcome"}
_FLOAT_COLUMNS = {"similarity"}


class GovernanceStoreMixin:
    """Needs ``database``, ``_rows(query)`` and the backend's insert path (found on
    :meth:`_backend`: clickhouse-driver's ``_call`` or chDB's ``_insert_python``); on a cluster
    (``cluster`` set) the backend's ``every_replica_rows``."""

    def _backend(self):
        return self

    # -- writes -------------------------------------------------------------------------------
    def _insert_dicts(self, head: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
        if not rows:
            return
        data = [[_cell(name, r.get(name)) for r in rows] for name in columns]
        backend = self._backend()
        if hasattr(backend, "_call"):  # clickhouse-driver: columnar blocks, never inline VALUES
            backend._call(head + " VALUES", data, columnar=True)
            return
        import pyarrow as pa

        arrays = []
        for name, col in zip(columns, data):
            kind = pa.int64() if name in _INT_COLUMNS else pa.float64() if name in _FLOAT_COLUMNS else pa.string()
            arrays.append(pa.array(col, kind))
        backend._insert_python(head, pa.Table.from_arrays(arrays, names=list(columns)))

    def insert_reports(self, reports: Sequence[dict]) -> None:
        self._insert_dicts(gq.insert_reports(self.database), gq.REPORT_COLUMNS, reports)

    def append_status(self, rows: Sequence[dict]) -> None:
        """Append status changes (dicts with STATUS_COLUMNS, and for a guarded change
        ``replaces`` and ``outcome``: sql/024); history rows are never changed (a guarded
        change's outcome is its row appended again)."""
        self._insert_dicts(gq.insert_status(self.database), gq.STATUS_GUARD_COLUMNS, rows)

    def insert_alerts(self, alerts: Sequence[dict]) -> None:
        rows = []
        for a in alerts:
            row = {k: a.get(k) for k in gq.ALERT_COLUMNS if k != "detail"}
            row["detail"] = orjson.dumps(a, default=str).decode()
            rows.append(row)
        self._insert_dicts(gq.insert_alerts(self.database), gq.ALERT_COLUMNS, rows)

    # -- reads --------------------------------------------------------------------------------
    def load_reports(self, rumour_id: str | None = None, since_ms=None, until_ms=None,
                     received_since_ms=None) -> list[dict]:
        """Reports by ``report_ms`` (``since_ms``, ``until_ms``) and/or received since
        ``received_since_ms`` (then in the order received); ``client_report_id`` is '' when the
        client gave none or the row predates sql/016."""
        rows = self._rows(gq.reports(self.database, rumour_id, since_ms, until_ms, received_since_ms))
        return [_typed(dict(zip(gq.REPORT_COLUMNS, r))) for r in rows]

    def unlinked_reports(self) -> list[dict]:
        """The reports linked to no rumour, newest received first (one query)."""
        rows = self._rows(gq.unlinked_reports(self.database))
        return [_typed(dict(zip(gq.REPORT_COLUMNS, r))) for r in rows]

    def find_report(self, report_id: str) -> dict | None:
        """The report stored under ``report_id``, or None (one point query on the table's key)."""
        rows = self._rows(gq.report(self.database, report_id))
        return _typed(dict(zip(gq.REPORT_COLUMNS, rows[0]))) if rows else None

    def latest_statuses(self, rumour_ids=None) -> dict[str, dict]:
        """rumour_id -> its current status row, by the one rule of
        :func:`streams.governance.status_history.current` (``gq.latest_statuses`` mirrors it)."""
        if rumour_ids is not None:
            rumour_ids = list(rumour_ids)
            if not rumour_ids:
                return {}
        rows = self._rows(gq.latest_statuses(self.database, rumour_ids))
        return {r[0]: _typed(dict(zip(gq.STATUS_COLUMNS, r))) for r in rows}

    def status_history(self, rumour_id: str) -> list[dict]:
        """A rumour's status rows in the one order, those the rule shows
        (:func:`~streams.governance.status_history.shown`: no withdrawn change, one of guarded
        siblings), as STATUS_COLUMNS: the last is its current status."""
        rows = [_typed(dict(zip(gq.STATUS_GUARD_COLUMNS, r)))
                for r in self._rows(gq.status_history(self.database, rumour_id))]
        return [{k: r[k] for k in gq.STATUS_COLUMNS} for r in shown(rows)]

    def status_siblings(self, rumour_id: str, replaces: str) -> list[dict]:
        """The changes of ``rumour_id`` that replace ``replaces`` (sql/024), each once with its
        settled outcome (read without FINAL: :func:`sql.governance_queries.status_siblings`).
        On a cluster, of every replica: each node's ``_local`` table over its own connection,
        merged (:func:`sql.governance_queries.merge_siblings`); a node that cannot be read
        raises StoreUnavailable (it may hold a competitor: the guard then accepts nothing)."""
        if getattr(self, "cluster", None):
            query = gq.status_siblings(self.database, rumour_id, replaces, local=True)
            rows = gq.merge_siblings(self._backend().every_replica_rows(query))
        else:
            rows = self._rows(gq.status_siblings(self.database, rumour_id, replaces))
        return [_typed({"rumour_id": rumour_id, "status": st, "changed_by": by, "changed_ms": ms,
                        "note": note, "replaces": replaces, "outcome": outcome})
                for ms, st, by, note, outcome in rows]

    def load_alerts(self, since_ms=None, until_ms=None) -> list[dict]:
        out = []
        for r in self._rows(gq.alerts(self.database, since_ms, until_ms)):
            row = dict(zip(gq.ALERT_COLUMNS, r))
            alert = orjson.loads(row["detail"])
            out.append(alert)
        return out

    def alert_ids(self, rumour_ids) -> dict[str, tuple[str, int]]:
        """alert_id -> (rumour_id, minute_ms) of the alerts the store holds for ``rumour_ids``:
        one query for all of them."""
        rumour_ids = list(rumour_ids)
        if not rumour_ids:
            return {}
        return {a: (r, int(m)) for a, r, m in self._rows(gq.alert_ids(self.database, rumour_ids))}

    def rumours_ingested_since(self, seconds: float) -> list[str]:
        """Rumours with an event written in the last ``seconds`` (by the server's clock)."""
        return [r[0] for r in self._rows(gq.rumours_ingested_since(self.database, seconds))]

    def active_rumours(self, since_ms: int, until_ms: int) -> list[str]:
        return [r[0] for r in self._rows(gq.rumours_active(self.database, since_ms, until_ms))]

    def source_texts(self, limit: int | None = None) -> dict[str, str]:
        """rumour_id -> its source-post text, of the ``limit`` rumours (None: all) with a text
        whose newest event is the latest; in the order of that event, the most recent last.

        Not one pass over every event with its text: the rumours ranked by their newest event
        (rumour id and time columns only; a GROUP BY over every event, so read once), then the
        texts of the first ``limit`` of them (their rows only; when that is every rumour, of all
        posts); a rumour without a text is passed over and the texts of the next ranked rumours
        read, page by page of the one ranking, until ``limit`` rumours have one."""
        if limit is not None and limit < 1:
            return {}
        ranked = [r[0] for r in self._rows(gq.recent_rumours(self.database))]
        if limit is None or limit >= len(ranked):
            # Every rumour is wanted: one pass over the posts, not a list of every id.
            texts = dict(self._rows(gq.source_texts(self.database)))
            found = [(rid, texts[rid]) for rid in ranked if texts.get(rid)][:limit]
            return dict(reversed(found))
        found = []
        start = 0
        while start < len(ranked) and len(found) < limit:
            page = ranked[start:start + limit - len(found)]
            start += len(page)
            texts = {}
            for chunk in id_chunks(page):
                texts.update(self._rows(gq.source_texts(self.database, chunk)))
            found += [(rid, texts[rid]) for rid in page if texts.get(rid)]
        return dict(reversed(found))


class GovernanceView(GovernanceStoreMixin):
    """The governance methods over an existing store (no subclassing needed)."""

    def __init__(self, store):
        self.store = store
        self.database = store.database

    def _backend(self):
        return self.store

    def _rows(self, query: str):
        return self.store._rows(query)

    def __getattr__(self, name):  # everything else (load_events, close, ...) from the store
        return getattr(self.store, name)


def governance_store(store):
    """``store`` with the governance methods (itself when mixed in, else a view over it)."""
    if store is None or isinstance(store, GovernanceStoreMixin):
        return store
    return GovernanceView(store)


def _cell(name: str, value):
    if name in _INT_COLUMNS:
        return int(value or 0)
    if name in _FLOAT_COLUMNS:
        return float(value or 0.0)
    return "" if value is None else str(value)


def _typed(row: dict) -> dict:
    for k in row:
        if k in _INT_COLUMNS:
            row[k] = int(row[k])
        elif k in _FLOAT_COLUMNS:
            row[k] = float(row[k])
    return row
