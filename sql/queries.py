"""Read queries shared by every store backend, so both run byte-identical SQL.

Values are quoted client-side with :func:`quote` (18.16 has no server-side ``{x:Type}``
parameters), and the final text is the same for clickhouse-driver and chDB. Only the insert
path differs by backend (native columnar blocks vs an Arrow table), which is not SQL dialect.
"""
from __future__ import annotations

from . import check_identifier

EVENT_COLUMNS = ("event_id", "rumour_id", "account_id", "ts_ms", "parent_event_id",
                 "parent_account_id", "kind", "platform", "region", "text")
EVENT_ROW_COLUMNS = ("fields", "text", "ts_ms")  # share_event_rows (sql/005)
DEAD_LETTER_COLUMNS = ("received_ms", "source", "reason", "rumour_id", "event_id", "raw")

# ClickHouse string literal escapes (the same set clickhouse-driver uses client-side).
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\n": "\\n",
            "\t": "\\t", "\0": "\\0", "\a": "\\a", "\v": "\\v"}


def quote(value: str) -> str:
    """A ClickHouse string literal for ``value``.

    >>> quote("it's\\n")
    "'it\\\\'s\\\\n'"
    """
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def _where_rumour(rumour_id, rumour_ids=None) -> str:
    if rumour_ids is not None:
        if rumour_id is not None:
            raise ValueError("give rumour_id or rumour_ids, not both")
        if isinstance(rumour_ids, str):
            raise TypeError("rumour_ids is a list of ids")
        ids = sorted(set(rumour_ids))
        if not ids:
            return " WHERE 0"
        return f" WHERE rumour_id IN ({', '.join(quote(r) for r in ids)})"
    return "" if rumour_id is None else f" WHERE rumour_id = {quote(rumour_id)}"


def insert_events(database: str) -> str:
    """``INSERT`` head naming the columns a writer sends (ts, ingested_at are server defaults)."""
    return f"INSERT INTO {check_identifier(database)}.share_events ({', '.join(EVENT_COLUMNS)})"


def insert_event_rows(database: str) -> str:
    """``INSERT`` head of the packed form (sql/005_share_event_rows.sql: a Null table whose views
    fill share_events and the minute counts); clickhouse-driver's writer uses it."""
    return f"INSERT INTO {check_identifier(database)}.share_event_rows ({', '.join(EVENT_ROW_COLUMNS)})"


def insert_dead_letters(database: str) -> str:
    return f"INSERT INTO {check_identifier(database)}.dead_letters ({', '.join(DEAD_LETTER_COLUMNS)})"


def count_events(database: str, rumour_id: str | None = None) -> str:
    """Distinct events: FINAL collapses re-deliveries; uniqExact also covers a re-delivered
    copy whose ts moved it to another month's partition (FINAL works per partition)."""
    return (f"SELECT uniqExact(rumour_id, event_id) FROM {check_identifier(database)}.share_events FINAL"
            + _where_rumour(rumour_id))


def load_events(database: str, rumour_id: str | None = None, rumour_ids=None) -> str:
    """All event columns in EventBatch order, kind as its numeric code, by time then id;
    all rumours, one (``rumour_id``) or several (``rumour_ids``)."""
    return ("SELECT event_id, rumour_id, account_id, ts_ms, parent_event_id, parent_account_id, "
            "CAST(kind AS Int8) AS kind_code, platform, region, text "
            f"FROM {check_identifier(database)}.share_events FINAL"
            + _where_rumour(rumour_id, rumour_ids)
            + " ORDER BY ts_ms, event_id, rumour_id")


def rumour_ids(database: str) -> str:
    return f"SELECT DISTINCT rumour_id FROM {check_identifier(database)}.share_events ORDER BY rumour_id"


