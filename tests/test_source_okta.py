"""Okta System Log parsing, asserted field by field on fixture records (see fixtures/okta/PROVENANCE.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pushguard.model import EventKind, Factor, PrincipalType, Provider, RawRef, UserKind
from pushguard.sources import RecordError, Unmapped, detect_source
from pushguard.sources.okta import SOURCE as OKTA
from tests.conftest import FIXTURES, SHARED_SAMPLES
from tests.helpers import folder_outcomes, only_event, parse_lines, tally, undetected

HANDMADE = FIXTURES / "okta" / "handmade.jsonl"


@pytest.fixture(scope="module")
def handmade() -> list[object]:
    return list(parse_lines(HANDMADE, OKTA))


def test_push_sent_carries_requester_geo_asn_proxy_behaviors_and_risk(handmade: list[object]) -> None:
    event = only_event(handmade[0])  # type: ignore[arg-type]
    assert event.provider is Provider.OKTA
    assert event.kind is EventKind.PUSH_SENT
    assert event.event_id == "11111111-0000-4000-8000-000000000001"
    assert event.time == datetime(2026, 3, 2, 8, 59, 58, 120000, tzinfo=UTC)
    assert event.identity == "alice.martin@corp.example"
    assert event.subject is not None and event.subject.id == "00u1a2b3c4d5e6f7g8h9"
    assert event.factor is Factor.OKTA_VERIFY_PUSH
    assert event.ip == "203.0.113.77"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat, event.geo.lon) == (
        "Netherlands",
        "Amsterdam",
        52.37,
        4.89,
    )
    assert (event.geo.asn, event.geo.as_org, event.geo.is_proxy) == (14061, "DigitalOcean, LLC", True)
    assert event.geo.accuracy_km == 50.0
    assert event.behaviors == (
        "new_city",
        "new_country",
        "new_device",
        "new_geo_location",
        "new_ip",
        "new_state",
        "velocity",
    )
    assert event.vendor_risk == "high"
    assert event.app == "Salesforce"
    assert event.factor_id == "pfd9ab8cd7ef6gh5ij4"
    assert event.session_id == "idxK7oHqS2vRJm3Yq9p1"
    assert event.device is not None and event.device.browser == "CHROME" and event.device.kind == "Computer"
    assert event.raw is not None and event.raw.vendor_type == "system.push.send_factor_verify_push"
    assert event.raw.position == 1


def test_oie_number_challenge_denial_and_wrong_number(handmade: list[object]) -> None:
    denied = only_event(handmade[1])  # type: ignore[arg-type]
    assert denied.kind is EventKind.PUSH_DENIED
    assert denied.number_challenge is True
    assert denied.reason == "INVALID_CREDENTIALS"
    wrong = only_event(handmade[2])  # type: ignore[arg-type]
    assert wrong.kind is EventKind.PUSH_DENIED
    assert wrong.reason == "number_challenge_wrong"
    assert wrong.number_challenge is True


def test_oie_push_approved_without_number_challenge(handmade: list[object]) -> None:
    event = only_event(handmade[3])  # type: ignore[arg-type]
    assert event.kind is EventKind.PUSH_APPROVED
    assert event.factor is Factor.OKTA_VERIFY_PUSH
    assert event.number_challenge is False


def test_classic_deny_push_is_the_phone_answering(handmade: list[object]) -> None:
    """No public sample of user.mfa.okta_verify.deny_push exists: the record is hand-made from Okta's docs."""
    event = only_event(handmade[4])  # type: ignore[arg-type]
    assert event.kind is EventKind.PUSH_DENIED
    assert event.reason == "INVALID_CREDENTIALS"
    assert event.responder_ip == "192.0.2.45"
    assert event.device is not None and event.device.id == "d41d8cd98f00b204e9800998ecf8427e"
    assert event.session_id == "102AbCdEfGhIjKlMnOpQr"


