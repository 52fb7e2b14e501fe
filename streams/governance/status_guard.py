"""A guarded status change across workers: of the changes that replace the same change (the
status the officers saw), at most one is accepted, on a store that has no compare-and-set.

A change that names the status it replaces (``expected_status``, streams/service/governance.py)
is checked against the current status under a lock, which settles the race between two
officers of one process only. Several workers share one store (ClickHouse, one server or a
cluster; chDB in one process), so :func:`claim` settles it in the store:

1. insert the change's row, ``replaces`` = the change it replaces (its key,
   :func:`~streams.governance.status_history.replaces_key`), ``outcome`` pending; synchronously
   (the insert has returned when the row is readable: one server, or a cluster whose sessions
   set ``insert_distributed_sync=1`` and read the replica written to, README);
2. read back the changes of the rumour that replace the same change (its siblings), each with
   the greatest outcome any of its rows has (no FINAL);
3. a sibling not withdrawn -> write the row again withdrawn, answer 409 naming the sibling;
   none -> write it again accepted, then answer 201.

Why no interleaving gives two 201s. It needs one property of the store: a read that starts
after an insert returned sees its row. Say siblings A and B were both accepted. Each inserted
before it read back, and an accepted change is never withdrawn. Of the two read-backs take the
one that started last, say B's: A's insert had returned before A's read-back started, so before
B's did; B's read-back saw A, not withdrawn, and B withdrew: a contradiction, so at most one
is accepted. The interleavings: both insert before either reads -> each sees the other and both
withdraw (409 both; the officers read again and one changes it); A reads before B inserts ->
A wins alone, B sees A and withdraws; a writer that meets only withdrawn siblings wins (they
lost already, and were never accepted).

What readers show (:func:`~streams.governance.status_history.shown`, the store's SQL mirrors
it): no withdrawn change; of siblings not withdrawn the accepted one, else the greatest in the
one order. An accepted change is accepted before its 201 is sent, and a sibling of it is never
accepted, so a loser (pending until it withdraws, or forever if its writer crashed) never
hides it. A lone change whose writer crashed before settling shows like an unguarded one: it is
then the newest, and the next guarded change replaces it (rather than meeting it forever).

On a cluster the read-back reads every replica (an insert through the Distributed table lands
on one replica, and another worker may read the other before it is replicated), each node's
``_local`` table over its own connection with the store's credentials (never in the SQL text:
streams/store/replicas.py), all nodes at once with one deadline (one connect timeout). When a
node cannot be read by then (down, refusing connections, frozen) the change is withdrawn and
:class:`Unchecked` raised (the service answers 503 naming that bound, nothing changed). The
threads change nothing above: each node's read starts after the insert returned, and every node
must answer. Why not accept on the nodes that answered: the unread node may
hold a sibling inserted there that returned (a worker connected to it, or whose shard's first
live replica it is); that sibling's own read-back may have missed this change the same way, or
run before this insert and seen nothing, so both would be accepted: two 201s, the one thing the
guard must never give. Why not 409: there is no competitor to name, and "read it again and
decide" would not help; 503 says try again, which succeeds once the node is back (a node down
for long makes every guarded change 503 until it is back; an
unguarded change still works). The withdrawal is written through the store's own connection;
if that fails too the change is left pending and logged, as for any error before it settles.

The accepted or withdrawn row is the change's row again (same key: of a key FINAL keeps the
last inserted), with the same note and ``replaces``; the read-back takes ``max(outcome)`` over
a change's rows, so it does not depend on that.
"""
from __future__ import annotations

import logging

from streams.governance.status_history import ACCEPTED, PENDING, WITHDRAWN, status_order
from streams.store.base import StoreUnavailable

log = logging.getLogger(__name__)


class Unchecked(RuntimeError):
    """A guarded change was not made: its siblings could not be read on every replica (the
    message says so without the store's address; the cause names the node)."""


def claim(store, row: dict, replaces: str) -> dict | None:
    """Make the guarded change ``row`` (a status row) that replaces ``replaces`` in ``store``:
    None when it is accepted, else the sibling it met (it is then withdrawn; of several, an
    accepted one first). tests/test_status_guard.py forces the interleavings by wrapping the
    store's calls (between the check and the insert, the insert and the read-back). A store error
    before the change is settled is raised after a withdrawal is tried: the caller answers an
    error, and the change must not show as made; a read-back that cannot reach every replica
    raises :class:`Unchecked` (see the module's docstring)."""
    pending = dict(row, replaces=replaces, outcome=PENDING)
    try:
        store.append_status([pending])
    except BaseException:
        # The insert may have landed although it raised (a connection lost after the server
        # took the block): a lone pending change would show as made while the caller answers an
        # error, so it is withdrawn if the store takes that (a withdrawal of a row that never
        # landed shows nothing either).
        _settle(store, pending, WITHDRAWN, quiet=True)
        raise
    try:
        me = status_order(row)
        rivals = [s for s in store.status_siblings(row["rumour_id"], replaces)
                  if status_order(s) != me and s["outcome"] != WITHDRAWN]
    except StoreUnavailable as exc:
        _settle(store, pending, WITHDRAWN, quiet=True)
        log.warning("guarded status change of %s withdrawn: %s", row["rumour_id"], exc)
        seconds = getattr(exc, "seconds", None)  # the read-back's bound (NodesUnread)
        within = f" within {seconds:g} s" if seconds is not None else ""
        raise Unchecked(f"the change was not made: part of the store could not be read{within} to check that "
                        "no other change of this status was made at the same time; try again") from exc
    except BaseException:
        _settle(store, pending, WITHDRAWN, quiet=True)
        raise
    if rivals:
        _settle(store, pending, WITHDRAWN)
        return max(rivals, key=lambda s: (s["outcome"] == ACCEPTED, status_order(s)))
    try:
        _settle(store, pending, ACCEPTED)
    except BaseException:
        # Not known to be accepted: withdrawn if the store takes it (a pending change alone
        # would show as made, see the module's docstring).
        _settle(store, pending, WITHDRAWN, quiet=True)
        raise
    return None


def _settle(store, pending: dict, outcome: int, quiet: bool = False) -> None:
    try:
        store.append_status([dict(pending, outcome=outcome)])
    except Exception:
        if not quiet:
            raise
        log.exception("status change of %s left pending", pending["rumour_id"])
