"""How much k-node blocking can achieve at all on a set of live-edge worlds: LP bound and MIP.

On S sampled live-edge worlds (the independent cascade's outcomes, graph/blocking.py), blocking
a set B of k uninfected nodes leaves, in world s, the nodes reachable from the infected set I
around B. The sample problem "choose B minimising the mean reach" is the integer program

    min  sum_{s,u} y_{s,u}
    s.t. y_{s,u} >= y_{s,w} - x_u   for each live edge w->u of world s  (y_{s,w} = 1 for w in I)
         sum_v x_v <= k,  x_v in {0, 1} (x = 0 on I),  y in [0, 1]

With x integral the smallest feasible y is exactly the reach indicator, so the MIP optimum is
the best k-set on those worlds (:func:`solve` with ``integral=True``, scipy.optimize.milp /
HiGHS); relaxing x to [0, 1] gives an LP (scipy.optimize.linprog / HiGHS) whose value no k-set
can beat. Only nodes reached in a world without blocking get a y variable there (a node not
reached stays unreached under any blocking), and only live edges between reached nodes into
uninfected ones give a constraint.

Two uses in benchmarks/accuracy_blocking.py (``--bound``): solved on the fitting worlds, the
optimal (MIP) or LP-rounded set is evaluated on held-out worlds like any method; solved on the
evaluation worlds themselves, the LP value and the MIP's dual bound cap what *any* k-set scores
on the measure as reported (it is measured on those same worlds).

scipy stays here, not in graph/ (docs/ARCHITECTURE.md allows only scipy.sparse.csgraph there).
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp


@njit(cache=True)
def _reached(indptr, indices, live, infected):
    """(S, n) uint8: node reached from the infected set over world s's live edges (no blocking)."""
    n = indptr.shape[0] - 1
    out = np.zeros((live.shape[0], n), np.uint8)
    stack = np.empty(n, np.int64)
    for r in range(live.shape[0]):
        seen = out[r]
        top = 0
        for v in range(n):
            if infected[v]:
                seen[v] = 1
                stack[top] = v
                top += 1
        while top > 0:
            top -= 1
            u = stack[top]
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                if live[r, e] and not seen[v]:
                    seen[v] = 1
                    stack[top] = v
                    top += 1
    return out


