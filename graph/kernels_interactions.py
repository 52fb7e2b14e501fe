"""Numba kernel of the kept interaction graph (streams/held_interactions.py): one graph's links
as account pairs, and which of them changed since they were last counted.

A pair key is ``child_account << 31 | parent_account`` (as graph/reconstruct.py's
Interactions keys them with ``n_accounts = 1 << 31``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

SHIFT = 31


@njit(cache=True, nogil=True)
def link_changes(par, acct, accounts, old_child, old_parent):
    """``(child, parent, gone, came)``: per node the account pair its link counts (``child``,
    ``parent``; -1 where the node has no parent, an end has no account, or both ends are the
    same account), and the pair keys that left (``gone``) and came (``came``) compared with
    ``old_child``/``old_parent``, the pairs counted before (shorter: the nodes added since).
    ``par``: resolved parents; ``acct``: the graph's account per node (-1: none);
    ``accounts``: the graph's account number -> the tracker's (-1: none).

    >>> par = np.array([-1, 0, 0, 1]); acct = np.array([0, 1, 0, 2], np.int32)
    >>> accounts = np.array([5, 6, 7], np.int32)
    >>> child, parent, gone, came = link_changes(par, acct, accounts, np.full(2, -1, np.int32),
    ...                                          np.full(2, -1, np.int32))
    >>> child.tolist(), parent.tolist(), [(int(k) >> SHIFT, int(k) & (2**SHIFT - 1)) for k in came]
    ([-1, 6, -1, 7], [-1, 5, -1, 6], [(6, 5), (7, 6)])
    >>> link_changes(par, acct, accounts, child, parent)[2:]
    (array([], dtype=int64), array([], dtype=int64))
    """
    n = par.shape[0]
    m_old = old_child.shape[0]
    m = max(n, m_old)
    child = np.full(n, -1, np.int32)
    parent = np.full(n, -1, np.int32)
    gone = np.empty(m, np.int64)
    came = np.empty(m, np.int64)
    n_gone = 0
    n_came = 0
    for i in range(m):
        c = -1
        p = -1
        if i < n:
            q = par[i]
            if q >= 0 and acct[i] >= 0 and acct[q] >= 0:
                a = accounts[acct[i]]
                b = accounts[acct[q]]
                if a >= 0 and b >= 0 and a != b:
                    c = a
                    p = b
            child[i] = c
            parent[i] = p
        oc = old_child[i] if i < m_old else -1
        op = old_parent[i] if i < m_old else -1
        if oc != c or op != p:
            if oc >= 0:
                gone[n_gone] = (np.int64(oc) << SHIFT) | op
                n_gone += 1
            if c >= 0:
                came[n_came] = (np.int64(c) << SHIFT) | p
                n_came += 1
    return child, parent, gone[:n_gone], came[:n_came]


@njit(cache=True, nogil=True)
def account_link_changes(par, acct, accounts, fresh, refs, old_child, old_parent):
    """:func:`link_changes` after the graph's accounts added since it was last counted are
    taken on, in one call (a graph a batch changes paid a dozen numpy steps of ~1 us for the
    accounts, more than the diff itself): ``(accounts, child, parent, gone, came, named)``.
    ``fresh``: the tracker's numbers of the graph's new accounts (-1: a blank entry), appended
    to ``accounts``; each is one more held graph naming it in ``refs``, and ``named`` counts
    those no held graph named before.

    >>> refs = np.array([0, 2, 0, 0], np.int32); none = np.zeros(0, np.int32)
    >>> par = np.array([-1, 0]); acct = np.array([0, 1], np.int32)
    >>> out = account_link_changes(par, acct, none, np.array([1, 3], np.int32), refs, none, none)
    >>> out[0].tolist(), [(int(k) >> SHIFT, int(k) & (2**SHIFT - 1)) for k in out[4]], out[5], refs.tolist()
    ([1, 3], [(3, 1)], 1, [0, 3, 0, 1])
    """
    m = accounts.shape[0]
    named = 0
    if fresh.shape[0]:
        grown = np.empty(m + fresh.shape[0], np.int32)
        grown[:m] = accounts
        for i in range(fresh.shape[0]):
            f = fresh[i]
            grown[m + i] = f
            if f >= 0:
                if refs[f] == 0:
                    named += 1
                refs[f] += 1  # distinct: a graph's accounts are distinct
        accounts = grown
    child, parent, gone, came = link_changes(par, acct, accounts, old_child, old_parent)
    return accounts, child, parent, gone, came, named
