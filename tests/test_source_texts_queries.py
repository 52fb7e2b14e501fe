"""The queries behind GovernanceStoreMixin.source_texts (a restart's rumour texts), counted on
both stores by wrapping the store's ``_rows``: the ranking (a GROUP BY over every event) and
the lists of rumour ids whose texts are read, bounded by base.ID_BYTES_PER_QUERY."""
from __future__ import annotations

import re

import orjson
import pytest

from streams.pipeline import Pipeline
from streams.store.governance import governance_store
from tests.test_report_desk_indexes import _source_texts_by_hand

T0 = 1_759_276_800_000
N = 60


def _events():
    """r00..r59, r59 the most recently active; the 12 newest and every third have no text, so
    the first ten ranked rumours have none and a limit of ten needs several pages."""
    events = []
    for i in range(N):
        has_text = i < 48 and i % 3 != 0
        events.append({"event_id": f"p{i}", "rumour_id": f"r{i:02d}", "account_id": "a", "ts": T0 + i * 1000,
                       "kind": "post", "text": f"源帖{i}" if has_text else None})
        events.append({"event_id": f"s{i}", "rumour_id": f"r{i:02d}", "account_id": "b", "ts": T0 + i * 1000 + 500,
                       "parent_event_id": f"p{i}"})
    return events


@pytest.fixture
def counted(store, monkeypatch):
    """(governance store, list of the SELECTs it runs from now on)."""
    events = _events()
    Pipeline(store).process([orjson.dumps(e) for e in events])
    ran = []
    rows = store._rows

    def counting(query, *args, **kw):
        ran.append(query)
        return rows(query, *args, **kw)

    monkeypatch.setattr(store, "_rows", counting)
    return governance_store(store), ran, events


def _text_queries(ran):
    return [q for q in ran if "argMin(text" in q]


def _named(query):
    return re.findall(r"'(r\d\d)'", query)


def test_text_queries_list_ids_up_to_the_shared_byte_bound(counted, monkeypatch):
    import streams.store.base as base

    gov, ran, events = counted
    want = list(_source_texts_by_hand(events, 10).items())
    assert list(gov.source_texts(limit=10).items()) == want
    wide = _text_queries(ran)
    assert max(len(_named(q)) for q in wide) > 4
    ran.clear()
    monkeypatch.setattr(base, "ID_BYTES_PER_QUERY", 30)  # 7 bytes an id ('r00', quotes, comma): 4 a query
    assert list(gov.source_texts(limit=10).items()) == want
    narrow = _text_queries(ran)
    assert max(len(_named(q)) for q in narrow) == 4 and len(narrow) > len(wide)
    assert sorted(r for q in narrow for r in _named(q)) == sorted(r for q in wide for r in _named(q))


def _pages(events, limit):
    """How many lists of ids a limit needs: the first ``limit`` ranked rumours, then as many
    more as rumours still lack a text, until ``limit`` have one or the ranking ends."""
    texts = _source_texts_by_hand(events, None)
    last = {}
    for e in events:
        last[e["rumour_id"]] = max(last.get(e["rumour_id"], e["ts"]), e["ts"])
    ranked = sorted(last, key=lambda r: (-last[r], r))
    pages = found = start = 0
    while start < len(ranked) and found < limit:
        page = ranked[start:start + limit - found]
        start += len(page)
        found += sum(r in texts for r in page)
        pages += 1
    return pages


def _ranking_queries(ran):
    return [q for q in ran if "max(ts_ms)" in q]


@pytest.mark.parametrize("limit", [1, 10, 20, 31])
def test_the_ranking_is_read_once_however_many_pages(counted, limit):
    gov, ran, events = counted
    pages = _pages(events, limit)
    assert pages >= 2  # the ten newest rumours have no text: every limit here pages on
    assert list(gov.source_texts(limit=limit).items()) == list(_source_texts_by_hand(events, limit).items())
    assert len(_ranking_queries(ran)) == 1, ran
    assert len(_text_queries(ran)) == pages and len(ran) == 1 + pages, ran
    # each rumour's text is asked once, and none past the last one returned
    named = [r for q in _text_queries(ran) for r in _named(q)]
    assert len(named) == len(set(named)) and min(named) == min(gov.source_texts(limit=limit))


@pytest.mark.parametrize("limit", [None, N, N + 5])
def test_every_rumour_wanted_is_two_queries(counted, limit):
    gov, ran, events = counted
    assert list(gov.source_texts(limit=limit).items()) == list(_source_texts_by_hand(events, limit).items())
    assert len(ran) == 2 and len(_ranking_queries(ran)) == 1 and _named(_text_queries(ran)[0]) == [], ran
