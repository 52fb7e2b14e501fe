"""Every setting: a name, a default, an environment variable and help text.

The README's settings table is checked against :data:`SETTINGS` by a test, so a setting that is
added here and not documented fails the suite.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    env: str
    help: str
    type: type = str
    minimum: float | None = None  # numbers only: values outside [minimum, maximum] are refused
    maximum: float | None = None
    choices: tuple | None = None  # the only values accepted (None: any value of the type)


# The worker's log levels (Faust's names; a value in capitals is read in lower case).
LOG_LEVELS = ("debug", "info", "warning", "error")

def broker_servers(value: str) -> list[str]:
    """The servers of a ``broker`` value, separated by commas or semicolons, each as written.

    >>> broker_servers("kafka://k1:9092; k2:9092,")
    ['kafka://k1:9092', 'k2:9092']
    """
    return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]


def kafka_broker(value: str) -> str:
    """``value`` if each of its servers (separated by commas or semicolons) is ``host[:port]``,
    optionally as ``kafka://host:port`` (Faust's form), else ValueError (the type of ``broker``:
    a malformed one failed later in int() with a message that named nothing).

    >>> kafka_broker("kafka://k1:9092;k2:9092")
    'kafka://k1:9092;k2:9092'
    >>> kafka_broker("kafka://k1:90x2")
    Traceback (most recent call last):
    ...
    ValueError: expected host:port or kafka://host:port (several separated by commas), got 'kafka://k1:90x2'
    """
    for server in broker_servers(value) or [value]:
        scheme, sep, address = server.rpartition("://")
        host, colon, port = address.rpartition(":") if ":" in address else (address, "", "")
        if ((sep and scheme not in ("kafka", "aiokafka")) or not host or "/" in address
                or (colon and not (port.isdigit() and 0 < int(port) < 65536))):
            raise ValueError("expected host:port or kafka://host:port (several separated by commas), "
                             f"got {server!r}")
    return value


def on_off(value) -> bool:
    """A yes/no setting: true/false, yes/no, on/off, 1/0 (any case), or a bool.

    >>> on_off("TRUE"), on_off("0"), on_off(True)
    (True, False, True)
    >>> on_off("maybe")
    Traceback (most recent call last):
    ...
    ValueError: expected true or false (also yes/no, on/off, 1/0), got 'maybe'
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"expected true or false (also yes/no, on/off, 1/0), got {value!r}")


# The values of liaison_account_scope (streams/service/identities.py applies them; serve's flag
# offers them).
LIAISON_ACCOUNT_SCOPES = ("cascade", "jurisdiction")

