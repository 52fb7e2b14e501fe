"""Seeded synthetic share-event streams (v1 events) for the demo, tests and ingest benchmarks.

Each rumour is a cascade grown by preferential attachment (a share is more likely to be
reshared the more reshares it already has, as with popular spreaders) with Hawkes-like delays:
a child appears an exponential delay after its parent, whose mean grows with depth.
"""
from __future__ import annotations

import numpy as np

# Shandong: province 370000 and a few of its city- and county-level codes.
REGIONS = ("370100", "370102", "370200", "370211", "370300", "370600", "370700", "370800",
           "371000", "371300", "371302", None)


def cascade_arrays(n_shares: int, rng: np.random.Generator, alpha: float = 1.0):
    """Parents (int array, -1 for the root) and delays (seconds from the root) of one cascade.

    >>> p, t = cascade_arrays(5, np.random.default_rng(0))
    >>> int(p[0]), bool((p[1:] < np.arange(1, 5)).all()), bool((np.diff(t) >= 0).all())
    (-1, True, True)
    """
    parents = np.full(n_shares, -1, np.int64)
    weights = np.zeros(n_shares, np.float64)
    weights[0] = alpha
    times = np.zeros(n_shares, np.float64)
    # Drawing parents proportional to (reshares + alpha) by sampling from a growing list of
    # "tickets" keeps this O(n).
    tickets = np.zeros(n_shares * 2 + 1, np.int64)
    n_tickets = 1
    for i in range(1, n_shares):
        if rng.random() < alpha / (alpha + 1.0):
            parent = int(rng.integers(0, i))
        else:
            parent = int(tickets[rng.integers(0, n_tickets)])
        parents[i] = parent
        tickets[n_tickets] = parent
        n_tickets += 1
        times[i] = times[parent] + rng.exponential(60.0 * (1 + 0.2 * np.log1p(i)))
    order = np.argsort(times, kind="stable")
    # Renumber so that arrival order follows time (parents still precede children: a child's
    # time is at least its parent's, and the stable sort keeps ties in index order).
    rank = np.empty(n_shares, np.int64)
    rank[order] = np.arange(n_shares)
    new_parents = np.where(parents[order] >= 0, rank[parents[order]], -1)
    return new_parents, times[order]


def _event(rumour_id: str, tag: str, i: int, p: int, account: str, ts: int, parent_account, kind: str,
           region: str) -> dict:
    """Event ``i`` of a rumour's share (tag "e") or debunk ("d") cascade; ``p`` its parent's
    number in the same cascade, -1 for none."""
    return {
        "event_id": f"{rumour_id}-{tag}{i}",
        "rumour_id": rumour_id,
        "account_id": account,
        "ts": ts,
        "parent_event_id": f"{rumour_id}-{tag}{p}" if p >= 0 else None,
        "parent_account_id": parent_account,
        "kind": kind,
        "platform": "weibo",
        "region": region,
        "text": None,
    }


def synthetic_events(n_rumours: int = 3, shares_per_rumour: int = 500, seed: int = 0,
                     start_ms: int = 1_764_547_200_000, accounts: int | None = None,
                     debunk_fraction: float = 0.1, prefix: str = "syn"):
    """Yield v1 event dicts for ``n_rumours`` cascades, in time order within each rumour.

    >>> ev = list(synthetic_events(1, 10, seed=1))
    >>> ev[0]["kind"], ev[0]["parent_event_id"], len({e["event_id"] for e in ev}) == len(ev)
    ('post', None, True)
    """
    rng = np.random.default_rng(seed)
    n_accounts = accounts or max(10, n_rumours * shares_per_rumour // 2)
    for r in range(n_rumours):
        rumour_id = f"{prefix}-r{r}"
        parents, delays = cascade_arrays(shares_per_rumour, rng)
        acct = rng.integers(0, n_accounts, shares_per_rumour)
        region = rng.integers(0, len(REGIONS), shares_per_rumour)
        t0 = start_ms + int(rng.integers(0, 86_400_000))
        for i in range(shares_per_rumour):
            p = int(parents[i])
            yield _event(rumour_id, "e", i, p, f"{prefix}-u{int(acct[i])}", t0 + int(delays[i] * 1000),
                         f"{prefix}-u{int(acct[p])}" if p >= 0 else None, "post" if p < 0 else "share",
                         REGIONS[int(region[i])])
        n_debunk = int(shares_per_rumour * debunk_fraction)
        if n_debunk:
            d_parents, d_delays = cascade_arrays(n_debunk, rng)
            d0 = t0 + int(delays[min(len(delays) - 1, shares_per_rumour // 4)] * 1000)
            d_acct = rng.integers(0, n_accounts, n_debunk)
            for i in range(n_debunk):
                p = int(d_parents[i])
                yield _event(rumour_id, "d", i, p, f"{prefix}-u{int(d_acct[i])}", d0 + int(d_delays[i] * 1000),
                             None, "debunk", REGIONS[int(rng.integers(0, len(REGIONS)))])
