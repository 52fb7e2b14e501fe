"""Quick timing printout of the graph core (not a test): ms at N shares and bytes per share.

    .venv/bin/python -m benchmarks.trace_quick [--shares 1000000] [--seed 0] [--repeat 5]

Builds a seeded random cascade (a few roots, preferential attachment to recent and popular
shares, accounts reused), in arrival order, then measures medians of: a live update of 1,000 new
shares, origins + 10 chains right after it (cold: the resolved view is recomputed), cut-off k=10,
subtree sizes and depths; optionally the shuffled (out-of-order) arrival of the same cascade;
and, for scale, the machine's random-access limit over the same n (pointer chase, gather).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from numba import njit

from graph import CascadeGraph


def cascade(n: int, seed: int):
    """Columns of a synthetic cascade of n shares (parents always earlier)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    # Half attach to a recent share, half to an early "popular" one: deep and bushy parts.
    recent = idx - 1 - rng.geometric(0.01, n)
    popular = (rng.random(n) ** 3 * idx).astype(np.int64)
    par = np.where(rng.random(n) < 0.5, recent, popular)
    par[rng.random(n) < 1e-4] = -1
    par[0] = -1
    par = np.where(par < 0, -1, par)
    acc = rng.integers(0, max(1, n // 2), n)
    ts = 1_600_000_000_000 + np.cumsum(rng.integers(0, 50, n))
    eid = [f"e{i}" for i in range(n)]
    aid = [f"u{a}" for a in acc]
    pe = [eid[p] if p >= 0 else None for p in par.tolist()]
    pa = [aid[p] if p >= 0 else None for p in par.tolist()]
    return eid, aid, ts, pe, pa


@njit(cache=True)
def _chase(nxt, steps):
    v = 0
    for _ in range(steps):
        v = nxt[v]
    return v


@njit(cache=True)
def _gather_sum(a, idx):
    s = 0
    for i in idx:
        s += a[i]
    return s


def random_access_limit(n: int, seed: int, repeat: int = 3) -> dict:
    """The machine's random-access limit over n int32: a dependent pointer chase (one cycle
    through a random permutation) and an independent random gather, in ms per n accesses."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n).astype(np.int32)
    nxt = np.empty(n, np.int32)
    nxt[perm] = np.roll(perm, 1)
    _chase(nxt, 10)
    _gather_sum(nxt, perm[:10])
    chase_ms, _ = _ms(lambda: _chase(nxt, n), repeat)
    gather_ms, _ = _ms(lambda: _gather_sum(nxt, perm), repeat)
    return {"pointer_chase_ms": round(chase_ms, 1), "random_gather_ms": round(gather_ms, 1)}


def _ms(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), out


def run(n: int, seed: int, repeat: int, shuffled: bool = False) -> dict:
    eid, aid, ts, pe, pa = cascade(n + 1000 * repeat, seed)
    if shuffled:
        perm = np.random.default_rng(seed + 1).permutation(n)
        cols = [eid[:n], aid[:n], ts[:n], pe[:n], pa[:n]]
        eid_s, aid_s, pe_s, pa_s = ([c[i] for i in perm.tolist()] for c in (cols[0], cols[1], cols[3], cols[4]))
        head = (eid_s, aid_s, ts[:n][perm], pe_s, pa_s)
    else:
        head = (eid[:n], aid[:n], ts[:n], pe[:n], pa[:n])
    g = CascadeGraph("bench")
    t0 = time.perf_counter()
    step = 10_000
    for i in range(0, n, step):
        g.add_batch(head[0][i:i + step], head[1][i:i + step], head[2][i:i + step],
                    head[3][i:i + step], head[4][i:i + step])
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 2)
    probe = [eid[int(i)] for i in rng.integers(0, n, 10)]
    upd, org, cut = [], [], []
    for r in range(repeat):
        a, b = n + 1000 * r, n + 1000 * (r + 1)
        t0 = time.perf_counter()
        g.add_batch(eid[a:b], aid[a:b], ts[a:b], pe[a:b], pa[a:b])
        upd.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        g.origins(limit=100)
        for e in probe:
            g.chain(e)
        org.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        top = g.cutoff(10)
        cut.append((time.perf_counter() - t0) * 1e3)
    sizes_ms, _ = _ms(g.subtree_sizes, repeat)
    depths_ms, _ = _ms(g.depths, repeat)
    return {
        "shares": g.n_events, "shuffled": shuffled, "accounts": g.n_accounts,
        "build_events_per_s": round(n / build_s),
        "update_1000_ms": round(statistics.median(upd), 3),
        "origins_chains_ms": round(statistics.median(org), 2),
        "cutoff_ms": round(statistics.median(cut), 2),
        "subtree_sizes_ms": round(sizes_ms, 2), "depths_ms": round(depths_ms, 2),
        "bytes_per_share": round(g.nbytes() / g.n_events, 1),
        "top_cutoff": [tuple(c) for c in top[:3]],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shares", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shuffled", action="store_true", help="also time out-of-order arrival")
    args = ap.parse_args(argv)
    run(2000, args.seed, 1)  # compile / load the numba cache outside the timings
    print(json.dumps({"n": args.shares, **random_access_limit(args.shares, args.seed)}))
    print(json.dumps(run(args.shares, args.seed, args.repeat)))
    if args.shuffled:
        print(json.dumps(run(args.shares, args.seed, args.repeat, shuffled=True)))


if __name__ == "__main__":
    main()
