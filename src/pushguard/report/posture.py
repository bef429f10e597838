"""Assurance posture from the logs: what guards each application and each group of identities.

A *sign-in* here is one identity reaching one application in one session (no session id: one record).
Its assurance is the strongest step of the session (``model.assurance``): Okta's password step followed
by a push is the push; Entra writes one record per sign-in. Successes only.

Groups: ``admins`` (identities that performed a privileged action, or listed in config), ``everyone``
(every human identity), ``service_accounts`` (non-human identities: the source says so, or the login
follows a service-account naming convention, as ``nhi_interactive_mfa`` reads it). An application is
privileged when the config lists it, when it is an admin console, or when a privileged action names it
(Okta's ``user.session.access_admin_app`` names the Admin Console; an Entra consent or credential names
the application it changed) and people sign in to it.

Each row of the report cites SP 800-63B-4, CSF 2.0 PR.AA and, for non-human identities, the OWASP
Non-Human Identities Top 10 (2025)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from pushguard.detect.nhi_interactive_mfa import looks_like_service_account
from pushguard.model import ConfigError, Event, EventKind, UserKind
from pushguard.model.assurance import (
    SIGNIN_SUCCESS_KINDS,
    Assurance,
    FactorClass,
    assess,
    factor_class,
    strongest,
)

UNNAMED = "(unnamed)"  # a sign-in whose record names no application
# Admin consoles, privileged whatever the logs show.
ADMIN_APPS = frozenset(
    {
        "azure portal",
        "microsoft azure management",
        "microsoft entra admin center",
        "microsoft 365 admin center",
        "okta admin console",
        "okta dashboard admin",
    }
)
WEAK = frozenset({FactorClass.PASSWORD_ONLY, FactorClass.PUSH_APPROVE, FactorClass.EMAIL_CODE})
CLASSES = tuple(FactorClass)
REFS: dict[str, dict[str, tuple[str, ...]]] = {
    "privileged_weak": {
        "sp800_63b": ("AAL2 minimum; 3.2.5 phishing resistance for privileged access",),
        "nist_csf_2": ("PR.AA-03", "PR.AA-05"),
        "owasp_nhi": (),
    },
    "single_factor": {
        "sp800_63b": ("AAL1 only: 2.2 AAL2 needs two factors",),
        "nist_csf_2": ("PR.AA-03",),
        "owasp_nhi": (),
    },
    "no_phishing_resistant": {
        "sp800_63b": ("3.2.5 phishing resistance",),
        "nist_csf_2": ("PR.AA-01", "PR.AA-03"),
        "owasp_nhi": (),
    },
    "service_interactive": {
        "sp800_63b": ("not a subscriber authenticator: workload credentials",),
        "nist_csf_2": ("PR.AA-01", "PR.AA-02"),
        "owasp_nhi": ("NHI2 secret leakage", "NHI9 NHI reuse", "NHI10 human use of NHI"),
    },
    "share": {
        "sp800_63b": ("2.1-2.3 AAL1-AAL3",),
        "nist_csf_2": ("PR.AA-03",),
        "owasp_nhi": (),
    },
}


class PostureConfig(msgspec.Struct, frozen=True, kw_only=True):
    privileged_apps: frozenset[str] = frozenset()  # lower-cased names
    admins: frozenset[str] = frozenset()
    exceptions: Mapping[str, str] = msgspec.field(default_factory=dict)  # login → reason


def posture_config(raw: Any) -> PostureConfig:
    """``posture: {privileged_apps: [..], admins: [..], exceptions: [{account, reason}]}`` (the mapping
    under ``posture``); a wrong shape is refused, naming the key."""
    if raw is None:
        return PostureConfig()
    if not isinstance(raw, Mapping):
        raise ConfigError("posture: expected a mapping")
    unknown = set(raw) - {"privileged_apps", "admins", "exceptions"}
    if unknown:
        raise ConfigError(f"posture: unknown key(s) {', '.join(sorted(map(str, unknown)))}")

    def names(key: str) -> frozenset[str]:
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"posture.{key}: expected a list of names")
        return frozenset(v.strip().lower() for v in value)

    exceptions: dict[str, str] = {}
    for index, entry in enumerate(raw.get("exceptions") or []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("account"), str):
            raise ConfigError(f"posture.exceptions[{index}]: expected {{account, reason}}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"posture.exceptions[{index}]: an exception needs its reason")
        exceptions[entry["account"].strip().lower()] = reason.strip()
    return PostureConfig(
        privileged_apps=names("privileged_apps"), admins=names("admins"), exceptions=exceptions
    )


class Share(msgspec.Struct, kw_only=True):
    name: str
    signins: int
    privileged: bool = False
    by_class: dict[str, float]  # factor class → share of the sign-ins
    by_aal: dict[str, float]  # AAL1 / AAL2 / AAL3 / unknown → share
    weak_privileged: int = 0  # sign-ins to privileged apps by push approve-only or password alone
    refs: dict[str, tuple[str, ...]] = msgspec.field(default_factory=lambda: REFS["share"])


class Item(msgspec.Struct, kw_only=True):
    """One account or application the report points at."""

    # privileged_weak | single_factor | step_up_unmet | no_phishing_resistant | service_interactive
    kind: str
    name: str
    count: int
    detail: str
    refs: dict[str, tuple[str, ...]]


class Week(msgspec.Struct, kw_only=True):
    week: str  # ISO year-week, 2026-W09
    signins: int
    phishing_resistant: float
    push_approve: float
    password_only: float
    weak_privileged: int


class Posture(msgspec.Struct, kw_only=True):
    signins: int
    apps: list[Share]
    groups: list[Share]
    items: list[Item]
    weeks: list[Week]
    change_first: list[Item]
    excepted: dict[str, str]  # accounts with an approved exception that signed in with a password alone


class _SignIn(msgspec.Struct, kw_only=True):
    identity: str
    app: str
    ts: float
    week: str
    human: bool
    interactive: bool | None
    session: tuple[str, str]


def compute_posture(events: Iterable[Event], config: PostureConfig | None = None) -> Posture:
    """The posture of the events (any order)."""
    config = config or PostureConfig()
    sessions: dict[tuple[str, str], Assurance] = {}
    signins: dict[tuple[str, str, str], _SignIn] = {}
    resistant_seen: set[str] = set()
    humans: set[str] = set()
    admins: set[str] = set(config.admins)
    acted_on: set[str] = set()  # applications a privileged action named
    nhi_interactive: Counter[str] = Counter()
    for event in events:
        if (
            event.kind is EventKind.FACTOR_ENROLLED
            and factor_class(event.factor) is FactorClass.PHISHING_RESISTANT
        ):
            resistant_seen.add(event.identity)
        if event.kind is EventKind.PRIVILEGED_ACTION:
            actor = event.actor.login if event.actor is not None and event.actor.login else event.identity
            admins.add(actor)
            if event.app:
                acted_on.add(event.app)
        if event.kind not in SIGNIN_SUCCESS_KINDS:
            continue
        human = event.user_kind is UserKind.HUMAN and not looks_like_service_account(event.identity)
        if human:
            humans.add(event.identity)
        elif event.interactive or event.kind in (EventKind.PUSH_APPROVED, EventKind.MFA_SUCCESS):
            nhi_interactive[event.identity] += 1
        session = (event.identity, event.session_id or f"record:{event.event_id}")
        assurance = assess(event)
        sessions[session] = strongest(sessions[session], assurance) if session in sessions else assurance
        if assurance.factor_class is FactorClass.PHISHING_RESISTANT:
            resistant_seen.add(event.identity)
        app = event.app or UNNAMED
        key = (*session, app)
        if key not in signins or event.ts < signins[key].ts:
            year, week, _ = event.time.isocalendar()
            signins[key] = _SignIn(
                identity=event.identity,
                app=app,
                ts=event.ts,
                week=f"{year}-W{week:02d}",
                human=human,
                interactive=event.interactive,
                session=session,
            )
    privileged_apps = _privileged_apps(config, signins.values(), acted_on)
    rows = [(s, sessions[s.session]) for s in signins.values()]
    return Posture(
        signins=len(rows),
        apps=_shares(rows, lambda s: [s.app], privileged_apps),
        groups=_shares(rows, lambda s: _groups(s, admins), privileged_apps),
        items=_items(rows, privileged_apps, config, humans, resistant_seen, admins, nhi_interactive),
        weeks=_weeks(rows, privileged_apps),
        change_first=_change_first(rows, privileged_apps),
        excepted={
            login: reason
            for login, reason in sorted(config.exceptions.items())
            if any(s.identity == login and a.factor_class is FactorClass.PASSWORD_ONLY for s, a in rows)
        },
    )


def _groups(signin: _SignIn, admins: set[str]) -> list[str]:
    if not signin.human:
        return ["service_accounts"]
    return ["everyone", "admins"] if signin.identity in admins else ["everyone"]


def _privileged_apps(config: PostureConfig, signins: Iterable[_SignIn], acted_on: set[str]) -> frozenset[str]:
    names = {s.app for s in signins}
    return frozenset(
        n for n in names if n.lower() in config.privileged_apps or n.lower() in ADMIN_APPS or n in acted_on
    )


def _shares(rows: list[tuple[_SignIn, Assurance]], keys: Any, privileged_apps: frozenset[str]) -> list[Share]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    aals: dict[str, Counter[str]] = defaultdict(Counter)
    weak: Counter[str] = Counter()
    for signin, assurance in rows:
        for key in keys(signin):
            counts[key][assurance.factor_class.value] += 1
            aals[key][assurance.aal.value if assurance.aal else "unknown"] += 1
            if signin.app in privileged_apps and assurance.factor_class in WEAK:
                weak[key] += 1
    shares = []
    for key, by_class in counts.items():
        total = sum(by_class.values())
        shares.append(
            Share(
                name=key,
                signins=total,
                privileged=key in privileged_apps,
                by_class={c.value: round(by_class[c.value] / total, 4) for c in CLASSES if by_class[c.value]},
                by_aal={a: round(n / total, 4) for a, n in sorted(aals[key].items())},
                weak_privileged=weak[key],
            )
        )
    return sorted(shares, key=lambda s: (-s.privileged, -s.weak_privileged, -s.signins, s.name))


def _item(kind: str, name: str, count: int, detail: str, refs: str | None = None) -> Item:
    """A row, mapped to the frameworks of its kind (or of ``refs``, a kind it shares them with)."""
    return Item(kind=kind, name=name, count=count, detail=detail, refs=REFS[refs or kind])


def _items(
    rows: list[tuple[_SignIn, Assurance]],
    privileged_apps: frozenset[str],
    config: PostureConfig,
    humans: set[str],
    resistant_seen: set[str],
    admins: set[str],
    nhi_interactive: Counter[str],
) -> list[Item]:
    items: list[Item] = []
    weak_by_app: dict[str, Counter[str]] = defaultdict(Counter)
    single: dict[str, Counter[str]] = defaultdict(Counter)
    for signin, assurance in rows:
        if signin.app in privileged_apps and assurance.factor_class in WEAK:
            weak_by_app[signin.app][assurance.factor_class.value] += 1
        if (
            signin.human
            and assurance.factor_class is FactorClass.PASSWORD_ONLY
            and signin.identity not in config.exceptions
        ):
            single[signin.identity][signin.app] += 1
    for app, by_class in sorted(weak_by_app.items(), key=lambda kv: -sum(kv[1].values())):
        detail = ", ".join(f"{n} by {c}" for c, n in by_class.most_common())
        items.append(_item("privileged_weak", app, sum(by_class.values()), detail))
    for login, apps in sorted(single.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        detail = "apps: " + ", ".join(f"{a} ({n})" for a, n in apps.most_common(3))
        items.append(_item("single_factor", login, sum(apps.values()), detail))
    unmet: Counter[str] = Counter(
        s.identity
        for s, _ in rows
        if s.human and s.app in privileged_apps and s.identity not in resistant_seen
    )
    for login, count in sorted(unmet.items(), key=lambda kv: (-kv[1], kv[0])):
        detail = (
            "privileged sign-ins; the default policy steps them up to a phishing-resistant factor "
            "(privileged-app-step-up), which this account never used or enrolled here"
        )
        items.append(_item("step_up_unmet", login, count, detail, refs="privileged_weak"))
    for login in sorted(humans - resistant_seen, key=lambda n: (n not in admins, n)):
        role = "admin" if login in admins else "person"
        detail = f"{role}: no phishing-resistant factor used or enrolled in these logs"
        items.append(_item("no_phishing_resistant", login, 1, detail))
    for login, count in sorted(nhi_interactive.items(), key=lambda kv: (-kv[1], kv[0])):
        detail = "a non-human identity in an interactive sign-in or an MFA step"
        items.append(_item("service_interactive", login, count, detail))
    return items


def _weeks(rows: list[tuple[_SignIn, Assurance]], privileged_apps: frozenset[str]) -> list[Week]:
    by_week: dict[str, Counter[str]] = defaultdict(Counter)
    weak: Counter[str] = Counter()
    for signin, assurance in rows:
        by_week[signin.week][assurance.factor_class.value] += 1
        if signin.app in privileged_apps and assurance.factor_class in WEAK:
            weak[signin.week] += 1
    weeks = []
    for week, counts in sorted(by_week.items()):
        total = sum(counts.values())
        weeks.append(
            Week(
                week=week,
                signins=total,
                phishing_resistant=round(counts[FactorClass.PHISHING_RESISTANT.value] / total, 4),
                push_approve=round(counts[FactorClass.PUSH_APPROVE.value] / total, 4),
                password_only=round(counts[FactorClass.PASSWORD_ONLY.value] / total, 4),
                weak_privileged=weak[week],
            )
        )
    return weeks


def _change_first(
    rows: list[tuple[_SignIn, Assurance]], privileged_apps: frozenset[str], top: int = 5
) -> list[Item]:
    """The apps and accounts whose move to a phishing-resistant factor would cover the most privileged
    sign-ins not yet phishing resistant (each with its share of them)."""
    pending = [  # people's sign-ins: a workload cannot move to a phishing-resistant factor
        s
        for s, a in rows
        if s.human and s.app in privileged_apps and a.factor_class is not FactorClass.PHISHING_RESISTANT
    ]
    if not pending:
        return []
    by_app = Counter(s.app for s in pending)
    by_account = Counter(s.identity for s in pending)
    ranked = [(n, "app", name) for name, n in by_app.items()] + [
        (n, "account", name) for name, n in by_account.items()
    ]
    ranked.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [
        _item(
            f"change_first_{what}",
            name,
            n,
            f"{n / len(pending):.0%} of the {len(pending)} privileged sign-ins not phishing resistant",
            refs="privileged_weak",
        )
        for n, what, name in ranked[:top]
    ]