def test_factor_activation_and_admin_reset(handmade: list[object]) -> None:
    enrolled = only_event(handmade[5])  # type: ignore[arg-type]
    assert enrolled.kind is EventKind.FACTOR_ENROLLED
    assert enrolled.factor is Factor.OKTA_VERIFY_PUSH
    assert enrolled.factor_id == "pfd9ab8cd7ef6gh5ij4"
    assert not enrolled.by_other
    reset = only_event(handmade[6])  # type: ignore[arg-type]
    assert reset.kind is EventKind.FACTORS_RESET
    assert reset.identity == "alice.martin@corp.example"  # the target, lower-cased
    assert reset.actor is not None and reset.actor.login == "helpdesk.bob@corp.example"
    assert reset.by_other


def test_session_start_with_managed_device(handmade: list[object]) -> None:
    event = only_event(handmade[7])  # type: ignore[arg-type]
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.device is not None
    assert (event.device.id, event.device.managed, event.device.registered) == (
        "guo1a2b3c4d5e6f7g8h9",
        True,
        True,
    )
    assert event.device.os == "OSX 14.6.0"
    assert event.vendor_risk == "low"
    assert event.behaviors == ()
    assert event.app == "Okta Admin Console"


def test_oauth_consent_grant_is_a_privileged_action_and_its_revoke_is_not() -> None:
    # Okta System Log event types (developer.okta.com, Event Types catalog): app.oauth2.as.consent.grant
    # ("a user granted an OAuth app scopes", the first step of a consent-phishing chain) and its benign
    # look-alike app.oauth2.as.consent.revoke. Our session-start record (handmade line 8, the shape of
    # the public Okta samples) with only the event type changed.
    record = json.loads(HANDMADE.read_text(encoding="utf-8").splitlines()[7])
    granted = OKTA.parse({**record, "eventType": "app.oauth2.as.consent.grant"}, _ref())
    event = only_event(granted)
    assert event.kind is EventKind.PRIVILEGED_ACTION and event.detail == "app.oauth2.as.consent.grant"
    revoked = OKTA.parse({**record, "eventType": "app.oauth2.as.consent.revoke"}, _ref())
    assert isinstance(revoked, Unmapped)


def test_report_suspicious_activity_points_at_the_disowned_request(handmade: list[object]) -> None:
    event = only_event(handmade[8])  # type: ignore[arg-type]
    assert event.kind is EventKind.FRAUD_REPORTED
    assert event.ip == "203.0.113.77"  # the activity the user disowned
    assert event.geo is not None and event.geo.city == "Amsterdam" and event.geo.lat == 52.37
    assert event.responder_ip == "192.0.2.45"  # where the user reported from
    assert event.vendor_risk == "medium"
    assert event.behaviors == ("new_device",)


OIE_PASSWORD = FIXTURES / "okta" / "oie-password-federation-handmade.jsonl"


def test_oie_password_step_is_a_sign_in_step_not_mfa() -> None:
    """Okta Identity Engine logs the password as an authenticator: auth_via_mfa with PASSWORD_AS_FACTOR
    (records hand-made in the shape of the Sekoia OIE sample and of Okta's documented debugData)."""
    outcomes = parse_lines(OIE_PASSWORD, OKTA)
    right = only_event(outcomes[0])
    assert right.kind is EventKind.SIGNIN_SUCCESS
    assert right.factor is Factor.PASSWORD
    assert right.factor_id == "lae1pw2d3e4f5g6h7i8"
    wrong = only_event(outcomes[1])  # only the target names the authenticator; the actor is the user
    assert wrong.kind is EventKind.SIGNIN_FAILURE
    assert wrong.factor is Factor.PASSWORD and wrong.reason == "INVALID_CREDENTIALS"
    assert wrong.identity == "bob.dupont@corp.example"
    question = only_event(outcomes[2])  # a second knowledge factor is no MFA either
    assert question.kind is EventKind.SIGNIN_SUCCESS
    assert question.factor is Factor.SECURITY_QUESTION
    for outcome in outcomes[:3]:
        assert only_event(outcome).kind not in (EventKind.MFA_SUCCESS, EventKind.PUSH_APPROVED)


