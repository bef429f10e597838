"""One person across IdPs from the vendors' own fields: the identity resolver.

Accounts are ``provider|login`` (a Duo ``jsmith`` is not an Okta ``jsmith``). A person is named by an
address (``john.smith@corp.example``): the Okta login / Entra UPN is one already, so linking moves only
the accounts whose login is not that address. Evidence, strongest first:

1. the alias map (``--aliases``): always wins; the resolver leaves an aliased event alone;
2. a directory export (``--directory``, ``enrich.directory``): the person's addresses and usernames per IdP;
3. the vendor's own fields: an address a record gives beside a different login (Duo ``email`` beside
   ``user.name``, ``Principal.email``), and one immutable id seen with two logins (Okta ``actor.id``,
   Entra ``userId``, Duo ``user.key``, OCSF ``user.uid``: a rename, or Duo writing the address one day and
   the short name the next).

A conflict is reported and never guessed: one account seen with two addresses, one address claimed by two
accounts of one IdP, an id whose two logins already belong to two people, or vendor evidence that
disagrees with the directory. The accounts concerned stay (or become) separate from then on.

Records are resolved as they stream, in event-time order: a link counts from the record that shows it.
Events of an account read before its link stay with the account's own name (a Duo record without its
``email`` before the first one with it); the state keeps the links, so the next run starts linked.
``analyze --jobs`` links as one process: it puts every account the evidence could join in one process
(``parallel.links``), which resolves them in this order. The stream workers do not link (they partition
by identity before a time-ordered pass could): their findings are those of one process with
``vendor_fields=False``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import msgspec

from pushguard.enrich.identity import AliasMap
from pushguard.model import Event, Principal, PrincipalType

STATE_KEY = "o:identities"  # under the organisation prefix: no identity's state, never advanced
MAX_HOPS = 8  # links followed from an account to its person (a chain longer than this is a loop)

# Which field of which vendor gave the immutable id / the address (the evidence says so)
ID_FIELD = {"okta": "actor.id", "entra": "userId", "duo": "user.key", "ocsf": "user.uid"}
EMAIL_FIELD = {"duo": "email", "ocsf": "user.email_addr", "okta": "profile email", "entra": "mail"}


class Link(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``account`` (``provider|login``, or an address the directory lists) belongs to ``person``."""

    account: str
    person: str
    how: str  # "duo email", "duo user.key", "directory", …
    first_seen: str = ""  # ISO time of the record that showed it ("" for the directory)
    record: str = ""  # source:position of that record, or the directory file


