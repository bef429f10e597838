"""What the organisation as a whole knows: the networks and countries many colleagues succeed from.

An office egress, a secure web gateway or a company VPN is familiar to the organisation long before it is
familiar to a new hire or to someone who uses it for the first time. An entry becomes *established* when
``ORG_MIN_PEOPLE`` different people have succeeded from it; it is established at the moment the last of
them first did, and a lookup at time t counts only entries established before t. That makes the table a
function of the events alone, not of the order they were read in: the one-process engine learns it as it
goes, a parallel run computes it up front from every parse slice (``merge``) and both give the same
answer at every event. A configured allow-list (offices, gateways) is known from the start.

Attackers succeed too, so one attacker address approved by a few victims must not become "the office":
it takes ``ORG_MIN_PEOPLE`` distinct people, and only people (service accounts run from clouds)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator

import msgspec

from pushguard.detect.base import SUCCESS_KINDS
from pushguard.model import (
    ORG_ASN,
    ORG_COUNTRY,
    ORG_IP,
    ORG_MATURE,
    ORG_NET,
    ORG_TRUSTED,
    Event,
    UserKind,
)

ORG_MIN_PEOPLE = 5  # distinct people who succeeded from a network before it is the organisation's
MAX_ENTRIES = 200_000  # networks remembered (least recently learnt evicted first)
_BITS = {"i": ORG_IP, "n": ORG_NET, "a": ORG_ASN, "c": ORG_COUNTRY}


@functools.lru_cache(maxsize=65_536)
def net_of(ip: str) -> str:
    """The /24 of an IPv4 address, the /64 of an IPv6 one ("" when the text is no address)."""
    if "." in ip and ":" not in ip:
        head, _, _ = ip.rpartition(".")
        return head
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 4:
        return str(address).rpartition(".")[0]
    return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)


def org_keys(event: Event) -> Iterator[str]:
    """The table keys an event's requesting side touches: address, /24 (/64), ASN, country."""
    ip = event.ip
    if ip:
        yield "i:" + ip
        net = net_of(ip)
        if net:
            yield "n:" + net
    geo = event.geo
    if geo is not None:
        if geo.asn is not None:
            yield f"a:{geo.asn}"
        if geo.country:
            yield "c:" + geo.country


class OrgEntry(msgspec.Struct, array_like=True, gc=False):
    people: list[int]  # identity hashes of the first people to succeed from it, oldest first
    firsts: list[int]  # when each first did (whole epoch seconds)
    established: int = 0  # when the ORG_MIN_PEOPLE-th did (0: not yet)


class OrgTable(msgspec.Struct, kw_only=True):
    entries: dict[str, OrgEntry] = {}
    countries_since: int = 0  # when the first country became the organisation's (0: none yet)

    def _established(self, key: str, entry: OrgEntry) -> None:
        if entry.established and key.startswith("c:"):
            since = self.countries_since
            self.countries_since = entry.established if not since else min(since, entry.established)

    def learn(self, event: Event, person: int) -> None:
        """A success of ``person`` (an identity hash) from the event's requesting side."""
        if event.kind not in SUCCESS_KINDS or event.user_kind is UserKind.NHI:
            return
        second = int(event.ts)
        for key in org_keys(event):
            self._add(key, person, second)

    def _add(self, key: str, person: int, second: int) -> None:
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]
            self.entries[key] = OrgEntry([person], [second])
            return
        if entry.established and entry.established <= second:
            return
        _insert(entry, person, second)
        self._established(key, entry)

    def merge(self, other: OrgTable) -> None:
        """Add what another table learnt (a parse slice, another worker): the result is the table one
        pass over both tables' events would give, whatever the order."""
        for key, theirs in other.entries.items():
            mine = self.entries.get(key)
            if mine is None:
                if len(self.entries) >= MAX_ENTRIES:
                    del self.entries[next(iter(self.entries))]
                mine = self.entries[key] = OrgEntry(
                    list(theirs.people), list(theirs.firsts), theirs.established
                )
            else:
                for person, first in zip(theirs.people, theirs.firsts, strict=True):
                    _insert(mine, person, first)
            self._established(key, mine)


