"""Issue 5, months of uptime: what a worker remembers about every rumour it ever saw (which
rumours the store holds, which rumours' governance state was dropped) fits a fixed size
(``id_filter_mb``, streams.seen), and filters with every bit set (a "yes" to every id) give the
answers of exact sets: a false yes costs a store query, never a wrong answer."""
from __future__ import annotations

import tracemalloc

import numpy as np
import orjson
import pytest

from streams.decoder import Decoder
from streams.governance.alerts import AlertRouter
from streams.governance.config import GovernanceConfig
from streams.governance.debunks import DebunkTracker
from streams.pipeline import Pipeline
from streams.seen import ExactSeen, Seen
from tests.plugins.clickhouse import fresh_database
from tests.test_governance_memory import CONFIG, _run, _strip
from tests.test_pipeline_memory import all_rumours, answers, chunks, run

N = 200_000


def saturated(mb=None, seed=0) -> Seen:
    """A filter with every bit set: every id "may have been seen" (the false-yes path always)."""
    seen = Seen(8)
    seen._bits[:] = np.iinfo(np.uint64).max
    return seen


class _Listed:
    """A store that lists ``ids`` and holds no events (the bookkeeping alone)."""

    def __init__(self, ids):
        self.ids = ids
        self.queries = 0

    def rumour_ids(self):
        return self.ids

    def load_events(self, rumour_ids=None):
        self.queries += 1
        return Decoder().decode([])[0]


def _retained(fn) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = fn()
        return tracemalloc.get_traced_memory()[0] - before, keep
    finally:
        tracemalloc.stop()


def test_pipeline_memory_of_200k_stored_rumours_stays_at_its_size():
    ids = [f"stored-{i:07d}" for i in range(N)]  # made before tracing: the store's, not ours

    def fill(mb):
        pipeline = Pipeline(_Listed(ids), id_filter_mb=mb)
        pipeline.assign_partitions([0])  # a rebalance: the store is listed again
        assert pipeline._stored_rumours() is pipeline._stored
        return pipeline

    bounded, pipeline = _retained(lambda: fill(1))
    assert pipeline._stored.nbytes == 1 << 20
    assert bounded < (1 << 20) + 256 * 1024, bounded
    assert pipeline._stored.contains_many(ids).all()  # never a false "not stored"
    exact, _ = _retained(lambda: fill(0))
    assert exact > 4 * (1 << 20) > bounded  # the old set grew with the rumours (table only here)


def _one_share_rumours(start, n):
    rows = [{"event_id": f"e{i}", "rumour_id": f"r{i:07d}", "account_id": f"a{i % 97}", "ts": 1_700_000_000_000 + i,
             "region": "370102"} for i in range(start, start + n)]
    return Decoder().decode([orjson.dumps(rows)])[0]


@pytest.mark.parametrize("mb, n", [(1, N), (0, 100_000)])  # the exact sets only to show the measure sees them
@pytest.mark.parametrize("kind", ["alerts", "debunks"])
def test_tracker_memory_of_200k_dropped_rumours_stays_at_its_size(kind, mb, n):
    """200,000 one-share rumours through a tracker capped at 1 (batches of 20,000): after three
    batches (the filter made, the LRU's table at its high-water mark) the bytes it keeps do not
    grow over the next 140,000 rumours; with exact sets (mb=0) the same measure sees them grow."""
    empty = _one_share_rumours(0, 0)

    def loader(ids):
        return empty

    def lister():
        return []

    if kind == "alerts":
        tracker = AlertRouter(GovernanceConfig(**CONFIG), max_rumours=1, loader=loader, lister=lister,
                              id_filter_mb=mb)
    else:
        tracker = DebunkTracker(max_rumours=1, loader=loader, lister=lister, id_filter_mb=mb)
    batches = [_one_share_rumours(i, 20_000) for i in range(0, n, 20_000)]
    # Traced from the start, so the states held at the first reading are freed as traced ones.
    tracemalloc.start()
    try:
        for b in batches[:3]:
            tracker.observe(b)
        before = tracemalloc.get_traced_memory()[0]
        for b in batches[3:]:
            tracker.observe(b)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # A batch's own rumours are never dropped while it is counted: the last 20,000 are held.
    assert tracker.evictions == n - 20_000 and tracker.sizes()["rumours"] == 20_000
    for b in batches[:-1]:
        assert tracker.dropped_ids.ids.contains_many(b.rumour_id).all()  # every dropped one is remembered
    if mb:
        assert tracker.dropped_ids.ids.nbytes == 1 << 20 and tracker.sizes()["evicted_id_bytes"] == 1 << 20
        assert grown < 256 * 1024, grown
    else:  # the old bookkeeping: 40,000 more ids x (string ~60 B + set slot)
        assert grown > 40 * (n - 60_000), grown


