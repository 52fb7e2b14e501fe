"""The cluster form of the schema: each statement of the ``NNN_name.sql`` files rewritten for a
ClickHouse cluster (``remote_servers``), applied by :func:`sql.migrate` when given a cluster.

The files stay the one source of the schema; here each table ``X`` becomes

- ``X_local``, created ``ON CLUSTER`` on every node with the Replicated variant of its engine
  (ZooKeeper path ``/clickhouse/tables/{shard}/<database>/X_local``, replica ``{replica}``:
  the ``shard`` and ``replica`` macros of each server's config; the database is written
  literally, 18.16 has no ``{database}`` macro), same columns, ORDER BY and PARTITION BY;
- ``X``, created ``ON CLUSTER`` as ``Distributed(cluster, <database>, X_local, <key>)``: what
  every query reads and writes, so sql/queries.py and sql/governance_queries.py run unchanged.

Sharding key: ``cityHash64(rumour_id)`` for a table with a rumour_id (one rumour's rows on one
shard, as its events are on one Kafka partition: FINAL's dedup and per-rumour reads stay
right); else a hash of the ORDER BY key (the dedup key: a re-sent copy lands on the same shard
and still collapses); a ``-- shard-key: EXPR`` line right before a CREATE TABLE overrides both
(sql/005: the packed rows carry rumour_id inside ``fields``). A table created ``AS`` another
(a Buffer) takes that table's key. Null and Buffer engines stay as they are (Buffer pointed at
the local table): they hold no replicated data.

Materialized views are created ON CLUSTER reading and writing the ``_local`` tables: each shard
aggregates its own rows, and reads merge the shards' states through the Distributed table.
A backfill (``INSERT INTO T SELECT ... FROM S``) goes through the Distributed tables: exact for
the aggregate-state targets (sets and maxima merge across shards); a row inserted while it runs
may land on two shards of a ReplacingMergeTree target not keyed by rumour (FINAL collapses per
shard). ``ALTER TABLE X ADD COLUMN`` alters ``X_local`` ON CLUSTER, then drops and re-creates
the Distributed ``X`` (18.16 refuses ALTER ... ON CLUSTER on a Distributed table when the
shards use internal replication, error 371; a Distributed table holds no data), each step with
its own column guard. ``DROP TABLE X`` drops ``X`` then ``X_local`` (a view has no
``_local``: IF EXISTS makes that a no-op), so 022's order (view first) is kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from . import check_identifier

LOCAL_SUFFIX = "_local"
MERGE_TREES = {"MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree",
               "CollapsingMergeTree", "VersionedCollapsingMergeTree", "GraphiteMergeTree"}
UNREPLICATED = {"Null", "Buffer"}

_CREATE_RE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s*", re.I)
_AS_RE = re.compile(r"^AS (\w+)\.(\w+)\s*", re.I)
_ENGINE_RE = re.compile(r"^ENGINE\s*=\s*(\w+)\s*", re.I)
_ORDER_RE = re.compile(r"\bORDER BY\s+(.+?)\s*(?:\bPRIMARY KEY\b|\bSAMPLE BY\b|\bSETTINGS\b|$)", re.I | re.S)
_VIEW_RE = re.compile(r"^(CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\.(\w+))(\s.*)$", re.I | re.S)
_ALTER_RE = re.compile(r"^ALTER TABLE (\w+)\.(\w+)\s+(ADD COLUMN\s+(\w+)\b.*)$", re.I | re.S)
_DROP_RE = re.compile(r"^DROP TABLE IF EXISTS (\w+)\.(\w+)\s*$", re.I)
_SHARD_KEY_RE = re.compile(r"^--\s*shard-key:\s*(.+?)\s*\n(CREATE TABLE IF NOT EXISTS \S+?\.(\w+))", re.M)


class ClusterFormError(ValueError):
    """A statement the cluster form does not know how to rewrite."""


def closing(text: str, start: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``text[start]`` (quoted text skipped).

    >>> s = "(a Enum8('x(' = 1), b DateTime('UTC')) ENGINE"
    >>> s[:closing(s, 0) + 1]
    "(a Enum8('x(' = 1), b DateTime('UTC'))"
    """
    depth, i, quote = 0, start, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'`\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ClusterFormError(f"unbalanced parentheses: {text[start:start + 60]!r}")


