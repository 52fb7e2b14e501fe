"""The service's answers, over the pipeline's live graphs and the store (no HTTP here).

Data sources: the rumour list, time series, regions and top spreaders come from the store (all
rumours, whichever worker holds their graph); the cascade tree and traces come from the graph
(:class:`graph.CascadeGraph`, restored from the store by the pipeline when this process has not
seen the rumour); every hop of a chain is completed from the store (platform, region, SHA-256 of
the text).

Identities: the dashboard routes (list, detail, tree) always show pseudonyms, whatever the
role, because they are polled and not audited; account ids in clear leave only through the
audited trace and evidence routes, only for roles with the ``clear`` permission, and only the
accounts :mod:`streams.service.identities` puts in clear for the caller (the centre's
``liaison_account_scope``). An event id is shown in clear exactly where its account is: the
dashboard's tree shows every event by its pseudonym (``pev_...``), a trace shows the events of
the accounts it pseudonymises by theirs, and the trace of one event takes either form
(:meth:`Views.event_for`; the rules for an id given in clear are in
:mod:`streams.service.trace_http`).

"Now" for the rumour list is the data clock: the end of the newest minute with a share in the
store. Live, that is the wall clock within a batch wait; over a replayed file it is the file's
last minute, so growth and status stay meaningful on old data.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import threading
import time

from streams.events import format_ts
from streams.service import regions as rg
from streams.service import rumour_page, tree_view
from streams.service.access import Principal, covering_prefixes, prefix, spread_regions
from streams.service.accounts import PseudonymIndex
from streams.service.buckets import bucket_size, bucket_starts
from streams.service.event_ids import EventPseudonymIndex
from streams.service.identities import Identities
from streams.service.rumour_summary import RumourSummaries
from streams.service.trace_parents import inferred_links, named_parents, stored_texts
from streams.trace import trace_without_origins

DEBUNK = "debunk"
CONFIDENCE_METHOD = (
    "the probability that the candidate is a true origin of the rumour: a logistic model "
    "(graph/confidence.py, fitted on synthetic multi-origin, masked and sampled cascades; "
    "calibration in benchmarks/RESULTS.md) of its share of the rumour's events, its reach, whether "
    "it is a share with no parent link, whether it is known only from its children's links, how "
    "long after the rumour's first event it came and how many candidates there are; the same "
    "value `rumour trace --json` gives")


class NotFound(LookupError):
    """The rumour, event or account is not known; ``code``: the 404's error code
    (:mod:`streams.service.error_codes`)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code

    def answer(self) -> str:
        """The error text of the 404 (``"unknown rumour 'r1'"``)."""
        return f"unknown {self.args[0]}"


class NoCascade(NotFound):
    """A rumour known only by its debunks (no post, share or comment): it has no cascade to draw
    or trace. Its message is the answer's whole error text."""

    def answer(self) -> str:
        return self.args[0]


class HiddenEvent(NotFound):
    """An event given in clear whose account the caller does not see in clear: answered as an
    unknown event (its pseudonym out would tie the two), recorded as refused (403)."""


