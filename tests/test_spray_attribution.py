"""Spray attribution: a spray finding names every account it targeted, and each account that got past
the password from the spraying source has a finding of its own, whether its push came before the spray
was recognisable or after; shared egresses where colleagues sign in and approve stay quiet.

Events are built in the shape each vendor's parser gives (tests/events.py): Okta logs the password step
(user.session.start, no factor) and the push separately; Entra logs one sign-in a prompt, with the factor
only when MFA was done; Duo logs only the second factor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from pushguard.detect.password_spray import PasswordSpray
from pushguard.detect.push_spray import PushSpray, PushSprayAsn
from pushguard.flow import analyze
from pushguard.model import Event, EventKind, Factor, Finding, Provider, Severity
from pushguard.parallel import analyze_parallel
from pushguard.report.jsonl import read_findings, write_findings
from pushguard.report.ocsf_findings import finding_to_ocsf
from pushguard.simulate import okta_records
from tests.events import ABROAD, ev
from tests.test_push_spray import (
    ATTACKER,
    HOSTING,
    OFFICE,
    ZSCALER,
    about_source,
    history,
    run,
    targets_of,
    users,
    victims,
)


def okta(kind: EventKind, seconds: float, user: str, ip: str = ATTACKER) -> Event:
    """Okta: the password step carries no factor; pushes are Okta Verify."""
    factor = None if kind in (EventKind.SIGNIN_SUCCESS, EventKind.SIGNIN_FAILURE) else Factor.OKTA_VERIFY_PUSH
    return ev(kind, seconds, user=user, ip=ip, geo=ABROAD, factor=factor)


def entra(
    kind: EventKind, seconds: float, user: str, factor: Factor | None = None, ip: str = ATTACKER
) -> Event:
    return ev(kind, seconds, user=user, ip=ip, geo=HOSTING, provider=Provider.ENTRA, factor=factor)


def duo(kind: EventKind, seconds: float, user: str, ip: str = ATTACKER) -> Event:
    return ev(kind, seconds, user=user, ip=ip, geo=HOSTING, provider=Provider.DUO, factor=Factor.DUO_PUSH)


def by_detector(produced: list[Finding], detector: str) -> list[Finding]:
    return [f for f in produced if f.detector == detector]


def revisions_of(produced: list[Finding], user: str, detector: str) -> list[Finding]:
    return [f for f in produced if f.user == user and f.detector == detector]


# -- attacks ----------------------------------------------------------------------------------------


def okta_spray() -> tuple[list[str], list[Event]]:
    """50 accounts in 10 minutes; the 3rd and the 30th passwords work (a push each, the 30th approved),
    then a second round an hour later where the 56th works."""
    names = users(60, "staff")
    events = history(names)
    for n, user in enumerate(names[:50]):
        t = n * 12.0
        if n in (2, 29):
            events += [okta(EventKind.SIGNIN_SUCCESS, t, user), okta(EventKind.PUSH_SENT, t + 2, user)]
            if n == 29:
                events.append(okta(EventKind.PUSH_APPROVED, t + 10, user))
        else:
            events.append(okta(EventKind.SIGNIN_FAILURE, t, user))
    for n, user in enumerate(names[50:]):
        t = 1500.0 + n * 12
        if n == 5:
            events += [okta(EventKind.SIGNIN_SUCCESS, t, user), okta(EventKind.PUSH_SENT, t + 2, user)]
        else:
            events.append(okta(EventKind.SIGNIN_FAILURE, t, user))
    return names, events


def test_okta_spray_names_every_account_and_gives_each_pushed_one_its_own_finding() -> None:
    names, events = okta_spray()
    lucky = {names[2], names[29], names[55]}
    _, produced = run(events, PushSpray(), PasswordSpray())
    for detector in ("push_spray", "password_spray"):
        mine = by_detector(produced, detector)
        sprays = about_source(mine)
        assert {f.user for f in sprays} == {f"ip:{ATTACKER}"}
        last = max(sprays, key=lambda f: f.revision)
        assert last.targets == names  # every account, first tried first
        assert f"60 accounts targeted from ip:{ATTACKER}" in last.reasons[3]
        assert all(name in last.reasons[3] for name in names)
        assert "3 of them got past the password" in last.reasons[4]
        own = victims(mine)
        assert set(own) == lucky, detector  # the 57 accounts that only failed get none
        for name, finding in own.items():
            assert finding.detector == detector
            assert set(finding.techniques) >= {"T1110.003", "T1621"}
            assert set(finding.evidence) == {
                e.event_id for e in events if e.identity == name and e.ip == ATTACKER
            }
            assert finding.source_ips == [ATTACKER]
            assert f"part of spray finding {last.id} ({detector}, ip:{ATTACKER})" in finding.reasons
        approved = own[names[29]]
        assert approved.severity is Severity.CRITICAL and "T1078" in approved.techniques
        assert {own[names[2]].severity, own[names[55]].severity} == {Severity.HIGH}
        # pushed before the spray was recognisable: named at the moment it was
        recognised = sprays[0].detected_at
        early = revisions_of(produced, names[2], detector)[0]
        assert early.detected_at == recognised > "2026-03-02T09:00:26Z"
        # after: named as it comes, at its own first event
        later = revisions_of(produced, names[55], detector)[0]
        assert later.detected_at == "2026-03-02T09:26:00Z"
    # the two detectors' findings about one account land in one incident
    for name in lucky:
        assert len({f.incident for f in produced if f.user == name}) == 1


def test_an_approval_after_the_own_finding_escalates_it() -> None:
    names, events = okta_spray()
    events.append(okta(EventKind.PUSH_APPROVED, 1570, names[55]))
    _, produced = run(events, PushSpray())
    own = revisions_of(produced, names[55], "push_spray")
    assert [(f.revision, f.severity) for f in own] == [(1, Severity.HIGH), (2, Severity.CRITICAL)]
    assert own[1].detected_at == "2026-03-02T09:26:10Z"
    assert own[1].techniques == ["T1621", "T1110.003", "T1078"]
    assert "approved a push or completed MFA" in own[1].reasons[-1]


def test_entra_spray_victims_by_prompt_mfa_failure_and_completed_sign_in() -> None:
    names = users(30, "emp")
    events = []
    for n, user in enumerate(names):
        events.append(entra(EventKind.SIGNIN_FAILURE, n * 20.0, user))
    timed_out, mfa_failed, approved, with_sms, password_only = users(5, "valid")
    events += [
        entra(EventKind.PUSH_TIMEOUT, 700, timed_out, Factor.MS_AUTHENTICATOR_PUSH),
        entra(EventKind.MFA_FAILURE, 720, mfa_failed, Factor.MS_AUTHENTICATOR_OTP),
        entra(EventKind.PUSH_APPROVED, 740, approved, Factor.MS_AUTHENTICATOR_PUSH),
        entra(EventKind.SIGNIN_SUCCESS, 760, with_sms, Factor.SMS),  # MFA done in the sign-in
        entra(EventKind.SIGNIN_SUCCESS, 780, password_only),  # no MFA asked: the password worked
    ]
    _, produced = run(events, PasswordSpray())
    last = max(about_source(produced), key=lambda f: f.revision)
    assert last.provider == "entra"
    assert last.targets == [*names, timed_out, mfa_failed, approved, with_sms, password_only]
    own = victims(produced)
    assert {name: f.severity for name, f in own.items()} == {
        timed_out: Severity.HIGH,
        mfa_failed: Severity.HIGH,
        approved: Severity.CRITICAL,
        with_sms: Severity.CRITICAL,
        password_only: Severity.HIGH,
    }
    assert "password accepted" in own[password_only].reasons[0]
    assert "timed out or MFA failed" in own[mfa_failed].reasons[0]


def test_duo_push_spray_gives_every_prompted_account_a_finding() -> None:
    """Duo sees only the second factor: every account it logs from the source got a push."""
    names = users(12, "duo")
    events = history(names)
    for n, user in enumerate(names):
        kind = EventKind.PUSH_DENIED if n < 3 else EventKind.MFA_FAILURE if n == 3 else EventKind.PUSH_TIMEOUT
        events.append(duo(kind, n * 30.0, user))
    _, produced = run(events, PushSpray(), PushSprayAsn())
    for detector, source in (("push_spray", f"ip:{ATTACKER}"), ("push_spray_asn", "asn:14061")):
        mine = by_detector(produced, detector)
        last = max(about_source(mine), key=lambda f: f.revision)
        assert last.user == source and last.provider == "duo"
        assert last.severity is Severity.HIGH
        assert sorted(targets_of(last)) == names
        assert sorted(victims(mine)) == names


def test_failures_only_name_the_accounts_and_give_none_its_own_finding() -> None:
    names = users(15)
    events = [okta(EventKind.SIGNIN_FAILURE, n * 10.0, user) for n, user in enumerate(names)]
    _, produced = run(events, PasswordSpray())
    assert produced and victims(produced) == {}
    assert about_source(produced)[-1].targets == names


# -- order and bounds ---------------------------------------------------------------------------------


def early_victim_then_failures(start: float, count: int = 30) -> tuple[str, list[Event]]:
    victim = "first@corp.example"
    events = [okta(EventKind.SIGNIN_SUCCESS, 0, victim), okta(EventKind.PUSH_SENT, 2, victim)]
    events += [okta(EventKind.SIGNIN_FAILURE, start + n * 10, user) for n, user in enumerate(users(count))]
    return victim, events


def test_a_victim_evicted_before_the_spray_is_recognised_is_still_named() -> None:
    victim, events = early_victim_then_failures(10)
    _, produced = run(events, PasswordSpray({"max_targets": 12}))
    assert victim in victims(produced)
    assert victim in targets_of(about_source(produced)[-1])
    _, forgetful = run(events, PasswordSpray({"max_targets": 12, "max_remembered": 0}))
    assert about_source(forgetful) and victim not in victims(forgetful)


def test_a_victim_out_of_the_window_is_named_while_remembered() -> None:
    victim, events = early_victim_then_failures(700, count=80)  # recognised at about 1300 s
    _, produced = run(events, PasswordSpray({"window_s": 600}))
    assert victim in victims(produced)
    _, forgotten = run(events, PasswordSpray({"window_s": 600, "victim_memory_s": 300}))
    assert about_source(forgotten) and victim not in victims(forgotten)


def test_the_lists_are_bounded_and_the_totals_counted() -> None:
    names = users(30)
    events = [okta(EventKind.SIGNIN_FAILURE, n * 10.0, user) for n, user in enumerate(names)]
    lucky = users(4, "valid")
    for n, user in enumerate(lucky):
        events += [
            okta(EventKind.SIGNIN_SUCCESS, 400 + n * 5, user),
            okta(EventKind.PUSH_SENT, 401 + n * 5, user),
        ]
    _, produced = run(events, PasswordSpray({"max_listed_targets": 5, "max_victims": 2}))
    last = max(about_source(produced), key=lambda f: f.revision)
    assert last.targets == names[:5]
    assert last.reasons[3].startswith(f"34 accounts targeted from ip:{ATTACKER}")
    assert last.reasons[3].endswith("and 29 more (not listed)")
    assert last.reasons[4].startswith("4 of them got past the password")
    assert sorted(victims(produced)) == lucky[:2]


def test_the_source_finding_is_not_revised_for_every_new_account() -> None:
    names = users(200)
    events = [okta(EventKind.SIGNIN_FAILURE, n * 6.0, user) for n, user in enumerate(names)]
    _, produced = run(events, PasswordSpray())
    sprays = about_source(produced)
    assert len(sprays) <= 8  # first, doublings, escalations, the catch-up at the end: not 200
    assert sprays[-1].targets == names


# -- benign look-alikes -------------------------------------------------------------------------------


def morning_at(ip: str, *, known: bool) -> list[Event]:
    """80 colleagues sign in through one egress and approve their pushes; a few typos, a few prompts
    left unanswered (Okta shape)."""
    staff = users(80, "colleague")
    events = history(staff, ip=ip, geo=ZSCALER) if known else []
    for n, user in enumerate(staff):
        t = n * 20.0
        if n % 13 == 0:
            events.append(ev(EventKind.SIGNIN_FAILURE, t - 8, user=user, ip=ip, geo=ZSCALER, factor=None))
        events.append(ev(EventKind.SIGNIN_SUCCESS, t, user=user, ip=ip, geo=ZSCALER, factor=None))
        events.append(ev(EventKind.PUSH_SENT, t + 2, user=user, ip=ip, geo=ZSCALER))
        if n % 27:
            events.append(ev(EventKind.PUSH_APPROVED, t + 8, user=user, ip=ip, geo=ZSCALER))
    return events


def test_a_secure_web_gateway_morning_is_quiet_known_or_new() -> None:
    for known in (True, False):
        _, produced = run(
            morning_at("185.46.212.9", known=known), PushSpray(), PushSprayAsn(), PasswordSpray()
        )
        assert produced == [], known


def test_an_entra_office_with_mfa_in_the_sign_in_is_quiet() -> None:
    """A new office egress: Entra sign-ins complete MFA (the factor is on the sign-in), a few wrong
    codes first, a few typos."""
    staff = users(40, "office")
    events = []
    for n, user in enumerate(staff):
        t = n * 30.0
        if n % 9 == 0:
            events.append(entra(EventKind.MFA_FAILURE, t - 20, user, Factor.MS_AUTHENTICATOR_OTP, ip=OFFICE))
        if n % 7 == 0:
            events.append(entra(EventKind.SIGNIN_FAILURE, t - 10, user, ip=OFFICE))
        factor = Factor.MS_AUTHENTICATOR_OTP if n % 2 else Factor.SMS
        events.append(entra(EventKind.SIGNIN_SUCCESS, t, user, factor, ip=OFFICE))
    _, produced = run(events, PushSpray(), PushSprayAsn(), PasswordSpray())
    assert produced == []


def test_a_duo_office_approving_is_quiet() -> None:
    staff = users(50, "duo")
    events = history(staff)
    for n, user in enumerate(staff):
        kind = (
            EventKind.PUSH_TIMEOUT
            if n % 12 == 0
            else EventKind.PUSH_DENIED
            if n == 7
            else EventKind.PUSH_APPROVED
        )
        events.append(duo(kind, n * 15.0, user, ip=OFFICE))
    _, produced = run(events, PushSpray(), PushSprayAsn(), PasswordSpray())
    assert produced == []


def test_one_person_failing_and_retrying_is_not_a_spray() -> None:
    user = "forgetful@corp.example"
    events = [okta(EventKind.SIGNIN_FAILURE, n * 15.0, user) for n in range(40)]
    events += [okta(EventKind.SIGNIN_SUCCESS, 700, user), okta(EventKind.PUSH_SENT, 702, user)]
    _, produced = run(events, PushSpray(), PushSprayAsn(), PasswordSpray())
    assert produced == []


# -- where the targets go: JSON Lines, OCSF, --jobs ----------------------------------------------------


def test_targets_are_written_and_read_back_and_left_out_when_empty(tmp_path: Path) -> None:
    names, events = okta_spray()
    _, produced = run(events, PushSpray())
    spray = max(about_source(produced), key=lambda f: f.revision)
    own = victims(produced)[names[2]]
    path = tmp_path / "findings.jsonl"
    write_findings(path, [spray, own])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["targets"] == names
    assert "targets" not in lines[1]  # other findings keep their exact form
    assert read_findings(path) == sorted([spray, own], key=lambda f: (f.detected_at, f.id))
    record = finding_to_ocsf(spray)
    assert record["resources"][0] == {"type": "IP Address", "uid": ATTACKER}
    assert record["resources"][1:] == [{"type": "User", "uid": n, "name": n} for n in names]
    assert record["unmapped"]["pushguard"]["targets"] == names
    assert finding_to_ocsf(own)["resources"] == [{"type": "User", "uid": names[2], "name": names[2]}]
    assert "targets" not in finding_to_ocsf(own)["unmapped"]["pushguard"]


def okta_spray_file(path: Path) -> None:
    """An Okta System Log file (the simulator's record builders): 40 passwords tried from one address in
    ten minutes, two of them right: those accounts get a push, one approves."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    records = []
    for n, login in enumerate(users(40, "tenant")):
        when = start + timedelta(seconds=15 * n)
        if n in (4, 31):
            records.append(okta_records.session_start(when, login, "203.0.113.66", "lagos"))
            records.append(
                okta_records.push_sent(when + timedelta(seconds=2), login, "203.0.113.66", "lagos")
            )
            if n == 31:
                answer = when + timedelta(seconds=9)
                records.append(
                    okta_records.push_answer(answer, login, "203.0.113.66", "lagos", approved=True)
                )
        else:
            failure = okta_records.log_event(
                "user.session.start",
                when,
                login,
                "203.0.113.66",
                "lagos",
                result="FAILURE",
                reason="INVALID_CREDENTIALS",
            )
            records.append(failure)
    # someone else, later: the run's watermark passes the grace of the last failures
    records.append(
        okta_records.session_start(start + timedelta(hours=1), "ada@corp.example", OFFICE, "paris")
    )
    path.write_bytes(b"".join(msgspec.json.encode(record) + b"\n" for record in records))


def test_jobs_give_the_one_process_spray_and_victim_findings(tmp_path: Path) -> None:
    path = tmp_path / "okta.jsonl"
    okta_spray_file(path)
    one = analyze([path])
    lucky = {"tenant004@corp.example", "tenant031@corp.example"}
    sprays = [f for f in one.findings if f.user == "ip:203.0.113.66"]
    assert {f.detector for f in sprays} >= {"push_spray", "password_spray"}
    assert all(len(targets_of(f)) == 40 for f in sprays)
    own = {
        f.user: f for f in one.findings if f.detector in {"push_spray", "password_spray"} and f.user in lucky
    }
    assert set(own) == lucky
    assert own["tenant031@corp.example"].severity is Severity.CRITICAL
    for jobs in (2, 3):
        assert analyze_parallel([path], jobs, split_min_bytes=1).findings == one.findings


def test_each_victim_names_its_own_vendor_when_the_source_sprays_several() -> None:
    names = users(20)
    events = [okta(EventKind.SIGNIN_FAILURE, n * 10.0, user) for n, user in enumerate(names[:10])]
    events += [entra(EventKind.SIGNIN_FAILURE, 100 + n * 10.0, user) for n, user in enumerate(names[10:])]
    events += [okta(EventKind.PUSH_SENT, 400, names[1]), entra(EventKind.PUSH_TIMEOUT, 410, names[12])]
    _, produced = run(events, PasswordSpray())
    assert about_source(produced)[-1].provider == "several"
    own = victims(produced)
    assert (own[names[1]].provider, own[names[12]].provider) == ("okta", "entra")
