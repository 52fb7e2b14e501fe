"""The ClickHouse schema as numbered ``.sql`` files, and :func:`migrate` to apply them.

The same SQL text runs on Debian's clickhouse-server 18.16 and on chDB (ClickHouse 26.x): the
files use only what both understand (see docs in ``../shared/notes/services.md``). Each file is
``NNN_name.sql``; statements are separated by a ``;`` at the end of a line; lines starting
with ``--`` are comments. ``{database}`` stands for the target database, so every test run can
use its own.

A file whose first lines contain ``-- requires-version: X.Y`` is a version-gated extra: it is
applied only when ``SELECT version()`` is at least X.Y, and is not recorded otherwise (so it is
applied after the server is upgraded). 006 is one: it drops a view that only servers newer
than 18.16 can do without.

A statement preceded by ``-- unless-column: TABLE COLUMN`` (TABLE in the target database) is
skipped when ``system.columns`` already lists that column. It is how a file adds a column:
18.16 has no ``ADD COLUMN IF NOT EXISTS``, and ``system.columns`` reads the same on 18.16 and on
chDB. When a guarded statement fails, the column is looked up again: if it is there now (another
process added it meanwhile), the statement counts as skipped.

A ``CREATE MATERIALIZED VIEW ... TO target AS SELECT ...`` preceded by a line ``-- backfill`` is
followed by ``INSERT INTO target SELECT ...`` (the same SELECT): a view sees only the inserts made
after it exists, and this feeds it the rows its source table already holds, from the view's own
query rather than a copy of it. The SELECT lists the target's columns in the target's order (the
INSERT is positional), and the target must count a row inserted twice once (sets of keys, as
uniqExactState keeps): a re-run after a crash, or a row inserted between the view and the
backfill, is read by both.

Applied files are recorded in ``{database}.schema_migrations``; re-running is a no-op. Every
statement is also ``IF NOT EXISTS`` or guarded, so two processes migrating at once, or a run
interrupted half-way through a file, are harmless.

Given a ``cluster`` (a ``remote_servers`` name), :func:`migrate` applies each statement in its
cluster form (``sql/cluster.py``: ``X_local`` replicated on every node plus a Distributed ``X``),
from the same files.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

SQL_DIR = Path(__file__).resolve().parent
PLACEHOLDER = "{database}"
_NAME_RE = re.compile(r"^(\d{3})_([A-Za-z0-9_]+)\.sql$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_GATE_RE = re.compile(r"^--\s*requires-version:\s*(\d+(?:\.\d+)*)\s*$", re.M)
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")
_GUARD_RE = re.compile(r"^--\s*unless-column:\s*([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)\s*$")
# A guard or backfill comment becomes a marker line while a file is split (it holds no ";"), so
# it stays with the statement that follows it.
_GUARD_MARK = "\0unless-column "
_BACKFILL_RE = re.compile(r"^--\s*backfill\s*$")
_BACKFILL_MARK = "\0backfill"
_VIEW_RE = re.compile(r"^CREATE MATERIALIZED VIEW (?:IF NOT EXISTS )?\S+\s+TO\s+(\S+)\s+AS\s+(SELECT\b.*)$",
                      re.I | re.S)

MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS {database}.schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree()
ORDER BY version"""

Execute = Callable[[str], "list | None"]


class MigrationError(RuntimeError):
    """A migration file is malformed or a statement failed."""


class MigrationRefused(MigrationError, ValueError):
    """The store's record of migrations does not match this release's files (a file edited
    since it was applied, or versions only a newer release has): nothing was run. A ValueError
    too, so a command says it in one line (``rumour: error: ...``, exit 2) and a worker stops at
    once rather than retrying it as an unreachable server."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str
    requires: tuple | None  # minimum server version, or None

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def steps(self, database: str) -> list[tuple[str, tuple | None]]:
        """``(statement, guard)`` pairs: ``guard`` is ``(table, column)`` from an
        ``-- unless-column:`` line before the statement, else None; a view marked ``-- backfill``
        is followed by its backfill.

        >>> m = Migration(13, "x", "-- unless-column: t c\\nALTER TABLE {database}.t ADD COLUMN c Int64;\\n", None)
        >>> m.steps("db1")
        [('ALTER TABLE db1.t ADD COLUMN c Int64', ('t', 'c'))]
        """
        return split_guarded(self.text.replace(PLACEHOLDER, check_identifier(database)))


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain ClickHouse identifier (it is pasted into SQL text).

    >>> check_identifier("rt_test_01ab")
    'rt_test_01ab'
    """
    if not isinstance(name, str) or not _IDENT_RE.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def split_statements(text: str) -> list[str]:
    """Split SQL text into statements at ``;`` + end of line, dropping ``--`` comment lines.

    >>> split_statements("-- a; b\\nSELECT 1;\\nSELECT 2\\n")
    ['SELECT 1', 'SELECT 2']
    """
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in _STATEMENT_END.split(body) if s.strip()]


