"""Queries of the governance tables (reports, status history, alerts), shared by both store
backends; values are quoted client-side (see :mod:`sql.queries`)."""
from __future__ import annotations

from . import check_identifier
from .queries import _where_rumour, quote

REPORT_COLUMNS = ("report_id", "reporter", "post_id", "link", "text", "report_ms", "received_ms", "region",
                  "region_code", "rumour_id", "link_method", "similarity", "duplicate_of", "source",
                  "client_report_id", "linked_by", "linked_ms", "link_note")
STATUS_COLUMNS = ("rumour_id", "status", "changed_by", "changed_ms", "note")
# What a guarded change replaces and how its writer settled it (sql/024; '' and 0: unguarded).
STATUS_GUARD_COLUMNS = STATUS_COLUMNS + ("replaces", "outcome")
ALERT_COLUMNS = ("alert_id", "rumour_id", "unit", "level", "rule", "minute_ms", "minute_shares",
                 "window_shares", "previous_window_shares", "detail")


def _insert(database: str, table: str, columns) -> str:
    return f"INSERT INTO {check_identifier(database)}.{table} ({', '.join(columns)})"


def insert_reports(database: str) -> str:
    return _insert(database, "public_reports", REPORT_COLUMNS)


def insert_status(database: str) -> str:
    return _insert(database, "rumour_status_history", STATUS_GUARD_COLUMNS)


def insert_alerts(database: str) -> str:
    return _insert(database, "alerts", ALERT_COLUMNS)


def _between(column: str, since_ms, until_ms) -> list[str]:
    out = []
    if since_ms is not None:
        out.append(f"{column} >= {int(since_ms)}")
    if until_ms is not None:
        out.append(f"{column} < {int(until_ms)}")
    return out


def reports(database: str, rumour_id: str | None = None, since_ms=None, until_ms=None,
            received_since_ms=None) -> str:
    """Reports (every column of REPORT_COLUMNS), oldest first (``report_ms``); with
    ``received_since_ms``, only those received since then, in the order they were received."""
    conds = _between("report_ms", since_ms, until_ms) + _between("received_ms", received_since_ms, None)
    if rumour_id is not None:
        conds.append(f"rumour_id = {quote(rumour_id)}")
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    order = "received_ms, report_id" if received_since_ms is not None else "report_ms, report_id"
    return (f"SELECT {', '.join(REPORT_COLUMNS)} FROM {check_identifier(database)}.public_reports FINAL"
            f"{where} ORDER BY {order}")


def unlinked_reports(database: str) -> str:
    """The reports linked to no rumour (``rumour_id = ''``), newest received first."""
    return (f"SELECT {', '.join(REPORT_COLUMNS)} FROM {check_identifier(database)}.public_reports FINAL"
            " WHERE rumour_id = '' ORDER BY received_ms DESC, report_id")


def report(database: str, report_id: str) -> str:
    """The report stored under ``report_id`` (zero or one row): a point query on the table's
    key (ORDER BY report_id)."""
    return (f"SELECT {', '.join(REPORT_COLUMNS)} FROM {check_identifier(database)}.public_reports FINAL"
            f" WHERE report_id = {quote(report_id)} LIMIT 1")


def latest_statuses(database: str, rumour_ids=None) -> str:
    """Current status per rumour as (rumour_id, status, changed_by, changed_ms, note): the mirror
    of :func:`streams.governance.status_history.shown` then
    :func:`~streams.governance.status_history.current`.

    The inner query keeps one row per group of changes replacing the same change (``replaces``,
    sql/024; unguarded changes, ``''``, are one group): withdrawn rows never, an accepted row
    before one still pending, then the greatest ``(changed_ms, workflow step, changed_by)`` (the
    step is the status's Enum8 value, sql/011; strings compare as bytes, as Python's code points
    do). The outer one takes, per rumour, the greatest of those in that order. After FINAL that
    tuple names one row (it is the table's key within a rumour; of a key FINAL keeps the last
    inserted row, as ``current`` keeps the last recorded, and a guarded change's outcome is its
    row inserted again), so each column comes from the same row. The conditions are aggregate
    combinators (``argMaxIf``), not WHERE: 18.16 may move a WHERE to PREWHERE, which filters
    before FINAL collapses a change's rows. tests/test_status_rule.py and
    tests/test_status_guard.py check it against the Python rule on both servers."""
    where = _where_rumour(None, rumour_ids) if rumour_ids is not None else ""
    pick = (f"argMaxIf(tuple(changed_ms, CAST(status AS Int8), changed_by, toString(status), note), "
            f"tuple(outcome = 1, changed_ms, CAST(status AS Int8), changed_by), outcome != 2)")
    inner = (f"SELECT rumour_id AS rid, {pick} AS won, countIf(outcome != 2) AS live "
             f"FROM {check_identifier(database)}.rumour_status_history FINAL{where} "
             "GROUP BY rumour_id, replaces")
    top = "tuple(tupleElement(won, 1), tupleElement(won, 2), tupleElement(won, 3))"
    return (f"SELECT rid, argMax(tupleElement(won, 4), {top}), argMax(tupleElement(won, 3), {top}), "
            f"max(tupleElement(won, 1)), argMax(tupleElement(won, 5), {top}) "
            f"FROM ({inner}) WHERE live > 0 GROUP BY rid ORDER BY rid")


