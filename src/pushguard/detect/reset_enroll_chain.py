"""Reset → enroll → access: the helpdesk social-engineering chain (Scattered Spider, MGM 2023).

The attacker calls the helpdesk as the victim; an admin resets the victim's factors or password, or issues
a bypass code / Temporary Access Pass; the attacker enrolls their own authenticator, then signs in and, at
worst, acts with the victim's privileges. Each step alone is a helpdesk's daily work: the chain is the
signal. It opens on any reset, advances on an enrollment within ``enroll_s`` and on access or a
privileged action within ``access_s`` of the enrollment, and speaks only when a step came from a place new
to the identity (a lost phone re-enrolled from home is the helpdesk's daily work) or when privileged work
follows. Severity: see ``_severity``. One finding per chain; its revision grows as it escalates."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import SUCCESS_KINDS, Detection, DetectorMeta, Tunable, kinds, settings
from pushguard.detect.episode import Episode
from pushguard.detect.geo import is_hosting, place_text
from pushguard.model import Event, EventKind, IdentityProfile, Severity

_RESETS = frozenset({EventKind.FACTORS_RESET, EventKind.PASSWORD_RESET, EventKind.BYPASS_ISSUED})
_ACCESS = SUCCESS_KINDS  # access after the enrollment: any way in


class Chain(msgspec.Struct, kw_only=True):
    reset_ts: float
    reset_what: str
    by_other: bool
    reset_by: str = ""
    enroll_ts: float = 0.0
    enroll_new_context: str = ""  # why the enrollment's context is new ("" when it is not)
    enroll_place: str = ""
    access_ts: float = 0.0
    privileged: str = ""
    episode: Episode | None = None


class ChainState(msgspec.Struct, kw_only=True):
    chain: Chain | None = None


META = DetectorMeta(
    id="reset_enroll_chain",
    title="Reset, then a new factor, then access (helpdesk social engineering)",
    description=(
        "A factor or password reset, bypass code or Temporary Access Pass, a factor enrolled within "
        "enroll_s, then a sign-in or privileged action within access_s. Judged on the place of the "
        "enrollment (or of the sign-in with the temporary credential, or of the access after it): a "
        "country or network new to the identity, or hosting egress it never used. Reset + enroll from a "
        "new place: medium (self-service) or high (reset by someone else); + access: high; + privileged "
        "action: critical. From the identity's own places only a privileged action speaks (medium: an "
        "admin's lost phone looks the same). One finding per chain; its revision grows as it escalates."
    ),
    severity=Severity.HIGH,
    techniques=("T1656", "T1098.005", "T1078"),
    frameworks={
        "nist_csf_2": ("PR.AA-01", "PR.AA-02", "PR.AA-05", "DE.CM-03"),
        "sp800_63b": (
            "6.1.2.3 replacement of a lost authenticator",
            "6.1.2.1 binding additional authenticators",
        ),
        "owasp_nhi": (),
    },
    tunables={
        "enroll_s": Tunable(12 * 3600, "an enrollment this soon after the reset continues the chain"),
        "access_s": Tunable(12 * 3600, "access this soon after the enrollment continues the chain"),
    },
    actions=(
        "Call the user back on a number from the directory (not the caller's): did they ask for the reset?",
        "If not: remove the factor enrolled after the reset, revoke sessions, suspend the account.",
        "Review what the session did after the enrollment, privileged actions first.",
        "Require identity verification (video, manager approval) before helpdesk resets.",
    ),
    watches=kinds(_RESETS, _ACCESS, (EventKind.FACTOR_ENROLLED, EventKind.PRIVILEGED_ACTION)),
)


class ResetEnrollChain:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = ChainState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.enroll_s = float(cfg["enroll_s"])
        self.access_s = float(cfg["access_s"])

    def initial_state(self) -> ChainState:
        return ChainState()

    def observe(
        self, state: ChainState, event: Event, profile: IdentityProfile
    ) -> tuple[ChainState, list[Detection]]:
        kind = event.kind
        now = event.ts
        chain = state.chain
        if kind in _RESETS:
            if chain is None or chain.enroll_ts == 0.0 or chain.episode is None:
                who = (event.actor.login or event.actor.id or "") if event.by_other and event.actor else ""
                state.chain = Chain(
                    reset_ts=now, reset_what=kind.value, by_other=event.by_other, reset_by=who
                )
                state.chain.episode = Episode.open(event)
            return state, []
        if chain is None:
            return state, []
        if kind is EventKind.FACTOR_ENROLLED and chain.enroll_ts == 0.0:
            if now - chain.reset_ts > self.enroll_s:
                state.chain = None
                return state, []
            chain.enroll_ts = now
            chain.enroll_new_context = _new_context(event, profile) or chain.enroll_new_context
            chain.enroll_place = place_text(event.geo, event.ip)
            if not chain.enroll_new_context:
                # a re-enrollment from the identity's own networks: the helpdesk's daily work (the
                # enrollment review still lists it); the chain stays open for a privileged action
                return state, []
            return state, self._report(chain, event)
        if chain.enroll_ts == 0.0:
            if now - chain.reset_ts > self.enroll_s:
                state.chain = None
            elif kind in _ACCESS and not chain.enroll_new_context:
                # the sign-in with the temporary credential: judged now, before the profile learns it
                context = _new_context(event, profile)
                chain.enroll_new_context = f"after a sign-in {context}" if context else ""
            return state, []
        if now - chain.enroll_ts > self.access_s:
            state.chain = None
            return state, []
        if kind is EventKind.PRIVILEGED_ACTION and not chain.privileged:
            chain.privileged = event.detail or "a privileged action"
            if not chain.enroll_new_context:
                context = _new_context(event, profile)
                chain.enroll_new_context = f"(then a privileged action {context})" if context else ""
            return state, self._report(chain, event)
        if kind in _ACCESS and chain.access_ts == 0.0:
            chain.access_ts = now
            if not chain.enroll_new_context:
                access_context = _new_context(event, profile)
                if not access_context:
                    return state, []
                chain.enroll_new_context = f"(then access {access_context})"
            return state, self._report(chain, event)
        return state, []

    def advance(self, state: ChainState, watermark: float) -> tuple[ChainState, list[Detection]]:
        chain = state.chain
        if chain is not None:
            last = chain.enroll_ts or chain.reset_ts
            limit = self.access_s if chain.enroll_ts else self.enroll_s
            if watermark - last > limit + 86400:
                state.chain = None
        return state, []

    def _report(self, chain: Chain, event: Event) -> list[Detection]:
        episode = chain.episode
        assert episode is not None  # opened with the chain
        episode.add(event)
        severity = _severity(chain)
        if not episode.escalates_to(severity):
            return []
        by = (
            f"by {chain.reset_by}"
            if chain.reset_by
            else "self-service"
            if not chain.by_other
            else "by an admin"
        )
        minutes = (chain.enroll_ts - chain.reset_ts) / 60.0
        reasons = [
            f"{chain.reset_what.replace('_', ' ')} {by}, then a factor enrolled {minutes:.0f} min later "
            f"from {chain.enroll_place}"
        ]
        if chain.enroll_new_context:
            reasons.append(f"the enrollment came {chain.enroll_new_context}")
        if chain.access_ts:
            reasons.append(
                f"then access {(chain.access_ts - chain.enroll_ts) / 60:.0f} min after the enrollment"
            )
        if chain.privileged:
            reasons.append(f"then a privileged action: {chain.privileged}")
        steps = (
            ["reset", "enroll"]
            + (["access"] if chain.access_ts else [])
            + (["privileged"] if chain.privileged else [])
        )
        title = "Helpdesk-style chain: " + " → ".join(steps)
        confidence = {Severity.CRITICAL: 0.9, Severity.HIGH: 0.75}.get(severity, 0.55)
        return [episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, event.ts)]


def _severity(chain: Chain) -> Severity:
    """Medium at reset + enrollment from a new place (self-service); high when someone else did the
    reset or the new factor was used; critical at a privileged action after a new-place step. A reset by
    someone else, an enrollment and privileged work all from the identity's own places is medium: an
    admin's lost phone, or an attacker inside the network; a reviewer tells them apart, not a rule."""
    if chain.privileged:
        return Severity.CRITICAL if chain.enroll_new_context else Severity.MEDIUM
    if chain.access_ts or chain.by_other:
        return Severity.HIGH
    return Severity.MEDIUM


def _new_context(event: Event, profile: IdentityProfile) -> str:
    """Why the place of this event is new to the identity ("" when it is one of its own). Hosting or
    proxy egress the identity already succeeded through is its own: a company's Zscaler or VPN."""
    geo = event.geo
    if is_hosting(geo) and not profile.knows_asn(geo.asn if geo else None):
        return "through hosting / VPN / proxy egress new to this identity"
    if geo is None or not profile.has_history or profile.knows_ip(event.ip):
        return ""
    if geo.country and not profile.knows_country(geo.country):
        return f"from {geo.country}, a country this identity never succeeded from"
    if geo.asn is not None and not profile.knows_asn(geo.asn):
        return f"from AS{geo.asn}{f' ({geo.as_org})' if geo.as_org else ''}, a network new to this identity"
    return ""
