"""Reset → enroll → access: the helpdesk social-engineering chain (Scattered Spider, MGM 2023).

The attacker calls the helpdesk as the victim; an admin deletes the victim's authenticator, resets their
factors or password, or issues a bypass code / Temporary Access Pass; the attacker enrolls their own
authenticator, then signs in and, at worst, acts with the victim's privileges. Each step alone is a
helpdesk's daily work: the chain, and where its steps came from, is the signal.

The window opens on what the vendors log (sources/okta.py, entra_audit.py, duo_admin.py):
- by someone else (the helpdesk path): a factor removed by an admin (Okta ``user.mfa.factor.deactivate``,
  Entra ``Admin deleted security info``, Duo ``phone_delete`` / ``phone_disassociate`` / ``user_update``
  clearing the phones), factors reset (Okta ``user.mfa.factor.reset_all``, Entra ``Update user`` emptying
  StrongAuthenticationMethod), a password reset by an admin, a bypass code or Temporary Access Pass (Duo
  ``bypass_create`` or status Bypass, Entra ``Admin registered security info`` for a TAP);
- self-service, weaker: a password reset by the person, or a reset or bypass the IdP itself (a SYSTEM
  actor) logged.
Removing a bypass code or a TAP is no reset; nor is a person deleting their own factor, nor the IdP
removing one (Okta ``system.mfa.factor.deactivate``: a factor replaced, not a helpdesk at work).

Every step the person's account takes after the reset is judged with ``familiarity.assess`` (before the
profile learns from it): a sign-in with the temporary credential, the enrollment, and every access and
privileged action within ``access_s`` of the enrollment, not only the first. A step is UNFAMILIAR when
nothing about it is the person's or the organisation's, PARTLY when some of it is (their browser from a
new network, an operator colleagues use), FAMILIAR at their home or the office. An address, network or
device first used inside the chain cannot vouch for itself: a later step from it is judged as it was
(after four hours and two sign-ins the profile would call the attacker's VPS "own"). Steps an admin took
for the person (the reset, an enrollment the admin registered) are not judged: their place is the admin's.

Severity (one finding per chain, its revision growing as it advances: when the severity rises, and when
the new factor is first used from a place that is not the person's, or a privileged action follows):
- some step UNFAMILIAR: high after a reset by someone else (medium self-service); high for a self-service
  reset once the new factor is used from an unfamiliar place; after a reset by someone else, critical when
  the new factor is used from an unfamiliar, hostile context (a country nobody here uses, hosting nobody
  uses) and the enrollment was not the person's own (familiar); critical when a privileged action follows;
- steps only PARTLY: low after a reset by someone else (medium with a privileged action); self-service:
  quiet (low with a privileged action);
- all FAMILIAR: quiet; a privileged action after a reset by someone else: low (an admin's lost phone).
Thin history (a new hire) lowers the confidence, and silences the chain unless its context is hostile or
a privileged action follows (then at most low): a new hire's first enrollment after an onboarding TAP is
the helpdesk's work. Known false positives: a traveller who lost their phone abroad and re-enrolls from a
hotel (hostile when nobody here goes there); a helpdesk testing on a cloud desktop."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import SUCCESS_KINDS, Detection, DetectorMeta, Tunable, kinds, settings
from pushguard.detect.episode import Episode
from pushguard.detect.familiarity import Familiarity, Level, assess, requester_ip
from pushguard.detect.geo import place_text
from pushguard.detect.org import net_of
from pushguard.model import Event, EventKind, Factor, IdentityProfile, PrincipalType, Severity

_RESET_KINDS = frozenset(
    {EventKind.FACTORS_RESET, EventKind.PASSWORD_RESET, EventKind.BYPASS_ISSUED, EventKind.FACTOR_REMOVED}
)
_TEMPORARY = frozenset({Factor.BYPASS_CODE, Factor.TEMPORARY_ACCESS_PASS})  # removing one resets nothing
MAX_MARKS = 12  # addresses, networks and devices first seen inside a chain
MAX_NOTES = 6  # sentences about the steps that were not familiar
MAX_RESETS = 4
_CONFIDENCE = {
    Severity.CRITICAL: 0.9,
    Severity.HIGH: 0.75,
    Severity.MEDIUM: 0.55,
    Severity.LOW: 0.4,
    Severity.INFO: 0.3,
}


class Mark(msgspec.Struct, array_like=True):
    """An address ("i:"), network ("n:") or device ("d:") a step inside the chain came from, and how
    unfamiliar that step was: the attacker's own sign-ins must not make it the person's."""

    key: str
    level: int
    hostile: bool


class Chain(msgspec.Struct, kw_only=True):
    episode: Episode
    reset_ts: float  # the last reset before an enrollment: the enrollment window runs from it
    other: bool  # a reset was done by someone else (the helpdesk path)
    resets: list[str] = []  # "authenticator removed by nils@…", oldest first
    enroll_ts: float = 0.0  # the last enrollment (the access window runs from it)
    enroll_text: str = ""  # "from <place>" or "registered by <admin>"
    enroll_level: int = -1  # the person's own enrollment's Level; -1: none (an admin registered it)
    worst: int = 0  # the least familiar step's Level
    hostile: bool = False  # a step came from a country nobody here uses, or hosting nobody uses
    thin: bool = False  # a step was judged on little history
    accesses: int = 0  # accesses after the enrollment
    odd_accesses: int = 0  # ... from a context not the person's (partly familiar or unfamiliar)
    unfamiliar_accesses: int = 0
    hostile_access: bool = False  # one of them from a country or hosting nobody here uses
    own_access: str = ""  # the person in their own context after the enrollment (two parties?)
    privileged: list[str] = []
    notes: list[str] = []
    marks: list[Mark] = []
    stages: int = 0  # stages reported: 1 enroll, 2 access from a place not the person's, 3 privileged


class ChainState(msgspec.Struct, kw_only=True):
    chain: Chain | None = None


META = DetectorMeta(
    id="reset_enroll_chain",
    title="Reset, then a new factor, then access (helpdesk social engineering)",
    description=(
        "Opens on an admin/helpdesk removing a factor, a factors reset, a password reset (by an admin; "
        "self-service weaker), a bypass code or Temporary Access Pass; continues with a factor enrolled "
        "within enroll_s, then every access and privileged action within access_s of the enrollment. "
        "Each step the account takes is judged by familiarity (the person's and the organisation's "
        "networks, devices, browsers); a place first used inside the chain cannot vouch for itself. "
        "Some step unfamiliar: high after a reset by someone else (medium self-service, high once the new "
        "factor is used from an unfamiliar place); after a reset by someone else critical when used from "
        "a country or hosting nobody here uses and the enrollment was not familiar; critical at a "
        "privileged action. Steps only "
        "partly familiar: low (medium with a privileged action); self-service: quiet. All familiar "
        "(a lost phone re-enrolled at home or the office): quiet, low with a privileged action after an "
        "admin's reset. Thin history lowers confidence and silences all but hostile contexts. One "
        "finding per chain, its revision growing as it advances. Triage: call the person back on the "
        "directory's number. Known false positives: re-enrollment from a hotel abroad after a lost phone."
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
        "enroll_s": Tunable(12 * 3600, "an enrollment this soon after the (last) reset continues the chain"),
        "access_s": Tunable(
            12 * 3600, "accesses and privileged actions this soon after the enrollment count"
        ),
    },
    actions=(
        "Call the user back on a number from the directory (not the caller's): did they ask for the reset?",
        "If not: remove the factor enrolled after the reset, revoke sessions, suspend the account.",
        "Review what the session did after the enrollment, privileged actions first.",
        "Require identity verification (video, manager approval) before helpdesk resets.",
    ),
    triage=(
        "Call the person back on the directory's number and ask whether they asked for the reset; "
        "then check where the new factor was enrolled and used from."
    ),
    false_positives=(
        "Re-enrollment from a hotel abroad after a lost phone and a helpdesk reset.",
        "A new hire's first days: account set up by IT, then a factor enrolled from an unfamiliar place.",
    ),
    watches=kinds(_RESET_KINDS, SUCCESS_KINDS, (EventKind.FACTOR_ENROLLED, EventKind.PRIVILEGED_ACTION)),
)
_WATCHED = frozenset(META.watches or ())


def reset_by_other(event: Event) -> bool | None:
    """True: a reset by someone else (admin, helpdesk, API); False: self-service or by the IdP itself;
    None: not a reset (a person deleting their own factor, anyone removing a bypass code or TAP)."""
    actor = event.actor
    by_person = event.by_other and (actor is None or actor.type is not PrincipalType.SYSTEM)
    if event.kind is EventKind.FACTOR_REMOVED:
        return True if by_person and event.factor not in _TEMPORARY else None
    return by_person


def _reset_text(event: Event, other: bool) -> str:
    kind, factor = event.kind, event.factor
    if kind is EventKind.FACTOR_REMOVED:
        what = f"{factor.value if factor else 'a factor'} removed"
    elif kind is EventKind.BYPASS_ISSUED:
        what = "temporary access pass issued" if factor is Factor.TEMPORARY_ACCESS_PASS else "bypass issued"
    else:
        what = kind.value.replace("_", " ")
    actor = event.actor
    who = (actor.login or actor.id or actor.display_name) if actor is not None else None
    if not other:
        return f"{what} (self-service)" if not event.by_other else f"{what} by the identity provider"
    return f"{what} by {who or 'an admin'}"


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
        if kind not in _WATCHED:
            return state, []  # the engine hands it no other kind; a reference run hands it every kind
        chain = state.chain = self._live(state.chain, event.ts)
        if kind in _RESET_KINDS:
            other = reset_by_other(event)
            if other is not None:
                state.chain = self._reset(chain, event, other)
            return state, []
        if chain is None or (event.by_other and kind is not EventKind.FACTOR_ENROLLED):
            return state, []  # a privileged action done *to* the person is the admin's, not theirs
        if kind is EventKind.FACTOR_ENROLLED:
            chain.enroll_ts = event.ts
            chain.episode.add(event, addresses=not event.by_other)
            if event.by_other:
                who = event.actor.login or event.actor.id if event.actor else None
                chain.enroll_text = f"registered by {who or 'another account'}"
            else:
                level, _ = self._judge(chain, event, profile, "the enrollment")
                chain.enroll_level = max(chain.enroll_level, level)
                chain.enroll_text = f"from {place_text(event.geo, event.ip)}"
            return state, self._report(chain, event)
        if chain.enroll_ts == 0.0:
            if kind in SUCCESS_KINDS:  # the sign-in with the temporary credential
                chain.episode.add(event)
                self._judge(chain, event, profile, "a sign-in before the enrollment")
            return state, []
        minutes = (event.ts - chain.enroll_ts) / 60.0
        chain.episode.add(event)
        if kind is EventKind.PRIVILEGED_ACTION:
            self._judge(chain, event, profile, f"a privileged action {minutes:.0f} min after the enrollment")
            chain.privileged.append(event.detail or "a privileged action")
            del chain.privileged[:-MAX_NOTES]
            return state, self._report(chain, event)
        chain.accesses += 1
        level, hostile = self._judge(chain, event, profile, f"access {minutes:.0f} min after the enrollment")
        if level is not Level.FAMILIAR:
            chain.odd_accesses += 1
            if level is Level.UNFAMILIAR:
                chain.unfamiliar_accesses += 1
                chain.hostile_access = chain.hostile_access or hostile
        elif not chain.own_access:
            chain.own_access = (
                f"the identity also signed in from its own context ({place_text(event.geo, event.ip)}) "
                f"{minutes:.0f} min after the enrollment"
            )
        return state, self._report(chain, event)

    def advance(self, state: ChainState, watermark: float) -> tuple[ChainState, list[Detection]]:
        chain = state.chain
        if chain is not None:
            last = chain.enroll_ts or chain.reset_ts
            limit = self.access_s if chain.enroll_ts else self.enroll_s
            if watermark - last > limit + 86400:
                state.chain = None
        return state, []

    def _live(self, chain: Chain | None, now: float) -> Chain | None:
        """The chain while its current window is open at ``now``."""
        if chain is None:
            return None
        if chain.enroll_ts:
            return chain if now - chain.enroll_ts <= self.access_s else None
        return chain if now - chain.reset_ts <= self.enroll_s else None

    def _reset(self, chain: Chain | None, event: Event, other: bool) -> Chain:
        """A new chain, or one more reset of the open one (a removal, then a TAP: one chain)."""
        text = _reset_text(event, other)
        if chain is None:
            episode = Episode.open(event, addresses=not event.by_other)
            return Chain(episode=episode, reset_ts=event.ts, other=other, resets=[text])
        chain.episode.add(event, addresses=not event.by_other)
        chain.other = chain.other or other
        if chain.enroll_ts == 0.0:
            chain.reset_ts = event.ts
            text = f"then {text}"
        else:  # the helpdesk resetting again after the enrollment: often the real person calling
            text = f"then, {(event.ts - chain.enroll_ts) / 60:.0f} min after the enrollment, {text}"
        if len(chain.resets) < MAX_RESETS:
            chain.resets.append(text)
        return chain

    def _judge(self, chain: Chain, event: Event, profile: IdentityProfile, what: str) -> tuple[Level, bool]:
        """How familiar this step of the person's account is, and whether its context is hostile;
        remembered in the chain."""
        seen = assess(event, profile)
        level, hostile = seen.level, seen.hostile
        keys = _keys(event)
        inherited = False
        for mark in chain.marks:
            if mark.key in keys and (mark.level > level or (mark.hostile and not hostile)):
                level, hostile, inherited = max(level, Level(mark.level)), hostile or mark.hostile, True
        chain.worst = max(chain.worst, level)
        chain.hostile = chain.hostile or hostile
        chain.thin = chain.thin or seen.thin
        if level is Level.FAMILIAR:
            return level, hostile
        _remember(chain, keys, level, hostile)
        if len(chain.notes) < MAX_NOTES:
            chain.notes.append(_note(event, seen, level, what, inherited))
        return level, hostile

    def _report(self, chain: Chain, event: Event) -> list[Detection]:
        severity = _severity(chain)
        if severity is None:
            return []
        stages = 3 if chain.privileged else 2 if chain.odd_accesses else 1
        episode = chain.episode
        if episode.severity and Severity(episode.severity).rank > severity.rank:
            severity = Severity(episode.severity)  # never reported lower than before
        if not (episode.escalates_to(severity) or stages > chain.stages):
            return []
        chain.stages = max(chain.stages, stages)
        confidence = _CONFIDENCE[severity] + (0.05 if chain.hostile else 0.0) - (0.2 if chain.thin else 0.0)
        steps = ["reset", "enroll"] + (["access"] if chain.odd_accesses else [])
        steps += ["privileged"] if chain.privileged else []
        title = "Helpdesk-style chain: " + " → ".join(steps)
        return [
            episode.report(
                self.meta.id, event.identity, severity, confidence, title, _reasons(chain), event.ts
            )
        ]


def _keys(event: Event) -> tuple[str, ...]:
    keys: list[str] = []
    ip = requester_ip(event)
    if ip:
        keys += [f"i:{ip}", f"n:{net_of(ip)}"]
    if event.device is not None and event.device.id:
        keys.append(f"d:{event.device.id}")
    return tuple(keys)


def _remember(chain: Chain, keys: tuple[str, ...], level: Level, hostile: bool) -> None:
    for key in keys:
        mark = next((m for m in chain.marks if m.key == key), None)
        if mark is None:
            chain.marks.append(Mark(key, int(level), hostile))
            del chain.marks[:-MAX_MARKS]
        else:
            mark.level, mark.hostile = max(mark.level, int(level)), mark.hostile or hostile


def _note(event: Event, seen: Familiarity, level: Level, what: str, inherited: bool) -> str:
    place = place_text(event.geo, event.ip)
    if inherited:  # the profile has learnt the place from the chain's own steps since: say why it is not
        return f"{what} came from {place}, first used inside this chain (it does not vouch for itself)"
    how = "unfamiliar to the person and the organisation" if level is Level.UNFAMILIAR else "partly familiar"
    return f"{what} came from {place}, {how}: {seen.describe()}"


def _severity(chain: Chain) -> Severity | None:
    """See the module docstring; None: quiet."""
    privileged = bool(chain.privileged)
    if chain.thin and not chain.hostile:
        return Severity.LOW if privileged and chain.worst > Level.FAMILIAR else None
    if chain.worst == Level.UNFAMILIAR:
        if privileged:
            return Severity.CRITICAL
        if chain.other:
            hostile_use = chain.hostile_access and chain.enroll_level != Level.FAMILIAR
            return Severity.CRITICAL if hostile_use else Severity.HIGH
        return Severity.HIGH if chain.unfamiliar_accesses else Severity.MEDIUM
    if chain.worst == Level.PARTLY:
        if privileged:
            return Severity.MEDIUM if chain.other else Severity.LOW
        return Severity.LOW if chain.other else None
    return Severity.LOW if privileged and chain.other else None


def _reasons(chain: Chain) -> list[str]:
    resets = ", ".join(chain.resets)
    reasons = [
        f"{resets}; {(chain.enroll_ts - chain.reset_ts) / 60:.0f} min after the last reset a factor "
        f"was enrolled {chain.enroll_text}"
    ]
    reasons += chain.notes
    if chain.accesses:
        reasons.append(
            f"{chain.accesses} access(es) after the enrollment, {chain.unfamiliar_accesses} from a context "
            "unfamiliar to the person and the organisation"
        )
    if chain.privileged:
        reasons.append("then privileged actions: " + "; ".join(chain.privileged))
    if chain.own_access and chain.worst > Level.FAMILIAR:  # two parties on one account?
        reasons.append(chain.own_access)
    if chain.thin:
        reasons.append("little history for this identity: confidence lowered")
    return reasons