def split_guarded(text: str) -> list[tuple[str, tuple | None]]:
    """Like :func:`split_statements`, with each statement's ``-- unless-column:`` guard, and the
    backfill of each view marked ``-- backfill`` after it.

    >>> split_guarded("SELECT 1;\\n-- unless-column: t c\\nALTER TABLE t ADD COLUMN c UInt8;\\n")
    [('SELECT 1', None), ('ALTER TABLE t ADD COLUMN c UInt8', ('t', 'c'))]
    >>> split_guarded("-- backfill\\nCREATE MATERIALIZED VIEW v TO n AS SELECT a FROM t;\\n")[1]
    ('INSERT INTO n SELECT a FROM t', None)
    """
    lines = []
    for line in text.splitlines():
        guard = _GUARD_RE.match(line.strip())
        if guard:
            lines.append(_GUARD_MARK + guard.group(1) + " " + guard.group(2))
        elif _BACKFILL_RE.match(line.strip()):
            lines.append(_BACKFILL_MARK)
        elif re.match(r"^--\s*backfill\b", line.strip()):
            # read as a plain comment it would leave the view without its backfill: refuse instead
            raise MigrationError(f"malformed backfill mark (expected '-- backfill' alone): {line.strip()!r}")
        elif re.match(r"^--\s*unless-column\b", line.strip()):
            # read as a plain comment it would leave its statement unguarded: refuse instead
            raise MigrationError(f"malformed guard (expected '-- unless-column: table column'): {line.strip()!r}")
        elif not line.lstrip().startswith("--"):
            lines.append(line)
    out = []
    for chunk in _STATEMENT_END.split("\n".join(lines)):
        marks = [ln for ln in chunk.splitlines() if ln.startswith(_GUARD_MARK)]
        backfill = _BACKFILL_MARK in chunk.splitlines()
        statement = "\n".join(ln for ln in chunk.splitlines()
                              if not ln.startswith((_GUARD_MARK, _BACKFILL_MARK))).strip()
        if len(marks) > 1:
            raise MigrationError(f"one unless-column guard per statement, got {len(marks)}: {statement[:60]!r}")
        guard = tuple(marks[0][len(_GUARD_MARK):].split()) if marks else None
        if guard and not statement:
            raise MigrationError(f"unless-column {' '.join(guard)} guards no statement")
        if guard and guard[1] not in statement:
            # a typo in the guard would let the statement run (and fail) on every re-run
            raise MigrationError(f"unless-column {' '.join(guard)}: the statement does not name {guard[1]}")
        if statement:
            out.append((statement, guard))
        if backfill:
            view = _VIEW_RE.match(statement)
            if not view or guard:
                raise MigrationError("-- backfill must precede a CREATE MATERIALIZED VIEW ... TO table "
                                     f"AS SELECT with no unless-column guard, got: {statement[:60]!r}")
            out.append((f"INSERT INTO {view.group(1)} {view.group(2)}", None))
    return out


def column_exists(execute: Execute, database: str, table: str, column: str) -> bool:
    """Whether ``system.columns`` lists ``database.table.column`` (same query on 18.16 and chDB)."""
    for name in (database, table, column):
        check_identifier(name)
    rows = _rows(execute(f"SELECT count() FROM system.columns WHERE database = '{database}' "
                         f"AND table = '{table}' AND name = '{column}'"))
    return bool(rows) and int(rows[0][0]) > 0


def load_migrations(directory: Path | str | None = None) -> list[Migration]:
    """The ``NNN_name.sql`` files of ``directory`` (default: this package), in version order."""
    folder = Path(directory) if directory is not None else SQL_DIR
    found = []
    seen = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        version = int(match.group(1))
        if version in seen:
            raise MigrationError(f"{path.name}: version {version} also used by {seen[version]}")
        seen[version] = path.name
        text = path.read_text(encoding="utf-8")
        gate = _GATE_RE.search(text)
        requires = parse_version(gate.group(1)) if gate else None
        try:
            split_guarded(text)  # a malformed guard fails at load, not half-way through a run
        except MigrationError as exc:
            raise MigrationError(f"{path.name}: {exc}") from None
        found.append(Migration(version, path.stem, text, requires))
    return found


