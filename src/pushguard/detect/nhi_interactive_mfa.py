"""NHI interactive MFA: a non-human identity receiving or approving a push, completing interactive MFA or
enrolling a factor.

A service account, service principal or API client authenticates with a secret, a key or a certificate
and never sees a prompt. When one does, a person is using it (OWASP NHI10, Human Use of NHI: shared
credentials nobody owns, no accountability) or someone is binding a factor to it for persistence; either
way its authentication is weaker than it should be (NHI4).

Which identities are NHIs: ``event.user_kind`` (set by the sources for service principals and client
apps, and by the enrichment step from naming conventions), and, so the detector works before that
enrichment runs, :func:`looks_like_service_account` applied here to the identity and the subject's login.
Naming patterns match the local part (before ``@``, after a ``DOMAIN\\``) with separators, so a human
``customer.service.lead@…`` or ``saskia@…`` is not an NHI but ``svc-backup@…`` and ``deploy-bot`` are.
``allow_list`` names accounts allowed to do interactive MFA (humans the patterns catch, a sanctioned
kiosk account); ``deny_list`` names service accounts the patterns miss (``jenkins@…``).

Severity: medium when an NHI is prompted (pushes sent, denied, timed out: its password is being used
interactively); high when it approves a push, completes interactive MFA, or gets a factor enrolled or a
bypass / Temporary Access Pass issued (T1098.005 for the enrollment). Token sign-ins with no interactive
factor (client credentials, managed identities) are what NHIs should do and never fire. One finding per
identity per ``episode_gap_s``, escalating from medium to high."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from fnmatch import translate
from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import (
    SUCCESS_KINDS,
    Detection,
    DetectorMeta,
    Tunable,
    kinds,
    settings,
)
from pushguard.detect.episode import Episode, continue_or_open, live
from pushguard.model import Event, EventKind, Factor, IdentityProfile, PrincipalType, Severity, UserKind

DEFAULT_PATTERNS = (
    "svc-*,svc_*,svc.*,*-svc,*_svc,sa-*,sa_*,*-sa,service-*,service_*,*-service,*_service,"
    "api-*,api_*,*-api,*-bot,*_bot,*.bot,bot-*,bot_*,*$"
)
# Factors a token sign-in may carry that are no sign of a person at a prompt.
_NON_INTERACTIVE = frozenset({Factor.PASSWORD, Factor.CERTIFICATE})
_PROMPTED = frozenset(
    {EventKind.PUSH_SENT, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)
_ENROLLED = frozenset({EventKind.FACTOR_ENROLLED, EventKind.BYPASS_ISSUED})


def split_list(text: str) -> tuple[str, ...]:
    """A comma/whitespace separated tunable as a tuple of lowercase items."""
    return tuple(item.strip().lower() for item in text.replace("\n", ",").split(",") if item.strip())


def local_part(login: str) -> str:
    """``svc-backup`` from ``svc-backup@corp.example``, ``CORP\\svc-backup`` or ``svc-backup``."""
    name = login.strip().lower()
    if "\\" in name:
        name = name.rsplit("\\", 1)[1]
    return name.split("@", 1)[0]


DEFAULT_PATTERN_LIST = tuple(split_list(DEFAULT_PATTERNS))


def looks_like_service_account(
    login: str,
    patterns: Iterable[str] = DEFAULT_PATTERN_LIST,
    allow: Collection[str] = (),
    deny: Collection[str] = (),
) -> bool:
    """Whether a login names a non-human identity by convention. ``allow`` (humans / accounts allowed
    interactive MFA) wins over ``deny`` (known service accounts), which wins over the patterns; list
    entries match the whole login or its local part, patterns (fnmatch globs) the local part."""
    full = login.strip().lower()
    if not full:
        return False
    local = local_part(full)
    if full in allow or local in allow:
        return False
    if full in deny or local in deny:
        return True
    return naming_regex(tuple(patterns)).match(local) is not None


@functools.lru_cache(maxsize=32)
def naming_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """The globs as one compiled regex: this runs for every interactive event, one match beats N."""
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns) or r"(?!)")


class NhiSeen(msgspec.Struct, kw_only=True):
    """What the open episode saw (the shared Episode keeps its evidence, addresses and revisions)."""

    prompts: int = 0
    approvals: int = 0
    mfa: int = 0
    enrollments: int = 0
    why_nhi: str = ""


class NhiState(msgspec.Struct, kw_only=True, omit_defaults=True):
    episode: Episode | None = None
    seen: NhiSeen | None = None


META = DetectorMeta(
    id="nhi_interactive_mfa",
    title="Non-human identity doing interactive MFA",
    description=(
        "A service account / service principal / API client (user_kind nhi, or a login matching the "
        "naming patterns) is prompted for a push (medium), approves one, completes interactive MFA, or "
        "gets a factor enrolled or a bypass issued (high). Token sign-ins without an interactive factor "
        "never fire. One finding per identity per episode_gap_s."
    ),
    severity=Severity.HIGH,
    techniques=("T1078.004",),
    frameworks={
        "nist_csf_2": ("PR.AA-01", "PR.AA-05", "DE.CM-03"),
        "sp800_63b": ("5.1.3.1 out-of-band authenticators", "6.1 authenticator binding"),
        "owasp_nhi": ("NHI10", "NHI4"),
    },
    tunables={
        "patterns": Tunable(DEFAULT_PATTERNS, "comma-separated globs on the login's local part naming NHIs"),
        "allow_list": Tunable("", "comma-separated logins allowed interactive MFA (never flagged)"),
        "deny_list": Tunable("", "comma-separated logins that are service accounts (always flagged)"),
        "use_naming": Tunable(True, "also classify by naming, not only by the source's user_kind"),
        "episode_gap_s": Tunable(86400, "quiet after which the next interactive use is a new finding"),
    },
    actions=(
        "Find the person using the NHI; give them a named account of their own and stop the sharing.",
        "Remove the push / MFA factors and devices enrolled on the NHI; revoke its interactive sessions.",
        "Rotate the NHI's credentials (password, secrets, keys): people have seen them.",
        "Restrict the NHI to non-interactive flows (workload identity / service account sign-in policy).",
        "If nobody owns up to it, treat the NHI as compromised and review what it did.",
    ),
    triage=(
        "Find who owns the service account and who signed in with it interactively: a named admin "
        "doing a one-off setup is a policy breach to fix; nobody owning up means a stolen "
        "credential."
    ),
    false_positives=(
        "An administrator setting up or repairing the service account by signing in as it.",
        "A shared or break-glass account misnamed like a service account (adjust the naming patterns).",
    ),
    watches=kinds(_PROMPTED, _ENROLLED, SUCCESS_KINDS, (EventKind.MFA_FAILURE,)),
)


class NhiInteractiveMfa:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = NhiState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(META, overrides)
        self.patterns = tuple(split_list(str(cfg["patterns"])))
        self.allow = frozenset(split_list(str(cfg["allow_list"])))
        self.deny = frozenset(split_list(str(cfg["deny_list"])))
        self.use_naming = bool(cfg["use_naming"])
        self.gap_s = float(cfg["episode_gap_s"])
        # A pure function of who the subject is under this configuration, asked for every event: memoised.
        self._why = functools.lru_cache(maxsize=65536)(self._why_uncached)

    def initial_state(self) -> NhiState:
        return NhiState()

    def observe(
        self, state: NhiState, event: Event, profile: IdentityProfile
    ) -> tuple[NhiState, list[Detection]]:
        what = _interactive(event)
        if what is None:
            return state, []
        why = self.why_nhi(event)
        if why is None:
            return state, []
        seen = state.seen
        if seen is None or live(state.episode, event.ts, self.gap_s) is None:
            seen = state.seen = NhiSeen(why_nhi=why)
        episode = state.episode = continue_or_open(state.episode, event, self.gap_s)
        if what == "prompt":
            seen.prompts += 1
        elif what == "approval":
            seen.approvals += 1
        elif what == "mfa":
            seen.mfa += 1
        else:
            seen.enrollments += 1
        severity = Severity.MEDIUM if what == "prompt" else Severity.HIGH
        if episode.severity and Severity(episode.severity).rank > severity.rank:
            severity = Severity(episode.severity)  # never de-escalates within an episode
        if episode.revision and severity.value == episode.severity and what != "enrollment":
            return state, []  # same episode, nothing new a responder needs
        return state, [self._report(episode, seen, severity, event)]

    def advance(self, state: NhiState, watermark: float) -> tuple[NhiState, list[Detection]]:
        return state, []

    def why_nhi(self, event: Event) -> str | None:
        """Why this event's subject is a non-human identity (None: it is not one)."""
        subject = event.subject
        if subject is None:
            return self._why(event.identity, None, event.user_kind, None)
        return self._why(event.identity, subject.login, event.user_kind, subject.type)

    def _why_uncached(
        self, identity: str, login: str | None, user_kind: UserKind, subject_type: PrincipalType | None
    ) -> str | None:
        logins = [identity]
        if login and login != identity:
            logins.append(login)
        if any(local_part(x) in self.allow or x in self.allow for x in logins):
            return None
        if user_kind is UserKind.NHI or subject_type is PrincipalType.SERVICE:
            return "the identity provider marks it as a non-human identity (service principal / app)"
        if any(local_part(x) in self.deny or x in self.deny for x in logins):
            return "listed as a service account (deny_list)"
        if self.use_naming:
            for name in logins:
                if looks_like_service_account(name, self.patterns, self.allow, self.deny):
                    return f"its login {name} follows a service-account naming convention"
        return None

    @staticmethod
    def _report(episode: Episode, seen: NhiSeen, severity: Severity, event: Event) -> Detection:
        counts = (
            f"{seen.prompts} push prompts, {seen.approvals} approved, {seen.mfa} interactive MFA, "
            f"{seen.enrollments} factor enrollments/bypasses"
        )
        reasons = [f"non-human identity: {seen.why_nhi}", f"interactive authentication seen: {counts}"]
        if seen.approvals or seen.mfa:
            reasons.append("a person completed MFA as this identity (OWASP NHI10, human use of NHI)")
        if seen.enrollments:
            reasons.append("a factor was bound to a non-human identity: possible persistence")
        if event.by_other and event.actor is not None and event.actor.login:
            reasons.append(f"last action by {event.actor.login}")
        title = "Non-human identity received push prompts"
        if seen.approvals or seen.mfa:
            title = "Non-human identity completed interactive MFA"
        if seen.enrollments:
            title = "Non-human identity got an MFA factor enrolled"
        confidence = 0.9 if seen.why_nhi.startswith("the identity provider") else 0.7
        techniques = ("T1098.005",) if seen.enrollments else ()
        return episode.report(META.id, "", severity, confidence, title, reasons, event.ts, techniques)


def _interactive(event: Event) -> str | None:
    """What interactive authentication this event is: prompt, approval, mfa, enrollment (None: none)."""
    kind = event.kind
    if kind in _PROMPTED:
        return "prompt"
    if kind is EventKind.PUSH_APPROVED:
        return "approval"
    if kind in _ENROLLED:
        return "enrollment"
    factor = event.factor
    if kind in (EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS, EventKind.MFA_FAILURE):
        if factor is None or factor in _NON_INTERACTIVE:
            return None  # a token / client-credential sign-in: what an NHI should do
        return "prompt" if kind is EventKind.MFA_FAILURE else "mfa"
    return None