@dataclass(frozen=True)
class Table:
    """A CREATE TABLE statement cut into its parts."""
    database: str
    name: str
    body: str      # "(columns)" or "AS db.source"
    source: str    # the AS source's name, or ''
    engine: str
    engine_args: str
    rest: str      # PARTITION BY / ORDER BY / ... after the engine

    @classmethod
    def parse(cls, statement: str) -> "Table":
        """
        >>> t = Table.parse("CREATE TABLE IF NOT EXISTS d.t (a String, b Enum8('x' = 1))\\n"
        ...                 "ENGINE = ReplacingMergeTree(v) ORDER BY (a, b)")
        >>> t.name, t.engine, t.engine_args, t.rest
        ('t', 'ReplacingMergeTree', 'v', 'ORDER BY (a, b)')
        >>> Table.parse("CREATE TABLE IF NOT EXISTS d.b AS d.t ENGINE = Buffer(d, t, 1)").source
        't'
        """
        head = _CREATE_RE.match(statement)
        if not head:
            raise ClusterFormError(f"not a CREATE TABLE IF NOT EXISTS db.name: {statement[:60]!r}")
        pos = head.end()
        source = ""
        if statement.startswith("(", pos):
            end = closing(statement, pos) + 1
        else:
            as_ = _AS_RE.match(statement[pos:])
            if not as_:
                raise ClusterFormError(f"expected columns or AS db.table: {statement[:60]!r}")
            source, end = as_.group(2), pos + as_.end()
        body = statement[pos:end].strip()
        tail = statement[end:].lstrip()
        engine = _ENGINE_RE.match(tail)
        if not engine:
            raise ClusterFormError(f"expected ENGINE = ...: {statement[:60]!r}")
        args_at = engine.end()
        args, rest = "", tail[args_at:]
        if tail.startswith("(", args_at):
            close = closing(tail, args_at)
            args, rest = tail[args_at + 1:close].strip(), tail[close + 1:]
        return cls(head.group(1), head.group(2), body, source, engine.group(1), args, rest.strip())

    def default_key(self) -> str:
        """``cityHash64(rumour_id)`` with a rumour_id column, else a hash of the ORDER BY key.

        >>> Table.parse("CREATE TABLE IF NOT EXISTS d.t (rumour_id String, x UInt8) "
        ...             "ENGINE = MergeTree() ORDER BY x").default_key()
        'cityHash64(rumour_id)'
        >>> Table.parse("CREATE TABLE IF NOT EXISTS d.t (hour DateTime, x UInt8) "
        ...             "ENGINE = MergeTree() ORDER BY (hour, x)").default_key()
        'cityHash64(hour, x)'
        """
        if re.search(r"[(,]\s*rumour_id\s", self.body):
            return "cityHash64(rumour_id)"
        order = _ORDER_RE.search(self.rest)
        if not order:
            raise ClusterFormError(f"{self.name}: no rumour_id and no ORDER BY to shard by "
                                   "(add a '-- shard-key: EXPR' line before its CREATE TABLE)")
        key = order.group(1).strip()
        if key.startswith("(") and closing(key, 0) == len(key) - 1:
            key = key[1:-1].strip()
        return f"cityHash64({key})"


def shard_keys(texts: Iterable[str]) -> dict:
    """``table -> sharding key`` over the CREATE TABLE statements of the migration ``texts``
    (``{database}`` already substituted or not).

    >>> shard_keys(["CREATE TABLE IF NOT EXISTS {database}.a (rumour_id String) ENGINE = Null;\\n"
    ...             "-- shard-key: cityHash64(f)\\nCREATE TABLE IF NOT EXISTS {database}.b (f String) ENGINE = Null;\\n"
    ...             "CREATE TABLE IF NOT EXISTS {database}.c AS {database}.a ENGINE = Buffer(x, a, 1);\\n"])
    {'a': 'cityHash64(rumour_id)', 'b': 'cityHash64(f)', 'c': 'cityHash64(rumour_id)'}
    """
    from . import split_statements

    keys: dict = {}
    for text in texts:
        marked = {m.group(3): m.group(1) for m in _SHARD_KEY_RE.finditer(text)}
        for statement in split_statements(text.replace("{database}", "db")):
            if not _CREATE_RE.match(statement):
                continue
            table = Table.parse(statement)
            if table.name in marked:
                keys[table.name] = marked[table.name]
            elif table.source:
                if table.source not in keys:
                    raise ClusterFormError(f"{table.name}: created AS {table.source}, which is not created before it")
                keys[table.name] = keys[table.source]
            elif table.engine in UNREPLICATED and not _ORDER_RE.search(table.rest) \
                    and not re.search(r"[(,]\s*rumour_id\s", table.body):
                raise ClusterFormError(f"{table.name}: a {table.engine} table with no rumour_id needs a "
                                       "'-- shard-key: EXPR' line before its CREATE TABLE")
            else:
                keys[table.name] = table.default_key()
    return keys


