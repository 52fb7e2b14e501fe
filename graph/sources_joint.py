"""Source detection from a snapshot plus a sample of infection times (the sampled-timestamp
model when the infected set is also known): the combined estimator of the accuracy benchmark.

What it sees: the contact graph, the infected set I, and for a sample of infected nodes their
infection times on a clock of unknown origin (the time the snapshot was taken is not used).
Candidates are the infected nodes. The score of a candidate s adds log-likelihood-like terms:

- the snapshot estimator ``graph.sources_dmp.dmp_rumor``: log rumor centrality of s averaged
  over BFS trees of I, plus half the tempered DMP log-likelihood of I (degrees and boundary);
- ``CORR_WEIGHT * z|z| / 2`` where z is the Fisher z of the correlation between observed times
  and contact-graph hop distances from s, scaled by sqrt(k - 3): z^2/2 is the log-likelihood
  ratio of a correlation that strong against none (signed, so anti-correlation counts against).

DMP's own likelihood of the observed times (``dmp_timestamps``) multiplies per-observer
marginals and so loses the ordering among observers; the correlation keeps it. Weights were
chosen on development seeds (not the benchmark's): see benchmarks/RESULTS.md.
"""
from __future__ import annotations

import numpy as np

from graph.sources import SourceScores, snapshot_scores
from graph.sources_dmp import dmp_scores
from graph.sources_time import _corr_and_fit, observer_distances

INSIDE_WEIGHT = 0.1
DMP_WEIGHT = 0.5
CORR_WEIGHT = 2.0


def correlation_z(indptr, indices, observers, times, candidates) -> np.ndarray:
    """Fisher z of the Pearson correlation between observed time and contact-graph hop
    distance from each candidate, times sqrt(k - 3) (k observers); 0 when undefined.

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> z = correlation_z(ip, ix, [0, 1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0, 5.0], [0, 4])
    >>> bool(z[0] > 3 > -3 > z[1])  # path 0-1-2-3-4, times growing from node 0
    True
    """
    observers = np.asarray(observers, dtype=np.int32)
    dist = observer_distances(indptr, indices, observers, np.asarray(candidates, dtype=np.int64))
    corr, _ = _corr_and_fit(dist, np.asarray(times, dtype=np.float64), 1.0)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    k = len(observers)
    return np.arctanh(np.clip(corr, -0.999, 0.999)) * np.sqrt(max(k - 3, 1))


def snapshot_time_source(indptr, indices, infected, observers, times, lam: float = 0.1,
                         corr_weight: float = CORR_WEIGHT) -> SourceScores:
    """The combined snapshot + sampled-times estimator (see the module docstring); ``lam`` is
    the per-step SI transmission probability assumed by DMP.

    >>> ip = np.array([0, 1, 3, 5, 7, 8], np.int32); ix = np.array([1, 0, 2, 1, 3, 2, 4, 3], np.int32)
    >>> snapshot_time_source(ip, ix, [0, 1, 2, 3, 4], [0, 1, 2, 3], [10.0, 11.0, 12.0, 13.0], lam=0.5).best()
    0
    """
    nodes, dmp = dmp_scores(indptr, indices, infected, lam, (INSIDE_WEIGHT,))
    rumor = snapshot_scores(indptr, indices, infected)["rumor_avg"]
    z = correlation_z(indptr, indices, observers, times, nodes)
    return SourceScores(nodes, rumor + DMP_WEIGHT * dmp[0] + corr_weight * 0.5 * z * np.abs(z))