class Conflict(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Evidence that would link one account to two people (or one address to two accounts)."""

    subject: str  # the account or address in dispute
    claims: list[str]  # what it was claimed for / by
    how: str
    first_seen: str = ""
    record: str = ""


class ResolverState(msgspec.Struct, kw_only=True, omit_defaults=True):
    links: dict[str, Link] = {}  # account → its link
    conflicts: dict[str, Conflict] = {}  # "subject|how" → the conflict
    blocked: list[str] = []  # accounts left unlinked because of a conflict
    ids: dict[str, str] = {}  # "provider|id" → the first login seen with it
    emails: dict[str, str] = {}  # account → the address its records give
    claims: dict[str, list[str]] = {}  # address → the accounts whose records give it
    accounts: dict[str, str] = {}  # every account seen → its person when last seen


_decoder = msgspec.msgpack.Decoder(ResolverState)
_encoder = msgspec.msgpack.Encoder()


def _is_address(name: str) -> bool:
    return "@" in name


def _provider_of(account: str) -> str:
    return account.split("|", 1)[0] if "|" in account else ""


class IdentityResolver:
    """Resolves events to their person as they stream; ``state`` is what the store keeps."""

    def __init__(
        self,
        aliases: AliasMap | None = None,
        state: ResolverState | None = None,
        directory: Iterable[Link] = (),
        directory_conflicts: Iterable[Conflict] = (),
        vendor_fields: bool = True,
    ) -> None:
        self.aliases = aliases or AliasMap()
        self.state = state if state is not None else ResolverState()
        self.vendor_fields = vendor_fields
        self.revision = 0  # moves on with every change to the state: a long-running caller saves on change
        self._blocked = set(self.state.blocked)
        directory, directory_conflicts = list(directory), list(directory_conflicts)
        # whether it links anything (else there is nothing to keep in the state)
        self.learns = vendor_fields or bool(directory or directory_conflicts or self.state.links)
        for link in directory:  # the directory is re-read each run: it overrides what was learnt
            self.state.links[link.account] = link
        for conflict in directory_conflicts:
            self._conflict(
                conflict.subject, conflict.claims, conflict.how, conflict.first_seen, conflict.record
            )
            if "|" in conflict.subject:  # an account two people claim stays its own
                self._blocked.add(conflict.subject)

    # -- persistence ---------------------------------------------------------------------------

    @classmethod
    def decode_state(cls, blob: bytes | None) -> ResolverState | None:
        return None if blob is None else _decoder.decode(blob)

    def encode_state(self) -> bytes:
        self.state.blocked = sorted(self._blocked)
        return _encoder.encode(self.state)

    # -- resolution ----------------------------------------------------------------------------

    def person(self, account: str) -> str:
        """The person an account (``provider|login``) or an address belongs to."""
        login = account.split("|", 1)[1] if "|" in account else account
        if self.aliases.covers(login):
            return self.aliases.canonical(login)
        if account in self._blocked:
            return login
        link = self.state.links.get(account)
        name = link.person if link is not None else login
        for _ in range(MAX_HOPS):  # an address the directory lists as another address of its person
            further = self.state.links.get(name)
            if further is None or further.person == name:
                break
            name = further.person
        return name

    def __call__(self, event: Event) -> Event:
        found = account_of(event)
        if found is None:
            return event
        provider, login, account = found
        subject = cast(Principal, event.subject)
        if aliased(self.aliases, subject, login):
            self._account(account, event.identity)
            return event
        if self.vendor_fields:
            if subject.id and subject.login:
                self._seen_id(provider, subject.id, login, event)
            if subject.email and subject.email != login:
                self._claim(provider, login, subject.email, event)
        person = self.person(account)
        self._account(account, person)
        if person == event.identity:
            return event
        return msgspec.structs.replace(event, identity=person)

    @staticmethod
    def _origin(event: Event) -> tuple[str, str]:
        """(when, where) of the record that shows a link: its time and ``source:position``."""
        raw = event.raw
        if raw is None:
            return event.time.isoformat(), event.event_id
        where = f"{raw.source}:{raw.position}" if raw.position else raw.source
        return event.time.isoformat(), where

    def _account(self, account: str, person: str) -> None:
        if self.state.accounts.get(account) != person:
            self.state.accounts[account] = person
            self.revision += 1

    def _conflict(self, subject: str, claims: list[str], how: str, when: str, where: str) -> None:
        self.revision += 1
        key = f"{subject}|{how}"
        found = self.state.conflicts.get(key)
        if found is None:
            self.state.conflicts[key] = Conflict(
                subject=subject, claims=sorted(set(claims)), how=how, first_seen=when, record=where
            )
        else:
            found.claims = sorted(set(found.claims) | set(claims))

    def _block(self, account: str) -> None:
        """The account stays its own from now on (a vendor link it had is dropped; the directory's stays,
        the directory being the stronger word)."""
        self._blocked.add(account)
        self.revision += 1
        link = self.state.links.get(account)
        if link is not None and link.how != "directory":
            del self.state.links[account]

    def _link(self, account: str, person: str, how: str, when: str, where: str) -> None:
        if account in self._blocked:
            return
        existing = self.state.links.get(account)
        if existing is not None and existing.how == "directory":
            if self.person(account) != person:
                claims = [self.person(account), person]
                self._conflict(account, claims, f"{how} disagrees with the directory", when, where)
            return
        login = account.split("|", 1)[1]
        if person == login or (existing is not None and existing.person == person):
            return
        self.state.links[account] = Link(
            account=account, person=person, how=how, first_seen=when, record=where
        )
        self.revision += 1

    def _claim(self, provider: str, login: str, address: str, event: Event) -> None:
        """The account's record gives ``address`` beside its login."""
        if self.state.emails.get(f"{provider}|{login}") == address and self.person(address) == self.person(
            f"{provider}|{login}"
        ):
            return  # known: the common case, every record of a linked account
        when, where = self._origin(event)
        account = f"{provider}|{login}"
        how = f"{provider} {EMAIL_FIELD.get(provider, 'email')}"
        before = self.state.emails.setdefault(account, address)
        if before != address:
            self._conflict(account, [before, address], f"{how}: one account, two addresses", when, where)
            self._block(account)
            return
        claimers = self.state.claims.setdefault(address, [])
        if account not in claimers:
            rivals = [c for c in claimers if _provider_of(c) == provider and c not in self._blocked]
            claimers.append(account)
            if rivals:
                what = f"{how}: one address, two {provider} accounts"
                self._conflict(address, [*rivals, account], what, when, where)
                for each in [*rivals, account]:
                    self._block(each)
                return
        self._link(account, self.person(address), how, when, where)

    def _seen_id(self, provider: str, vendor_id: str, login: str, event: Event) -> None:
        """One immutable id, two logins: the same account under two names (a rename; Duo's address and
        short name). The person is the one the first name had, or the address among the two."""
        key = f"{provider}|{vendor_id}"
        first = self.state.ids.setdefault(key, login)
        if first == login:
            return
        old, new = f"{provider}|{first}", f"{provider}|{login}"
        old_person, new_person = self.person(old), self.person(new)
        if old_person == new_person or old in self._blocked or new in self._blocked:
            return
        how = f"{provider} {ID_FIELD.get(provider, 'id')}"
        when, where = self._origin(event)
        old_linked, new_linked = old_person != first, new_person != login
        if old_linked and new_linked:
            self._conflict(key, [old_person, new_person], f"{how}: one id, two people", when, where)
            return
        if not new_linked and (old_linked or _is_address(old_person) or not _is_address(login)):
            self._link(new, old_person, how, when, where)
        else:
            self._link(old, new_person, how, when, where)

    # -- what it knows -------------------------------------------------------------------------

    def people(self) -> dict[str, dict[str, list[str]]]:
        """person → provider → logins, over every account seen (a person of one account included)."""
        table: dict[str, dict[str, list[str]]] = {}
        for account in sorted(self.state.accounts):
            provider, login = account.split("|", 1)
            person = self.person(account)
            logins = table.setdefault(person, {}).setdefault(provider, [])
            if login not in logins:
                logins.append(login)
        return table

    def links_of(self, person: str) -> list[Link]:
        return [link for account, link in sorted(self.state.links.items()) if self.person(account) == person]

    def conflicts(self) -> list[Conflict]:
        return [self.state.conflicts[key] for key in sorted(self.state.conflicts)]

    def accounts_of(self, person: str) -> list[tuple[str, str]]:
        """(provider, login) of every account seen that belongs to ``person``."""
        found = []
        for account in sorted(self.state.accounts):
            if self.person(account) == person:
                provider, login = account.split("|", 1)
                found.append((provider, login))
        return found


def account_of(event: Event) -> tuple[str, str, str] | None:
    """(provider, login, ``provider|login``) of the account an event names; None for an event the
    resolver leaves alone (no identity, or only an address)."""
    subject = event.subject
    if not event.identity or subject is None or subject.type is PrincipalType.ADDRESS:
        return None
    login = subject.login or event.identity
    provider = str(event.provider)
    return provider, login, f"{provider}|{login}"


def aliased(aliases: AliasMap, subject: Principal, login: str) -> bool:
    """The alias map names this account (by login or vendor id): it wins over every other evidence."""
    return aliases.covers(login) or bool(subject.id and aliases.covers(subject.id.lower()))


def names_touched(event: Event, aliases: AliasMap, vendor_fields: bool) -> tuple[str, tuple[str, ...]]:
    """The event's account (its identity when the resolver leaves it alone) and the other names
    ``IdentityResolver.__call__`` may read or write for it: what ``analyze --jobs`` groups by, so that
    every account one process could link lands in one process. Kept beside ``__call__``: a new kind of
    evidence there is a new name here."""
    found = account_of(event)
    if found is None:
        return event.identity, ()
    provider, login, account = found
    subject = cast(Principal, event.subject)
    if not vendor_fields or aliased(aliases, subject, login):
        return account, (login, event.identity)
    names = [login, event.identity]
    if subject.id and subject.login:
        names.append(f"{provider}|{subject.id}")
    email = subject.email
    if email and email != login:
        names.append(email)
        if aliases.covers(email):
            names.append(aliases.canonical(email))
    return account, tuple(names)
