"""Blocking k uninfected nodes to stop an independent cascade that is already under way.

The independent cascade (IC) with edge probability p is the reachability of a random
*live-edge* graph (each directed edge u->v kept with probability p): the final infected set is
every node reachable from the infected set I. Blocking node v saves, in one live-edge sample,
exactly the nodes that v *dominates* (every path from I passes through v), i.e. v's subtree in
the dominator tree rooted at a virtual source joined to I. One dominator tree per sample gives
the marginal saving of *every* candidate at once, so the greedy over R samples ("dominator tree
based" blocking) costs k passes of R dominator trees. Dominators: the iterative algorithm of
Cooper, Harvey and Kennedy (2001) over the reachable live edges in reverse postorder.

:func:`dominator_greedy` is that greedy; :func:`dominator_refine` then revisits each pick with
the others held blocked and swaps in the best node for that slot (a coordinate ascent on the
same samples that never lowers their saving); :func:`degree_block` and :func:`netshield_block`
(Tong et al. 2010, eigen-drop on the adjacency) are the baselines.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def live_edges(indptr, n_samples: int, p: float, seed) -> np.ndarray:
    """``(n_samples, m)`` bool: edge slot e (u->indices[e], u's CSR row) live in sample r.

    >>> live_edges(np.array([0, 1, 2]), 3, 0.5, seed=0).shape
    (3, 2)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.random((int(n_samples), int(indptr[-1])), dtype=np.float32) < np.float32(p)


@njit(cache=True)
def _dominated(indptr, indices, live, infected, blocked, idom, post, size, roots, buf, cnt, preds):
    """One sample: fills idom (super-source = n), post (postorder number, -1 unreached) and
    size (dominated-subtree size); returns how many nodes (s included) ``buf[0]`` lists in
    postorder. ``buf`` (3, n+1), ``cnt`` (n+2) and ``preds`` (edge slots + n) are scratch."""
    n = indptr.shape[0] - 1
    s = n
    order = buf[0]
    st_node = buf[1]
    st_ptr = buf[2]
    seen = post  # post >= 0 once finished; -2 marks "on the stack"
    for v in range(n + 1):
        post[v] = -1
        idom[v] = -1
    top = 0
    st_node[0] = s
    st_ptr[0] = 0
    seen[s] = -2
    k = 0
    while top >= 0:  # iterative DFS; s's out-list is the infected set
        u = st_node[top]
        nxt = -1  # u's next unseen successor, if any
        if u == s:
            while st_ptr[top] < roots.shape[0]:
                v = roots[st_ptr[top]]
                st_ptr[top] += 1
                if seen[v] == -1:
                    nxt = v
                    break
        else:
            while st_ptr[top] < indptr[u + 1]:
                e = st_ptr[top]
                st_ptr[top] += 1
                v = indices[e]
                if live[e] and seen[v] == -1 and not blocked[v]:
                    nxt = v
                    break
        if nxt >= 0:
            seen[nxt] = -2
            top += 1
            st_node[top] = nxt
            st_ptr[top] = indptr[nxt]
        else:
            post[u] = k
            order[k] = u
            k += 1
            top -= 1
    # predecessors inside the reached subgraph (CSR by target)
    cnt[:] = 0
    for i in range(k):
        u = order[i]
        if u == s:
            continue
        if infected[u]:
            cnt[u + 1] += 1
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if live[e] and post[v] >= 0 and not infected[v]:
                cnt[v + 1] += 1
    for v in range(n + 1):
        cnt[v + 1] += cnt[v]
    fill = st_ptr  # the DFS stack is free again
    for v in range(n + 1):
        fill[v] = cnt[v]
    for i in range(k):
        u = order[i]
        if u == s:
            continue
        if infected[u]:
            preds[fill[u]] = s
            fill[u] += 1
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if live[e] and post[v] >= 0 and not infected[v]:
                preds[fill[v]] = u
                fill[v] += 1
    idom[s] = s
    changed = True
    while changed:  # Cooper-Harvey-Kennedy, reverse postorder
        changed = False
        for i in range(k - 2, -1, -1):
            v = order[i]
            new = -1
            for j in range(cnt[v], cnt[v + 1]):
                q = preds[j]
                if idom[q] < 0:
                    continue
                if new < 0:
                    new = q
                    continue
                a, b = q, new
                while a != b:
                    while post[a] < post[b]:
                        a = idom[a]
                    while post[b] < post[a]:
                        b = idom[b]
                new = a
            if idom[v] != new:
                idom[v] = new
                changed = True
    for i in range(k):
        size[order[i]] = 1
    for i in range(k - 1):  # a dominator finishes after every node it dominates
        v = order[i]
        size[idom[v]] += size[v]
    return k


@njit(cache=True)
def _gains(indptr, indices, live, infected, blocked):
    n = indptr.shape[0] - 1
    gain = np.zeros(n, np.float64)
    reach = 0.0
    idom = np.empty(n + 1, np.int64)
    post = np.empty(n + 1, np.int64)
    size = np.zeros(n + 1, np.int64)
    roots = np.flatnonzero(infected)
    buf = np.empty((3, n + 1), np.int64)
    cnt = np.zeros(n + 2, np.int64)
    preds = np.empty(indices.shape[0] + n, np.int64)
    order = buf[0]
    for r in range(live.shape[0]):
        k = _dominated(indptr, indices, live[r], infected, blocked, idom, post, size, roots, buf, cnt, preds)
        reach += k - 1
        for i in range(k - 1):
            v = order[i]
            if not infected[v]:
                gain[v] += size[v]
    return gain / live.shape[0], reach / live.shape[0]


def dominator_gains(indptr, indices, live, infected, blocked=None):
    """(saving per node, expected final infected): mean dominated-subtree size over the samples.

    >>> ip, ix = np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1])  # path 0-1-2
    >>> g, reach = dominator_gains(ip, ix, np.ones((1, 4), bool), np.array([1, 0, 0], bool))
    >>> g.tolist(), reach
    ([0.0, 2.0, 1.0], 3.0)
    """
    n = len(indptr) - 1
    blocked = np.zeros(n, np.uint8) if blocked is None else np.asarray(blocked, np.uint8)
    live = np.asarray(live)
    live = live.view(np.uint8) if live.dtype == np.bool_ else live.astype(np.uint8)
    return _gains(np.asarray(indptr, np.int64), np.asarray(indices, np.int64),
                  live, np.asarray(infected, np.uint8), blocked)


def _best(gain, infected, blocked):
    g = np.where(infected | blocked, -1.0, gain)
    return int(np.argmax(g)), float(g.max())


def dominator_greedy(indptr, indices, live, infected, k: int) -> list:
    """k nodes chosen greedily by mean dominated-subtree size over the live-edge samples.

    >>> ip, ix = np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2])  # path 0-1-2-3
    >>> dominator_greedy(ip, ix, np.ones((2, 6), bool), np.array([1, 0, 0, 0], bool), 1)
    [1]
    """
    infected = np.asarray(infected, bool)
    blocked = np.zeros(len(infected), bool)
    out = []
    for _ in range(int(k)):
        gain, _ = dominator_gains(indptr, indices, live, infected, blocked)
        v, g = _best(gain, infected, blocked)
        if g <= 0:
            break
        blocked[v] = True
        out.append(v)
    return out


def dominator_refine(indptr, indices, live, infected, picks, rounds: int = 2) -> list:
    """Coordinate ascent on a pick list: each slot in turn is re-chosen as the best single node
    with the other picks blocked (exact on the samples), until no slot changes.

    >>> ip, ix = np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2])
    >>> dominator_refine(ip, ix, np.ones((2, 6), bool), np.array([1, 0, 0, 0], bool), [3])
    [1]
    """
    infected = np.asarray(infected, bool)
    picks = list(picks)
    blocked = np.zeros(len(infected), bool)
    blocked[picks] = True
    for _ in range(int(rounds)):
        changed = False
        for j in range(len(picks)):
            blocked[picks[j]] = False
            gain, _ = dominator_gains(indptr, indices, live, infected, blocked)
            v, g = _best(gain, infected, blocked)
            if g > gain[picks[j]] + 1e-9:
                picks[j], changed = v, True
            blocked[picks[j]] = True
        if not changed:
            break
    return picks


def degree_block(indptr, infected, k: int) -> list:
    """The k uninfected nodes of highest degree (ties: lower index).

    >>> degree_block(np.array([0, 1, 4, 5, 6, 7]), np.array([0, 1, 0, 0, 0], bool), 1)
    [0]
    """
    deg = np.diff(np.asarray(indptr)).astype(np.float64)
    deg[np.asarray(infected, bool)] = -1
    return np.argsort(-deg, kind="stable")[: int(k)].tolist()


def netshield_block(indptr, indices, infected, k: int, iters: int = 300) -> list:
    """NetShield (Tong et al., 2010): greedy k nodes maximising the drop of the adjacency's top
    eigenvalue, score(j) = 2*lambda*u_j^2 - 2*sum_{i in S} A_ij u_i u_j; only uninfected nodes.

    >>> ip, ix = np.array([0, 3, 4, 5, 6]), np.array([1, 2, 3, 0, 0, 0])  # a star on 4 nodes
    >>> netshield_block(ip, ix, np.zeros(4, bool), 1)
    [0]
    """
    indptr = np.asarray(indptr, np.int64)
    indices = np.asarray(indices, np.int64)
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    u = np.full(n, 1.0 / np.sqrt(n))
    lam = 0.0
    for _ in range(int(iters)):  # power iteration on A + I (the shift avoids bipartite flip-flop)
        w = np.bincount(rows, weights=u[indices], minlength=n) + u
        lam = float(u @ w) - 1.0
        w /= np.linalg.norm(w)
        if np.abs(w - u).max() < 1e-10:
            u = w
            break
        u = w
    u = np.abs(u)
    score = 2.0 * lam * u * u
    score[np.asarray(infected, bool)] = -np.inf
    out = []
    b = np.zeros(n)  # sum over chosen i of A_ij u_i
    for _ in range(int(k)):
        v = int(np.argmax(score - 2.0 * b * u))
        out.append(v)
        score[v] = -np.inf
        nb = indices[indptr[v]:indptr[v + 1]]
        b[nb] += u[v]
    return out


def dominator_search(indptr, indices, live, infected, starts, rounds: int = 50) -> list:
    """Coordinate ascent (:func:`dominator_refine`) run to convergence from each start list
    (e.g. the greedy's picks and degree's); the result with the smallest mean reach on the
    samples. Restarts matter because the ascent stops at the first set no single swap improves.

    >>> ip, ix = np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2])  # path 0-1-2-3
    >>> dominator_search(ip, ix, np.ones((1, 6), bool), np.array([1, 0, 0, 0], bool), [[3], [2]])
    [1]
    """
    infected = np.asarray(infected, bool)
    best, best_reach = None, np.inf
    for start in starts:
        picks = dominator_refine(indptr, indices, live, infected, start, rounds=rounds)
        blocked = np.zeros(len(infected), bool)
        blocked[picks] = True
        _, reach = dominator_gains(indptr, indices, live, infected, blocked)
        if reach < best_reach - 1e-12:  # ties keep the earlier start
            best, best_reach = picks, reach
    return best
