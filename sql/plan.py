"""What :func:`sql.migrate` would do to a database, found without changing it: the operator's
``rumour migrate --status`` (applied, pending, files changed since applied) and ``--dry-run``
(the statements, in the cluster form too). Both only read: ``system.tables``,
``system.columns``, ``schema_migrations`` and ``SELECT version()``; a database that does not
exist yet reads as nothing applied.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import (Execute, Migration, MigrationRefused, _due, _layout, _rows, _setup_statements, _statements,
               check_identifier, column_exists, compare_record, load_migrations, record_statement, recorded_rows,
               refusal)


@dataclass
class MigrationStatus:
    database: str
    applied: list = field(default_factory=list)   # (version, name, recorded checksum)
    pending: list = field(default_factory=list)   # Migration: a run applies these, in order
    gated: list = field(default_factory=list)     # Migration: not applied, need a newer server
    changed: list = field(default_factory=list)   # (name, recorded checksums, the file's now)
    unknown: list = field(default_factory=list)   # (version, name): recorded by a newer release
    refusal: str | None = None                    # why a run refuses (sql.refusal), changed files counted

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.changed and not self.unknown

    def lines(self) -> list[str]:
        """The status as text, one fact a line (what ``rumour migrate --status`` prints).

        >>> s = MigrationStatus("db", applied=[(1, "001_a", "ab12")], pending=[Migration(2, "002_b", "", None)])
        >>> print("\\n".join(s.lines()))
        database db: 1 applied, 1 pending
        applied  001_a  ab12
        pending  002_b  e3b0c44298fc1c14
        """
        head = f"database {self.database}: {len(self.applied)} applied, {len(self.pending)} pending"
        if self.changed:
            head += f", {len(self.changed)} changed since applied"
        if self.unknown:
            head += f", {len(self.unknown)} from a newer release"
        out = [head]
        out += [f"applied  {name}  {checksum}" for _, name, checksum in self.applied]
        out += [f"pending  {m.name}  {m.checksum}" for m in self.pending]
        out += [f"gated    {m.name}  needs server {'.'.join(map(str, m.requires))}" for m in self.gated]
        out += [f"CHANGED  {name}  applied as {', '.join(recorded)}, file is now {now}"
                for name, recorded, now in self.changed]
        out += [f"NEWER    {name}  applied by a newer release: this release does not have the file"
                for _, name in self.unknown]
        if self.refusal:
            out.append(f"a run refuses: {self.refusal}")
        return out


def _recorded(execute: Execute, database: str) -> dict | None:
    """version -> (name, {checksums}) recorded in the database, or None when it has no record."""
    check_identifier(database)
    exists = _rows(execute("SELECT count() FROM system.tables "
                           f"WHERE database = '{database}' AND name = 'schema_migrations'"))
    if not exists or not int(exists[0][0]):
        return None
    return recorded_rows(execute, database)


def migration_status(execute: Execute, database: str, directory: Path | str | None = None,
                     migrations: Iterable[Migration] | None = None,
                     allow_changed: bool = False) -> MigrationStatus:
    """Which migrations ``database`` has, which a run would apply, which applied files differ
    from the text applied (their checksum), which a newer release recorded, and why a run
    (with ``allow_changed``) would refuse: read only."""
    todo = list(migrations) if migrations is not None else load_migrations(directory)
    recorded = _recorded(execute, database) or {}
    status = MigrationStatus(database)
    status.applied = [(version, name, ", ".join(sorted(checksums)))
                      for version, (name, checksums) in sorted(recorded.items())]
    status.unknown, changed = compare_record(recorded, todo)
    status.changed = [(mig.name, sorted(checksums), mig.checksum) for mig, checksums in changed]
    status.pending = _due(execute, todo, set(recorded))
    due = {m.version for m in status.pending}
    status.gated = [m for m in todo if m.version not in recorded and m.version not in due]
    status.refusal = refusal(recorded, todo, database, allow_changed)
    return status


def dry_run(execute: Execute, database: str, directory: Path | str | None = None,
            migrations: Iterable[Migration] | None = None, cluster: str | None = None,
            allow_changed: bool = False) -> list[str]:
    """The statements :func:`sql.migrate` would run now, as SQL text (each ending in ``;``,
    a ``--`` line naming each file first); a guarded statement whose column is there already
    is listed as a comment, as the run skips it. Empty when the database is up to date.
    Raises :class:`sql.MigrationRefused` when the run would refuse."""
    check_identifier(database)
    todo = list(migrations) if migrations is not None else load_migrations(directory)
    layout = _layout(todo, database, cluster)
    recorded = _recorded(execute, database)
    refused = refusal(recorded or {}, todo, database, allow_changed)
    if refused:
        raise MigrationRefused(refused)
    pending = _due(execute, todo, set(recorded or ()))
    if recorded is not None and not pending:
        return []
    out = []
    if recorded is None:
        out.append("-- the database and its record of migrations")
        out += [s + ";" for s in _setup_statements(database, layout)]
    for mig in pending:
        out.append(f"-- {mig.name} (checksum {mig.checksum})")
        for statement, guard in _statements(mig, database, layout):
            if guard is not None and recorded is not None and column_exists(execute, database, *guard):
                out.append(f"-- skipped, {guard[0]}.{guard[1]} exists: " + " ".join(statement.split()))
            else:
                out.append(statement + ";")
        out.append(record_statement(database, mig) + ";")
    return out