def dead_letters(database: str, limit: int, reason_prefix: str | None = None) -> str:
    """Distinct dead letters, newest first. raw comes back hex-encoded so arbitrary bytes survive any client's
    string decoding unchanged. ``reason_prefix``: only those whose reason starts with it, filtered
    before the limit (a byte-prefix comparison: 18.16 and chDB alike, no LIKE escaping).

    >>> dead_letters("db", 5, "kind:").split("FINAL ")[1]
    "WHERE substring(reason, 1, 5) = 'kind:' ORDER BY received_ms DESC, source, event_id, reason LIMIT 5"
    """
    limit = int(limit)
    if limit < 0:
        raise ValueError("limit must be >= 0")
    where = ""
    if reason_prefix:
        where = f"WHERE substring(reason, 1, {len(reason_prefix.encode('utf-8'))}) = {quote(reason_prefix)} "
    return ("SELECT received_ms, source, reason, rumour_id, event_id, hex(raw) AS raw_hex "
            f"FROM {check_identifier(database)}.dead_letters FINAL "
            + where + f"ORDER BY received_ms DESC, source, event_id, reason LIMIT {limit}")


def count_dead_letters(database: str) -> str:
    return f"SELECT count() FROM {check_identifier(database)}.dead_letters FINAL"


def minute_counts(database: str, rumour_id: str) -> str:
    """(minute as epoch ms, region ('' = none), kind name, distinct shares) per group."""
    return ("SELECT toInt64(minute) * 1000 AS minute_ms, region, toString(kind) AS kind_name, "
            "uniqExactMerge(shares) AS shares "
            f"FROM {check_identifier(database)}.share_minute_counts"
            + _where_rumour(rumour_id)
            + " GROUP BY minute, region, kind ORDER BY minute, region, kind")


def rumour_region_kinds(database: str, rumour_id: str) -> str:
    """The distinct (region ('' = none), kind name) pairs of one rumour's shares, from the
    per-minute counts read by the rumour's key (the jurisdiction check of every rumour route
    keeps the regions of the kinds that spread it, :func:`streams.service.access.spread_regions`;
    a rumour with only debunks still has rows, so it is known, not unknown): no merge of the
    count states, at most one row per region and kind.

    >>> print(rumour_region_kinds("db", "r1"))  # doctest: +NORMALIZE_WHITESPACE
    SELECT DISTINCT region, toString(kind) AS kind_name FROM db.share_minute_counts
    WHERE rumour_id = 'r1' ORDER BY region, kind_name
    """
    return ("SELECT DISTINCT region, toString(kind) AS kind_name "
            f"FROM {check_identifier(database)}.share_minute_counts"
            + _where_rumour(rumour_id) + " ORDER BY region, kind_name")


def drop_database(database: str, cluster: str | None = None) -> str:
    """
    >>> drop_database("db", "rumour")
    'DROP DATABASE IF EXISTS db ON CLUSTER rumour'
    """
    on = f" ON CLUSTER {check_identifier(cluster)}" if cluster else ""
    return f"DROP DATABASE IF EXISTS {check_identifier(database)}{on}"


# ---- service (dashboard, origin-trace API, audit) ---------------------------------------------
AUDIT_COLUMNS = ("audit_id", "ts_ms", "token_id", "token_name", "role", "jurisdiction", "case_id",
                 "action", "rumour_id", "params", "status", "answer_sha256", "remote", "token_expires_ms",
                 "auth_failure", "token_fingerprint")
AUDIT_INT_COLUMNS = frozenset({"ts_ms", "status", "token_expires_ms"})  # Int64/UInt16; the rest String
# token_expires_ms (sql/013_audit_token_expiry.sql): epoch ms, or one of these.
AUDIT_EXPIRY_NEVER = 0
AUDIT_EXPIRY_UNRECORDED = -1  # the column's default: rows older than 013, or from older code


def insert_audit(database: str) -> str:
    return f"INSERT INTO {check_identifier(database)}.audit_log ({', '.join(AUDIT_COLUMNS)})"


