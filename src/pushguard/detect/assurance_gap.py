"""Assurance gap: a person's account gets in with a password alone, and what follows from it.

A success counts as a password alone when ``model.assurance`` says so (Entra ``singleFactorAuthentication``
with a password step, a legacy-auth client such as IMAP or Authenticated SMTP, an Okta password step)
and no stronger success of the same identity follows within ``confirm_s`` (Okta logs the password step
before the push that completes the sign-in). Then:

- after failed sign-ins from the same address (a spray, or a guess that worked): medium;
- on an account that has met MFA at least ``mfa_history`` times before: medium, the organisation's
  policy has a hole (a Conditional Access exclusion, a legacy protocol left on);
- a legacy protocol on an account with no MFA history: low (a posture issue, listed for review);
- the chain the Midnight Blizzard intrusion used: after such a success, the same address consents to an
  OAuth application, adds credentials to a service principal or grants a role, within ``chain_s``:
  high (T1098.001 / T1098.003 / T1528).

Accounts in ``exempt_accounts`` (comma-separated logins: a shared mailbox with an approved exception) and
non-human identities (``nhi_interactive_mfa`` covers those) are not judged.

Triage: is the account a test, dormant or shared account; which protocol and application; did the
address fail on other accounts (``password_spray``); what did the privileged action grant.
Known false positives: a printer or scanner sending mail over Authenticated SMTP, a mailbox read over
IMAP by an approved tool (add it to the exceptions); a Conditional Access exclusion kept on purpose."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import (
    SUCCESS_KINDS,
    Detection,
    DetectorMeta,
    Tunable,
    kinds,
    prune_before,
    settings,
)
from pushguard.detect.episode import Episode
from pushguard.model import Event, EventKind, IdentityProfile, Severity, UserKind
from pushguard.model.assurance import FactorClass, assess

_MAX_FAILURES = 50
# A step that is a second factor, however weak: the sign-in was not a password alone. (A push approval or
# an MFA success is one by its kind, whatever factor the record names.)
_SECOND = frozenset(FactorClass) - {FactorClass.PASSWORD_ONLY, FactorClass.UNKNOWN}
# What a privileged action after the gap most likely is (the Entra / Okta activity names the sources keep).
_CHAIN_TECHNIQUES = (
    ("consent", "T1528"),
    ("delegated permission", "T1528"),
    ("credential", "T1098.001"),
    ("certificates and secrets", "T1098.001"),
    ("role", "T1098.003"),
    ("privilege.grant", "T1098.003"),
)


class Failure(msgspec.Struct, array_like=True):
    ts: float
    ip: str
    event_id: str


class Pending(msgspec.Struct, kw_only=True):
    """A password-alone success waiting ``confirm_s`` for a stronger step of the same sign-in."""

    event_id: str
    ts: float
    ip: str
    legacy: str | None
    failures: list[str] = []  # ids of the failures from the same address before it


class GapState(msgspec.Struct, kw_only=True):
    mfa_seen: int = 0
    failures: list[Failure] = []
    pending: list[Pending] = []
    episode: Episode | None = None
    gap_ip: str = ""  # the address that got in with a password alone (the chain waits for it)
    gap_ts: float = 0.0
    techniques: list[str] = []  # what the chain's privileged actions were, so far


META = DetectorMeta(
    id="assurance_gap",
    title="Password alone where MFA is expected (and what followed)",
    description=(
        "A human account succeeds with a password alone (Entra singleFactorAuthentication, a legacy "
        "protocol, an Okta password step with no stronger step within confirm_s): medium after failures "
        "from the same address within failure_window_s, or on an account that met MFA mfa_history times "
        "before; low for a legacy protocol otherwise. High when the same address then consents to an OAuth "
        "app, adds service-principal credentials or grants a role within chain_s. Accounts in "
        "exempt_accounts are not judged."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1078",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "PR.AA-05", "DE.CM-03"),
        "sp800_63b": ("AAL1 where AAL2 is required", "4.2 AAL2", "3.1.1 passwords"),
        "owasp_nhi": ("NHI7 long-lived secrets",),
    },
    tunables={
        "confirm_s": Tunable(300, "a stronger step this soon after a password step completes the sign-in"),
        "failure_window_s": Tunable(21600, "failures from the same address this long before count"),
        "mfa_history": Tunable(3, "MFA successes that make MFA this account's norm"),
        "chain_s": Tunable(86400, "a privileged action from the same address this long after the gap"),
        "exempt_accounts": Tunable("", "comma-separated logins with an approved exception"),
    },
    actions=(
        "Block legacy authentication and close the Conditional Access gap for this account.",
        "Reset the password and revoke sessions if the sign-in was not the owner's.",
        "Review OAuth consents, service-principal credentials and role grants made from the address.",
    ),
    triage=(
        "Ask which client signed in (clientAppUsed, the Okta step that completed the session) and whether "
        "the account is meant to use it; for the chain, list the consents, credentials and roles the "
        "address granted and undo those nobody asked for."
    ),
    false_positives=(
        "A shared mailbox, printer or scanner using IMAP/SMTP with an approved exception not yet listed in "
        "exempt_accounts.",
        "An administrator who never uses MFA doing admin work from the same office address (a gap to close, "
        "not an attack).",
        "A Conditional Access exclusion for a trusted network that makes a password alone the norm there.",
    ),
    watches=kinds(SUCCESS_KINDS, (EventKind.SIGNIN_FAILURE, EventKind.PRIVILEGED_ACTION)),
)


class AssuranceGap:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = GapState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(META, overrides)
        self.confirm_s = float(cfg["confirm_s"])
        self.failure_window_s = float(cfg["failure_window_s"])
        self.mfa_history = int(cfg["mfa_history"])
        self.chain_s = float(cfg["chain_s"])
        self.exempt = frozenset(
            login.strip().lower() for login in str(cfg["exempt_accounts"]).split(",") if login.strip()
        )

    def initial_state(self) -> GapState:
        return GapState()

    def observe(
        self, state: GapState, event: Event, profile: IdentityProfile
    ) -> tuple[GapState, list[Detection]]:
        if event.user_kind is not UserKind.HUMAN or event.identity in self.exempt:
            return state, []
        found = self._confirm(state, event.ts)
        kind = event.kind
        if kind is EventKind.SIGNIN_FAILURE:
            prune_before(state.failures, event.ts - self.failure_window_s)
            state.failures.append(Failure(event.ts, event.ip or "", event.event_id))
            del state.failures[:-_MAX_FAILURES]
        elif kind is EventKind.PRIVILEGED_ACTION:
            found += self._privileged(state, event)
        elif kind in SUCCESS_KINDS:
            assurance = assess(event)
            if assurance.factor_class is FactorClass.PASSWORD_ONLY:
                state.pending.append(self._pending(state, event))
                if event.legacy_protocol is not None:  # basic auth: no second step can follow
                    found += self._confirm(state, event.ts + self.confirm_s + 1)
            elif (
                kind is not EventKind.SIGNIN_SUCCESS
                or assurance.factor_class in _SECOND
                or event.single_factor is False
            ):
                state.mfa_seen += 1
                state.pending = [p for p in state.pending if event.ts - p.ts > self.confirm_s]
        return state, found

    def advance(self, state: GapState, watermark: float) -> tuple[GapState, list[Detection]]:
        return state, self._confirm(state, watermark)

    # -- helpers -----------------------------------------------------------------------------------

    def _pending(self, state: GapState, event: Event) -> Pending:
        ip = event.ip or ""
        prune_before(state.failures, event.ts - self.failure_window_s)
        failed = [f.event_id for f in state.failures if ip and f.ip == ip]
        return Pending(
            event_id=event.event_id, ts=event.ts, ip=ip, legacy=event.legacy_protocol, failures=failed
        )

    def _confirm(self, state: GapState, now: float) -> list[Detection]:
        """Pending password-alone successes older than ``confirm_s`` with no stronger step: judged."""
        found: list[Detection] = []
        while state.pending and now - state.pending[0].ts > self.confirm_s:
            found += self._judge(state, state.pending.pop(0))
        return found

    def _judge(self, state: GapState, gap: Pending) -> list[Detection]:
        """Record the gap (the chain waits for its address) and report it when it is worth a finding."""
        episode = state.episode
        if episode is None or gap.ts - episode.last_ts > self.chain_s:
            episode = state.episode = Episode(anchor=gap.event_id, first_ts=gap.ts, last_ts=gap.ts)
            state.techniques = []
        for event_id in gap.failures[-10:]:
            episode.note(event_id)
        episode.note(gap.event_id, ts=gap.ts, ip=gap.ip)
        state.gap_ip, state.gap_ts = gap.ip, gap.ts
        reasons = [f"signed in with a password alone{f' over {gap.legacy}' if gap.legacy else ''}"]
        severity: Severity | None = None
        if gap.failures:
            severity = Severity.MEDIUM
            reasons.append(f"after {len(gap.failures)} failed sign-in(s) from the same address {gap.ip}")
        if state.mfa_seen >= self.mfa_history:
            severity = Severity.MEDIUM
            reasons.append(
                f"the account met MFA {state.mfa_seen} times before: a policy gap let this through"
            )
        if severity is None:
            if gap.legacy is None:
                return []  # an account that never uses MFA: the posture report lists it
            severity = Severity.LOW
            reasons.append("a legacy protocol cannot do MFA: block it or list an approved exception")
        if not episode.escalates_to(severity):
            return []
        title = "Password alone" + (f" over {gap.legacy}" if gap.legacy else "") + " where MFA is expected"
        if gap.failures:
            title = "Password alone after failed sign-ins from the same address"
        techniques = ("T1110.003",) if gap.failures else ()
        confidence = 0.5 + (0.15 if gap.failures else 0.0) + (0.1 if state.mfa_seen else 0.0)
        return [episode.report(META.id, "", severity, confidence, title, reasons, gap.ts, techniques)]

    def _privileged(self, state: GapState, event: Event) -> list[Detection]:
        found: list[Detection] = []
        for gap in [p for p in state.pending if p.ip and p.ip == event.ip]:  # acted within confirm_s
            state.pending.remove(gap)
            found += self._judge(state, gap)
        episode = state.episode
        if episode is None or not state.gap_ip or event.ip != state.gap_ip:
            return found
        if event.ts - state.gap_ts > self.chain_s:
            return found
        episode.add(event)
        detail = (event.detail or "").lower()
        for technique in [t for word, t in _CHAIN_TECHNIQUES if word in detail] or ["T1098"]:
            if technique not in state.techniques:
                state.techniques.append(technique)
        action = event.detail or "a privileged action"
        minutes = (event.ts - state.gap_ts) / 60.0
        reasons = [f"{action} from {event.ip}, where a password alone got in {minutes:.0f} min earlier"]
        title = f"Password alone, then {action} from the same address"
        techniques = ("T1110.003", *state.techniques)
        found.append(episode.report(META.id, "", Severity.HIGH, 0.9, title, reasons, event.ts, techniques))
        return found
