"""Impossible travel between consecutive successful authentications of one identity.

IP geolocation is a circle, not a point: the speed is computed on the *gap* (distance minus both
accuracy radii, ``detect.geo``), and only fixes at city level or better (vendor coordinates, a city
database) are used at all: the bundled offline database is country-level, and country centroids would
make every traveller a teleporter. The previous place is the shared profile's ``last_place`` (the last
success with precise coordinates); how familiar that side was (``detect.familiarity``) is kept here,
since the profile does not say.

Who the sides are decides: two places that are both the person's own or the organisation's (home and
the corporate gateway that exits in another country, alternating every day) are no journey at all; a
jump whose unfamiliar side came through the person's own registered device or their browser on a new
network (a consumer VPN, a hotel) is low; otherwise medium, high when the unfamiliar side shows hostile
signs (a country or hosting nobody in the organisation uses) or a new country far away. Hosting is not
an excuse: unfamiliar hosting is more suspicious, familiar hosting (the company's gateway) is familiar.
Coming back to where the previous jump started is the same trip, not a new finding. A familiar address
on the new side does not excuse a jump from an unfamiliar one: an attacker's first leg can be slow
enough to pass (hours after the user's last success) and the user's own way back is then the impossible
one.

Why 1000 km/h and 500 km: airliners cruise at 800-950 km/h, so a plausible flight never exceeds the
limit once the gap is taken off; 500 km beyond both radii keeps a regional train or a drive out."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import SUCCESS_KINDS, Detection, DetectorMeta, Tunable, kinds, settings
from pushguard.detect.episode import Episode
from pushguard.detect.familiarity import Level, assess
from pushguard.detect.geo import gap_km, haversine_km, place_text, precise, valid_point
from pushguard.detect.profile import PLACE_ACCURACY_LIMIT_KM
from pushguard.model import Event, IdentityProfile, Severity


class Jump(msgspec.Struct, array_like=True):
    ts: float
    from_lat: float
    from_lon: float
    to_lat: float
    to_lon: float


class TravelState(msgspec.Struct, kw_only=True, omit_defaults=True):
    last_jump: Jump | None = None
    episode: Episode | None = None
    # the last success precise enough to be the profile's last_place: how familiar it was, whether it
    # looked hostile and whether its country was new to the identity then (the profile keeps none)
    last_place_id: str = ""
    last_place_level: int = Level.FAMILIAR
    last_place_own_network: bool = True
    last_place_own_device: bool = False
    last_place_hostile: bool = False
    last_place_new_country: bool = False


META = DetectorMeta(
    id="impossible_travel",
    title="Impossible travel between successful sign-ins",
    description=(
        "Two consecutive successful authentications whose places are at least min_gap_km apart beyond "
        "both accuracy radii, at a speed above max_speed_kmh. Only fixes with a radius of at most "
        "max_accuracy_km count. Medium; "
        "high when either place was in a country new to the identity and the gap exceeds "
        "high_gap_km; low when either side is hosting/VPN/proxy egress (skipped with ignore_hosting)."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1078",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-01", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting"),
        "owasp_nhi": (),
    },
    tunables={
        "max_speed_kmh": Tunable(1000.0, "faster than this between two fixes is impossible (airliner ~900)"),
        "min_gap_km": Tunable(500.0, "the gap (distance minus radii) must be at least this"),
        "max_accuracy_km": Tunable(100.0, "fixes coarser than this radius are not used"),
        "high_gap_km": Tunable(2000.0, "a gap this large to a new country is high"),
        "min_interval_s": Tunable(60.0, "shorter intervals count as this (clock skew between IdPs)"),
        "episode_gap_s": Tunable(24 * 3600, "jumps this close together are one finding"),
    },
    actions=(
        "Ask the user where they are; if not both places, revoke sessions and tokens of the new place.",
        "Check what the session from the new place did (mail rules, file downloads, admin actions).",
        "Require a phishing-resistant factor for the identity until explained.",
    ),
    triage=(
        "Check both sign-ins' networks: one of them on a mobile carrier, a VPN or a cloud proxy "
        "usually explains the jump; two residential or office networks far apart within minutes do "
        "not."
    ),
    false_positives=(
        "A VPN or mobile carrier that egresses far from the device.",
        "Inaccurate geolocation of a newly allocated address block.",
    ),
    watches=kinds(SUCCESS_KINDS),
)


class ImpossibleTravel:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = TravelState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.max_speed = float(cfg["max_speed_kmh"])
        self.min_gap = float(cfg["min_gap_km"])
        self.max_accuracy = float(cfg["max_accuracy_km"])
        self.high_gap = float(cfg["high_gap_km"])
        self.min_interval = float(cfg["min_interval_s"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> TravelState:
        return TravelState()

    def observe(
        self, state: TravelState, event: Event, profile: IdentityProfile
    ) -> tuple[TravelState, list[Detection]]:
        if event.kind not in SUCCESS_KINDS:
            return state, []
        last = profile.last_place
        geo = event.geo
        same = last is not None and state.last_place_id == last.event_id
        previous_level = Level(state.last_place_level) if same else Level.FAMILIAR
        previous_own_network = not same or state.last_place_own_network
        previous_own_device = same and state.last_place_own_device
        previous_hostile = same and state.last_place_hostile
        previous_new = same and state.last_place_new_country
        context = assess(event, profile)
        new_country = geo is not None and bool(geo.country) and not profile.knows_country(geo.country)
        if geo is not None and precise(geo, PLACE_ACCURACY_LIMIT_KM):
            # mirrors the profile's update of last_place, which runs after every detector saw the event
            state.last_place_id = event.event_id
            state.last_place_level = int(context.level)
            state.last_place_own_network = context.network == "own"
            state.last_place_own_device = context.device == "own"
            state.last_place_hostile = context.hostile
            state.last_place_new_country = new_country
        if last is None or geo is None or event.ip == last.ip:  # the same address: no journey
            return state, []
        if not precise(geo, self.max_accuracy):
            return state, []
        if last.accuracy_km > self.max_accuracy or not valid_point(last.lat, last.lon):
            return state, []
        assert geo.lat is not None and geo.lon is not None and geo.accuracy_km is not None  # precise()
        distance = haversine_km(last.lat, last.lon, geo.lat, geo.lon)
        gap = gap_km(distance, last.accuracy_km, geo.accuracy_km)
        elapsed = abs(event.ts - last.ts)  # a late event (older than the last place) travels back in time
        hours = max(elapsed, self.min_interval) / 3600.0
        speed = gap / hours
        if gap < self.min_gap or speed <= self.max_speed:
            return state, []
        now = event.ts
        if self._return_trip(state.last_jump, now, last.lat, last.lon, geo.lat, geo.lon):
            if state.episode is not None:
                state.episode.add(event)
            return state, []
        state.last_jump = Jump(now, last.lat, last.lon, geo.lat, geo.lon)
        own_network = context.network == "own"
        if own_network and previous_own_network:
            return state, []  # both the person's (or the organisation's) own: home and the gateway
        # the side to judge: the new one, unless its network is the person's own and the previous not
        judged_new = not own_network
        unfamiliar = context.level if judged_new else previous_level
        hostile = context.hostile if judged_new else previous_hostile
        own_device = context.device == "own" if judged_new else previous_own_device
        if unfamiliar is not Level.UNFAMILIAR or own_device:
            severity = Severity.LOW
        elif hostile or ((new_country or previous_new) and gap >= self.high_gap):
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        episode = state.episode
        if episode is None or now - episode.last_ts > self.gap_s:
            episode = state.episode = Episode(
                anchor=last.event_id or event.event_id, first_ts=last.ts, last_ts=now
            )
            if last.event_id:
                episode.evidence.append(last.event_id)
            if last.ip:
                episode.ips.append(last.ip)
        episode.add(event)
        if not episode.escalates_to(severity):
            return state, []
        minutes = elapsed / 60.0
        reasons = [
            f"{distance:,.0f} km ({gap:,.0f} km beyond the accuracy radii) in {minutes:,.0f} min: "
            f"{speed:,.0f} km/h, above {self.max_speed:,.0f} km/h",
            f"from {place_text(None, last.ip)} ({last.country or 'unknown country'}) "
            f"to {place_text(geo, event.ip)}",
        ]
        if new_country:
            reasons.append(f"{geo.country} is a country this identity never succeeded from")
        if previous_new:
            reasons.append(f"{last.country or 'the previous place'} was new to this identity at that success")
        if judged_new:
            reasons.append(f"the new side: {context.describe()}")
        else:
            reasons.append("the new side is the person's own; the previous side was not: the way back")
        if own_device:
            reasons.append("through the person's own registered device: a VPN or a relay, most likely")
        elif unfamiliar is not Level.UNFAMILIAR:
            reasons.append("partly the person's own (their network operator or their browser)")
        confidence = 0.45 if severity is Severity.LOW else min(0.9, 0.6 + gap / 20000.0)
        title = f"Impossible travel: {gap:,.0f} km in {minutes:,.0f} min ({speed:,.0f} km/h)"
        return state, [
            episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, now)
        ]

    def advance(self, state: TravelState, watermark: float) -> tuple[TravelState, list[Detection]]:
        if state.episode is not None and watermark - state.episode.last_ts > self.gap_s:
            state.episode = None
            state.last_jump = None
        return state, []

    def _return_trip(
        self, jump: Jump | None, now: float, from_lat: float, from_lon: float, to_lat: float, to_lon: float
    ) -> bool:
        """This jump goes back to where the previous one started (within min_gap_km), soon after it."""
        if jump is None or now - jump.ts > self.gap_s:
            return False
        back = haversine_km(jump.from_lat, jump.from_lon, to_lat, to_lon) < self.min_gap
        same_start = haversine_km(jump.to_lat, jump.to_lon, from_lat, from_lon) < self.min_gap
        return back and same_start