def audit_rows(database: str, limit: int, case_id: str | None = None, since_ms: int | None = None,
               jurisdiction_prefix: str | None = None, until_ms: int | None = None,
               auth_failure: str | None = None) -> str:
    """Audit rows, newest first, optionally of one case, since a time, up to a time (both
    inclusive), of actors whose jurisdiction code starts with a prefix (an admin sees the
    actors of its own area), or of requests refused for their token: ``auth_failure`` ``any``
    (all of them), ``suppressed`` (the summary rows), or a reason: its rows and the summary rows
    that count some refusals of that reason (their ``params`` ``reasons``).

    >>> print(audit_rows("db", 5, auth_failure="unknown").split(" WHERE ")[1])  # doctest: +NORMALIZE_WHITESPACE
    (auth_failure = 'unknown' OR (auth_failure = 'suppressed' AND
    position(visitParamExtractRaw(params, 'reasons'), '"unknown":') > 0)) ORDER BY ts_ms DESC, audit_id LIMIT 5
    """
    limit = int(limit)
    if limit < 0:
        raise ValueError("limit must be >= 0")
    where = []
    if auth_failure == "any":
        where.append("auth_failure != ''")
    elif auth_failure == "suppressed":
        where.append("auth_failure = 'suppressed'")
    elif auth_failure is not None:
        if not auth_failure.replace("_", "").isalpha():
            raise ValueError(f"auth_failure: not a reason: {auth_failure!r}")
        key = quote('"' + auth_failure + '":')  # the reason as a key of the summary's reasons
        where.append(f"(auth_failure = {quote(auth_failure)} OR (auth_failure = 'suppressed' AND "
                     f"position(visitParamExtractRaw(params, 'reasons'), {key}) > 0))")
    if case_id is not None:
        where.append(f"case_id = {quote(case_id)}")
    if since_ms is not None:
        where.append(f"ts_ms >= {int(since_ms)}")
    if until_ms is not None:
        where.append(f"ts_ms <= {int(until_ms)}")
    if jurisdiction_prefix:
        where.append(f"startsWith(jurisdiction, {quote(jurisdiction_prefix)})")
    return (f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {check_identifier(database)}.audit_log"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY ts_ms DESC, audit_id LIMIT {limit}")


def audit_refusal_hours(database: str, since_ms: int, until_ms: int) -> str:
    """Requests refused for their token per UTC hour and reason, ``since_ms`` to ``until_ms``
    (both inclusive; epoch ms of the rows): (hour as epoch ms, reason, rows, summarised). ``rows``
    counts the refusals written one row each (each audit id once: a retried insert is kept twice
    in audit_log); ``summarised`` those counted in summary rows (auth_failure 'suppressed',
    streams/service/probes.py), from each one's ``params`` ``reasons`` object (its keys and counts,
    read with extractAll: 18.16 has no JSONExtract; orjson writes it with no spaces and the
    reasons are plain words). A summary row's hour is that of its minute's last refusal.

    >>> "extractAll" in audit_refusal_hours("db", 0, 1)
    True
    """
    db = check_identifier(database)
    since_ms, until_ms = int(since_ms), int(until_ms)
    when = f"ts_ms >= {since_ms} AND ts_ms <= {until_ms}"
    return ("SELECT hour, reason, sum(single) AS single_rows, sum(summarised) AS summarised FROM (\n"
            "SELECT intDiv(ts_ms, 3600000) * 3600000 AS hour, auth_failure AS reason,\n"
            "toUInt64(uniqExact(audit_id)) AS single, toUInt64(0) AS summarised\n"
            f"FROM {db}.audit_log WHERE auth_failure NOT IN ('', 'suppressed') AND {when}\n"
            "GROUP BY hour, reason\n"
            "UNION ALL\n"
            "SELECT hour, reason, toUInt64(0) AS single, sum(toUInt64(n)) AS summarised FROM (\n"
            "SELECT intDiv(any(ts_ms), 3600000) * 3600000 AS hour, "
            "visitParamExtractRaw(any(params), 'reasons') AS counts\n"
            f"FROM {db}.audit_log WHERE auth_failure = 'suppressed' AND {when} GROUP BY audit_id)\n"
            "ARRAY JOIN extractAll(counts, '\"([^\"]*)\":') AS reason, extractAll(counts, ':([0-9]+)') AS n\n"
            "GROUP BY hour, reason)\n"
            "GROUP BY hour, reason ORDER BY hour, reason")


