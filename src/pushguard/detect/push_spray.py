"""Push spray: one source sending push prompts to many identities that do not approve them.

A second-stage detector: its state is per source IP (``PushSpray``) or per hosting/VPN/proxy ASN
(``PushSprayAsn``: an attacker rotating addresses inside one cloud provider), and it sees the events of
every identity. Within a sliding window it keeps one small entry per *target* identity (bounded, oldest
evicted): prompted, denied/reported, timed out, password failed, approved, and whether the target had
ever succeeded from this source before (its profile knows the IP / ASN).

A target is a *suspect* when it got a push prompt, an MFA step or a password failure from the source, did
not approve or complete MFA from it (denied, reported, timed out, failed, or no answer within
``answer_grace_s``), and had never used the source before. The spray fires when there are
``min_identities`` suspects, at least ``min_push_identities`` of them prompted (the attacker holds their
passwords), and suspects are at least ``min_unresolved_ratio`` of all identities seen from the source.

That ratio and the known-source rule are what tell the benign look-alikes apart: behind an office NAT,
a VPN concentrator or a RADIUS/NPS proxy hundreds of users get prompts from one address, but they approve
them (the ratio stays low) and the address is one they have signed in from before; a helpdesk verifying
callers sends prompts that are answered. Password failures alone (a password spray with no valid
password) do not fire here: that is a password-spray detector's job; they only add to the count.

Once it fires, the finding about the source lists every account it targeted, and each account that got
past the password there has a finding of its own (``spray_targets``: attribution)."""

from __future__ import annotations

from typing import ClassVar

from pushguard.detect.base import DetectorMeta
from pushguard.detect.spray_base import SPRAY_WATCHES, SprayBase, SprayState
from pushguard.detect.spray_ip import SPRAY_FRAMEWORKS, IpSpray, spray_tunables
from pushguard.detect.spray_targets import is_open as _is_open
from pushguard.model import Event, IdentityProfile, Severity

# SprayState and _is_open: where the engine's tests look for them
__all__ = [
    "META",
    "META_ASN",
    "SPRAY_FRAMEWORKS",
    "SPRAY_WATCHES",
    "PushSpray",
    "PushSprayAsn",
    "SprayState",
    "_is_open",
    "spray_tunables",
]


_ACTIONS = (
    "Block or challenge the source at the IdP (network zone / named location / Duo policy) while it is live.",
    "Reset the passwords of every targeted identity that got a push: the attacker holds them.",
    "For any target that approved: revoke its sessions and tokens, remove factors enrolled since, review.",
    "Require number matching or a phishing-resistant factor for the targeted identities.",
    "Warn the targeted users out of band: deny unexpected prompts and report them.",
)
_DESCRIPTION = (
    "Distinct identities receiving push prompts (or password failures) from one {what} without approving "
    "them, within window_s. Fires at min_identities suspects (unresolved, source never used by them) "
    "forming at least min_unresolved_ratio of the identities seen from the source; medium, high at "
    "high_identities suspects or high_denials denials/reports; critical when a targeted identity approves "
    "a prompt from the source. The finding lists every targeted account; each that got past the password "
    "from the source (a push, an MFA step, a sign-in) gets its own finding: high, critical once it "
    "approved."
)

META = DetectorMeta(
    id="push_spray",
    title="Push spray from one source IP",
    description=_DESCRIPTION.format(what="source IP"),
    severity=Severity.MEDIUM,
    techniques=("T1621", "T1110.003"),
    frameworks=SPRAY_FRAMEWORKS,
    tunables=spray_tunables(min_identities=5, window_s=3600),
    actions=_ACTIONS,
    triage=(
        "List the targeted accounts that approved or got past the password from the source: those "
        "need password resets and session revocation; the rest need a warning."
    ),
    false_positives=(
        "A shared egress (office NAT, corporate proxy) where many people get prompts at the start of "
        "the day.",
        "An outage of the push service that leaves many prompts unanswered at once.",
    ),
    keys=("source_ip",),
    watches=SPRAY_WATCHES,
)

META_ASN = DetectorMeta(
    id="push_spray_asn",
    title="Push spray from one hosting/VPN ASN",
    description=_DESCRIPTION.format(what="hosting, VPN or proxy ASN (addresses rotated inside it)"),
    severity=Severity.MEDIUM,
    techniques=("T1621", "T1110.003"),
    frameworks=SPRAY_FRAMEWORKS,
    tunables=spray_tunables(min_identities=8, window_s=3600),
    actions=_ACTIONS,
    triage=(
        "List the targeted accounts that approved or got past the password from the source: those "
        "need password resets and session revocation; the rest need a warning."
    ),
    false_positives=(
        "A cloud-hosted corporate VPN or secure web gateway whose ASN many staff egress through.",
        "An outage of the push service that leaves many prompts unanswered at once.",
    ),
    keys=("asn",),
    watches=SPRAY_WATCHES,
)


class PushSpray(IpSpray):
    """Per source IP."""

    meta: ClassVar[DetectorMeta] = META


class PushSprayAsn(SprayBase):
    """Per hosting / VPN / proxy ASN (residential and corporate ASNs are left to the per-IP view)."""

    meta: ClassVar[DetectorMeta] = META_ASN
    prefix: ClassVar[str] = "asn"

    def _source(self, event: Event) -> str | None:
        geo = event.geo
        if geo is None or geo.asn is None or not (geo.is_hosting or geo.is_proxy):
            return None
        return str(geo.asn)

    def _known(self, profile: IdentityProfile, event: Event) -> bool:
        return event.geo is not None and profile.knows_asn(event.geo.asn)

    def profile_view(self, profile: IdentityProfile, event: Event) -> IdentityProfile:
        asn = None if event.geo is None or event.geo.asn is None else str(event.geo.asn)
        known = {asn: profile.asns[asn]} if asn is not None and asn in profile.asns else {}
        return IdentityProfile(identity=profile.identity, asns=known)
