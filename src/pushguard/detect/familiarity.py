"""Is this the person's own context? The one question every count-based detector asks first.

Five prompts in ten minutes from the person's own laptop on their home network are a phone in a drawer;
the same five from a network neither they nor any colleague ever used are an attack. Familiarity is
judged on the *requesting* side of an event (the browser that typed the password, not the phone), from
what the shared profile learnt of successful authentications and from what the organisation knows
(``profile.org``, set by the engine from ``detect.org``):

- network: ``own`` (an address or /24 the person came back to, or a network the organisation uses:
  office, gateway, allow-list), ``operator`` (only the network operator is theirs or the organisation's:
  a new address at the same ISP, another city on the same carrier; or an address they succeeded from
  only once so far), ``new`` (neither), ``none`` (no address in the record);
- device: ``own`` (a registered device id the person came back to), ``agent`` (the same operating system
  and browser as they use, or a device id that succeeded once), ``new`` (a device or browser they never
  succeeded with while having some), ``none`` (nothing to tell).

Something is the person's when it was part of at least two successes and the first was at least
``ESTABLISHED_S`` before: a network an attacker approved once an hour ago is not "known". How much there
is to know is ``thin`` history (fewer than ``THIN_DAYS`` days with a success): there, "new" means little
and detectors lower their confidence and severity instead of raising alarms about a new hire's home."""

from __future__ import annotations

import enum

import msgspec

from pushguard.detect.org import net_of
from pushguard.model import (
    ORG_ASN,
    ORG_COUNTRY,
    ORG_IP,
    ORG_MATURE,
    ORG_NET,
    ORG_TRUSTED,
    Event,
    Geo,
    IdentityProfile,
    Provider,
    Seen,
)

ESTABLISHED_S = 4 * 3600.0  # first seen at least this long before, and seen again since
THIN_DAYS = 3  # days with a success below which an identity is too new for "new" to mean much


class Level(enum.IntEnum):
    """From the person's own to unknown; comparisons read as "at least this unfamiliar"."""

    FAMILIAR = 0
    PARTLY = 1
    UNFAMILIAR = 2


def established(seen: Seen | None, now: float) -> bool:
    return seen is not None and seen.count >= 2 and now - seen.first >= ESTABLISHED_S


def agent_key(os: str | None, browser: str | None) -> str:
    """The requesting client's "os|browser" (families, no versions: browsers update weekly)."""
    if not os and not browser:
        return ""
    pair = (os, browser)
    found = _AGENT_KEYS.get(pair)
    if found is None:
        if len(_AGENT_KEYS) >= _MAX_AGENT_KEYS:
            _AGENT_KEYS.clear()
        found = _AGENT_KEYS[pair] = f"{_family(os)}|{_family(browser)}"
    return found


# A tenant has a few hundred distinct (os, browser) pairs and asks for their key ~3 times an event: a
# pure function's answers, kept (bounded: cleared when full).
_AGENT_KEYS: dict[tuple[str | None, str | None], str] = {}
_MAX_AGENT_KEYS = 4096


def _family(name: str | None) -> str:
    if not name:
        return ""
    head = name.strip().lower()
    for cut in (" ", "/"):
        word, _, rest = head.partition(cut)
        if rest and any(ch.isdigit() for ch in rest[:3]):
            head = word
    return head


def requester_ip(event: Event) -> str | None:
    """The requesting side's address: a record that names only the phone has none. Okta logs a deny_push
    and a fraud report's phone side with the phone as the client (the source then sets the responder to
    that same address); Duo names both sides, which share an address when the phone is on the laptop's
    Wi-Fi, so only Okta's equal sides mean "phone only"."""
    ip = event.ip
    if ip and event.provider is Provider.OKTA and event.responder_ip == ip:
        return None
    return ip


class Familiarity(msgspec.Struct, frozen=True, kw_only=True, gc=False, array_like=True):
    """Kept in detector state as it is (a few bytes as an array); read as text with ``describe``."""

    network: str  # own | operator | new | none
    device: str  # own | agent | new | none
    country_new: bool  # neither the person nor the organisation ever succeeded from the country
    abroad: bool  # the person never succeeded from the country (the organisation may have)
    hosting_unknown: bool  # hosting/VPN/proxy egress that neither the person nor the organisation uses
    thin: bool  # too little history for "new" to mean much
    org_network: bool  # the organisation uses this network (the person may not, yet)
    own_operator: bool = False  # the network operator is one the person itself came back to

    @property
    def level(self) -> Level:
        """FAMILIAR: the person's own network or registered device, or a new address at their own
        operator from their usual browser (home addresses rotate). PARTLY: some of it is theirs or the
        organisation's (their browser from a hotel, an operator colleagues use). UNFAMILIAR: nothing is,
        or the only thing that is (a browser, which anyone can claim) meets hostile signs."""
        network, device = self.network, self.device
        if network == "own" or device == "own":
            return Level.FAMILIAR
        if network == "operator":
            if device == "agent" and self.own_operator:
                return Level.FAMILIAR
            return Level.PARTLY if device != "new" else Level.UNFAMILIAR
        if network == "none":
            return Level.PARTLY if device != "new" else Level.UNFAMILIAR
        if device == "agent" and not self.hostile and not self.abroad:
            return Level.PARTLY  # a new network at home with their browser: a hotel, a new ISP
        return Level.UNFAMILIAR  # a browser anyone can claim (an AiTM proxy passes the victim's on)

    @property
    def hostile(self) -> bool:
        """Signs that hold on any day: a country nobody here uses, hosting nobody here uses."""
        return self.country_new or self.hosting_unknown

    def describe(self) -> str:
        """For a reason: what about the context is familiar or not."""
        network = {
            "own": "the person's own network" if not self.org_network else "a network the organisation uses",
            "operator": "a new address at a network operator the person or the organisation uses",
            "new": "a network neither the person nor the organisation ever used",
            "none": "no requesting address",
        }[self.network]
        device = {
            "own": "the person's own registered device",
            "agent": "the person's usual operating system and browser",
            "new": "a device or browser the person never used",
            "none": "no device details",
        }[self.device]
        parts = [network, device]
        if self.country_new:
            parts.append("a country nobody in the organisation signs in from")
        elif self.abroad:
            parts.append("a country the person never signed in from")
        if self.hosting_unknown:
            parts.append("hosting/VPN egress nobody here uses")
        if self.thin:
            parts.append("little history for this identity")
        return "; ".join(parts)