def status_history(database: str, rumour_id: str) -> str:
    """A rumour's status rows (:data:`STATUS_GUARD_COLUMNS`) in the one order (time, workflow
    step, changed_by), withdrawn and losing guarded changes too: the store's ``status_history``
    keeps the rows :func:`streams.governance.status_history.shown` shows."""
    return (f"SELECT rumour_id, toString(status), changed_by, changed_ms, note, replaces, outcome "
            f"FROM {check_identifier(database)}.rumour_status_history FINAL"
            f"{_where_rumour(rumour_id)} ORDER BY changed_ms, status, changed_by")


def status_siblings(database: str, rumour_id: str, replaces: str, local: bool = False) -> str:
    """(changed_ms, status, changed_by, note, outcome) of every change of ``rumour_id`` that
    replaces ``replaces``, one row per change, its outcome the greatest any of its rows has
    (a change is written pending, then once more accepted or withdrawn, never both): no FINAL,
    so the answer does not hang on which row of a change FINAL keeps, nor on a merge.

    ``local``: read the node's ``rumour_status_history_local`` (a cluster), not the table. A
    worker's INSERT through the Distributed table lands on its own node when that node is a
    replica of the shard (18.16, whatever ``prefer_localhost_replica``), so another worker
    reading one replica may not see it until it is replicated: the store sends this query to
    every node over its own connection and merges the answers with :func:`merge_siblings`. The
    text names no host and no credentials (``remote()`` would carry the user and password into
    the server's query log, processlist and error messages).

    >>> q = status_siblings("db", "r1", "none", local=True)
    >>> q[q.index("FROM"):q.index(" AND")]
    "FROM db.rumour_status_history_local WHERE rumour_id = 'r1'"
    """
    table = f"{check_identifier(database)}.rumour_status_history" + ("_local" if local else "")
    return (f"SELECT changed_ms, toString(status), changed_by, any(note), max(outcome) "
            f"FROM {table}"
            f" WHERE rumour_id = {quote(rumour_id)} AND replaces = {quote(replaces)}"
            " GROUP BY changed_ms, status, changed_by ORDER BY changed_ms, status, changed_by")


def merge_siblings(answers) -> list[tuple]:
    """The answers of :func:`status_siblings` from several replicas as one, by its own rule: a
    change (changed_ms, status, changed_by) once, with the greatest outcome any replica has
    (and a note one of them has; a change's rows all carry its note), sorted by that key (the status as text).

    >>> merge_siblings([[(1, "verified", "ann", "n", 0)],
    ...                 [(1, "verified", "ann", "n", 2), (0, "handled", "bob", "", 0)]])
    [(0, 'handled', 'bob', '', 0), (1, 'verified', 'ann', 'n', 2)]
    """
    merged: dict[tuple, tuple] = {}
    for rows in answers:
        for ms, status, by, note, outcome in rows:
            key = (int(ms), status, by)
            seen = merged.get(key)
            if seen is None or int(outcome) > seen[4]:
                merged[key] = (key[0], status, by, note, int(outcome))
    return [merged[k] for k in sorted(merged)]


def alerts(database: str, since_ms=None, until_ms=None) -> str:
    conds = _between("minute_ms", since_ms, until_ms)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    return (f"SELECT {', '.join(ALERT_COLUMNS)} FROM {check_identifier(database)}.alerts FINAL{where} "
            "ORDER BY minute_ms, unit, rumour_id, rule")


def alert_ids(database: str, rumour_ids) -> str:
    """(alert_id, rumour_id, minute_ms) of the stored alerts of ``rumour_ids``, each once (no
    FINAL: DISTINCT collapses the copies of an id; its key fields never differ)."""
    return (f"SELECT DISTINCT alert_id, rumour_id, minute_ms FROM {check_identifier(database)}.alerts"
            f"{_where_rumour(None, rumour_ids)}")


def rumours_ingested_since(database: str, seconds: float) -> str:
    """Rumours with an event stored (``ingested_at``, the server's clock) in the last ``seconds``."""
    return (f"SELECT DISTINCT rumour_id FROM {check_identifier(database)}.share_events "
            f"WHERE ingested_at >= now() - {int(seconds)} ORDER BY rumour_id")


def rumours_active(database: str, since_ms: int, until_ms: int) -> str:
    """Rumours with at least one event in [since, until)."""
    return (f"SELECT DISTINCT rumour_id FROM {check_identifier(database)}.share_events "
            f"WHERE ts_ms >= {int(since_ms)} AND ts_ms < {int(until_ms)} ORDER BY rumour_id")


def recent_rumours(database: str) -> str:
    """(rumour_id, time of its newest event) of every rumour, most recently active first (a
    GROUP BY over every event: read once, paged by the caller). Reads two columns and no FINAL:
    the copies of a re-delivered event (the same row, sql/001) have its ``ts_ms``, so the max is
    the same without merging them."""
    return (f"SELECT rumour_id, max(ts_ms) AS last_ms FROM {check_identifier(database)}.share_events "
            f"GROUP BY rumour_id ORDER BY last_ms DESC, rumour_id")


def source_texts(database: str, rumour_ids=None) -> str:
    """(rumour_id, its source-post text: the text of its earliest post with one) of
    ``rumour_ids`` (None: every rumour) that have one: with ids, only those rumours' rows are
    read (the table's key starts with rumour_id)."""
    where = _where_rumour(None, rumour_ids) + " AND" if rumour_ids is not None else " WHERE"
    return (f"SELECT rumour_id, argMin(text, ts_ms) FROM {check_identifier(database)}.share_events FINAL"
            f"{where} kind = 'post' AND isNotNull(text) GROUP BY rumour_id")
