"""Numba sweeps over the resolved cascade forest: order, preorder, subtree sizes, depths, paths.

``par[j]`` (int32, -1 = root) is the *resolved* parent of node ``j``; it is derived from the
recorded links by :func:`graph.kernels_forest.resolve_parents` (re-exported here with
``events_by_account``) and is what every kernel here takes. Node indices
follow arrival order, so ``par[j] < j`` holds in the common in-order stream but not in general:
kernels take either an empty ``order`` (forward fast path, see :func:`is_forward`) or an
explicit topological order (nodes by depth, :func:`topo_order`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from graph.kernels_forest import events_by_account, resolve_parents

# The public API; it names the forest-resolution kernels (now in graph.kernels_forest) as
# re-exported.
__all__ = ["events_by_account", "resolve_parents", "is_forward", "walked_depths", "topo_order",
           "preorder_positions", "node_counts", "node_counts_into", "preorder_slots",
           "preorder_slots_into", "children_csr", "preorder", "subtree_sizes", "depths",
           "path_to_root", "path_up_to", "subtree_nodes"]

_PRESENT = 0x80


@njit(cache=True)
def is_forward(par):
    """True when every parent precedes its child (then index order is a topological order)."""
    for j in range(par.shape[0]):
        if par[j] >= j:
            return False
    return True


@njit(cache=True)
def walked_depths(par):
    """Edges from each node up to its root (roots 0), in any node order and without recursion:
    each node walks up to the first ancestor of known depth, then the walked path gets its
    depths (each node is walked about twice). A walk stops after ``n`` steps, so links that
    make a cycle (observed links can: graph/reconstruct_kernels.py) end it rather than loop.

    >>> walked_depths(np.array([-1, 3, 0, 2], np.int32)).tolist()
    [0, 3, 1, 2]
    >>> walked_depths(np.array([1, 0, -1], np.int32)).tolist()  # a cycle: ends (its depths mean nothing)
    [2, 1, 0]
    """
    n = par.shape[0]
    depth = np.full(n, -1, np.int32)
    path = np.empty(n, np.int32)
    for v in range(n):
        if depth[v] >= 0:
            continue
        m = 0
        u = v
        while u >= 0 and depth[u] < 0 and m < n:
            path[m] = u
            m += 1
            u = par[u]
        d = -1 if u < 0 else depth[u]
        for k in range(m - 1, -1, -1):
            d += 1
            depth[path[k]] = d
    return depth


@njit(cache=True)
def topo_order(par):
    """Nodes by depth (parents before children): :func:`walked_depths`, then a counting sort
    by depth.

    >>> topo_order(np.array([-1, 3, 0, 2], np.int32)).tolist()
    [0, 2, 3, 1]
    """
    n = par.shape[0]
    depth = walked_depths(par)
    max_d = 0
    for v in range(n):
        if depth[v] > max_d:
            max_d = depth[v]
    start = np.zeros(max_d + 2, np.int64)
    for v in range(n):
        start[depth[v] + 1] += 1
    for d in range(max_d + 1):
        start[d + 1] += start[d]
    order = np.empty(n, np.int32)
    for v in range(n):
        order[start[depth[v]]] = v
        start[depth[v]] += 1
    return order


@njit(cache=True)
def preorder_positions(par, topo):
    """A DFS preorder without a DFS: (cnt, pos), subtree node counts and the position of each
    node in a preorder, so the subtree of ``v`` is positions ``pos[v]:pos[v]+cnt[v]``.
    ``topo``: a topological order, or empty for index order.

    Two sweeps: counts bottom-up, then each node takes the next free slot inside its parent's
    interval (children in topological order)."""
    cnt = node_counts(par, topo)
    return cnt, preorder_slots(par, topo, cnt)


@njit(cache=True)
def node_counts(par, topo):
    """Nodes in each node's subtree, itself included (``topo`` as in :func:`preorder_positions`).

    >>> node_counts(np.array([-1, 0, 0, 1], np.int32), np.zeros(0, np.int32)).tolist()
    [4, 2, 1, 1]
    """
    return node_counts_into(par, topo, np.empty(par.shape[0], np.int32))


@njit(cache=True)
def node_counts_into(par, topo, cnt):
    """:func:`node_counts` written into ``cnt`` (int32, one per node; its contents are
    overwritten), which it returns: callers that ask again keep one buffer (no fresh pages).

    >>> cnt = np.zeros(4, np.int32)
    >>> _ = node_counts_into(np.array([-1, 0, 0, 1], np.int32), np.zeros(0, np.int32), cnt)
    >>> cnt.tolist()
    [4, 2, 1, 1]
    """
    fwd = topo.shape[0] == 0
    cnt[:] = 1
    for i in range(par.shape[0] - 1, -1, -1):
        v = i if fwd else topo[i]
        if par[v] >= 0:
            cnt[par[v]] += cnt[v]
    return cnt


@njit(cache=True)
def preorder_slots(par, topo, cnt):
    """The ``pos`` of :func:`preorder_positions` from the node counts ``cnt``.

    >>> par = np.array([-1, 0, 0, 1], np.int32)
    >>> preorder_slots(par, np.zeros(0, np.int32), np.array([4, 2, 1, 1], np.int32)).tolist()
    [0, 1, 3, 2]
    """
    n = par.shape[0]
    return preorder_slots_into(par, topo, cnt, np.empty(n, np.int32), np.empty(n, np.int32))


@njit(cache=True)
def preorder_slots_into(par, topo, cnt, pos, nxt):
    """:func:`preorder_slots` written into ``pos``, which it returns; ``nxt`` is scratch (both
    int32, one per node, contents overwritten).

    >>> pos, nxt = np.zeros(4, np.int32), np.zeros(4, np.int32)
    >>> par, cnt = np.array([-1, 0, 0, 1], np.int32), np.array([4, 2, 1, 1], np.int32)
    >>> _ = preorder_slots_into(par, np.zeros(0, np.int32), cnt, pos, nxt)
    >>> pos.tolist()
    [0, 1, 3, 2]
    """
    n = par.shape[0]
    fwd = topo.shape[0] == 0
    next_root = 0
    for i in range(n):
        v = i if fwd else topo[i]
        p = par[v]
        if p < 0:
            pos[v] = next_root
            next_root += cnt[v]
        else:
            pos[v] = nxt[p]
            nxt[p] += cnt[v]
        nxt[v] = pos[v] + 1
    return pos


@njit(cache=True)
def children_csr(par):
    """The children of every node in CSR form, each run in index order: the children of ``v``
    are ``kids[start[v]:start[v + 1]]`` (a negative parent: a root).

    >>> start, kids = children_csr(np.array([-1, 0, 0, 1], np.int64))
    >>> start.tolist(), kids.tolist()
    ([0, 2, 3, 3, 3], [1, 2, 3])
    """
    n = par.shape[0]
    start = np.zeros(n + 1, np.int64)
    for j in range(n):
        if par[j] >= 0:
            start[par[j] + 1] += 1
    for j in range(n):
        start[j + 1] += start[j]
    kids = np.empty(start[n], np.int32)
    fill = start[:-1].copy()
    for j in range(n):
        p = par[j]
        if p >= 0:
            kids[fill[p]] = j
            fill[p] += 1
    return start, kids


@njit(cache=True)
def preorder(par):
    """(order, cnt, pos): the nodes in depth-first preorder (roots, and each node's children,
    in index order), each node's subtree node count and its position in ``order``, so the
    subtree of ``v`` is ``order[pos[v]:pos[v] + cnt[v]]``. Safe on any parent array: nodes
    that no root reaches (on a cycle, or below one; a resolved forest has none, untrusted
    parent arrays may) follow all the trees, in index order, each its own one-node range
    (``cnt`` 1): no node is inside another's range unless a root's tree puts it there.

    >>> order, cnt, pos = preorder(np.array([-1, 0, -1, 0, 1], np.int64))
    >>> order.tolist(), cnt.tolist()
    ([0, 1, 4, 3, 2], [4, 2, 1, 1, 1])
    >>> preorder(np.array([-1, 2, 1, 1], np.int64))[0].tolist()  # 1 <-> 2 a cycle, 3 below it
    [0, 1, 2, 3]
    """
    n = par.shape[0]
    start, kids = children_csr(par)
    order = np.empty(n, np.int32)
    # The visited mark: a walk down from the roots never meets a cycle (each node has one
    # parent, so a cycle's nodes are nobody else's children); what it leaves unmarked is what
    # no root reaches. Every node is pushed at most once (when its one parent is popped).
    seen = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int32)
    m = 0
    for r in range(n):
        if par[r] >= 0:
            continue
        stack[0] = r
        top = 1
        while top > 0:
            top -= 1
            x = stack[top]
            seen[x] = True
            order[m] = x
            m += 1
            for c in range(start[x + 1] - 1, start[x] - 1, -1):  # reversed: popped in index order
                stack[top] = kids[c]
                top += 1
    for v in range(n):
        if not seen[v]:
            order[m] = v
            m += 1
    cnt = np.ones(n, np.int32)
    pos = np.empty(n, np.int32)
    for i in range(n - 1, -1, -1):
        v = order[i]
        pos[v] = i
        if seen[v] and par[v] >= 0:  # an unreached node's parent is unreached too: no range
            cnt[par[v]] += cnt[v]
    return order, cnt, pos


@njit(cache=True)
def subtree_sizes(par, kf, order):
    """Present events in each node's subtree (itself included when present).

    ``order`` is a topological order, or an empty array for the forward fast path.
    """
    n = par.shape[0]
    sz = np.zeros(n, np.int32)
    fwd = order.shape[0] == 0
    for i in range(n - 1, -1, -1):
        v = i if fwd else order[i]
        if kf[v] & _PRESENT:
            sz[v] += 1
        if par[v] >= 0:
            sz[par[v]] += sz[v]
    return sz


@njit(cache=True)
def depths(par, order):
    """Edges from each node up to its root (roots 0); ``order`` as in :func:`subtree_sizes`."""
    n = par.shape[0]
    d = np.zeros(n, np.int32)
    fwd = order.shape[0] == 0
    for i in range(n):
        v = i if fwd else order[i]
        if par[v] >= 0:
            d[v] = d[par[v]] + 1
    return d


@njit(cache=True)
def path_to_root(par, j):
    """Nodes from ``j`` up to its root, ``j`` first."""
    return path_up_to(par, j, -1)


@njit(cache=True)
def path_up_to(par, j, top):
    """Nodes from ``j`` up to ``top``, both included, ``j`` first; up to ``j``'s root when
    ``top`` is not above it (the caller checks the last node). Steps only as far as ``top``:
    a subtree deep in a long chain does not walk the chain above it.

    >>> par = np.array([-1, 0, 1, 2], np.int32)
    >>> path_up_to(par, 3, 1).tolist(), path_up_to(par, 1, 3).tolist()
    ([3, 2, 1], [1, 0])
    """
    m = 0
    v = j
    while v >= 0:
        m += 1
        if v == top:
            break
        v = par[v]
    out = np.empty(m, np.int32)
    v = j
    for k in range(m):
        out[k] = v
        v = par[v]
    return out


@njit(cache=True)
def subtree_nodes(par, order, j):
    """Nodes of the subtree of ``j`` (``j`` itself included), in index order; ``order`` as in
    :func:`subtree_sizes`. One forward sweep: a parent is marked before its children.

    >>> subtree_nodes(np.array([-1, 0, 0, 1, 3, -1], np.int32), np.zeros(0, np.int32), 1).tolist()
    [1, 3, 4]
    >>> subtree_nodes(np.array([2, -1, 1], np.int32), np.array([1, 2, 0], np.int32), 2).tolist()
    [0, 2]
    """
    n = par.shape[0]
    inside = np.zeros(n, np.bool_)
    inside[j] = True
    fwd = order.shape[0] == 0
    for i in range(n):
        v = i if fwd else order[i]
        if par[v] >= 0 and inside[par[v]]:
            inside[v] = True
    return np.flatnonzero(inside).astype(np.int32)