def parse_version(text: str) -> tuple:
    """``'18.16.1'`` -> ``(18, 16, 1)``; trailing non-numeric parts are ignored.

    >>> parse_version("26.9.1.1-chdb") > parse_version("18.16.1")
    True
    """
    parts = []
    for piece in str(text).split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group(0)))
    return tuple(parts)


def _rows(result) -> list:
    return list(result) if result else []


def _layout(todo: list[Migration], database: str, cluster: str | None):
    """The cluster form of ``todo``'s tables (None without a cluster)."""
    if not cluster:
        return None
    from .cluster import ClusterFormError, ClusterLayout, shard_keys
    try:
        return ClusterLayout(cluster, database, shard_keys(m.text for m in todo))
    except ClusterFormError as exc:
        raise MigrationError(f"cluster form: {exc}") from None


def _setup_statements(database: str, layout) -> list[str]:
    """The database and the migrations record, created if missing (first of every run)."""
    table = MIGRATIONS_TABLE.replace(PLACEHOLDER, database)
    if layout is not None:
        return [layout.create_database(), layout.migrations_table(table)]
    return [f"CREATE DATABASE IF NOT EXISTS {database}", table]


def _due(execute: Execute, todo: list[Migration], applied: set) -> list[Migration]:
    """The migrations of ``todo`` a run applies: not recorded in ``applied``, and not gated on a
    server version newer than this one's."""
    server_version = None
    out = []
    for mig in todo:
        if mig.version in applied:
            continue
        if mig.requires is not None:
            if server_version is None:
                server_version = parse_version(_rows(execute("SELECT version()"))[0][0])
            if server_version < mig.requires:
                continue
        out.append(mig)
    return out


def _statements(mig: Migration, database: str, layout) -> list[tuple[str, tuple | None]]:
    """``mig``'s ``(statement, guard)`` steps, in their cluster form with a ``layout``."""
    steps = mig.steps(database)
    if layout is None:
        return steps
    from .cluster import ClusterFormError
    try:
        return [step for statement, guard in steps for step in layout.statements(statement, guard)]
    except ClusterFormError as exc:
        raise MigrationError(f"{mig.name}: cluster form: {exc}") from None


def record_statement(database: str, mig: Migration) -> str:
    """The INSERT that records ``mig`` as applied (after its last statement)."""
    # INSERT ... SELECT rather than VALUES: clickhouse-driver hangs on inline VALUES
    # against 18.16. The name matched NNN_[A-Za-z0-9_]+ and the checksum is hex: safe to inline.
    return (f"INSERT INTO {database}.schema_migrations (version, name, checksum) "
            f"SELECT {mig.version}, '{mig.name}', '{mig.checksum}'")


def recorded_rows(execute: Execute, database: str) -> dict:
    """version -> (name, {checksums}) of ``{database}.schema_migrations`` (which must exist): a
    version recorded twice (two processes migrating at once) has one row per run."""
    out: dict = {}
    for version, name, checksum in _rows(execute(
            f"SELECT version, name, checksum FROM {database}.schema_migrations ORDER BY version, applied_at")):
        out.setdefault(int(version), (name, set()))[1].add(checksum)
    return out


def short(checksum: str) -> str:
    """The first 8 hex digits of a checksum: enough to tell two texts apart in one line."""
    return checksum[:8]


def compare_record(recorded: dict, todo: Iterable[Migration]) -> tuple[list, list]:
    """``(newer, changed)`` of a store's record (see :func:`recorded_rows`) against this
    release's files, in version order: ``(version, name)`` recorded with no file here, and
    ``(Migration, {checksums recorded})`` of the applied files whose text has changed since.

    >>> a = Migration(1, "001_a", "SELECT 1;", None)
    >>> newer, changed = compare_record({1: ("001_a", {"x"}), 26: ("026_x", {"y"})}, [a])
    >>> newer, [(m.name, sums) for m, sums in changed]
    ([(26, '026_x')], [('001_a', {'x'})])
    """
    files = {m.version: m for m in todo}
    newer = [(v, name) for v, (name, _) in sorted(recorded.items()) if v not in files]
    changed = [(files[v], sums) for v, (_, sums) in sorted(recorded.items())
               if v in files and sums != {files[v].checksum}]
    return newer, changed