def audit_hour_served(database: str, condition: str = "1") -> str:
    """Served requests per hour and action (time, action, served): the audited requests of
    audit_hour_counts (sql/015, every row of audit_log once) less the rows of requests refused
    for their token (audit_hour_refusals, sql/021: each refusal row once, a summary row once),
    which audit_hour_counts counts under their route (a summary under ``unauthenticated``);
    actions left with none are not listed. ``condition``: on ``hour``; Grafana's panel of served
    requests is this query with ``$__timeFilter(hour)`` (the dashboard's text is checked against it).

    >>> print(audit_hour_served("db"))  # doctest: +NORMALIZE_WHITESPACE
    SELECT time, action, sum(n) AS served FROM (
    SELECT hour AS time, action, toInt64(uniqExactMerge(queries)) AS n FROM db.audit_hour_counts
    WHERE 1 GROUP BY time, action
    UNION ALL
    SELECT hour AS time, action, -toInt64(uniqExact(refusal)) AS n FROM db.audit_hour_refusals
    WHERE 1 GROUP BY time, action)
    GROUP BY time, action HAVING served > 0 ORDER BY time, action
    """
    db = check_identifier(database)
    return ("SELECT time, action, sum(n) AS served FROM (\n"
            f"SELECT hour AS time, action, toInt64(uniqExactMerge(queries)) AS n FROM {db}.audit_hour_counts\n"
            f"WHERE {condition} GROUP BY time, action\n"
            "UNION ALL\n"
            f"SELECT hour AS time, action, -toInt64(uniqExact(refusal)) AS n FROM {db}.audit_hour_refusals\n"
            f"WHERE {condition} GROUP BY time, action)\n"
            "GROUP BY time, action HAVING served > 0 ORDER BY time, action")


def audit_hour_refused(database: str, condition: str = "1") -> str:
    """Requests refused for their token per hour and reason (time, reason, refused), those a
    summary row stands for counted by their own reasons (audit_hour_refusals, sql/021; FINAL reads
    a retried insert once). ``condition``: on ``hour``; Grafana's panel of refused requests is
    this query with ``$__timeFilter(hour)``.

    >>> print(audit_hour_refused("db"))  # doctest: +NORMALIZE_WHITESPACE
    SELECT hour AS time, reason, sum(requests) AS refused FROM db.audit_hour_refusals FINAL
    WHERE 1 GROUP BY time, reason ORDER BY time, reason
    """
    return (f"SELECT hour AS time, reason, sum(requests) AS refused FROM {check_identifier(database)}"
            f".audit_hour_refusals FINAL\nWHERE {condition} GROUP BY time, reason ORDER BY time, reason")


def rumour_region_counts(database: str, since_ms: int | None = None, rumour_ids=None) -> str:
    """(rumour_id, region ('' = none), kind name, distinct shares, last minute as epoch ms) per
    group, over all time or since a time (minute resolution, from the per-minute counts), of
    every rumour or of the list ``rumour_ids`` (the same groups as the whole answer has for them).

    >>> print(rumour_region_counts("db", 120_000, ["r2", "r1"]))  # doctest: +NORMALIZE_WHITESPACE
    SELECT rumour_id, region, toString(kind) AS kind_name, uniqExactMerge(shares) AS n,
    toInt64(max(minute)) * 1000 AS last_ms FROM db.share_minute_counts
    WHERE rumour_id IN ('r1', 'r2') AND minute >= toDateTime(120)
    GROUP BY rumour_id, region, kind ORDER BY rumour_id, region, kind_name
    """
    where = _where_rumour(None, rumour_ids)
    if since_ms is not None:
        where += (" AND" if where else " WHERE") + f" minute >= toDateTime({int(since_ms) // 1000})"
    return ("SELECT rumour_id, region, toString(kind) AS kind_name, uniqExactMerge(shares) AS n, "
            "toInt64(max(minute)) * 1000 AS last_ms "
            f"FROM {check_identifier(database)}.share_minute_counts" + where
            + " GROUP BY rumour_id, region, kind ORDER BY rumour_id, region, kind_name")


