"""What to do about one incident: first the steps specific to what happened (the token created, the
factor enrolled, the account that approved, the source that sprayed), then the detectors' own advice
merged from all the incident's findings, worst finding first, each line once.

A service account has no person to ask: advice to ask, call or warn "the user" is dropped for it and its
credential is rotated instead."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import msgspec

from pushguard.model import Event, EventKind, Finding, Severity, UserKind
from pushguard.report.present import FACTOR_NAMES, identity_label, is_source, parse_time

_REFUSALS = frozenset({EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED})
_TOKEN_WORDS = re.compile(r"token|credential|secret|api[_ ]?key|certificate|client[_ ]?secret", re.I)
_ASKS_A_PERSON = re.compile(
    r"\b(ask|call|confirm with|contact|warn|thank)\b[^.]*\b(user|person|them)\b", re.I
)
_APPROVED_TITLE = re.compile(r"\bapproved\b", re.I)
_ENROLLED_ID = re.compile(r"enrolled factor's id: (\S+)")
_NHI_DETECTORS = frozenset({"nhi_interactive_mfa"})
_ENROLLMENT_DETECTORS = frozenset({"enrollment_abuse", "reset_enroll_chain"})


class Situation(msgspec.Struct, kw_only=True):
    """What the incident's findings and events say happened, as far as the actions need it."""

    identity: str
    service_account: bool = False
    approved: bool = False  # an attacker's push (or sign-in) was approved: the account is taken over
    first_refusal: str = ""  # ISO time of the first refusal in the evidence
    privileged: list[tuple[str, str]] = []  # (which action, ISO time)
    enrolled: list[tuple[str, str, str]] = []  # (factor name, factor id, ISO time)
    targets: list[str] = []
    victims: list[str] = []  # targets that got past the password (their own findings name the spray)


def _iso(event: Event) -> str:
    return event.time.strftime("%Y-%m-%dT%H:%M:%SZ")


def situation(
    members: Sequence[Finding],
    events_by_id: Mapping[str, Event],
    nhi_identities: frozenset[str],
    victims_of: Mapping[str, list[str]],
) -> Situation:
    """``members``: the incident's findings, worst first; ``events_by_id``: the logs' events (empty for a
    report from a findings file: then titles and reasons are read instead); ``victims_of``: spray finding
    id → the targets with a victim finding of their own."""
    worst = members[0]
    found = Situation(identity=worst.user)
    found.service_account = worst.user in nhi_identities or any(f.detector in _NHI_DETECTORS for f in members)
    refusal_times: list[str] = []
    for finding in members:
        serious = finding.severity.rank >= Severity.MEDIUM.rank
        evidence = [events_by_id[e] for e in finding.evidence if e in events_by_id]
        for event in evidence:
            if event.kind in _REFUSALS:
                refusal_times.append(_iso(event))
            elif event.kind is EventKind.PUSH_APPROVED and serious and finding.detector != "new_context":
                found.approved = True
            elif event.kind is EventKind.PRIVILEGED_ACTION:
                found.privileged.append((event.detail or "a privileged action", _iso(event)))
            elif (
                event.kind is EventKind.FACTOR_ENROLLED
                and serious
                and finding.detector in _ENROLLMENT_DETECTORS
            ):
                name = FACTOR_NAMES.get(event.factor, str(event.factor)) if event.factor else "a factor"
                found.enrolled.append((name, event.factor_id or "", _iso(event)))
        if serious and _APPROVED_TITLE.search(finding.title) and finding.detector != "new_context":
            found.approved = True
        if not evidence:  # a findings file: what the titles and reasons say
            if finding.detector == "privileged_after_risky_approval" and ": " in finding.title:
                found.privileged.append((finding.title.rsplit(": ", 1)[1], finding.last_seen))
            if finding.detector == "enrollment_abuse":
                ids = [m.group(1) for r in finding.reasons for m in [_ENROLLED_ID.search(r)] if m]
                factor = finding.title.split(" of ", 1)[1].split(":", 1)[0] if " of " in finding.title else ""
                found.enrolled.append(
                    (
                        FACTOR_NAMES.get(factor, factor or "a factor"),
                        ids[0] if ids else "",
                        finding.first_seen,
                    )
                )
        if finding.targets:
            found.targets.extend(t for t in finding.targets if t not in found.targets)
        found.victims.extend(v for v in victims_of.get(finding.id, ()) if v not in found.victims)
    if refusal_times:
        found.first_refusal = min(refusal_times)
    found.privileged = list(dict.fromkeys(found.privileged))
    found.enrolled = list(dict.fromkeys(found.enrolled))
    return found


def _short(iso: str) -> str:
    """The moment as ISO UTC to the second: the report shows it in the reader's local time."""
    return parse_time(iso).strftime("%Y-%m-%dT%H:%M:%SZ") if iso else ""


def specific_actions(found: Situation, start: str) -> list[str]:
    """The steps this incident needs, most urgent first, naming the account, token, factor or source."""
    who = identity_label(found.identity)
    steps: list[str] = []
    if is_source(found.identity):
        steps.append(f"Block {who} at the IdP (network zone / named location / Duo policy) while it is live.")
        if found.victims:
            steps.append(
                f"Reset the passwords and revoke the sessions of the {len(found.victims)} account(s) that "
                f"got past the password from it: {', '.join(found.victims)}."
            )
        if found.targets:
            steps.append(
                f"Check the {len(found.targets)} targeted accounts (listed below) for a later success, push "
                "approval or new factor; warn them to deny prompts they did not start."
            )
        return steps
    for detail, at in found.privileged:
        if _TOKEN_WORDS.search(detail):
            steps.append(
                f"Revoke the token or credential {who} created at {_short(at)} ({detail}), then check what "
                "it has been used for since."
            )
        else:
            steps.append(
                f"Revert the privileged change {detail} made at {_short(at)} and review the audit log "
                "after it."
            )
    if found.service_account:
        steps.append(
            f"Rotate {who}'s credentials (password, client secrets, keys) now: someone used them "
            "interactively. Find the account's owner and who signed in as it."
        )
    if found.approved or found.privileged:
        steps.append(f"Revoke {who}'s sessions and refresh tokens now.")
    # the attacker's own factor goes next: with it they sign in again whatever else is reset
    for factor, factor_id, at in found.enrolled:
        named = f"{factor} {factor_id}".strip()
        steps.append(f"Remove the {named} enrolled at {_short(at)} (keep the account's other factors).")
    if found.approved or found.privileged:
        if not found.service_account:
            steps.append(f"Reset {who}'s password: the attacker holds it.")
        since = found.first_refusal or start
        steps.append(
            f"Review the factors enrolled for {who} since {_short(since)}; remove any nobody vouches for."
        )
    return list(dict.fromkeys(steps))


def merged_actions(members: Sequence[Finding], found: Situation) -> list[str]:
    """The detectors' advice from every finding of the incident, worst first, each line once; advice to
    talk to "the user" is dropped for a service account."""
    merged: list[str] = []
    for finding in members:
        for action in finding.actions:
            if found.service_account and _ASKS_A_PERSON.search(action):
                continue
            if action not in merged:
                merged.append(action)
    return merged


def by_severity(members: Sequence[Finding]) -> list[Finding]:
    """Worst first: severity, then confidence, then the earliest detection."""
    return sorted(members, key=lambda f: (-f.severity.rank, -f.confidence, f.detected_at, f.id))


def nhi_identities(events: Sequence[Event]) -> frozenset[str]:
    return frozenset(e.identity for e in events if e.user_kind is UserKind.NHI)
