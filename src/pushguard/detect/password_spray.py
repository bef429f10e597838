"""Password spray: one source failing passwords against many identities, the step before push bombing.

The same second-stage machinery as ``push_spray`` (per source IP, a bounded entry per target, the
unresolved ratio and the known-source rule that keep office NATs and VPN concentrators quiet), with the
one difference that password failures alone are enough: ``min_push_identities`` is 0. Where the attacker
found valid passwords the targets then get pushes, ``push_spray`` fires too and both land in the same
incident (the source address); an approval by a target makes this critical as well. Each account that got
past the password gets its own finding from both, in one incident per account (``spray_targets``).

Thresholds (tunable): at least 10 distinct identities, 80% of those seen from the source unresolved,
within an hour: well above what one user's typos behind a shared egress produce, while a spray that tries
one password against a department still crosses it."""

from __future__ import annotations

from typing import ClassVar

from pushguard.detect.base import DetectorMeta
from pushguard.detect.spray_base import SPRAY_WATCHES
from pushguard.detect.spray_ip import SPRAY_FRAMEWORKS, IpSpray, spray_tunables
from pushguard.model import Severity

META = DetectorMeta(
    id="password_spray",
    title="Password spray from one source IP",
    description=(
        "Distinct identities with failed passwords (or unanswered pushes) from one source IP that never "
        "served them, within window_s: fires at min_identities forming at least min_unresolved_ratio of "
        "the identities seen from it; medium, high at high_identities or when targets deny pushes from it, "
        "critical when a targeted identity approves a push from it. The finding lists every targeted "
        "account; each that got past the password from the source (a push, an MFA step, a sign-in) gets "
        "its own finding: high, critical once it approved."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1110.003",),
    frameworks=SPRAY_FRAMEWORKS,
    tunables=spray_tunables(10, 3600, min_push_identities=0, min_unresolved_ratio=0.8, high_identities=30),
    actions=(
        "Block the source at the IdP (network zone / named location / Duo policy) while it is live.",
        "Check every targeted identity for a later success, push prompt or new factor: a valid password "
        "is the attacker's ticket to push bombing.",
        "Force a password change for targeted identities whose passwords appear in breach corpora.",
        "Require number matching or a phishing-resistant factor for the targeted identities.",
    ),
    triage=(
        "Check whether any targeted account later succeeded, got a push or enrolled a factor from "
        "the source: those are the victims; block the source meanwhile."
    ),
    false_positives=(
        "A misconfigured application or SSO connector failing for many users behind one egress address.",
        "A shared office or school NAT address after a password policy change.",
    ),
    keys=("source_ip",),
    watches=SPRAY_WATCHES,
)


class PasswordSpray(IpSpray):
    """Per source IP, password failures counted on their own."""

    meta: ClassVar[DetectorMeta] = META
    noun: ClassVar[str] = "Password spray"
