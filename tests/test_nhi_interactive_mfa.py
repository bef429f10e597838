"""NHI interactive MFA: service accounts at a push prompt fire; token sign-ins and humans do not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pytest

from pushguard.detect.nhi_interactive_mfa import NhiInteractiveMfa, looks_like_service_account
from pushguard.model import (
    Event,
    EventKind,
    Factor,
    Finding,
    Principal,
    PrincipalType,
    Provider,
    Severity,
    UserKind,
)
from pushguard.pipeline import Engine
from tests.events import ev


def run(events: Iterable[Event], **overrides: Any) -> list[Finding]:
    engine = Engine(detectors=[NhiInteractiveMfa(dict(overrides) if overrides else None)])
    produced: list[Finding] = []
    for event in events:
        produced.extend(engine.process(event))
    produced.extend(engine.finish())
    return produced


def service_principal(
    kind: EventKind, seconds: float, factor: Factor | None, name: str = "payroll-sync"
) -> Event:
    """An Entra service principal, as the source marks it (user_kind nhi, subject type service)."""
    base = ev(kind, seconds, user=name, provider=Provider.ENTRA, factor=factor, device_id=None)
    subject = Principal(id="5f1c-sp", login=name, type=PrincipalType.SERVICE)
    return msgspec.structs.replace(base, subject=subject, actor=subject, user_kind=UserKind.NHI)


# -- the classifier -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login",
    [
        "svc-backup@corp.example",
        "svc_sql@corp.example",
        "CORP\\svc-sql",
        "sa-deploy@corp.example",
        "deploy-bot@corp.example",
        "api-billing@corp.example",
        "reports_service@corp.example",
        "websrv01$",
    ],
)
def test_service_account_names(login: str) -> None:
    assert looks_like_service_account(login)


@pytest.mark.parametrize(
    "login",
    [
        "customer.service.lead@corp.example",  # a human whose title contains "service"
        "service.desk@corp.example",  # a shared mailbox people sign in to: not by naming
        "saskia.api@corp.example",
        "sam.abbott@corp.example",
        "bottomley@corp.example",
        "svcetlana@corp.example",
        "",
    ],
)
def test_human_names(login: str) -> None:
    assert not looks_like_service_account(login)


def test_allow_and_deny_lists_override_the_patterns() -> None:
    assert not looks_like_service_account("svc-kiosk@corp.example", allow={"svc-kiosk"})
    assert looks_like_service_account("jenkins@corp.example", deny={"jenkins@corp.example"})
    assert looks_like_service_account("ci-runner@corp.example", patterns=["ci-*"])
    assert not looks_like_service_account("svc-backup@corp.example", patterns=["ci-*"])


# -- attacks ------------------------------------------------------------------------------------------


def test_service_account_prompted_then_approving_escalates() -> None:
    user = "svc-reporting@corp.example"
    events = [ev(EventKind.PUSH_SENT, 0, user=user), ev(EventKind.PUSH_SENT, 60, user=user)]
    events.append(ev(EventKind.PUSH_APPROVED, 66, user=user))
    produced = run(events)
    assert [f.severity for f in produced] == [Severity.MEDIUM, Severity.HIGH]
    assert len({f.id for f in produced}) == 1
    final = produced[-1]
    assert final.user == user
    assert final.techniques == ["T1078.004"]
    assert final.frameworks["owasp_nhi"] == ["NHI10", "NHI4"]
    assert final.frameworks["nist_csf_2"] == ["PR.AA-01", "PR.AA-05", "DE.CM-03"]
    assert "naming convention" in final.reasons[0]
    assert "2 push prompts, 1 approved" in final.reasons[1]
    assert final.confidence == 0.7
    assert len(final.evidence) == 3


def test_service_principal_doing_interactive_mfa_is_high() -> None:
    produced = run([service_principal(EventKind.MFA_SUCCESS, 0, Factor.MS_AUTHENTICATOR_OTP)])
    (finding,) = produced
    assert finding.severity is Severity.HIGH
    assert finding.confidence == 0.9
    assert "identity provider marks it" in finding.reasons[0]


def test_factor_enrolled_on_a_service_account_by_an_admin() -> None:
    enrolled = ev(EventKind.FACTOR_ENROLLED, 0, user="sa-deploy@corp.example", actor="it.admin@corp.example")
    (finding,) = run([enrolled])
    assert finding.severity is Severity.HIGH
    assert "T1098.005" in finding.techniques
    assert "last action by it.admin@corp.example" in finding.reasons
    assert finding.title == "Non-human identity got an MFA factor enrolled"


def test_deny_list_catches_a_service_account_the_patterns_miss() -> None:
    events = [ev(EventKind.PUSH_APPROVED, 0, user="jenkins@corp.example")]
    assert run(events) == []
    assert run(events, deny_list="jenkins@corp.example, build-agent")[0].severity is Severity.HIGH


# -- benign look-alikes --------------------------------------------------------------------------------


def test_service_principal_token_sign_ins_are_quiet() -> None:
    """Client-credential and certificate token sign-ins are what an NHI should do."""
    events = [
        service_principal(EventKind.SIGNIN_SUCCESS, 0, None),
        service_principal(EventKind.SIGNIN_SUCCESS, 60, Factor.CERTIFICATE),
        service_principal(EventKind.SIGNIN_FAILURE, 120, None),
        ev(EventKind.SIGNIN_SUCCESS, 180, user="svc-backup@corp.example", factor=Factor.PASSWORD),
        ev(EventKind.SIGNIN_FAILURE, 240, user="svc-backup@corp.example", factor=None),
    ]
    assert run(events) == []


def test_a_human_with_service_in_the_name_approving_pushes_is_quiet() -> None:
    user = "customer.service.lead@corp.example"
    events = [ev(EventKind.PUSH_SENT, 0, user=user), ev(EventKind.PUSH_APPROVED, 7, user=user)]
    events += [ev(EventKind.FACTOR_ENROLLED, 60, user=user)]
    assert run(events) == []


def test_a_sanctioned_shared_kiosk_account_on_the_allow_list_is_quiet() -> None:
    user = "svc-kiosk@corp.example"
    events = [ev(EventKind.PUSH_SENT, 0, user=user), ev(EventKind.PUSH_APPROVED, 7, user=user)]
    assert run(events)
    assert run(events, allow_list="svc-kiosk") == []


def test_one_finding_a_day_for_a_service_account_used_by_a_person_every_morning() -> None:
    user = "svc-reporting@corp.example"
    events = []
    for day in range(3):
        for n in range(3):
            t = day * 86400 + n * 3600
            events += [ev(EventKind.PUSH_SENT, t, user=user), ev(EventKind.PUSH_APPROVED, t + 5, user=user)]
    produced = run(events, episode_gap_s=43200)
    assert len({f.id for f in produced}) == 3


# -- tunables --------------------------------------------------------------------------------------------


def test_tunables_patterns_and_naming_switch() -> None:
    events = [ev(EventKind.PUSH_APPROVED, 0, user="ci-runner@corp.example")]
    assert run(events) == []
    assert run(events, patterns="ci-*")
    named = [ev(EventKind.PUSH_APPROVED, 0, user="svc-backup@corp.example")]
    assert run(named)
    assert run(named, use_naming=False) == []
    assert run(
        [service_principal(EventKind.PUSH_APPROVED, 0, Factor.MS_AUTHENTICATOR_PUSH)], use_naming=False
    )
