"""Which account ids a caller sees in clear: the one decision behind every answer that names
accounts for a role that may see identities (the traces and the evidence package).

The centre chooses how far a liaison's clear identities reach (setting
``liaison_account_scope``):

- ``cascade`` (default): every account of a rumour the liaison's jurisdiction covers is in
  clear, wherever the account shared it.
- ``jurisdiction``: for a liaison token below the national level, an account is in clear only
  if at least one of its own events in that rumour has a region inside the token's
  jurisdiction (:func:`streams.service.access.covers`). Events of every kind count, a
  ``debunk`` too: the rumour is already the desk's (it spread there), and the question is only
  which people acted inside its area. An event without a region lies inside no jurisdiction
  below the national one; an account known only as a parent (no event of its own in the
  rumour) has none either. Every other account is shown by its pseudonym, the same HMAC an
  analyst sees, so one account reads the same across routes and roles.

Events follow their accounts: a platform's post id leads to its author, so an event whose
account is pseudonymised is shown by its own pseudonym (``pev_...``,
:meth:`streams.service.pseudonym.Pseudonymiser.event`), and so is an event whose account is
unknown (a placeholder of a parent never seen) to every caller who does not see all accounts in
clear. Such a hop carries no hash of its text either (``text_sha256`` null): the SHA-256 of a
repost's text is matched by anyone who hashes the texts of the platform's repost list. An event
in clear to a caller is exactly one whose account is in clear to it.

Admins and national (``000000``) liaison tokens see every account in clear under both; roles
without the ``clear`` permission see pseudonyms only. The dashboard routes (detail, tree) and
alerts are pseudonymised for every role and do not come here.
"""
from __future__ import annotations

from streams.service.access import NATIONAL, Principal, covers
from streams.settings import LIAISON_ACCOUNT_SCOPES as SCOPES
PSEUDONYMISED = "pseudonymised"  # the scope of a role without clear identities


class Namer:
    """How one caller sees the account ids of one rumour: ``namer(account_id)`` is the id in
    clear or its pseudonym. ``clear`` is the set of accounts shown in clear, or None for all.

    >>> from streams.service.pseudonym import Pseudonymiser
    >>> p = Pseudonymiser(b"k" * 32)
    >>> n = Namer(p, "jurisdiction", frozenset({"a1"}), {"a1", "a2"})
    >>> n("a1"), n("a2") == p("a2"), n(None), n.identities
    ('a1', True, None, 'clear_in_jurisdiction')
    >>> n.event("e1", "a1"), n.event("e2", "a2") == p.event("e2"), n.event("e3", None) == p.event("e3")
    ('e1', True, True)
    """

    def __init__(self, pseudonymiser, scope: str, clear: frozenset | None, acted=frozenset(),
                 asked=frozenset()):
        self.pseudo = pseudonymiser
        self.scope = scope
        self.clear = clear
        self.acted = acted  # accounts with an event of their own in the rumour (jurisdiction scope)
        self.asked = asked  # accounts whose regions the store was asked for (jurisdiction scope)

    def in_clear(self, account_id: str | None) -> bool:
        return self.clear is None or account_id in self.clear

    def __call__(self, account_id: str | None) -> str | None:
        if account_id is None or self.in_clear(account_id):
            return account_id
        return self.pseudo(account_id)

    def event_in_clear(self, account_id: str | None) -> bool:
        """Whether the events of ``account_id`` are shown in clear: its account is, and is known
        (an event without a known account is in clear only to who sees every account)."""
        return self.clear is None or (account_id is not None and account_id in self.clear)

    def event(self, event_id: str | None, account_id: str | None) -> str | None:
        """``event_id`` (an event of ``account_id``) as this caller may see it."""
        if event_id is None or self.event_in_clear(account_id):
            return event_id
        return self.pseudo.event(event_id)

    @property
    def identities(self) -> str:
        """What an answer says of its account ids: ``clear``, ``pseudonymised`` or
        ``clear_in_jurisdiction`` (in clear only inside the caller's jurisdiction)."""
        return {"cascade": "clear", "jurisdiction": "clear_in_jurisdiction"}.get(self.scope, PSEUDONYMISED)


class Identities:
    """The decision for one deployment: its pseudonymiser, its store (where each account's
    events were) and the centre's ``liaison_scope`` (one of :data:`SCOPES`)."""

    def __init__(self, pseudonymiser, store, liaison_scope: str = "cascade"):
        if liaison_scope not in SCOPES:
            raise ValueError(f"liaison_account_scope: expected one of {', '.join(SCOPES)}, "
                             f"got {liaison_scope!r}")
        self.pseudo = pseudonymiser
        self.store = store
        self.liaison_scope = liaison_scope

    def scope(self, principal: Principal) -> str:
        """``pseudonymised``, ``cascade`` or ``jurisdiction``: the rule for this caller (what its
        audit rows record as ``account_scope``).

        >>> ids = Identities(None, None, "jurisdiction")
        >>> [ids.scope(Principal("t", "n", role, code)) for role, code in
        ...  [("analyst", "370102"), ("liaison", "370102"), ("liaison", "000000"), ("admin", "370102")]]
        ['pseudonymised', 'jurisdiction', 'cascade', 'cascade']
        """
        if not principal.may("clear"):
            return PSEUDONYMISED
        if self.liaison_scope == "jurisdiction" and principal.role == "liaison" \
                and principal.jurisdiction != NATIONAL:
            return "jurisdiction"
        return "cascade"

    def namer(self, principal: Principal, rumour_id: str, accounts, known: Namer | None = None) -> Namer:
        """The namer of ``accounts`` (the ids an answer is about to show) of one rumour for
        this caller; under the ``jurisdiction`` scope this asks the store where they acted,
        except for the accounts ``known`` (a namer already made for this caller and rumour)
        was asked about."""
        scope = self.scope(principal)
        if scope == PSEUDONYMISED:
            return Namer(self.pseudo, scope, frozenset())
        if scope == "cascade":
            return Namer(self.pseudo, scope, None)
        if known is None or known.scope != scope:
            known = Namer(self.pseudo, scope, frozenset())
        wanted = {a for a in accounts if a is not None} - known.asked
        regions = self.store.account_regions(rumour_id, wanted) if wanted else {}
        clear = frozenset(a for a, rs in regions.items()
                          if any(covers(principal.jurisdiction, r) for r in rs))
        return Namer(self.pseudo, scope, known.clear | clear, known.acted | frozenset(regions),
                     known.asked | frozenset(wanted))
