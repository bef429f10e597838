"""Requester vs responder: the sign-in that asked for the push and the phone that answered it are far
apart. Duo logs both sides in one record (``access_device`` vs ``auth_device``). Okta logs them in two:
the push send names the requesting client, and a Classic ``deny_push`` names only the phone, so a phone-only
answer is paired with the identity's push sent within ``pair_window_s`` before it (Okta Verify pushes
expire after five minutes); a fraud report names the disowned sign-in's place itself. The user holding
the phone is at one place; whoever typed the password is at the other.

Different countries, or a gap beyond both accuracy radii of at least ``min_gap_km`` when both sides have
coordinates. What tells a remote attacker from the benign look-alikes is who the requesting side is
(``detect.familiarity``, judged when the push was sent):

- the person's own network or device (a registered laptop or Duo Desktop's endpoint key, whatever it
  egresses through), or a network the organisation uses (an office, the secure web gateway whose exit is
  far from the phone on cellular at home), or one in ``trusted_gateway_asns``: skipped;
- travellers whose phone roams on the home carrier (most roaming data is routed home, so the phone
  geolocates to the home country while the laptop is on hotel Wi-Fi): skipped when the identity's
  latest success, within ``continuity_s``, was from the requesting country and the phone is in a
  country the identity knows: the person is where the requester is;
- partly familiar (their browser on a new network in their own country): one step lower.

Fraud reports are never explained away (the user disowned the sign-in). An approval with the sides apart
is high (critical when the requesting side is in a country the person never used, or on hosting nobody
here uses); a denial or a report with the sides apart is medium: the user said no, but the password is
out. Unfamiliar hosting is never an excuse."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, Tunable, kinds, settings
from pushguard.detect.episode import Episode, live
from pushguard.detect.familiarity import Familiarity, Level, assess, established
from pushguard.detect.geo import asn_set, geo_gap_km, place_text, precise
from pushguard.detect.org import net_of
from pushguard.model import Device, Event, EventKind, Geo, IdentityProfile, Severity

_ANSWERS = frozenset({EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.FRAUD_REPORTED})


class PendingPush(msgspec.Struct, array_like=True):
    """The last push sent, kept to pair with an answer that names only the phone, with how familiar its
    requesting side was when it was sent."""

    ts: float
    event_id: str
    ip: str | None
    geo: Geo | None
    device: Device | None
    context: Familiarity | None = None


class Sides(NamedTuple):
    asked: Geo
    asked_ip: str | None
    device: Device | None  # the requesting device, as far as the records tell
    sent: PendingPush | None  # the push send the answer was paired with, when it came on its own
    context: Familiarity  # how familiar the requesting side is to the person and the organisation


class MismatchState(msgspec.Struct, kw_only=True, omit_defaults=True):
    episode: Episode | None = None
    pending: PendingPush | None = None


META = DetectorMeta(
    id="requester_responder_mismatch",
    title="Push requested from one place, answered from another",
    description=(
        "The requesting client and the phone that answered are in different countries, or at least "
        "min_gap_km apart beyond their accuracy radii (an answer naming only the phone pairs with the push "
        "sent within pair_window_s before it). Approved: high, critical when the requesting side is in a "
        "country the person never used or on hosting nobody here uses; denied or reported: medium. "
        "Skipped: a requester that is the person's own network or device or the organisation's network, "
        "in trusted_gateway_asns, or a traveller (latest success from the requesting country within "
        "continuity_s, phone in a known country); fraud reports are never skipped. A partly familiar "
        "requester lowers it a step."
    ),
    severity=Severity.HIGH,
    techniques=("T1621", "T1078"),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-01", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.1.3.1 out-of-band authenticators"),
        "owasp_nhi": (),
    },
    tunables={
        "min_gap_km": Tunable(500.0, "sides at least this far apart beyond their radii differ"),
        "max_accuracy_km": Tunable(300.0, "coordinates coarser than this are compared by country only"),
        "trusted_gateway_asns": Tunable(
            "AS22616 AS62044 AS53813 AS55256 AS36692",
            "secure web gateways laptops egress through, far from the phone (Zscaler, Netskope, Cisco "
            "Umbrella): a requester in these is not a mismatch; put your own egress here",
        ),
        "continuity_s": Tunable(
            24 * 3600,
            "a latest success from the requesting country this recent means the user is there (the phone "
            "roams on its home carrier)",
        ),
        "pair_window_s": Tunable(
            300, "a phone-only answer (Okta deny_push) pairs with a push sent this long before it (seconds)"
        ),
        "episode_gap_s": Tunable(24 * 3600, "mismatches this close together are one finding"),
    },
    actions=(
        "Ask the user whether they were signing in from the requesting place; if not, revoke sessions.",
        "Reset the password: the requester held it.",
        "Turn on number matching or a phishing-resistant factor: a remote attacker cannot read the number.",
    ),
    triage=(
        "Compare the requesting client's place and network with the phone's: a hosting or VPN "
        "requester far from a phone at the person's home is someone else signing in; a corporate "
        "VPN or a traveller's hotel Wi-Fi explains many."
    ),
    false_positives=(
        "A corporate VPN or secure web gateway whose egress is in another country (add its ASN to "
        "trusted_gateway_asns).",
        "The person signing in on a remote desktop or jump host located elsewhere.",
    ),
    watches=kinds((EventKind.PUSH_SENT,), _ANSWERS),
)


class RequesterResponderMismatch:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = MismatchState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.min_gap = float(cfg["min_gap_km"])
        self.max_accuracy = float(cfg["max_accuracy_km"])
        self.gap_s = float(cfg["episode_gap_s"])
        self.continuity_s = float(cfg["continuity_s"])
        self.pair_window_s = float(cfg["pair_window_s"])
        self.trusted_asns = asn_set(str(cfg["trusted_gateway_asns"]))

    def initial_state(self) -> MismatchState:
        return MismatchState()

    def observe(
        self, state: MismatchState, event: Event, profile: IdentityProfile
    ) -> tuple[MismatchState, list[Detection]]:
        if event.kind is EventKind.PUSH_SENT:
            state.pending = PendingPush(
                event.ts, event.event_id, event.ip, event.geo, event.device, assess(event, profile)
            )
            return state, []
        if event.kind not in _ANSWERS:
            return state, []
        # the pending push stays until the next one or its expiry: Okta may log one prompt's answer
        # twice (the browser's poll outcome, then the phone's deny_push)
        sides = self._sides(state, event, profile)
        answered = event.responder_geo
        if sides is None or answered is None:
            return state, []
        asked, asked_ip, _device, sent, context = sides
        level = context.level
        far_off = context.hostile or context.abroad  # a country the person never used, hosting nobody uses
        apart = self._apart(asked, answered) or self._phone_at_home(event, asked_ip, context, profile)
        if apart is None:
            return state, []
        fraud = event.kind is EventKind.FRAUD_REPORTED
        if not fraud:
            if asked.asn in self.trusted_asns or level is Level.FAMILIAR:
                return state, []  # the organisation's gateway, or the person's own network or device
            if self._travelling(event, asked, answered, profile):
                return state, []
        if event.kind is EventKind.PUSH_APPROVED:
            severity = Severity.CRITICAL if far_off else Severity.HIGH
        else:
            severity = Severity.MEDIUM
        if level is Level.PARTLY and not fraud:
            severity = _lower(severity)
        now = event.ts
        episode = state.episode
        if episode is None or now - episode.last_ts > self.gap_s:
            first = sent if sent is not None else event
            episode = state.episode = Episode(anchor=first.event_id, first_ts=first.ts, last_ts=first.ts)
        if sent is not None and sent.event_id not in episode.evidence:
            episode.note(sent.event_id, ip=sent.ip or "")
        episode.add(event)
        if not episode.escalates_to(severity):
            return state, []
        verb = "approved" if event.kind is EventKind.PUSH_APPROVED else "refused"
        reasons = [
            f"requested from {place_text(asked, asked_ip)}, {verb} on the phone at "
            f"{place_text(answered, event.responder_ip)}: {apart}"
        ]
        reasons.append(f"the requesting side: {context.describe()}")
        if sent is not None:
            reasons.append(
                f"the answer names only the phone; the push was sent {event.ts - sent.ts:,.0f} s before"
            )
        title = f"Push {verb} on a phone far from the sign-in that requested it"
        confidence = 0.75 if severity.rank >= Severity.HIGH.rank else 0.55
        return state, [
            episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, now)
        ]

    def advance(self, state: MismatchState, watermark: float) -> tuple[MismatchState, list[Detection]]:
        state.episode = live(state.episode, watermark, self.gap_s)
        if state.pending is not None and watermark - state.pending.ts > self.pair_window_s:
            state.pending = None
        return state, []

    def _sides(self, state: MismatchState, event: Event, profile: IdentityProfile) -> Sides | None:
        """The requesting side of an answer: its own, or for a phone-only record the push it answered."""
        if event.ip is None or event.ip != event.responder_ip:
            if event.geo is None:
                return None
            return Sides(event.geo, event.ip, event.device, None, assess(event, profile))
        sent = state.pending
        if sent is None or sent.geo is None or not 0 <= event.ts - sent.ts <= self.pair_window_s:
            return None
        if sent.context is None:
            return None
        return Sides(sent.geo, sent.ip, sent.device, sent, sent.context)

    def _travelling(self, event: Event, asked: Geo, answered: Geo, profile: IdentityProfile) -> bool:
        """The identity's latest success was from the requesting country, recently, and the phone is in
        another country the identity knows: a traveller whose phone's data egresses at home. (Both in one
        country is no roaming: a requester far from the phone there is measured, not excused.)"""
        if not asked.country or asked.country == answered.country:
            return False
        if not profile.countries or not profile.knows_country(answered.country):
            return False
        latest, seen = max(profile.countries.items(), key=lambda item: item[1].last)
        return latest == asked.country and event.ts - seen.last <= self.continuity_s

    @staticmethod
    def _phone_at_home(
        event: Event, asked_ip: str | None, context: Familiarity, profile: IdentityProfile
    ) -> str | None:
        """Apart without geography: the phone answered on the person's own home network (an address
        range they came back to, the phone on its Wi-Fi) while a device they never used asked from
        another network. A person with a new laptop elsewhere carries their phone there."""
        phone = event.responder_ip
        if not phone or not asked_ip or context.device != "new" or context.level is not Level.UNFAMILIAR:
            return None
        home = net_of(phone)
        if not home or home == net_of(asked_ip) or not established(profile.nets.get(home), event.ts):
            return None
        return f"the phone answered on the person's own network ({home}.x), a device they never used asked"

    def _apart(self, asked: Geo, answered: Geo) -> str | None:
        """Why the two sides are apart, or None when they are not (or cannot be told apart)."""
        measured = geo_gap_km(asked, answered)
        if (
            measured is not None
            and precise(asked, self.max_accuracy)
            and precise(answered, self.max_accuracy)
        ):
            distance, gap = measured
            if gap >= self.min_gap:
                return f"{distance:,.0f} km apart ({gap:,.0f} km beyond the accuracy radii)"
            return None  # measured, and close enough: a country border is not a mismatch
        if asked.country and answered.country and asked.country != answered.country:
            return f"different countries ({asked.country} vs {answered.country})"
        return None


def _lower(severity: Severity) -> Severity:
    order = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    return order[max(0, order.index(severity) - 1)]