def rumours_changed_since(database: str, since_s: int, cluster: str | None = None) -> str:
    """The server's clock and start (epoch seconds: now, now less its uptime) and the rumours
    that got events at or after ``since_s`` on that clock (sql/017_rumour_changes.sql), in one
    row: read before the changed rumours' counts, the clock bounds what the next read must look
    at again; a new start says the change buffer may have lost rows.

    On a ``cluster`` the change buffer is each shard's (sql/cluster.py), so a restart of any node
    the reads go to may lose its rows: the start is the latest of theirs, which moves whichever
    of them restarts (the earliest would move only when the oldest node does). ``cluster()`` asks
    one node per shard, the replica the Distributed reads and inserts pick (``load_balancing``
    in_order, the store's cluster settings); ``now()`` and ``uptime()`` are each node's own there.

    >>> print(rumours_changed_since("db", 60))  # doctest: +NORMALIZE_WHITESPACE
    SELECT toInt64(now()) AS now_s, toInt64(now()) - toInt64(uptime()) AS started_s,
    groupUniqArray(rumour_id) AS changed FROM db.rumour_changes_buffer WHERE changed_at >= toDateTime(60)
    >>> print(rumours_changed_since("db", 60, "rumour"))  # doctest: +NORMALIZE_WHITESPACE
    SELECT toInt64(now()) AS now_s,
    (SELECT max(toInt64(now()) - toInt64(uptime())) FROM cluster('rumour', system, one)) AS started_s,
    groupUniqArray(rumour_id) AS changed FROM db.rumour_changes_buffer WHERE changed_at >= toDateTime(60)
    """
    started = "toInt64(now()) - toInt64(uptime())"
    if cluster:
        started = f"(SELECT max({started}) FROM cluster({quote(check_identifier(cluster))}, system, one))"
    return (f"SELECT toInt64(now()) AS now_s, {started} AS started_s, "
            "groupUniqArray(rumour_id) AS changed "
            f"FROM {check_identifier(database)}.rumour_changes_buffer WHERE changed_at >= toDateTime({int(since_s)})")


def top_spreaders(database: str, rumour_id: str, limit: int) -> str:
    """Accounts whose posts were reshared most often in one rumour (debunks excluded):
    (parent_account_id, direct reshares, distinct resharing accounts)."""
    return ("SELECT parent_account_id, count() AS reshares, uniqExact(account_id) AS accounts "
            f"FROM {check_identifier(database)}.share_events FINAL"
            + _where_rumour(rumour_id)
            + " AND parent_account_id IS NOT NULL AND kind != 'debunk'"
            + f" GROUP BY parent_account_id ORDER BY reshares DESC, parent_account_id LIMIT {int(limit)}")


def event_details(database: str, rumour_id: str, event_ids) -> str:
    """(event_id, platform, region, text) of the listed events of one rumour."""
    ids = sorted(set(event_ids))
    cond = f"event_id IN ({', '.join(quote(e) for e in ids)})" if ids else "0"
    return ("SELECT event_id, platform, region, text "
            f"FROM {check_identifier(database)}.share_events FINAL"
            + _where_rumour(rumour_id) + f" AND {cond} ORDER BY event_id")


def account_regions(database: str, rumour_id: str, account_ids) -> str:
    """The distinct (account_id, region) pairs of the listed accounts' events in one rumour,
    events of every kind (the liaison account scope, :mod:`streams.service.identities`).

    >>> print(account_regions("db", "r1", ["b", "a"]))  # doctest: +NORMALIZE_WHITESPACE
    SELECT DISTINCT account_id, region FROM db.share_events FINAL
    WHERE rumour_id = 'r1' AND account_id IN ('a', 'b') ORDER BY account_id, region
    """
    ids = sorted(set(account_ids))
    cond = f"account_id IN ({', '.join(quote(a) for a in ids)})" if ids else "0"
    return ("SELECT DISTINCT account_id, region "
            f"FROM {check_identifier(database)}.share_events FINAL"
            + _where_rumour(rumour_id) + f" AND {cond} ORDER BY account_id, region")


def rumour_accounts(database: str, rumour_id: str) -> str:
    """Every distinct account id that appears in one rumour (as sharer or as parent account)."""
    table = f"{check_identifier(database)}.share_events"
    return (f"SELECT DISTINCT account_id FROM {table}" + _where_rumour(rumour_id)
            + f" UNION ALL SELECT DISTINCT ifNull(parent_account_id, '') FROM {table}"
            + _where_rumour(rumour_id) + " AND parent_account_id IS NOT NULL")