def build(indptr, indices, live, infected, k: int):
    """The program's arrays: (c, A (csr), lower, upper, row_lo, row_hi, cand, n_y, base).

    Columns are x of the candidates ``cand`` (uninfected nodes reached in some world) then the
    y of each (world, reached uninfected node); rows are the edge constraints then the budget.
    ``base`` is the mean reach without blocking (the infected included).

    >>> ip, ix = np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1])  # path 0-1-2, 0 infected
    >>> c, A, *_, cand, n_y, base = build(ip, ix, np.ones((1, 4), bool), np.array([1, 0, 0], bool), 1)
    >>> cand.tolist(), n_y, base, A.shape
    ([1, 2], 2, 3.0, (5, 6))
    """
    indptr = np.asarray(indptr, np.int64)
    indices = np.asarray(indices, np.int64)
    live = np.asarray(live, bool)
    inf = np.asarray(infected, bool)
    n, S = len(indptr) - 1, live.shape[0]
    reached = _reached(indptr, indices, live.view(np.uint8), inf.astype(np.uint8)).view(bool)
    base = float(reached.sum()) / S
    src = np.repeat(np.arange(n), np.diff(indptr))
    has_y = reached & ~inf  # (S, n)
    cand = np.flatnonzero(has_y.any(axis=0))
    xcol = np.full(n, -1, np.int64)
    xcol[cand] = np.arange(len(cand))
    n_y = int(has_y.sum())
    ycol = np.full((S, n), -1, np.int64)
    ycol[has_y] = len(cand) + np.arange(n_y)
    # the live edges that matter: reached source (its own y or infected) into a reached uninfected node
    s_idx, e_idx = np.nonzero(live & reached[:, src] & has_y[:, indices])
    w, u = src[e_idx], indices[e_idx]
    # t_{s,u} = the reach arriving at u before u's own blocking: t_u >= y_w per live edge (t_u = 1
    # from an infected w: a bound, not a row), y_u >= t_u - x_u once per (world, node). Writing
    # y_u >= y_w - x_u per edge instead puts a hub's x in thousands of rows: dense columns that
    # made HiGHS 5-10x slower.
    tcol = ycol + n_y  # t right after the y, same order
    n_cols = len(cand) + 2 * n_y
    lo = np.zeros(n_cols)
    hot = inf[w]
    lo[tcol[s_idx[hot], u[hot]]] = 1.0
    es, ew, eu = s_idx[~hot], w[~hot], u[~hot]
    n_e = len(es)
    ys, yu = np.nonzero(has_y)
    r_e = np.repeat(np.arange(n_e), 2)
    c_e = np.column_stack([ycol[es, ew], tcol[es, eu]]).ravel()
    v_e = np.tile([1.0, -1.0], n_e)
    r_n = n_e + np.repeat(np.arange(n_y), 3)
    c_n = np.column_stack([tcol[ys, yu], ycol[ys, yu], xcol[yu]]).ravel()
    v_n = np.tile([1.0, -1.0, -1.0], n_y)
    n_rows = n_e + n_y + 1
    r_all = np.concatenate([r_e, r_n, np.full(len(cand), n_rows - 1)])
    c_all = np.concatenate([c_e, c_n, np.arange(len(cand))])
    v_all = np.concatenate([v_e, v_n, np.ones(len(cand))])
    A = sparse.csr_array((v_all, (r_all, c_all)), shape=(n_rows, n_cols))
    row_hi = np.concatenate([np.zeros(n_e + n_y), [float(k)]])
    row_lo = np.full(n_rows, -np.inf)
    c = np.concatenate([np.zeros(len(cand)), np.ones(n_y), np.zeros(n_y)])
    return c, A, lo, np.ones(n_cols), row_lo, row_hi, cand, n_y, base


def solve(indptr, indices, live, infected, k: int, integral: bool = False, time_limit: float | None = None) -> dict:
    """Best k-set on the worlds (``integral``: MIP) or its LP relaxation.

    Returns ``reach`` (the program's mean reach, infected included: with the MIP the best
    feasible set's, with the LP a value no k-set goes below), ``bound`` (a mean reach no k-set
    goes below: the LP value, or the MIP's dual bound, equal to ``reach`` when solved to
    optimality), ``base`` (mean reach without blocking), ``x`` (per node, the solution's
    blocking value), ``picks`` (the k nodes of largest x), ``optimal``, ``seconds``.

    >>> ip, ix = np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2])  # path 0-1-2-3
    >>> r = solve(ip, ix, np.ones((1, 6), bool), np.array([1, 0, 0, 0], bool), 1, integral=True)
    >>> r["picks"], r["reach"], r["base"]
    ([1], 1.0, 4.0)
    """
    t0 = time.time()
    inf = np.asarray(infected, bool)
    n, S, n_inf = len(indptr) - 1, np.asarray(live).shape[0], int(inf.sum())
    c, A, lo, hi, row_lo, row_hi, cand, n_y, base = build(indptr, indices, live, inf, k)
    opts = {"time_limit": time_limit} if time_limit else {}
    if n_y == 0:  # nothing can be reached: any set is optimal
        xs, value, bound, optimal = np.zeros(0), 0.0, 0.0, True
    elif integral:
        integ = np.concatenate([np.ones(len(cand)), np.zeros(2 * n_y)])
        res = milp(c, constraints=LinearConstraint(A, row_lo, row_hi), integrality=integ,
                   bounds=Bounds(lo, hi), options=opts)
        if res.x is None:
            raise RuntimeError(f"MIP gave no solution: {res.message}")
        xs, value = res.x[: len(cand)], float(res.fun)
        bound = float(getattr(res, "mip_dual_bound", value) if res.status != 0 else value)
        optimal = res.status == 0
    else:
        res = linprog(c, A_ub=A, b_ub=row_hi, bounds=np.column_stack([lo, hi]), method="highs", options=opts)
        if res.x is None:
            raise RuntimeError(f"LP gave no solution: {res.message}")
        xs, value = res.x[: len(cand)], float(res.fun)
        bound, optimal = value, res.status == 0
    x = np.zeros(n)
    x[cand] = xs
    order = np.argsort(-x, kind="stable")
    picks = [int(v) for v in order[:k] if x[v] > 1e-9 and not inf[v]]
    return {"reach": value / S + n_inf, "bound": bound / S + n_inf, "base": base, "x": x, "picks": picks,
            "optimal": bool(optimal), "seconds": time.time() - t0, "n_y": n_y, "rows": A.shape[0]}


