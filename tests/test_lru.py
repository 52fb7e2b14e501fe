"""streams.lru.LRU: order, cap, what trim drops, manual (governance) mode, threads."""
from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.lru import LRU


def test_least_recently_used_goes_first_and_get_refreshes():
    c = LRU(3)
    for k in "abc":
        c[k] = k.upper()
    assert c.get("a") == "A"  # a is now the newest: b is the oldest
    c["d"] = "D"
    assert list(c) == ["c", "a", "d"]
    assert "b" not in c and c.get("b", "gone") == "gone"


def test_subscript_and_reassignment_refresh_but_peek_and_contains_do_not():
    c = LRU(2)
    c["a"], c["b"] = 1, 2
    assert c["a"] == 1  # a newest
    c["c"] = 3  # drops b
    assert list(c) == ["a", "c"]
    assert c.peek("a") == 1 and "a" in c  # no use: a stays the oldest
    c["c"] = 30  # reassigning c makes it the newest again (it already was)
    c["d"] = 4
    assert list(c) == ["c", "d"] and c.peek("c") == 30


def test_cap_holds_and_a_cap_below_one_keeps_one():
    c = LRU(5)
    for i in range(100):
        c[i] = i
        assert len(c) <= 5
    assert list(c) == [95, 96, 97, 98, 99]
    z = LRU(0)
    z["a"], z["b"] = 1, 2
    assert list(z) == ["b"]


def test_no_cap_keeps_everything():
    c = LRU(None)
    for i in range(1000):
        c[i] = i
    assert len(c) == 1000 and c.trim() == []


def test_assignments_drop_the_oldest_and_pop_or_del_remove_only_their_key():
    c = LRU(2)
    for i in range(5):
        c[f"k{i}"] = i
    assert c.items() == [("k3", 3), ("k4", 4)]
    assert c.pop("k3") == 3 and c.pop("k3", "none") == "none"
    del c["k4"]
    assert len(c) == 0 and c.trim() == []


def test_callable_cap_is_read_at_every_trim():
    cap = [3]
    c = LRU(lambda: cap[0])
    for k in "abc":
        c[k] = 0
    cap[0] = 1
    assert c.trim() == ["a", "b"] and list(c) == ["c"]
    cap[0] = 10
    for k in "defg":
        c[k] = 0
    assert len(c) == 5


def test_manual_mode_overshoots_until_trim_and_spares_keep():
    m = LRU(2, manual=True)
    for k in "abcde":
        m[k] = k
    assert list(m) == ["a", "b", "c", "d", "e"]  # a batch being counted keeps every state
    assert m.trim(keep={"a", "c"}) == ["b", "d", "e"]
    assert list(m) == ["a", "c"]
    # keep larger than the cap: nothing else to drop, the cap is exceeded rather than keep lost
    m["f"] = "f"
    assert m.trim(keep={"a", "c", "f"}) == [] and len(m) == 3


def test_manual_mode_order_moves_only_by_touch():
    m = LRU(2, manual=True)
    m["a"], m["b"], m["c"] = 1, 2, 3
    assert m.get("a") == 1 and m["a"] == 1  # reads are not use
    m["a"] = 10  # nor is reassigning an existing key (an OrderedDict keeps its place)
    assert list(m) == ["a", "b", "c"]
    m.touch("a")
    m.touch("missing")  # no error, nothing added
    assert list(m) == ["b", "c", "a"]
    assert m.trim() == ["b"] and list(m) == ["c", "a"]


def test_values_items_and_iteration_are_copies():
    c = LRU(10)
    for i in range(4):
        c[i] = i * i
    for k in c:  # changing the mapping while iterating is allowed
        c.pop(k)
    assert len(c) == 0
    c["x"] = 1
    assert c.keys() == ["x"] and c.values() == [1] and c.items() == [("x", 1)]


class _Model:
    """A list-based reference: keys oldest first, values in a dict."""

    def __init__(self, cap):
        self.cap, self.order, self.values = cap, [], {}

    def use(self, k):
        self.order.remove(k)
        self.order.append(k)

    def get(self, k):
        if k in self.values:
            self.use(k)
        return self.values.get(k)

    def set(self, k, v):
        if k in self.values:
            self.order.remove(k)
        self.order.append(k)
        self.values[k] = v
        while len(self.order) > self.cap:
            old = self.order.pop(0)
            del self.values[old]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5),
       st.lists(st.tuples(st.sampled_from(["get", "set", "pop"]), st.integers(0, 8), st.integers()),
                max_size=60))
def test_matches_a_list_model(cap, ops):
    c, model = LRU(cap), _Model(cap)
    for op, k, v in ops:
        if op == "get":
            assert c.get(k) == model.get(k)
        elif op == "set":
            c[k] = v
            model.set(k, v)
        else:
            assert c.pop(k) == model.values.pop(k, None)
            if k in model.order:
                model.order.remove(k)
        assert c.items() == [(k, model.values[k]) for k in model.order]


def test_threads_sharing_a_cache():
    # The service's caches are read and filled by the request handlers on the event loop and
    # by its executor thread at once; an unlocked OrderedDict can fail between its "is the key
    # there" and "move it to the end" when another thread evicts the key in between.
    c = LRU(8)
    errors = []

    def work(seed):
        try:
            for i in range(20_000):
                k = (i * 7 + seed) % 13
                got = c.get(k)
                assert got is None or got == k * 2
                c[k] = k * 2
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    old = _switch_often()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        _restore_switch(old)
    assert errors == [] and len(c) <= 8


def _switch_often():
    import sys
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    return old


def _restore_switch(old):
    import sys
    sys.setswitchinterval(old)


def test_trackers_holding_an_lru_are_freed_without_the_cycle_collector():
    # The governance trackers learn what trim dropped from its answer: a callback (or a cap)
    # bound to the tracker would make it a reference cycle, and the throwaway trackers made per
    # request (tracker_from_batch) would keep their sets until a full collection.
    import gc
    import weakref

    from streams.governance.alerts import AlertRouter
    from streams.governance.debunks import DebunkTracker

    rows = [{"rumour_id": "r", "event_id": "1", "account_id": "a", "ts": 0, "kind": "post",
             "region": "370100"}]
    unused = lambda ids: None  # noqa: E731 (a loader never called: one rumour, cap 1)
    makers = (DebunkTracker, lambda: DebunkTracker(max_rumours=1, loader=unused),
              AlertRouter, lambda: AlertRouter(max_rumours=1, loader=unused))
    gc.disable()
    try:
        for make in makers:
            tracker = make()
            tracker.observe_rows(rows)
            ref = weakref.ref(tracker)
            del tracker
            assert ref() is None
    finally:
        gc.enable()