@dataclass(frozen=True)
class ClusterLayout:
    """How the schema of ``database`` is laid out on ``cluster``; ``keys``: :func:`shard_keys`."""
    cluster: str
    database: str
    keys: dict = field(default_factory=dict)

    def __post_init__(self):
        check_identifier(self.cluster)
        check_identifier(self.database)

    def on(self) -> str:
        return f"ON CLUSTER {self.cluster}"

    def zk_path(self, table: str) -> str:
        return f"/clickhouse/tables/{{shard}}/{self.database}/{table}"

    def _localise(self, text: str) -> str:
        # db.X -> db.X_local for every table X of the schema (views keep their names)
        def swap(m):
            name = m.group(1)
            return f"{self.database}.{name}{LOCAL_SUFFIX}" if name in self.keys else m.group(0)
        return re.sub(rf"\b{self.database}\.(\w+)\b", swap, text)

    def create_database(self) -> str:
        """
        >>> ClusterLayout("rumour", "db1").create_database()
        'CREATE DATABASE IF NOT EXISTS db1 ON CLUSTER rumour'
        """
        return f"CREATE DATABASE IF NOT EXISTS {self.database} {self.on()}"

    def drop_database(self) -> str:
        return f"DROP DATABASE IF EXISTS {self.database} {self.on()}"

    def migrations_table(self, statement: str) -> str:
        """The migrations record as ONE table replicated on every node (a ZooKeeper path
        without ``{shard}``): whichever node a process connects to, it sees what was applied,
        and a record written through any node reaches all. Needs a ``{replica}`` macro unique
        across the cluster (not only within a shard).

        >>> ClusterLayout("c", "db").migrations_table(
        ...     "CREATE TABLE IF NOT EXISTS db.schema_migrations (v UInt32) ENGINE = MergeTree() ORDER BY v")
        "CREATE TABLE IF NOT EXISTS db.schema_migrations ON CLUSTER c (v UInt32) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/db/schema_migrations', '{replica}') ORDER BY v"
        """
        t = Table.parse(statement)
        path = f"/clickhouse/tables/all/{self.database}/{t.name}"
        return (f"CREATE TABLE IF NOT EXISTS {t.database}.{t.name} {self.on()} {t.body} "
                f"ENGINE = Replicated{t.engine}('{path}', '{{replica}}') {t.rest}")

    def distributed(self, table: str) -> str:
        """The Distributed ``table`` over ``table_local``.

        >>> ClusterLayout("c", "db", {"t": "cityHash64(rumour_id)"}).distributed("t")
        'CREATE TABLE IF NOT EXISTS db.t ON CLUSTER c AS db.t_local ENGINE = Distributed(c, db, t_local, cityHash64(rumour_id))'
        """
        db, local = self.database, table + LOCAL_SUFFIX
        return (f"CREATE TABLE IF NOT EXISTS {db}.{table} {self.on()} AS {db}.{local} "
                f"ENGINE = Distributed({self.cluster}, {db}, {local}, {self.keys[table]})")

    def _local_table(self, t: Table) -> str:
        db, local = self.database, t.name + LOCAL_SUFFIX
        if t.engine in MERGE_TREES:
            args = f"'{self.zk_path(local)}', '{{replica}}'" + (f", {t.engine_args}" if t.engine_args else "")
            engine = f"Replicated{t.engine}({args})"
        elif t.engine == "Buffer":
            engine = f"Buffer({self._buffer_args(t.engine_args)})"
        elif t.engine == "Null":
            engine = "Null"
        else:
            raise ClusterFormError(f"{t.name}: no cluster form for engine {t.engine}")
        body = self._localise(t.body) if t.source else t.body
        rest = f" {t.rest}" if t.rest else ""
        return f"CREATE TABLE IF NOT EXISTS {db}.{local} {self.on()} {body} ENGINE = {engine}{rest}"

    def _buffer_args(self, args: str) -> str:
        # Buffer(database, table, ...) -> the same over table_local
        parts = [p.strip() for p in args.split(",")]
        if len(parts) < 2 or parts[1] not in self.keys:
            raise ClusterFormError(f"Buffer over an unknown table: {args!r}")
        parts[1] += LOCAL_SUFFIX
        return ", ".join(parts)

    def statements(self, statement: str, guard: tuple | None = None) -> list[tuple[str, tuple | None]]:
        """The cluster form of one migration step ``(statement, guard)``, as a list of steps.

        >>> lay = ClusterLayout("c", "db", {"e": "cityHash64(rumour_id)", "n": "cityHash64(rumour_id)"})
        >>> for s, g in lay.statements("CREATE TABLE IF NOT EXISTS db.e (rumour_id String, v UInt8)\\n"
        ...                            "ENGINE = ReplacingMergeTree(v) ORDER BY rumour_id"):
        ...     print(s)
        CREATE TABLE IF NOT EXISTS db.e_local ON CLUSTER c (rumour_id String, v UInt8) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/e_local', '{replica}', v) ORDER BY rumour_id
        CREATE TABLE IF NOT EXISTS db.e ON CLUSTER c AS db.e_local ENGINE = Distributed(c, db, e_local, cityHash64(rumour_id))
        >>> lay.statements("CREATE MATERIALIZED VIEW IF NOT EXISTS db.v TO db.n AS SELECT rumour_id FROM db.e")[0][0]
        'CREATE MATERIALIZED VIEW IF NOT EXISTS db.v ON CLUSTER c TO db.n_local AS SELECT rumour_id FROM db.e_local'
        >>> [s for s, g in lay.statements("DROP TABLE IF EXISTS db.v")]
        ['DROP TABLE IF EXISTS db.v ON CLUSTER c', 'DROP TABLE IF EXISTS db.v_local ON CLUSTER c']
        >>> for s, g in lay.statements("ALTER TABLE db.e ADD COLUMN c String DEFAULT ''", ("e", "c")):
        ...     print(g, s[:50])
        ('e_local', 'c') ALTER TABLE db.e_local ON CLUSTER c ADD COLUMN c S
        ('e', 'c') DROP TABLE IF EXISTS db.e ON CLUSTER c
        ('e', 'c') CREATE TABLE IF NOT EXISTS db.e ON CLUSTER c AS db
        >>> lay.statements("INSERT INTO db.n SELECT rumour_id FROM db.e")
        [('INSERT INTO db.n SELECT rumour_id FROM db.e', None)]
        """
        text = statement.strip()
        db = self.database
        if _CREATE_RE.match(text):
            t = Table.parse(text)
            if t.database != db:
                raise ClusterFormError(f"{t.name}: created in {t.database}, not {db}")
            if t.name not in self.keys:
                raise ClusterFormError(f"{t.name}: no sharding key (not among the migrations' tables)")
            return [(self._local_table(t), guard), (self.distributed(t.name), guard)]
        view = _VIEW_RE.match(text)
        if view:
            return [(f"{view.group(1)} {self.on()}{self._localise(view.group(4))}", guard)]
        alter = _ALTER_RE.match(text)
        if alter:
            table, column = alter.group(2), alter.group(4)
            if table not in self.keys:
                raise ClusterFormError(f"ALTER of {table}, which no migration creates")
            local = table + LOCAL_SUFFIX
            return [(f"ALTER TABLE {db}.{local} {self.on()} {alter.group(3)}", (local, column)),
                    (f"DROP TABLE IF EXISTS {db}.{table} {self.on()}", (table, column)),
                    (self.distributed(table), (table, column))]
        drop = _DROP_RE.match(text)
        if drop:
            name = drop.group(2)
            return [(f"DROP TABLE IF EXISTS {db}.{name} {self.on()}", guard),
                    (f"DROP TABLE IF EXISTS {db}.{name}{LOCAL_SUFFIX} {self.on()}", guard)]
        if re.match(r"^INSERT INTO \w+\.\w+\s+SELECT\b", text, re.I):
            return [(text, guard)]
        raise ClusterFormError(f"no cluster form for this statement: {text[:80]!r}")