def test_federated_sign_in_is_filed_under_the_target_user() -> None:
    federated = only_event(parse_lines(OIE_PASSWORD, OKTA)[3])
    assert federated.kind is EventKind.SIGNIN_SUCCESS
    assert federated.identity == "bob.dupont@corp.example"
    assert federated.subject is not None and federated.subject.id == "00u2b3c4d5e6f7g8h9i0"
    assert federated.actor is not None and federated.actor.login == "system@okta.com"
    assert federated.user_kind is UserKind.HUMAN


def test_coordinates_0_0_are_no_fix() -> None:
    outcomes = parse_lines(OIE_PASSWORD, OKTA)
    federated = only_event(outcomes[3])  # 0,0 with a country: the country is kept, no coordinates
    assert federated.geo is not None
    assert (federated.geo.lat, federated.geo.lon, federated.geo.country) == (None, None, "France")
    assert federated.geo.accuracy_km is None
    nowhere = only_event(outcomes[4])
    assert nowhere.geo is not None and nowhere.geo.lat is None and nowhere.geo.lon is None


def test_panther_records_map_kinds_and_principals() -> None:
    outcomes = parse_lines(FIXTURES / "okta" / "panther.jsonl")
    kinds = [o[0].kind.value if isinstance(o, list) else type(o).__name__ for o in outcomes]
    assert isinstance(outcomes[0], Unmapped)  # line 1: system.org.rate_limit.warning
    first = only_event(outcomes[1])  # line 2: user.session.start
    assert first.kind is EventKind.SIGNIN_SUCCESS
    assert first.identity == "casey.hill@hey.com"
    assert first.ip == "99.108.5.25"
    # lines 4 and 5: user.account.privilege.grant (an admin role given)
    grant = only_event(outcomes[3])
    assert grant.kind is EventKind.PRIVILEGED_ACTION
    assert grant.detail == "user.account.privilege.grant"
    # trimmed Panther records without uuid/published are refused with the field named
    errors = [o for o in outcomes if isinstance(o, RecordError)]
    assert errors and all("uuid" in str(e) or "published" in str(e) for e in errors)
    # rate-limit warnings are counted as unmapped with the event type in the reason
    unmapped = [o for o in outcomes if isinstance(o, Unmapped)]
    assert any("system.org.rate_limit.warning" in u.reason for u in unmapped)
    assert kinds.count("signin_failure") >= 10  # the brute-force scenario


def test_lowercased_panther_keys_are_restored() -> None:
    outcomes = parse_lines(FIXTURES / "okta" / "panther-lowercased.jsonl")
    reset = only_event(outcomes[0])
    assert reset.kind is EventKind.FACTORS_RESET
    assert reset.identity == "peter.griffin@company.com"
    assert reset.actor is not None and reset.actor.login == "homer.simpson@duff.com"
    assert reset.time == datetime(2022, 6, 22, 18, 18, 29, 15000, tzinfo=UTC)  # Panther time format
    fraud = only_event(outcomes[1])
    assert fraud.kind is EventKind.FRAUD_REPORTED
    assert fraud.ip == "9.8.7.6"
    suspended = only_event(outcomes[8])
    assert suspended.kind is EventKind.FACTOR_SUSPENDED
    assert suspended.factor is Factor.OKTA_FASTPASS  # from "User suspended SIGNED_NONCE factor"
    threat = only_event(outcomes[15])
    assert threat.kind is EventKind.RISK_DETECTED
    assert threat.identity == "ip:1.2.3.4"
    assert threat.subject is not None and threat.subject.type is PrincipalType.ADDRESS
    failed_mfa = only_event(outcomes[26])
    assert failed_mfa.kind is EventKind.MFA_FAILURE
    assert failed_mfa.reason == "INVALID_CREDENTIALS"
    assert failed_mfa.user_kind is UserKind.HUMAN