def _insert(entry: OrgEntry, person: int, second: int) -> None:
    """Keep the ORG_MIN_PEOPLE people who came first (a person counts at their earliest success)."""
    people, firsts = entry.people, entry.firsts
    if person in people:
        index = people.index(person)
        if firsts[index] <= second:
            return
        del people[index], firsts[index]
    elif len(people) >= ORG_MIN_PEOPLE and second >= firsts[-1]:
        return
    at = len(firsts)
    while at and firsts[at - 1] > second:
        at -= 1
    people.insert(at, person)
    firsts.insert(at, second)
    del people[ORG_MIN_PEOPLE:], firsts[ORG_MIN_PEOPLE:]
    entry.established = firsts[-1] if len(firsts) >= ORG_MIN_PEOPLE else 0


class OrgTrust(msgspec.Struct, frozen=True, kw_only=True):
    """The configured allow-list: networks the organisation vouches for from the first day (offices,
    the secure web gateway's egress, the VPN concentrators), by address range or operator."""

    networks: tuple[str, ...] = ()
    asns: tuple[int, ...] = ()

    @classmethod
    def parse(cls, section: object, where: str) -> OrgTrust:
        """From the config's ``organisation:`` mapping; a wrong value is named with ``where``."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ValueError(f"{where}: 'organisation' must be a mapping")
        unknown = set(section) - {"trusted_networks", "trusted_asns"}
        if unknown:
            raise ValueError(f"{where}: organisation: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        networks = _listed(section.get("trusted_networks"), f"{where}: organisation.trusted_networks")
        for text in networks:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{where}: organisation.trusted_networks: not a network: {text!r}") from None
        asns: list[int] = []
        for text in _listed(section.get("trusted_asns"), f"{where}: organisation.trusted_asns"):
            digits = text.upper().removeprefix("AS")
            if not digits.isdigit():
                raise ValueError(f"{where}: organisation.trusted_asns: not an ASN: {text!r}")
            asns.append(int(digits))
        return cls(networks=tuple(networks), asns=tuple(asns))


def _listed(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"{where}: a list")
    return [str(v) for v in value]


class OrgKnowledge:
    """The table plus the configured allow-list, answering "what does the organisation know of this
    event's network" as ORG_* bits."""

    def __init__(self, table: OrgTable | None = None, trust: OrgTrust | None = None) -> None:
        self.table = table if table is not None else OrgTable()
        trust = trust or OrgTrust()
        self.trust = trust
        self.trusted_networks = tuple(ipaddress.ip_network(text, strict=False) for text in trust.networks)
        self.trusted_asns = frozenset(trust.asns)
        self._trusted_ip = functools.lru_cache(maxsize=65_536)(self._in_trusted_network)

    def bits(self, event: Event) -> int:
        """ORG_* bits for the event's requesting side, from entries established before the event."""
        found = 0
        entries = self.table.entries
        # whole seconds, as the table keeps them: an entry established in this event's own second is not
        # known to it, whichever of that second's events was read first (one process and a parallel run
        # then agree)
        second = int(event.ts)
        for key in org_keys(event):
            entry = entries.get(key)
            if entry is not None and entry.established and entry.established < second:
                found |= _BITS[key[0]]
        since = self.table.countries_since
        if since and since < second:
            found |= ORG_MATURE
        geo = event.geo
        if (geo is not None and geo.asn in self.trusted_asns) or (
            event.ip and self.trusted_networks and self._trusted_ip(event.ip)
        ):
            found |= ORG_TRUSTED
        return found

    def _in_trusted_network(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_networks)


ORG_STATE_KEY = "o:org"  # the store key of the organisation table
