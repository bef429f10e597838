"""New context at an approval or a successful sign-in: new country, new network, new device, unmanaged or
non-compliant device, hosting egress, right after refused prompts, each weighted into one score.

Each alone is daily life (people travel, buy phones, change ISPs), so the score needs several together and
the identity needs a history long enough for "new" to mean something (``min_history`` successes seen).
Low severity at ``min_score``; medium at ``medium_score``; high when a new country meets refused prompts
in the last hour (the shape of an attacker who finally got a push approved). One finding per identity and
``episode_gap_s``, escalating."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, Tunable, settings
from pushguard.detect.episode import Episode
from pushguard.detect.geo import is_hosting, place_text
from pushguard.model import Event, EventKind, IdentityProfile, Severity

_SUCCESS = frozenset({EventKind.PUSH_APPROVED, EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS})
_RECENT_DENIALS_S = 3600.0


class NewContextState(msgspec.Struct, kw_only=True):
    episode: Episode | None = None


META = DetectorMeta(
    id="new_context",
    title="Approval or sign-in from a new context",
    description=(
        "Weights (tunable): new country, new ASN, new device (more when it is unmanaged or non-compliant), "
        "hosting/VPN/proxy egress, refused prompts in the last hour. Needs min_history past successes. "
        "Low at min_score, medium at medium_score, high for a new country right after refused prompts."
    ),
    severity=Severity.LOW,
    techniques=("T1078",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "PR.AA-05", "DE.CM-01", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting"),
        "owasp_nhi": (),
    },
    tunables={
        "weight_new_country": Tunable(3, "a country the identity never succeeded from"),
        "weight_new_asn": Tunable(1, "a network (ASN) the identity never succeeded from"),
        "weight_new_device": Tunable(2, "a device id the identity never used (when it has known devices)"),
        "weight_unmanaged": Tunable(1, "a new device that is reported unmanaged"),
        "weight_noncompliant": Tunable(2, "a new device that is reported non-compliant"),
        "weight_hosting": Tunable(1, "hosting / VPN / proxy egress"),
        "weight_recent_denials": Tunable(3, "two or more prompts refused in the last hour"),
        "weight_recent_denial": Tunable(1, "one prompt refused in the last hour (a fat finger, often)"),
        "min_score": Tunable(6, "score that fires (low)"),
        "medium_score": Tunable(8, "score that makes it medium"),
        "min_history": Tunable(10, "past successes before anything can be new"),
        "episode_gap_s": Tunable(24 * 3600, "new contexts this close together are one finding"),
    },
    actions=(
        "Confirm with the user that the new device / place is theirs.",
        "If not: revoke the session, remove any factor enrolled from that context, reset the password.",
    ),
)


class NewContext:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = NewContextState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.weights = {
            name.removeprefix("weight_"): int(v) for name, v in cfg.items() if name.startswith("weight_")
        }
        self.min_score = int(cfg["min_score"])
        self.medium_score = int(cfg["medium_score"])
        self.min_history = int(cfg["min_history"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> NewContextState:
        return NewContextState()

    def observe(
        self, state: NewContextState, event: Event, profile: IdentityProfile
    ) -> tuple[NewContextState, list[Detection]]:
        if event.kind not in _SUCCESS or len(profile.successes) < self.min_history:
            return state, []
        signals = self._signals(event, profile)
        score = sum(self.weights[name] for name in signals)
        if score < self.min_score:
            return state, []
        if "new_country" in signals and "recent_denials" in signals:
            severity = Severity.HIGH
        elif score >= self.medium_score:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        now = event.ts
        episode = state.episode
        if episode is None or now - episode.last_ts > self.gap_s:
            episode = state.episode = Episode.open(event)
        else:
            episode.add(event)
        if not episode.escalates_to(severity):
            return state, []
        reasons = [f"context score {score} (fires at {self.min_score}): " + "; ".join(signals.values())]
        reasons.append(f"{event.kind.value.replace('_', ' ')} from {place_text(event.geo, event.ip)}")
        title = "Success from a new context: " + ", ".join(name.replace("_", " ") for name in signals)
        confidence = min(0.8, 0.3 + 0.05 * score)
        return state, [
            episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, now)
        ]

    def advance(self, state: NewContextState, watermark: float) -> tuple[NewContextState, list[Detection]]:
        if state.episode is not None and watermark - state.episode.last_ts > self.gap_s:
            state.episode = None
        return state, []

    @staticmethod
    def _signals(event: Event, profile: IdentityProfile) -> dict[str, str]:
        """Signal name → the sentence a reader gets."""
        found: dict[str, str] = {}
        geo, device = event.geo, event.device
        if geo is not None and geo.country and not profile.knows_country(geo.country):
            found["new_country"] = f"first success from {geo.country}"
        if geo is not None and geo.asn is not None and not profile.knows_asn(geo.asn):
            found["new_asn"] = f"first success from AS{geo.asn}{f' ({geo.as_org})' if geo.as_org else ''}"
        if device is not None and device.id and profile.devices and not profile.knows_device(device.id):
            found["new_device"] = f"first success on device {device.id}"
            # posture only matters on a device the identity never used: BYOD users live unmanaged
            if device.managed is False:
                found["unmanaged"] = "the new device is not managed"
            if device.compliant is False:
                found["noncompliant"] = "the new device is not compliant"
        if is_hosting(geo):
            found["hosting"] = "through hosting / VPN / proxy egress"
        recent = [ts for ts in profile.denials if event.ts - ts <= _RECENT_DENIALS_S]
        if len(recent) >= 2:
            found["recent_denials"] = f"{len(recent)} prompts refused in the last hour"
        elif recent:
            found["recent_denial"] = "1 prompt refused in the last hour"
        return found