_NO_CONTEXT = Familiarity(
    network="none",
    device="none",
    country_new=False,
    abroad=False,
    hosting_unknown=False,
    thin=True,
    org_network=False,
)


# The engine's one-event memo: ~3 detectors ask for the familiarity of the same event on the same profile,
# which does not change between ``arm`` and ``disarm`` (the profile learns after every detector has seen
# the event). One tuple, replaced whole, so a reader never sees half of another engine's entry.
_EMPTY: tuple[object, object, Familiarity | None] = (None, None, None)
_memo: tuple[object, object, Familiarity | None] = _EMPTY


def arm(event: Event, profile: IdentityProfile) -> None:
    """The engine hands ``event`` to detectors over ``profile``, unchanged until ``disarm``: ``assess``
    may keep its answer for them."""
    global _memo
    _memo = (event, profile, None)


def disarm() -> None:
    global _memo
    _memo = _EMPTY


def assess(event: Event, profile: IdentityProfile) -> Familiarity:
    """The familiarity of ``event``'s requesting side to this identity and its organisation, judged
    before the profile learns from the event."""
    global _memo
    memo = _memo
    if memo[0] is event and memo[1] is profile:
        if memo[2] is not None:
            return memo[2]
        found = _assess(event, profile)
        _memo = (event, profile, found)
        return found
    return _assess(event, profile)


def _assess(event: Event, profile: IdentityProfile) -> Familiarity:
    now = event.ts
    thin = profile.active_days < THIN_DAYS
    ip = requester_ip(event)
    geo = event.geo if ip else None
    org = profile.org if ip else 0
    own_operator = False
    if ip is None:
        network = "none"
    elif (
        established(profile.ips.get(ip), now)
        or established(profile.nets.get(net_of(ip)), now)
        or org & (ORG_IP | ORG_NET | ORG_TRUSTED)
    ):
        network = "own"
    elif (
        (geo is not None and geo.asn is not None and established(profile.asns.get(str(geo.asn)), now))
        or ip in profile.ips
        or net_of(ip) in profile.nets
    ):
        # their operator, or an address they succeeded from once (a new hire's first days, a new ISP)
        network, own_operator = "operator", True
    elif org & ORG_ASN:
        network = "operator"
    else:
        network = "new"
    device = _device(event, profile, now)
    country = geo.country if geo is not None else None
    abroad = bool(country) and bool(profile.countries) and country not in profile.countries
    # "a country nobody here uses" needs an organisation that knows some countries at all
    country_new = (
        bool(country)
        and bool(org & ORG_MATURE)
        and not org & ORG_COUNTRY
        and country not in profile.countries
    )
    hosting_unknown = geo is not None and _hosting(geo) and network == "new" and not (org & ORG_ASN)
    if network == "none" and device == "none":
        return _NO_CONTEXT if thin else msgspec.structs.replace(_NO_CONTEXT, thin=False)
    return Familiarity(
        network=network,
        device=device,
        country_new=country_new,
        abroad=abroad,
        hosting_unknown=hosting_unknown,
        thin=thin,
        org_network=bool(org & (ORG_IP | ORG_NET | ORG_TRUSTED)) and network == "own",
        own_operator=own_operator,
    )


def _device(event: Event, profile: IdentityProfile, now: float) -> str:
    device = event.device
    if device is None:
        return "none"
    if device.id:
        seen = profile.devices.get(device.id)
        if established(seen, now):
            return "own"
        if seen is not None:
            return "agent"  # it succeeded once (not under suspicion): theirs, most likely
    agent = agent_key(device.os, device.browser)
    if agent:
        if established(profile.agents.get(agent), now):
            return "agent"
        if profile.agents:
            return "new"
    if device.id and profile.devices:
        return "new"
    return "none"


def _hosting(geo: Geo) -> bool:
    return bool(geo.is_hosting or geo.is_proxy)
