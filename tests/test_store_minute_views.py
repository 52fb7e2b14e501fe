"""The minute-count views on each engine (sql/005, sql/006): events sent through share_event_rows
are counted once, by one view, on a current engine (chDB) as on clickhouse-server 18.16, and a
database made before 006 upgrades without losing or doubling counts."""
from __future__ import annotations

import time

import sql
from streams.events import EventBatch
from streams.store.clickhouse import event_rows_columns
from streams.store.embedded import ChdbStore
from tests.test_store_insert_path import rich_batch


def _plain_minute_counts(batch: EventBatch, rumour: str) -> dict:
    plain: dict = {}
    for r in batch.rows():
        if r["rumour_id"] == rumour:
            key = (r["ts"] // 60_000 * 60_000, r["region"], r["kind"])
            plain[key] = plain.get(key, 0) + 1
    return plain


def _insert_rows_chdb(store, batch: EventBatch) -> None:
    """What ClickHouseStore.write sends, inserted into chDB's share_event_rows."""
    import pyarrow as pa

    fields, texts, ts_ms = event_rows_columns(batch)
    store._insert_python(f"INSERT INTO {store.database}.share_event_rows",
                         pa.table({"fields": pa.array(fields, pa.binary()), "text": pa.array(texts, pa.binary()),
                                   "ts_ms": pa.array(ts_ms, pa.int64())}))


def _months(batch: EventBatch) -> int:
    return len({time.strftime("%Y%m", time.gmtime(int(t) // 1000)) for t in batch.ts_ms})


def _minute_parts(store) -> int:
    return store._rows(f"SELECT count() FROM system.parts WHERE database = '{store.database}' "
                       "AND table = 'share_minute_counts' AND active")[0][0]


def test_packed_rows_on_chdb_are_counted_once_by_one_view(chdb_store):
    """On a current engine (006 applied) the packed path counts every event once, as a plain
    count does, through one view: one minute-counts part per INSERT, not two."""
    batch = rich_batch()
    _insert_rows_chdb(chdb_store, batch)
    for rumour in sorted(set(batch.rumour_id)):
        counts = chdb_store.minute_counts(rumour)
        assert {(m, reg, k): n for m, reg, k, n in counts} == _plain_minute_counts(batch, rumour)
    assert _minute_parts(chdb_store) == _months(batch) == 3  # one part per partition: one feeder


def test_packed_rows_on_18_16_are_counted_once_by_one_view(ch_store):
    """clickhouse-server 18.16 keeps 005's minute view (006 is not applied there): the same."""
    batch = rich_batch()
    ch_store.write(batch)
    for rumour in sorted(set(batch.rumour_id)):
        counts = ch_store.minute_counts(rumour)
        assert {(m, reg, k): n for m, reg, k, n in counts} == _plain_minute_counts(batch, rumour)
    assert _minute_parts(ch_store) == _months(batch) == 3


def test_chdb_database_made_before_006_upgrades_without_losing_or_doubling_counts(chdb_store):
    db = chdb_store.database + "_old"
    old = [m for m in sql.load_migrations() if m.version != 6]  # as before 006 existed
    first, second = rich_batch(), rich_batch()
    second.event_id = [e + "-later" for e in second.event_id]
    store = ChdbStore("chdb://", database=db)
    try:
        sql.migrate(store._execute, db, migrations=old)
        assert "share_event_rows_minutes_mv" in {r[0] for r in store._rows(
            f"SELECT name FROM system.tables WHERE database = '{db}'")}
        _insert_rows_chdb(store, first)  # both views feed the counts here
        assert store.migrate() == ["006_minute_counts_once"]
        _insert_rows_chdb(store, second)
        _insert_rows_chdb(store, first)  # a re-delivery after the upgrade
        for rumour in sorted(set(first.rumour_id)):
            got = {(m, reg, k): n for m, reg, k, n in store.minute_counts(rumour)}
            want = _plain_minute_counts(first, rumour)
            for key, n in _plain_minute_counts(second, rumour).items():
                want[key] = want.get(key, 0) + n
            assert got == want
        assert store.count_events() == len(first) + len(second)
    finally:
        store._command(f"DROP DATABASE IF EXISTS {db}")
        store.close()