def _other_store():
    from streams.store.embedded import ChdbStore

    exact_store = ChdbStore("chdb://", database=fresh_database())
    exact_store.migrate()
    return exact_store


def test_a_saturated_filter_gives_the_answers_of_exact_sets(chdb_store):
    """Tiny graph budget (rumours evicted and brought back): a filter that says "stored" to
    everything only adds restore queries, which find nothing for new rumours."""
    batches = chunks()
    rumours = all_rumours(batches)
    exact_store = _other_store()
    try:
        exact = Pipeline(exact_store, graph_memory_bytes=1, id_filter_mb=0)
        tiny = Pipeline(chdb_store, graph_memory_bytes=1)
        tiny._stored = saturated()
        assert isinstance(exact._stored, ExactSeen) and isinstance(tiny._stored, Seen)
        assert run(tiny, batches) == run(exact, batches)
        assert tiny._stored.false_positive_rate() == 1.0  # every bit set: the false-yes path throughout
        assert tiny.restore_queries > exact.restore_queries > 0
        assert tiny.memory.evictions == exact.memory.evictions > 0
        assert answers(tiny, rumours) == answers(exact, rumours)
        assert chdb_store.count_events() == exact_store.count_events()
        # A rumour never seen: a query finds nothing, and nothing is kept for it.
        loaded = set(tiny._loaded)
        assert tiny.trace("never-seen") is None and exact.trace("never-seen") is None
        assert tiny._loaded == loaded and "never-seen" not in tiny.graphs
    finally:
        exact_store.drop()
        exact_store.close()


def test_new_rumour_with_a_false_stored_costs_one_query_and_starts_empty(chdb_store):
    batches = chunks()
    tiny = Pipeline(chdb_store)
    tiny._stored = saturated()
    run(tiny, batches[:3])
    assert tiny._stored.false_positive_rate() == 1.0
    before = tiny.restore_queries
    msg = orjson.dumps({"event_id": "brand-new-1", "rumour_id": "brand-new", "account_id": "z", "ts": 1_700_000_000_000})
    stats = tiny.process([msg]).summary()
    assert stats == {"read": 1, "stored": 1, "duplicates": 0, "dead_letters": 0, "late_links": 0}
    assert tiny.restore_queries == before + 1  # the false yes: one query, which found nothing
    assert tiny.graphs["brand-new"].n_nodes == 1


def test_saturated_governance_filters_give_the_alerts_and_figures_of_no_cap(store, monkeypatch):
    """The hub's trackers dropped and rebuilt (cap 2), with filters that call every rumour
    dropped: the same alerts, unit counts and debunk figures as keeping everything; a rumour
    never seen stays unknown; the listing (from the store) is complete."""
    import streams.governance.hub as hub_module

    monkeypatch.setattr(hub_module, "ALERT_HISTORY", 5)
    ref_alerts, ref_debunks, ref_units, _, ref_hub = _run(None, 0)
    import streams.seen as seen_module

    # Both trackers make their filter through streams.seen.DroppedIds (the pipeline's own
    # filter was bound by name at import: untouched).
    monkeypatch.setattr(seen_module, "make_seen", saturated)
    alerts, debunks, units, _, hub = _run(store, 2)
    filters = hub.alerts.dropped_ids.ids, hub.debunks.dropped_ids.ids
    assert all(isinstance(f, Seen) for f in filters) and filters[0] is not filters[1]
    assert filters[0].false_positive_rate() == 1.0 == filters[1].false_positive_rate()
    assert hub.alerts.restores > 0 and hub.debunks.restores > 0
    assert _strip(alerts) == _strip(ref_alerts) and len(alerts) > 0
    assert units == ref_units
    assert debunks == ref_debunks
    assert hub.debunks.rumour_ids() == ref_hub.debunks.rumour_ids()
    assert hub.debunk("never-seen") is None and hub.alerts.unit_counts("never-seen") == {}