SETTINGS: tuple[Setting, ...] = (
    Setting("broker", "kafka://127.0.0.1:9092", "RUMOUR_KAFKA_BROKER",
            "Kafka bootstrap server(s) for the worker and `rumour produce`.", kafka_broker),
    Setting("clickhouse_url", "clickhouse://127.0.0.1:9000/rumour", "RUMOUR_CLICKHOUSE_URL",
            "Store of the worker: clickhouse://host:port/database (server) or chdb:///path (in-process). "
            "On a cluster, several hosts (`clickhouse://h1:9000,h2:9000/database`, or "
            "`?alt_hosts=h2:9000,h3:9000`) are failover hosts: the first that answers is used, the "
            "next when it fails."),
    Setting("clickhouse_cluster", "", "RUMOUR_CLICKHOUSE_CLUSTER",
            "Name of the ClickHouse cluster (remote_servers) the store's tables are spread over: each "
            "table X is X_local (Replicated engine) on every node plus X (Distributed, sharded by "
            "rumour); empty: one server. Only for clickhouse:// URLs (a chdb:// store is refused)."),
    Setting("migrate_allow_changed", False, "RUMOUR_MIGRATE_ALLOW_CHANGED",
            "Migrate (`rumour migrate`, a worker at start) even though a migration file was edited "
            "after it was applied to the store (off: refuse in one line naming the file; restore the "
            "file as released instead when you can). A store migrated by a newer release is refused "
            "whatever this says.", on_off),
    Setting("clickhouse_ddl_timeout", 60, "RUMOUR_CLICKHOUSE_DDL_TIMEOUT",
            "On a cluster, the longest wait in seconds of each ON CLUSTER statement of a migration "
            "(`rumour migrate`, a worker at start) for every node to run it; then it fails naming the "
            "nodes that have not (a stuck DDL worker). Sent as the statements' "
            "distributed_ddl_task_timeout; 0: the server's own (180 s unless its profile says otherwise).",
            int, minimum=0),
    Setting("embedded_store", "chdb://", "RUMOUR_EMBEDDED_STORE",
            "Store of the embedded commands (replay, demo, serve): chdb:// (temporary), chdb:///path, "
            "a clickhouse:// URL, or none."),
    Setting("topic", "shares", "RUMOUR_TOPIC", "Kafka topic of share events."),
    Setting("dead_letter_topic", "shares-dead", "RUMOUR_DEAD_LETTER_TOPIC",
            "Kafka topic that receives refused events with their reason."),
    Setting("topic_partitions", 8, "RUMOUR_TOPIC_PARTITIONS",
            "Partitions of the share topic when the worker creates it (events are keyed by rumour).",
            int, minimum=1),
    # Kafka stores a replication factor as a 16-bit number.
    Setting("topic_replication_factor", 1, "RUMOUR_TOPIC_REPLICATION_FACTOR",
            "Copies (brokers) of each partition of the topics the engine creates (share, dead-letter, "
            "alerts, reports, Faust's own): 1 for a single broker; 3 on a three-broker cluster, so "
            "a broker's loss loses no event. Above the live brokers: refused at start. A topic "
            "that exists keeps its own (a warning says so when it has fewer).",
            int, minimum=1, maximum=32767),
    Setting("topic_min_insync_replicas", 1, "RUMOUR_TOPIC_MIN_INSYNC_REPLICAS",
            "min.insync.replicas of the topics the engine creates: how many copies must have a "
            "message before Kafka acknowledges it (producers use acks=all); at most "
            "topic_replication_factor. 2 with a replication factor of 3: writes go on with one "
            "broker down, and an acknowledged message is on two brokers. (Faust's leader topic too: "
            "the worker creates it.)",
            int, minimum=1),  # its maximum is topic_replication_factor (Settings.__post_init__)
    Setting("app_id", "rumour-trace", "RUMOUR_APP_ID", "Faust application id (the Kafka consumer group)."),
    Setting("batch_size", 5000, "RUMOUR_BATCH_SIZE",
            "Most Kafka messages taken into one batch (one ClickHouse insert, one graph update).",
            int, minimum=1),
    Setting("batch_wait", 0.25, "RUMOUR_BATCH_WAIT",
            "Longest wait in seconds to fill a batch before processing what has arrived (bounds the "
            "produce-to-queryable latency: at most this plus one batch's processing).",
            float, minimum=0),
    Setting("web_host", "127.0.0.1", "RUMOUR_WEB_HOST", "Address the worker's web server binds."),
    Setting("web_port", 6066, "RUMOUR_WEB_PORT", "Port of the worker's web server (trace API).",
            int, minimum=0, maximum=65535),
    Setting("cutoff_k", 10, "RUMOUR_CUTOFF_K", "Number of cut-off accounts reported per rumour.",
            int, minimum=0),
    Setting("max_event_bytes", 1 << 20, "RUMOUR_MAX_EVENT_BYTES",
            "Largest single event accepted; larger ones go to the dead letters.", int, minimum=1),
    Setting("max_message_bytes", 16 << 20, "RUMOUR_MAX_MESSAGE_BYTES",
            "Largest Kafka message or input line accepted (a batch of events).", int, minimum=1),
    Setting("store_retry_seconds", 300.0, "RUMOUR_STORE_RETRY_SECONDS",
            "How long a batch write to the store is retried (with backoff) before the worker gives up.",
            float, minimum=0),
    Setting("kafka_lost_seconds", 30.0, "RUMOUR_KAFKA_LOST_SECONDS",
            "Seconds the worker's consumer may hold no connection to any Kafka broker before /healthz "
            "reports Kafka unreachable (503 degraded; ok again once a connection is back).",
            float, minimum=1),
    Setting("kafka_ack_seconds", 60.0, "RUMOUR_KAFKA_ACK_SECONDS",
            "Seconds `rumour produce` and the worker (its dead letters and alerts) wait for Kafka to "
            "acknowledge any message (acks=all) before they stop with an error naming the likely cause "
            "(e.g. fewer brokers up than topic_min_insync_replicas) and what is pending (the worker: "
            "exit 75, its batch unacked, alerts kept in data_dir); above a broker's failover (about "
            "10-20 s), so one broker lost does not stop them.", float, minimum=1),
    Setting("write_behind", 1, "RUMOUR_WRITE_BEHIND",
            "1: the worker writes batch N to the store while it prepares batch N+1 (N's offsets are "
            "committed after its write); 0: one batch at a time.", int, minimum=0, maximum=1),
    Setting("graph_memory_mb", 2048, "RUMOUR_GRAPH_MEMORY_MB",
            "Memory budget of the rumour graphs a worker keeps (MB); beyond it the least recently "
            "touched rumours are dropped and rebuilt from the store when needed. 0: no limit.",
            int, minimum=0),
    Setting("id_filter_mb", 1.0, "RUMOUR_ID_FILTER_MB",
            "Size (MB) of each of the three fixed-size Bloom filters of rumour ids a worker keeps for "
            "every rumour ever seen (rumours the store holds; rumours whose alert counts or debunk sets "
            "were dropped): a false yes costs one extra store query, never a wrong answer; about 0.1% of "
            "them at 550,000 rumours per MB, 1% at 875,000. 0: exact sets (grow ~90 bytes per rumour).",
            float, minimum=0),
    Setting("late_parent_children", 10_000, "RUMOUR_LATE_PARENT_CHILDREN",
            "Children stored before their parent that a worker remembers (oldest forgotten first, "
            "about 500 bytes each): if the parent then arrives in another rumour, the child's link "
            "is recorded as a dead letter. 0: no such check.", int, minimum=0),
    Setting("gc_collect_seconds", 10.0, "RUMOUR_GC_COLLECT_SECONDS",
            "Seconds between the worker's timed garbage collections (the young generations; every "
            "30th one a full collection), so reference cycles such as clickhouse-driver's columns "
            "are freed whatever the allocation rate. 0: off (no timer; the collector then runs "
            "only after every 50,000 net container allocations).", float, minimum=0),
    Setting("batch_trace", "", "RUMOUR_BATCH_TRACE",
            "Diagnostic: a file the worker appends one JSON line per batch to (when taken, prepared, "
            "written, acked; store and observer seconds). Empty: off."),
    Setting("tokens_file", "", "RUMOUR_TOKENS_FILE",
            "API tokens (stored hashed) and, beside them, the pseudonym and evidence keys; empty means "
            "<project root>/.run/tokens.json. Every worker of a deployment must share it."),
    Setting("token_days", 90, "RUMOUR_TOKEN_DAYS",
            "Days until a token from `rumour token issue` expires, unless --expires-days or --expires "
            "is given; 0: never. Tokens issued before expiries existed keep working (listed as never).",
            int, minimum=0),
    Setting("liaison_account_scope", "cascade", "RUMOUR_LIAISON_ACCOUNT_SCOPE",
            "Account ids a liaison token below the national level sees in clear in traces and "
            "evidence: cascade (every account of a rumour in its jurisdiction) or jurisdiction "
            "(only accounts with an event of that rumour inside its jurisdiction; the others as "
            "their pseudonym). Admin and national tokens see every account in clear either way.",
            choices=LIAISON_ACCOUNT_SCOPES),
    Setting("event_pseudonym_rumours", 32, "RUMOUR_EVENT_PSEUDONYM_RUMOURS",
            "Rumours whose hashed event ids the service keeps for tracing an event by a pseudonym "
            "(pev_...) it did not give out lately (another worker's, or from before a restart): the "
            "most recently looked up. 8 bytes an event (a 10^6-event rumour: 8 MB); an older "
            "rumour is hashed again on its next such lookup (2-3 us an event, off the "
            "service's thread).",
            int, minimum=1),
    Setting("refusal_rows_per_minute", 60, "RUMOUR_REFUSAL_ROWS_PER_MINUTE",
            "Requests refused for their token (401, 503) that get an audit row each, per clock minute "
            "and process (serve, worker); the rest of that minute are counted in one summary row "
            "(auth_failure suppressed), written when the minute is over or the process stops. "
            "0: every refusal is summarised.", int, minimum=0),
    Setting("refusal_summary_peers", 100, "RUMOUR_REFUSAL_SUMMARY_PEERS",
            "Peer addresses a summary row of refused requests counts one by one (the first seen "
            "that minute); the others are one count (other_peers). Bounds that row's size "
            "(about 25 bytes a peer).", int, minimum=0, maximum=10_000),
    Setting("shutdown_write_seconds", 5.0, "RUMOUR_SHUTDOWN_WRITE_SECONDS",
            "At stop (SIGTERM, SIGINT), how long serve and the worker wait for the store to take the "
            "pending summary of refused requests and the worker's batch being written, and for "
            "requests still answering, before giving up: the summary's counts and the number of "
            "messages not stored (delivered again at the next start) are then error lines in the "
            "log, and the worker exits with code 75 at most 5 s later (0 if every message taken was "
            "stored and only its stop was slow). Keep it well below the time "
            "the stop is given before SIGKILL (Docker: 10 s by default; docker-compose.yml's "
            "stop_grace_period).", float, minimum=0.1, maximum=300.0),
    Setting("data_dir", ".run/worker", "RUMOUR_DATA_DIR", "Faust's local data folder for the worker."),
    # str.lower: `INFO` is `info`; any other word was accepted here and ended, after the worker's
    # warm-up, in a traceback from Faust's logging set-up.
    Setting("log_level", "info", "RUMOUR_LOG_LEVEL", "Log level of the worker and `rumour serve`: debug, info, warning, error.",
            str.lower, choices=LOG_LEVELS),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass
class Settings:
    broker: str
    clickhouse_url: str
    clickhouse_cluster: str
    migrate_allow_changed: bool
    clickhouse_ddl_timeout: int
    embedded_store: str
    topic: str
    dead_letter_topic: str
    topic_partitions: int
    topic_replication_factor: int
    topic_min_insync_replicas: int
    app_id: str
    batch_size: int
    batch_wait: float
    web_host: str
    web_port: int
    cutoff_k: int
    max_event_bytes: int
    max_message_bytes: int
    store_retry_seconds: float
    kafka_lost_seconds: float
    kafka_ack_seconds: float
    write_behind: int
    graph_memory_mb: int
    id_filter_mb: float
    late_parent_children: int
    gc_collect_seconds: float
    batch_trace: str
    tokens_file: str
    token_days: int
    liaison_account_scope: str
    event_pseudonym_rumours: int
    refusal_rows_per_minute: int
    refusal_summary_peers: int
    shutdown_write_seconds: float
    data_dir: str
    log_level: str

    def __post_init__(self):
        # A pair Kafka would take (it checks min.insync.replicas only when a message is written):
        # every acks=all write to those topics would then fail with NotEnoughReplicas.
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(f"{setting_label(setting('topic_min_insync_replicas'))}: must be at most "
                             f"topic_replication_factor ({self.topic_replication_factor}), got "
                             f"{self.topic_min_insync_replicas}: no write to the topics could be acknowledged")

    @classmethod
    def load(cls, overrides: dict | None = None, environ=None, flags: dict | None = None) -> "Settings":
        """Defaults, then environment variables, then explicit overrides (e.g. CLI flags;
        ``flags``: see :func:`resolve`).

        >>> Settings.load({"batch_size": 10}, environ={"RUMOUR_TOPIC": "t"}).topic
        't'
        """
        return cls(**resolve(SETTINGS, overrides, environ, flags))


def resolve(settings: tuple[Setting, ...], overrides: dict | None = None, environ=None,
            flags: dict | None = None) -> dict:
    """Values of ``settings``: defaults, then environment variables, then ``overrides``.

    A bad value's error names where it came from: the environment variable, or the flag of the
    command that gave the override (``flags``: setting name -> flag, when it is not the
    setting's own ``--name``, as serve's ``--port`` for web_port). Every command takes only
    some flags: ``RUMOUR_TOKEN_DAYS=abc rumour serve`` named ``--token-days``, which serve lacks.

    >>> resolve((Setting("n", 1, "RUMOUR_N", "a number", int),), environ={"RUMOUR_N": "5"})
    {'n': 5}
    >>> resolve((setting("token_days"),), environ={"RUMOUR_TOKEN_DAYS": "abc"})
    Traceback (most recent call last):
    ...
    ValueError: setting token_days (RUMOUR_TOKEN_DAYS): expected int, got 'abc'
    >>> resolve((setting("web_port"),), {"web_port": -1}, environ={}, flags={"web_port": "--port"})
    Traceback (most recent call last):
    ...
    ValueError: setting web_port (--port): must be at least 0, got -1
    """
    environ = os.environ if environ is None else environ
    flags = flags or {}
    values = {}
    for s in settings:
        value = s.default
        if s.env in environ:
            value = _convert(s, environ[s.env], s.env)
        if overrides and overrides.get(s.name) is not None:
            value = _convert(s, overrides[s.name], flags.get(s.name) or _own_flag(s))
        values[s.name] = value
    return values


def _own_flag(setting: Setting) -> str | None:
    """``--name`` of the engine's own settings (the commands' flags); None for an area's."""
    return f"--{setting.name.replace('_', '-')}" if _BY_NAME.get(setting.name) is setting else None


def _convert(setting: Setting, raw, source: str | None = None):
    """``raw`` as the setting's type, within its bounds, else ValueError naming the setting and
    ``source``, where ``raw`` came from (its environment variable, a flag; None: neither).

    >>> _convert(setting("batch_size"), "0", "--batch-size")
    Traceback (most recent call last):
    ...
    ValueError: setting batch_size (--batch-size): must be at least 1, got '0'
    >>> _convert(Setting("n", 1, "RUMOUR_N", "a count", int, minimum=1), "x", "RUMOUR_N")
    Traceback (most recent call last):
    ...
    ValueError: setting n (RUMOUR_N): expected int, got 'x'
    >>> _convert(setting("liaison_account_scope"), "county")
    Traceback (most recent call last):
    ...
    ValueError: setting liaison_account_scope: expected one of cascade, jurisdiction, got 'county'
    >>> _convert(setting("log_level"), "WARNING")
    'warning'
    >>> _convert(setting("log_level"), "loud", "RUMOUR_LOG_LEVEL")
    Traceback (most recent call last):
    ...
    ValueError: setting log_level (RUMOUR_LOG_LEVEL): expected one of debug, info, warning, error, got 'loud'
    """
    where = f"setting {setting.name} ({source})" if source else f"setting {setting.name}"
    try:
        value = setting.type(raw)
    except (TypeError, ValueError) as exc:
        if setting.type in (int, float, str):
            raise ValueError(f"{where}: expected {setting.type.__name__}, got {raw!r}") from None
        # A setting's own parser (time_zone, alert_levels, ...) says what is wrong itself.
        raise ValueError(f"{where}: {exc}") from None
    if setting.minimum is not None and value < setting.minimum:
        raise ValueError(f"{where}: must be at least {setting.minimum:g}, got {raw!r}")
    if setting.maximum is not None and value > setting.maximum:
        raise ValueError(f"{where}: must be at most {setting.maximum:g}, got {raw!r}")
    if setting.choices is not None and value not in setting.choices:
        raise ValueError(f"{where}: expected one of {', '.join(setting.choices)}, got {raw!r}")
    return value


def setting_label(setting: Setting) -> str:
    """How an error names a setting: its name, environment variable and, for the engine's own
    settings (the commands' flags), its flag.

    >>> setting_label(setting("web_port"))
    'setting web_port (RUMOUR_WEB_PORT, --web-port)'
    >>> setting_label(Setting("n", 1, "RUMOUR_N", "a count", int))
    'setting n (RUMOUR_N)'
    """
    flag = _own_flag(setting)
    return f"setting {setting.name} ({setting.env}{', ' + flag if flag else ''})"


def all_settings() -> tuple[Setting, ...]:
    """Every setting of the engine: the core ones above and those of each area (governance...).

    Areas keep their settings beside their code and load them themselves; this list is what the
    README documents and `rumour settings` prints.
    """
    from streams.governance.config import GOVERNANCE_SETTINGS

    return SETTINGS + GOVERNANCE_SETTINGS


def setting(name: str) -> Setting:
    return _BY_NAME[name]


assert {f.name for f in fields(Settings)} == set(_BY_NAME), "Settings fields and SETTINGS disagree"