def test_missing_event_type_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="eventType"):
        OKTA.parse({"eventType": 3, "published": "2026-01-01T00:00:00Z"}, _ref())


def test_detects_okta_and_not_others() -> None:
    assert detect_source({"eventType": "user.session.start", "published": "x", "uuid": "u"}) is OKTA
    assert not OKTA.matches({"txid": "abc", "access_device": {}})
    assert not OKTA.matches({"class_uid": 3002, "metadata": {}})


def _ref() -> RawRef:
    return RawRef(source="test", position=1)


def test_every_okta_sample_parses_or_says_why() -> None:
    """Every fixture record (all a plain clone has) and, when ../shared is next to the repo, all of
    ../shared/samples/okta with the values of the real (Sekoia / Elastic / OCSF) records asserted."""
    outcomes = folder_outcomes(FIXTURES / "okta", OKTA)
    # Panther's trimmed {"eventType": "logout"} has nothing else that says Okta (parsed: Unmapped, below)
    assert undetected(FIXTURES / "okta", OKTA) == [("panther.jsonl", 26)]
    assert tally(outcomes) == {  # (records giving events, unmapped, record errors)
        "handmade.jsonl": (9, 0, 0),
        "oie-password-federation-handmade.jsonl": (6, 0, 0),
        "panther-lowercased.jsonl": (19, 12, 2),
        "panther.jsonl": (33, 7, 12),  # Panther trimmed uuid / published, or wrote "redacted" for the time
    }
    logout = outcomes[("panther.jsonl", 26)]
    assert isinstance(logout, Unmapped) and logout.reason == "okta: eventType logout"
    errors = {str(o).split(":")[0] for o in outcomes.values() if isinstance(o, RecordError)}
    assert errors == {"uuid", "published"}  # each refusal names its field
    if (SHARED_SAMPLES / "okta").exists():
        _check_the_shared_samples()


def _check_the_shared_samples() -> None:
    seen = 0
    for path in sorted((SHARED_SAMPLES / "okta").glob("*.jsonl")):
        for outcome in parse_lines(path, OKTA):
            seen += 1
            assert isinstance(outcome, list | Unmapped | RecordError)
            if isinstance(outcome, Unmapped):
                assert outcome.reason.startswith("okta: ")
    assert seen == 100
    push = parse_lines(SHARED_SAMPLES / "okta" / "push-and-mfa.jsonl", OKTA)
    sent = only_event(push[0])
    assert sent.kind is EventKind.PUSH_SENT
    assert sent.identity == "john.doe@example.org"
    assert sent.geo is not None and (sent.geo.city, sent.geo.asn) == ("Paris", 3741)
    assert sent.session_id == "kjrgFtXuZnABQV9Vq1A2c"
    password_step = only_event(push[1])
    # OIE's password step, logged as auth_via_mfa with the AuthenticatorEnrollment named "Password": a
    # sign-in step, not an MFA success (which would end a push-fatigue episode)
    assert password_step.kind is EventKind.SIGNIN_SUCCESS
    assert password_step.factor is Factor.PASSWORD
    misc = parse_lines(SHARED_SAMPLES / "okta" / "session-policy-threat-misc.jsonl", OKTA)
    oie = only_event(misc[2])
    assert oie.kind is EventKind.SIGNIN_SUCCESS
    assert oie.device is not None and oie.device.managed is False and oie.device.registered is True
    assert oie.session_id == "idxBager62CSveUkTxvgRtonA"
    federated = only_event(misc[7])  # Sekoia's auth_via_IDP: actor "Okta System", the person a target
    assert federated.identity == "john.doe@example.org"
    assert federated.actor is not None and federated.actor.type is PrincipalType.SYSTEM
    locked = only_event(misc[3])
    assert locked.kind is EventKind.ACCOUNT_LOCKED and locked.reason == "LOCKED_OUT"
    assert locked.vendor_risk == "low"
