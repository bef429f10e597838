"""What the per-IP spray detectors (push_spray, password_spray) share: their tunables, framework
references and the per-IP view of the source. A module of its own so that no detector imports another
(an import-linter contract keeps detectors independent)."""

from __future__ import annotations

from typing import ClassVar

from pushguard.detect.base import Tunable
from pushguard.detect.spray_base import SprayBase, SprayState
from pushguard.model import Event, IdentityProfile


def spray_tunables(
    min_identities: int,
    window_s: int,
    *,
    min_push_identities: int = 1,
    min_unresolved_ratio: float = 0.5,
    high_identities: int = 20,
) -> dict[str, Tunable]:
    return {
        "window_s": Tunable(window_s, "sliding window over which distinct target identities are counted"),
        "min_identities": Tunable(min_identities, "suspects (prompted/failed, not approved) to fire"),
        "min_push_identities": Tunable(
            min_push_identities, "of the suspects, how many got a push prompt or an MFA step"
        ),
        "min_unresolved_ratio": Tunable(
            min_unresolved_ratio, "suspects / all identities seen from the source, to fire"
        ),
        "answer_grace_s": Tunable(120, "a prompt or failure unanswered this long counts as unresolved"),
        "high_identities": Tunable(high_identities, "suspects that make it high severity"),
        "high_denials": Tunable(2, "targets that denied or reported a prompt that make it high severity"),
        "max_targets": Tunable(512, "target identities kept per source (oldest evicted)"),
        "episode_gap_s": Tunable(3600, "quiet after which the next spray from the source is a new finding"),
        "max_listed_targets": Tunable(200, "targeted accounts a finding names (all are counted)"),
        "max_victims": Tunable(200, "accounts per spray given a finding of their own (more are counted)"),
        "max_remembered": Tunable(50, "victims per source kept after they leave the window"),
        "victim_memory_s": Tunable(
            10800, "how long after its last event a victim that left the window is still named"
        ),
    }


SPRAY_FRAMEWORKS = {
    "nist_csf_2": ("PR.AA-03", "DE.CM-01", "DE.AE-02", "DE.AE-03"),
    "sp800_63b": ("AAL2", "5.2.2 rate limiting", "5.1.3.1 out-of-band authenticators"),
    "owasp_nhi": (),
}


class IpSpray(SprayBase):
    """Per source IP (push_spray, password_spray)."""

    prefix: ClassVar[str] = "ip"

    def _source(self, event: Event) -> str | None:
        return event.ip

    def _known(self, profile: IdentityProfile, event: Event) -> bool:
        return profile.knows_ip(event.ip)

    def _victim_ips(self, state: SprayState) -> tuple[str, ...]:
        return (state.key,)

    def profile_view(self, profile: IdentityProfile, event: Event) -> IdentityProfile:
        ip = event.ip
        known = {ip: profile.ips[ip]} if ip is not None and ip in profile.ips else {}
        return IdentityProfile(identity=profile.identity, ips=known)
