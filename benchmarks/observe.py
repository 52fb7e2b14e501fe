"""Observation models: what an analyst sees of a simulated cascade.

Cascades are arrays in infection order: ``nodes`` (ids), ``times``, ``parents`` (parent node
id, -1 for a seed), as ``benchmarks.generators.Cascade``. Parent-link models work on
``(parents, times)`` arrays indexed by event position (parent given as an event index).
Every random model takes a ``seed``.
"""
from __future__ import annotations

import numpy as np


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def snapshot(cascade) -> np.ndarray:
    """The infected set only, as sorted node ids (order and times hidden).

    >>> from benchmarks.generators import Cascade
    >>> snapshot(Cascade(np.array([5, 2, 9]), np.zeros(3), np.array([-1, 5, 5]))).tolist()
    [2, 5, 9]
    """
    return np.sort(np.asarray(cascade.nodes))


def sampled_timestamps(cascade, p: float, seed, min_observed: int = 1):
    """Each infected node is seen with probability p, with its infection time. Returns
    ``(nodes, times)`` of the observed ones; if fewer than ``min_observed`` were drawn, uniform
    extra ones are added so estimators always have something to work with.

    >>> from benchmarks.generators import Cascade
    >>> c = Cascade(np.arange(100), np.arange(100.0), np.arange(-1, 99))
    >>> nodes, times = sampled_timestamps(c, 0.2, seed=1)
    >>> 5 < len(nodes) < 40, bool((times == nodes).all())
    (True, True)
    """
    rng = _rng(seed)
    n = len(cascade.nodes)
    seen = rng.random(n) < p
    short = min(min_observed, n) - int(seen.sum())
    if short > 0:
        seen[rng.choice(np.flatnonzero(~seen), size=short, replace=False)] = True
    return np.asarray(cascade.nodes)[seen], np.asarray(cascade.times)[seen]


def to_event_parents(cascade) -> np.ndarray:
    """Parents as event positions (index into ``cascade.nodes``), -1 for seeds.

    >>> from benchmarks.generators import Cascade
    >>> to_event_parents(Cascade(np.array([5, 2, 9]), np.zeros(3), np.array([-1, 5, 2]))).tolist()
    [-1, 0, 1]
    """
    nodes = np.asarray(cascade.nodes)
    pos = {int(v): i for i, v in enumerate(nodes)}
    return np.array([pos[int(p)] if p >= 0 else -1 for p in cascade.parents], dtype=np.int64)


def mask_parents(parents, fraction: float, seed):
    """Hide the parent of a random ``fraction`` of the events that have one. Returns
    ``(observed_parents, masked)`` where masked events read -1 and ``masked`` flags them.

    >>> par, m = mask_parents(np.array([-1, 0, 0, 1, 1, 2]), 0.4, seed=0)
    >>> int(m.sum()), bool((par[m] == -1).all()), int(par[0])
    (2, True, -1)
    """
    rng = _rng(seed)
    parents = np.asarray(parents).copy()
    has = np.flatnonzero(parents >= 0)
    k = int(round(fraction * len(has)))
    masked = np.zeros(len(parents), dtype=bool)
    masked[rng.choice(has, size=k, replace=False)] = True
    parents[masked] = -1
    return parents, masked


def remove_origin(parents, times, origin: int = 0, keep_account_link: bool = True):
    """Delete the origin's own post (event ``origin``). Its children lose their parent event;
    with ``keep_account_link`` they still name the deleted post's account, returned as
    ``names_origin`` flags. Returns ``(parents, times, names_origin, kept)`` with events
    renumbered over ``kept`` (the original indices of the remaining events).

    >>> p, t, names, kept = remove_origin(np.array([-1, 0, 0, 1]), np.array([0.0, 1, 2, 3]))
    >>> p.tolist(), names.tolist(), kept.tolist()
    ([-1, -1, 0], [True, True, False], [1, 2, 3])
    """
    parents = np.asarray(parents)
    times = np.asarray(times)
    kept = np.flatnonzero(np.arange(len(parents)) != origin)
    new_index = np.full(len(parents), -1, dtype=np.int64)
    new_index[kept] = np.arange(len(kept))
    old_par = parents[kept]
    names = (old_par == origin) & keep_account_link
    new_par = np.where(old_par >= 0, new_index[np.maximum(old_par, 0)], -1)
    return new_par, times[kept], names, kept


def merge_sources(cascades):
    """Multi-source: merge several independent ``(parents, times)`` cascades (event-index
    parents) into one time-ordered event list. Returns ``(parents, times, seed_of)`` where
    ``seed_of[i]`` is which input cascade event i came from.

    >>> p, t, s = merge_sources([(np.array([-1, 0]), np.array([0.0, 2.0])), (np.array([-1]), np.array([1.0]))])
    >>> p.tolist(), t.tolist(), s.tolist()
    ([-1, -1, 0], [0.0, 1.0, 2.0], [0, 1, 0])
    """
    parents, times, which, offset = [], [], [], 0
    for k, (par, tim) in enumerate(cascades):
        par = np.asarray(par)
        parents.append(np.where(par >= 0, par + offset, -1))
        times.append(np.asarray(tim, dtype=np.float64))
        which.append(np.full(len(par), k))
        offset += len(par)
    parents, times, which = np.concatenate(parents), np.concatenate(times), np.concatenate(which)
    order = np.argsort(times, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    new_par = np.where(parents[order] >= 0, rank[np.maximum(parents[order], 0)], -1)
    return new_par, times[order], which[order]