def text_sha256(text: str | None) -> str | None:
    """SHA-256 (hex) of a share's text as UTF-8; None when the store has no text.

    >>> text_sha256("abc")[:12]
    'ba7816bf8f01'
    """
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class Views:
    """Answers for one pipeline and store; ``pseudonymiser`` maps account ids for display,
    ``liaison_scope`` is the ``liaison_account_scope`` setting (:mod:`~streams.service.identities`),
    ``timezone`` the centre's zone (``report_timezone``): the series' hours and days are local;
    ``event_pseudonym_rumours`` the setting of that name (:mod:`~streams.service.event_ids`)."""

    def __init__(self, pipeline, store, pseudonymiser, cutoff_k: int = 10, cache_seconds: float = 1.0,
                 liaison_scope: str = "cascade", timezone: str = "Asia/Shanghai",
                 event_pseudonym_rumours: int = 32):
        self.pipeline = pipeline
        self.timezone = timezone
        self.store = store
        self.pseudo = pseudonymiser
        self.identities = Identities(pseudonymiser, store, liaison_scope)
        self.cutoff_k = cutoff_k
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()  # one refresh of the summaries at a time
        self.summaries = RumourSummaries(store)
        self._summary = None
        self._summary_at = 0.0
        self._items: dict = {}  # rumour -> (its summary, its entry of _listing)
        self._listed = None  # (summary, the listing of it): see _listing
        self.accounts = PseudonymIndex(pipeline, store, pseudonymiser)
        self.events = EventPseudonymIndex(pseudonymiser, event_pseudonym_rumours)
        # The interaction graph of the graphs held, kept by ingest once the first ?parents=1
        # asked for it (:meth:`held_interactions`): keeping it costs ingest some 20-50 us per graph a
        # batch changes, which a worker nobody asks for inferred parents should not pay.
        self.interactions = None

    # -- rumour list --------------------------------------------------------------------
    def summary(self) -> dict:
        """``{"as_of_ms", "rumours": {id: {...}}}`` (:mod:`~streams.service.rumour_summary`:
        refreshed from the rumours whose data changed), cached for ``cache_seconds``. One
        refresh at a time: callers that find the cache lapsed meanwhile take its answer."""
        with self._lock:
            if self._fresh():
                return self._summary
        with self._refresh_lock:
            with self._lock:
                if self._fresh():
                    return self._summary
            out = self.summaries.refresh()
            with self._lock:
                self._summary, self._summary_at = out, time.monotonic()
            return out

    def _fresh(self) -> bool:
        # Under self._lock.
        return self._summary is not None and time.monotonic() - self._summary_at < self.cache_seconds

    def regions_of(self, rumour_id: str) -> set | None:
        """The regions (None = no region) that give jurisdiction over a rumour: those of its
        post, share and comment events, never a debunk's (:func:`~streams.service.access.spread_regions`);
        an empty set for a rumour with only debunks, None if unknown.

        Asked before every rumour-scoped answer, so it never refreshes the summary (an
        aggregation over every rumour): a fresh cached summary answers, else the store's
        distinct regions and kinds of that rumour (read by its key; nothing for an unknown
        rumour). Both go through the same ``spread_regions``."""
        with self._lock:
            r = self._summary["rumours"].get(rumour_id) if self._fresh() else None
        if r is not None:
            return r["jurisdiction_regions"]
        region_kinds = self.store.rumour_region_kinds(rumour_id)
        return None if region_kinds is None else spread_regions(region_kinds)

    def rumour_list(self, principal: Principal) -> dict:
        """The rumours the caller's jurisdiction covers (:meth:`regions_of`: a debunk there
        does not list a rumour), fastest growing first."""
        s = self.summary()
        return self._answer(s, [dict(item) for item, _ in self._covered(principal, self._listing(s))])

    def rumour_page(self, principal: Principal, q: str = "", offset: int = 0, limit: int = 0,
                    handling: dict | None = None) -> dict:
        """One page of :meth:`rumour_list` (:func:`streams.service.rumour_page.page`: the search
        ``q``, ``offset``, ``limit``; ``total`` and ``offset`` added); with ``handling``
        (rumour id -> its handling status row), each rumour names its own (None: no status)
        and the search also looks at its label."""
        s = self.summary()
        listed = self._covered(principal, self._listing(s))
        items = [item for item, _ in listed]
        more = None
        if handling is not None and q.strip():
            more = [rumour_page.handling_haystack((handling.get(item["rumour_id"]) or {}).get("status"))
                    for item in items]
        shown, total = rumour_page.page(items, q, offset, limit, [hay for _, hay in listed], more)
        if handling is None:
            shown = [dict(item) for item in shown]
        else:
            shown = [dict(item, handling=handling.get(item["rumour_id"])) for item in shown]
        return self._answer(s, shown) | {"total": total, "offset": offset}

    def _answer(self, s: dict, items: list[dict]) -> dict:
        # The centre's zone beside the list: the dashboard shows every time on its clock.
        return {"as_of": format_ts(s["as_of_ms"]) if s["rumours"] else None, "timezone": self.timezone,
                "rumours": items}

    def _listing(self, s: dict) -> list[tuple]:
        """Every rumour of the summary ``s`` as ``(covering prefixes of its jurisdiction regions,
        list item, search haystack)`` in the list's order (fastest growing first): sorted once per
        summary, and each made once per change of its rumour's summary. The items are shared:
        copy one before changing it."""
        with self._lock:
            if self._listed is not None and self._listed[0] is s:
                return self._listed[1]
            made = self._items
        items = {}
        for rid, r in s["rumours"].items():
            entry = made.get(rid)
            if entry is None or entry[0] is not r:
                item = {k: r[k] for k in ("rumour_id", "size", "debunk_size", "growth_last_hour",
                                          "debunk_growth_last_hour", "status", "region", "city", "county")} | {
                    "last_ts": format_ts(r["last_ms"]) if r["last_ms"] else None,
                    "region_name": rg.name(r["region"]), "city_name": rg.name(r["city"]),
                    "county_name": rg.name(r["county"])}
                entry = (r, (covering_prefixes(r["jurisdiction_regions"]), item, rumour_page.haystack(item)))
            items[rid] = entry
        listing = sorted((e for _, e in items.values()),
                         key=lambda e: (-e[1]["growth_last_hour"], -e[1]["size"], e[1]["rumour_id"]))
        with self._lock:
            self._items, self._listed = items, (s, listing)
        return listing

    @staticmethod
    def _covered(principal: Principal, listing: list[tuple]) -> list[tuple]:
        """``(item, haystack)`` of the rumours of ``listing`` the caller's jurisdiction covers
        (:meth:`regions_of`; by :func:`~streams.service.access.covering_prefixes`, made once per
        rumour)."""
        p = prefix(principal.jurisdiction)
        return [(item, hay) for prefixes, item, hay in listing if not p or p in prefixes]

    # -- one rumour (dashboard) ---------------------------------------------------------
    def detail(self, rumour_id: str) -> dict:
        """Time series (rumour vs debunk) in minute, local hour or local day buckets of
        ``timezone`` (:mod:`streams.service.buckets`), regions (province, city, county), top
        spreaders."""
        counts = self.store.minute_counts(rumour_id)
        if not counts:
            raise NotFound(f"rumour {rumour_id!r}", "unknown_rumour")
        first = min(c[0] for c in counts)
        last = max(c[0] for c in counts)
        bucket = bucket_size(first, last)
        starts = bucket_starts([c[0] for c in counts], bucket, self.timezone).tolist()
        series = {"rumour": {}, "debunk": {}}
        regions = {"province": {}, "city": {}, "county": {}}
        for (minute_ms, region, kind, n), t in zip(counts, starts):
            key = "debunk" if kind == DEBUNK else "rumour"
            series[key][t] = series[key].get(t, 0) + n
            if key == "rumour":
                for lvl, c in zip(("province", "city", "county"), rg.levels(region or None)):
                    regions[lvl][c] = regions[lvl].get(c, 0) + n
        spreaders = [{"account_id": self.pseudo(a), "reshares": n, "accounts": u}
                     for a, n, u in self.store.top_spreaders(rumour_id, 10)]
        s = self.summary()["rumours"].get(rumour_id, {})
        return {
            "rumour_id": rumour_id,
            # A day bucket is a local day (23 or 25 hours across a DST change): bucket_ms
            # names the granularity; each key is the epoch ms of its bucket's local start.
            "bucket_ms": bucket, "timezone": self.timezone,
            "series": {k: sorted(v.items()) for k, v in series.items()},
            "regions": {lvl: sorted(v.items(), key=lambda x: (-x[1], x[0])) for lvl, v in regions.items()},
            "region_names": rg.names(c for v in regions.values() for c in v),
            "top_spreaders": spreaders,
            "size": s.get("size"), "debunk_size": s.get("debunk_size"), "status": s.get("status"),
            "growth_last_hour": s.get("growth_last_hour"),
        }

    def _graph(self, rumour_id: str, k: int):
        """The rumour's graph and its events and cut-off (:func:`streams.trace.trace_without_origins`:
        the routes rank their own few origins, so not every origin is formatted); hold the
        pipeline's lock."""
        graph = self.pipeline.query_graph(rumour_id)  # loads the rumour from the store if needed
        if graph is None:
            s = self.summary()["rumours"].get(rumour_id)
            if s and not s["size"] and s["debunk_size"]:
                # (the list shows it to a 000000 desk: "unknown" would contradict the list)
                raise NoCascade(f"rumour {rumour_id!r} has only debunks: no cascade to draw or trace "
                                f"(its debunk figures: /api/rumours/{{id}}/debunk)", "no_cascade")
            raise NotFound(f"rumour {rumour_id!r}", "unknown_rumour")
        return graph, trace_without_origins(graph, k)

    def tree(self, rumour_id: str, limit: int = 200, under: str | None = None,
             under_given: str | None = None) -> dict:
        """The cascade tree restricted to the ``limit`` events with the largest subtrees (and
        their paths to the origin), with origins and cut-off candidates marked; pseudonyms of
        accounts and events (an event's pseudonym traces it: :meth:`event_for`). A path is cut
        at :data:`~streams.service.tree_depth.MAX_TREE_DEPTH` events (its rest in ``more``); a
        rumour with only debunks has an empty tree. ``under``: the same for the subtree under
        that event (:mod:`~streams.service.tree_view`; or a :class:`~streams.service.tree_view.Placeholder`,
        an account's placeholder node), with ``under`` (its pseudonym) and ``path``; NotFound
        names it as ``under_given`` (as the caller gave it)."""
        with self.pipeline.lock:
            try:
                graph, answer = self._graph(rumour_id, self.cutoff_k)
            except NoCascade:  # the dashboard draws an empty tree beside its debunk figures
                if under is not None:
                    raise NotFound(f"event {under_given or under!r}", "unknown_event") from None
                return {"rumour_id": rumour_id, "events": 0, "depth": 0, "shown": 0, "roots": [], "cutoff": []}
            placeholder = isinstance(under, tree_view.Placeholder)
            if under is not None and not placeholder and graph.node(under) < 0:
                raise NotFound(f"event {under_given or under!r}", "unknown_event")
            try:
                picked = tree_view.picked_events(graph, limit, under)
            except KeyError:
                if not placeholder:
                    raise
                raise NotFound(f"event {under_given or under.account_id!r}", "unknown_event") from None
        cut = {c["account_id"]: c["prevented"] for c in answer["cutoff"]}
        path = picked["path"]
        # Under an event, the top is an origin only if that event is a root of the cascade.
        roots, shown = tree_view.nested(picked, self.pseudo, cut, top_is_origin=len(path) <= 1)
        out = {"rumour_id": rumour_id, "events": answer["events"], "depth": picked["depth"], "shown": shown,
               "roots": roots,
               "cutoff": [{"account_id": self.pseudo(a), "prevented": p} for a, p in cut.items()]}
        if under is not None:
            out["under"] = self.pseudo(under.account_id) if placeholder else self.pseudo.event(under)
            out["path"] = [tree_view.hop_node(h, self.pseudo, picked["size_of"], cut) for h in path]
            out["path"][0]["origin"] = True
            out["path_omitted"] = picked["path_omitted"]
        return out

    def tree_event(self, rumour_id: str, given: str) -> concurrent.futures.Future:
        """:meth:`event_for` of the tree's ``under``, which takes an event's pseudonym only: the
        tree names every event by its pseudonym, whatever the role (the route is polled and not
        audited), so an id in clear is answered as an unknown event and the answer never ties
        an id in clear to its pseudonym. An account's pseudonym (``psn_...``) names that
        account's placeholder node, the tree's node without an event id (a missing post its
        shares named by account only): a :class:`~streams.service.tree_view.Placeholder`."""
        out = concurrent.futures.Future()
        if self.pseudo.looks_like_event(given):
            return self.event_for(rumour_id, given)
        account = self.accounts.resolve(rumour_id, given) if self.pseudo.looks_like(given) else None
        if account is None:
            out.set_exception(NotFound(f"event {given!r}", "unknown_event"))
        else:  # whether it has a placeholder: tree() answers (NotFound when not)
            out.set_result(tree_view.Placeholder(account))
        return out

    # -- traces (audited by the caller) -------------------------------------------------
    def account_for(self, rumour_id: str, account: str) -> str | None:
        """An account id given in clear or as a pseudonym; None if the rumour has no such account."""
        if not self.pseudo.looks_like(account):
            return account
        return self.accounts.resolve(rumour_id, account)

    def event_for(self, rumour_id: str, event: str) -> concurrent.futures.Future:
        """A future of the event id given in clear or as a pseudonym (``pev_...``): its result
        raises NotFound for a pseudonym of no event of the rumour (an id in clear is checked by
        :meth:`trace`). Done at once unless the rumour's events must be hashed, which happens on
        a thread of :attr:`events`' own: await it off the service's thread, which stays free."""
        out = concurrent.futures.Future()
        if not self.pseudo.looks_like_event(event):
            out.set_result(event)
            return out
        with self.pipeline.lock:
            graph = self.pipeline.query_graph(rumour_id)  # may load it from the store: this thread
        if graph is None:
            out.set_exception(NotFound(f"event {event!r}", "unknown_event"))
            return out

        def found(lookup):
            if lookup.exception() is not None:
                out.set_exception(lookup.exception())
            elif lookup.result() is None:
                out.set_exception(NotFound(f"event {event!r}", "unknown_event"))
            else:
                out.set_result(lookup.result())

        self.events.lookup(graph, event, self.pipeline.lock).add_done_callback(found)
        return out

    def held_interactions(self):
        """The interaction graph of the held graphs, counted whole at the first call (about 1 s
        over the 2,364 Weibo rumours, under the pipeline's lock) and kept by ingest after it."""
        if self.interactions is None:
            self.interactions = self.pipeline.track_interactions()
        return self.interactions

    def trace(self, rumour_id: str, principal: Principal, k: int | None = None, event_id: str | None = None,
              account_id: str | None = None, known=None, event_given: str | None = None,
              parents: bool = False) -> dict:
        """Origins with confidence, evidence chains and cut-off candidates of a rumour, or of one
        event or account in it, each account id in clear or pseudonymised as the caller may see
        it (:meth:`streams.service.identities.Identities.namer`; ``known``: a namer the request
        already made, whose accounts the store is not asked about again), each event id with its
        account. ``event_given``: the event as the caller named it (its pseudonym or
        ``event_id``); an event given in clear that the caller may not see in clear raises
        :class:`HiddenEvent`. ``parents``: add the inferred parents of the shares whose parent
        is missing (:mod:`~streams.service.trace_parents`), named as the rest."""
        given = event_id if event_given is None else event_given
        k = self.cutoff_k if k is None else k
        texts = stored_texts(self.store, rumour_id) if parents else None
        links = []
        if parents:
            self.held_interactions()
        with self.pipeline.lock:
            graph, answer = self._graph(rumour_id, k)
            if parents:
                links = inferred_links(self.interactions.view(graph), graph, texts)
            origins = graph.origins(20)
            # The calibrated model, as `rumour trace` reports: kept with the graph's resolved
            # forest, so a trace of a rumour that has not changed does not refit it.
            conf = graph.confidence_by_event.lookup([o.account_id for o in origins],
                                                    [o.event_id for o in origins]).tolist()
            if event_id is not None:
                if graph.node(event_id) < 0:
                    raise NotFound(f"event {given!r}", "unknown_event")
                scope = {"kind": "event", "id": event_id}
                chains = [graph.chain(event_id)]
            elif account_id is not None:
                scope = {"kind": "account", "id": account_id}
                chains = graph.account_chains(account_id)[:100]
            else:
                scope = {"kind": "rumour", "id": rumour_id}
                # Evidence for a rumour: how each cut-off candidate got it from an origin.
                chains = []
                for c in answer["cutoff"]:
                    first = graph.account_chains(c["account_id"])
                    if first:
                        chains.append(first[0])
        # Named after the graph's lock is released: the jurisdiction scope asks the store.
        name = self.identities.namer(principal, rumour_id, {o.account_id for o in origins}
                                     | {h.account_id for c in chains for h in c}
                                     | {c["account_id"] for c in answer["cutoff"]} | {account_id}
                                     | {a for link in links for a in (link[1], link[3])},
                                     known)
        if account_id is not None and not chains:
            # Named as the caller may see it: an analyst's pseudonym resolves to the clear id
            # (a debunker, a parent-only account), which must not leak here.
            raise NotFound(f"account {name(account_id)!r}", "unknown_account")
        if event_id is not None and given == event_id and not name.event_in_clear(chains[0][0].account_id):
            # An id in clear out as a pseudonym would tie the two (the tree shows that pseudonym
            # beside the account's), so it is answered as an unknown event: the same message.
            raise HiddenEvent(f"event {given!r}", "unknown_event")
        events = answer["events"]
        details = self.store.event_details(rumour_id, {h.event_id for c in chains for h in c})
        out_origins = [{"account_id": name(o.account_id), "event_id": name.event(o.event_id, o.account_id),
                        "ts": None if o.ts_ms is None else format_ts(int(o.ts_ms)),
                        "reach": int(o.reach), "observed": bool(o.observed),
                        "confidence": round(c, 4)}
                       for o, c in zip(origins, conf)]
        out_chains = []
        for chain in chains:
            hops = []
            for h in chain:
                platform, region, text = details.get(h.event_id, (None, None, None))
                clear = name.event_in_clear(h.account_id)
                hops.append({"event_id": name.event(h.event_id, h.account_id), "account_id": name(h.account_id),
                             "ts": None if h.ts_ms is None else format_ts(int(h.ts_ms)),
                             "platform": platform, "region": region,
                             # a repost's text hash matches the platform's text: clear hops only
                             "text_sha256": text_sha256(text) if clear else None,
                             "observed": bool(h.observed)})
            out_chains.append({"event_id": hops[0]["event_id"] if hops else None, "hops": hops})
        if scope["kind"] == "account":
            scope["id"] = name(account_id)
        elif scope["kind"] == "event":
            scope["id"] = name.event(event_id, chains[0][0].account_id)
        out = {"rumour_id": rumour_id, "events": events, "scope": scope,
               "identities": name.identities,
               "origins": out_origins, "confidence_method": CONFIDENCE_METHOD,
               "chains": out_chains,
               "cutoff": [{"account_id": name(c["account_id"]), "prevented": c["prevented"]}
                          for c in answer["cutoff"]]}
        return (out | named_parents(links, name)) if parents else out