def prevented(reach: float, base: float, n_inf: int) -> float:
    """Fraction of the new infections prevented: 1 - (reach - |I|) / (base - |I|) (1 if none).

    >>> prevented(30.0, 120.0, 20)
    0.9
    """
    new0 = base - n_inf
    return 1.0 - (reach - n_inf) / new0 if new0 > 0 else 1.0


def _summary(rows: list, seed: int = 0) -> str:
    """Table of the per-trial rows: mean and 95% bootstrap interval of each row's fraction of new
    infections prevented, and of the paired differences against degree and ours."""
    from benchmarks.accuracy import bootstrap_mean

    names = [key for key, val in rows[0].items() if isinstance(val, list) and key != "trial"]
    lines = [f"{len(rows)} trials; new infections prevented, mean [95% bootstrap]"]
    for name in names:
        x = np.array([r[name][0] for r in rows])
        lo, hi = bootstrap_mean(x, seed)
        lines.append(f"{name:<11}{x.mean():.3f} [{lo:.3f},{hi:.3f}]")
    pairs = [("bound", "degree_fit"), ("bound", "ours_fit"), ("lp", "degree"), ("ours", "degree"),
             ("ours_swap", "ours"), ("bound_eval", "degree"), ("bound_eval", "ours")]
    for a, b in pairs:
        if a in names and b in names:
            d = np.array([r[a][0] - r[b][0] for r in rows])
            lo, hi = bootstrap_mean(d, seed)
            lines.append(f"{a} - {b}: {d.mean():+.4f} [{lo:+.4f},{hi:+.4f}] max {d.max():+.4f} "
                         f"(share of trials > 0.02: {np.mean(d > 0.02):.2f})")
    info = [r["bound_info"] for r in rows if "bound_info" in r]
    if info:
        lines.append(f"LP integral in {sum(i['integral'] for i in info)}/{len(info)} trials, set exact in "
                     f"{sum(i['exact'] for i in info)}, LP {np.mean([i['seconds'] for i in info]):.1f} s per trial")
    return "\n".join(lines)


def _differs(old: dict, new: dict) -> str:
    """The options whose values differ, as ``--nodes 2000 there, 300 here``.

    >>> _differs({"nodes": 2000, "k": 10}, {"nodes": 300, "k": 10})
    '--nodes 2000 there, 300 here'
    """
    return "; ".join(f"--{key.replace('_', '-')} {old.get(key)} there, {value} here"
                     for key, value in new.items() if old.get(key) != value)