_MADE_RE = re.compile(r"^CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)\.(\w+) ON CLUSTER\b", re.I)
_DROPPED_RE = re.compile(r"^DROP TABLE IF EXISTS (\w+)\.(\w+) ON CLUSTER\b", re.I)


def cluster_tables(database: str, cluster: str, migrations: Iterable) -> list[str]:
    """The tables and views of ``database`` that ``migrations`` (the applied ones, in version
    order) leave on every node of ``cluster``, in the order they were first made (a table
    before the tables and views over it), the migrations record first: what a node added to
    ``remote_servers`` after them must hold (their ON CLUSTER statements never reached it).

    >>> from sql import Migration
    >>> a = Migration(1, "001_a", "CREATE TABLE IF NOT EXISTS {database}.e (rumour_id String) "
    ...               "ENGINE = MergeTree() ORDER BY rumour_id;\\n"
    ...               "CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.v TO {database}.e "
    ...               "AS SELECT rumour_id FROM {database}.e;\\n", None)
    >>> b = Migration(2, "002_b", "DROP TABLE IF EXISTS {database}.v;\\n", None)
    >>> cluster_tables("db", "c", [a])
    ['schema_migrations', 'e_local', 'e', 'v']
    >>> cluster_tables("db", "c", [a, b])
    ['schema_migrations', 'e_local', 'e']
    """
    from . import _layout, _statements

    migrations = list(migrations)
    layout = _layout(migrations, database, cluster)
    made = {"schema_migrations": None}  # an ordered set
    for mig in migrations:
        for statement, _ in _statements(mig, database, layout):
            create, drop = _MADE_RE.match(statement), _DROPPED_RE.match(statement)
            if create and create.group(2) not in made:
                made[create.group(2)] = None
            elif drop:
                made.pop(drop.group(2), None)
    return list(made)