def refusal(recorded: dict, todo: Iterable[Migration], database: str, allow_changed: bool = False) -> str | None:
    """Why a run must not touch a store whose record is ``recorded`` (see :func:`recorded_rows`),
    in one line, or None. A version recorded with no file here is a store migrated by a newer
    release (a downgrade): this release's code and files do not know its schema, and no setting
    overrides that. An applied file whose text has changed since (its checksum) means this
    release's files are not the ones released: refused unless ``allow_changed``, like Flyway's
    validate, for the store no longer is what the files say it is.

    >>> a = Migration(1, "001_a", "SELECT 1;\\n", None)
    >>> refusal({1: ("001_a", {a.checksum})}, [a], "db") is None
    True
    >>> refusal({1: ("001_a", {a.checksum}), 26: ("026_x", {"ab"})}, [a], "db")
    'the store was migrated by a newer release: 026_x (recorded in db.schema_migrations, not among the files of this release); run that release or restore a backup'
    >>> print(refusal({1: ("001_a", {"0123456789abcdef"})}, [a], "db"))  # doctest: +ELLIPSIS
    migration files edited since they were applied: 001_a.sql (applied as 01234567, now ...); restore them as released ...
    >>> refusal({1: ("001_a", {"0123456789abcdef"})}, [a], "db", allow_changed=True) is None
    True
    """
    newer, changed = compare_record(recorded, todo)
    if newer:
        return (f"the store was migrated by a newer release: {', '.join(name for _, name in newer)} (recorded in "
                f"{database}.schema_migrations, not among the files of this release); "
                "run that release or restore a backup")
    if not changed or allow_changed:
        return None
    named = ", ".join(f"{m.name}.sql (applied as {'/'.join(short(c) for c in sorted(sums))}, now {short(m.checksum)})"
                      for m, sums in changed)
    return (f"migration files edited since they were applied: {named}; restore them as released "
            "(a fix goes in a new file), or set migrate_allow_changed (RUMOUR_MIGRATE_ALLOW_CHANGED=true) "
            "to run with them as they are")


def migrate(execute: Execute, database: str, directory: Path | str | None = None,
            migrations: Iterable[Migration] | None = None, cluster: str | None = None,
            allow_changed: bool = False) -> list[str]:
    """Create ``database`` if needed and apply the migrations not yet recorded there.

    ``execute(sql)`` runs one statement and returns its rows (a list of tuples) for a SELECT.
    Returns the names of the files applied by this call (empty when up to date). With
    ``cluster``, every statement runs in its cluster form (``ON CLUSTER``, sql/cluster.py).
    :mod:`sql.plan` says what a run would do without doing it (``rumour migrate --dry-run``).
    Raises :class:`MigrationRefused`, having run nothing but the setup, when :func:`refusal`
    says so (``allow_changed``: run despite applied files edited since).
    """
    check_identifier(database)
    todo = list(migrations) if migrations is not None else load_migrations(directory)
    layout = _layout(todo, database, cluster)
    for statement in _setup_statements(database, layout):
        execute(statement)
    if layout is not None:
        # A node added to the cluster since gets its copy of the record from the set-up just run
        # and fetches the rows after it: read before then, files applied long ago read as due and
        # would run again (a backfill too). The wait is the connected node's, for its own copy.
        execute(f"SYSTEM SYNC REPLICA {database}.schema_migrations")
    recorded = recorded_rows(execute, database)
    refused = refusal(recorded, todo, database, allow_changed)
    if refused:
        raise MigrationRefused(refused)
    done = []
    for mig in _due(execute, todo, set(recorded)):
        for statement, guard in _statements(mig, database, layout):
            if guard is not None and column_exists(execute, database, *guard):
                continue
            try:
                execute(statement)
            except Exception as exc:  # the backend's own error type varies
                # Another process may have added the guarded column since the check: harmless.
                if guard is not None and column_exists(execute, database, *guard):
                    continue
                raise MigrationError(f"{mig.name}: {exc}\n-- statement:\n{statement}") from exc
        execute(record_statement(database, mig))
        done.append(mig.name)
    return done


def applied_versions(execute: Execute, database: str) -> list[int]:
    """Versions recorded in ``{database}.schema_migrations``, ascending."""
    check_identifier(database)
    rows = _rows(execute(f"SELECT DISTINCT version FROM {database}.schema_migrations ORDER BY version"))
    return [int(r[0]) for r in rows]