def main(argv=None) -> int:
    """Per-trial rows of benchmarks.accuracy_blocking.trial appended to a JSONL file (resumable:
    trials already in the file are skipped, so runs can be split by --seed and --trials), then
    the summary of every row in the file."""
    import argparse
    import json
    import os

    from benchmarks.accuracy_blocking import METHODS, READINGS, add_trial_options, check_trial_options, trial

    from benchmarks.bench_args import names_of, non_negative_int, output_file, positive_int

    ap = argparse.ArgumentParser(prog="python -m benchmarks.blocking_bound", description=main.__doc__)
    ap.add_argument("--reading", choices=sorted(READINGS), default="observed",
                    help="observed: the cascade continues; dava: the infected set spreads afresh (default observed)")
    ap.add_argument("--model", choices=("ba", "ws"), default="ba", help="contact-graph model (default ba)")
    ap.add_argument("--trials", type=positive_int, default=100, help="trials to run (default 100)")
    ap.add_argument("--seed", type=non_negative_int, default=0,
                    help="seed of the run: trial i is accuracy_blocking's trial i of that seed, so runs with "
                         "two seeds hold disjoint trials (default 0)")
    add_trial_options(ap, samples=100, ours_samples=400, n_eval=500)
    ap.add_argument("--bound-samples", type=non_negative_int, default=50,
                    help="fitting worlds of the LP/MIP (default 50; 0: none)")
    ap.add_argument("--eval-bound", type=non_negative_int, default=0, help="the LP on the evaluation worlds in batches of B")
    ap.add_argument("--search", action="store_true", help="add ours_swap (restarts, ascent to convergence)")
    ap.add_argument("--only", type=lambda x: list(METHODS) if x == "all" else names_of(METHODS)(x), default="degree,ours",
                    help="methods of accuracy_blocking to run (comma list or 'all'; default degree,ours)")
    ap.add_argument("--out", required=True, type=output_file, help="JSONL of per-trial rows (appended)")
    ap.add_argument("--summary-only", action="store_true", help="run no trial: summarise the rows of --out")
    a = ap.parse_args(argv)
    check_trial_options(ap, a)
    probs, rewire = READINGS[a.reading]
    only = tuple(a.only)
    # what a row's figures depend on: rows of another experiment are not summarised with these
    experiment = {key: getattr(a, key) for key in ("reading", "model", "nodes", "k", "observe", "samples",
                                                   "ours_samples", "eval", "bound_samples", "eval_bound", "search")}
    done = set()
    if os.path.exists(a.out):
        with open(a.out) as fh:
            old = [json.loads(line) for line in fh if line.strip()]
        if a.summary_only and old:  # summarising: the file's own experiment, whatever the options say
            experiment = old[0].get("experiment", experiment)
        for row in old:
            if "seed" not in row:  # trial t was seeded t before, another cascade than (seed, model, i) gives
                ap.error(f"{a.out} holds trials seeded the old way (seed + i); give another --out")
            if row.get("experiment", experiment) != experiment:
                ap.error(f"{a.out} holds trials of another experiment ({_differs(row['experiment'], experiment)}); "
                         f"give another --out")
        done = {(row["seed"], row["trial"]) for row in old}
    elif a.summary_only:
        ap.error(f"--summary-only: {a.out} does not exist")
    for t in range(0 if a.summary_only else a.trials):
        if (a.seed, t) in done:
            continue
        out = trial(a.model, a.nodes, probs[a.model], a.k, a.observe, a.samples, a.ours_samples, a.eval, a.seed,
                    rewire, 1, a.reading, a.bound_samples, a.search, a.eval_bound, only, index=t)
        out = {key: (list(val) if isinstance(val, tuple) else val) for key, val in out.items()}
        with open(a.out, "a") as fh:
            fh.write(json.dumps(dict(out, seed=a.seed, trial=t, experiment=experiment)) + "\n")
    with open(a.out) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    e = experiment  # the file's, so --summary-only says what its rows ran
    print(f"[{e['reading']}] {e['model']} {e['nodes']} nodes, IC p={READINGS[e['reading']][0][e['model']]}, "
          f"{e['observe']} infected, k={e['k']}")
    print(_summary(sorted(rows, key=lambda r: (r["seed"], r["trial"]))))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
