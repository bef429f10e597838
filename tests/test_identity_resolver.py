"""One person across IdPs from the vendors' own fields (enrich.resolver).

Every record here is one of our fixtures with the linking fields changed, so each keeps its vendor's shape:
- Duo: ``tests/fixtures/duo/authlogs-v2-own.jsonl`` (the Admin API v2 authentication log shape; the Duo
  Admin API documentation, "Authentication Logs", names ``user.name``, ``user.key`` and ``email``, which
  may be empty, as in line 3);
- Okta: ``tests/fixtures/okta/handmade.jsonl`` (System Log ``actor.id`` / ``actor.alternateId``, Okta's
  System Log API LogActor);
- Entra: ``tests/fixtures/entra/signin-azure-monitor-handmade.jsonl`` (the signIn resource of Microsoft
  Graph: ``userId``, ``userPrincipalName``; a signIn carries no ``mail``);
- OCSF: ``tests/fixtures/ocsf/mfa-hand-made.jsonl`` (OCSF User object: ``uid``, ``name``, ``email_addr``)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.decide.enforce import enforcement_config, person_accounts, plan_enforcement
from pushguard.enrich import AliasMap
from pushguard.enrich.directory import load_directory
from pushguard.enrich.resolver import IdentityResolver
from pushguard.flow import analyze
from pushguard.model import Provider
from pushguard.pipeline import resolve_identities, stored_resolver
from pushguard.store import SqliteStore
from tests.test_enforce import decided, request

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ALICE = "alice.martin@corp.example"


def _line(path: str, number: int) -> dict[str, Any]:
    lines = (FIXTURES / path).read_text(encoding="utf-8").splitlines()
    return dict(json.loads(lines[number - 1]))


def duo(
    seconds: float, name: str, email: str, key: str = "DUEXAMPLEUSERKEY0002", n: int = 0
) -> dict[str, Any]:
    """A Duo v2 push denial (fixture line 3) for ``name`` with ``email``."""
    record = copy.deepcopy(_line("duo/authlogs-v2-own.jsonl", 3))
    when = T0 + timedelta(seconds=seconds)
    record["user"] = {"groups": ["Directory Sync"], "key": key, "name": name}
    record["email"] = email
    record["txid"] = f"7b1f0c2e-5a34-4c8e-9d21-{n:012d}"
    record["isotimestamp"] = when.isoformat()
    record["timestamp"] = int(when.timestamp())
    return record


def okta(
    seconds: float, login: str = ALICE, actor_id: str = "00u1a2b3c4d5e6f7g8h9", n: int = 0
) -> dict[str, Any]:
    """An Okta Verify push denial (fixture line 5) asked from the attacker's address."""
    record = copy.deepcopy(_line("okta/handmade.jsonl", 5))
    when = T0 + timedelta(seconds=seconds)
    record["actor"] = {**record["actor"], "id": actor_id, "alternateId": login}
    record["target"] = [{**record["target"][0], "id": actor_id, "alternateId": login}]
    record["uuid"] = f"11111111-0000-4000-8000-{n:012d}"
    record["published"] = when.isoformat().replace("+00:00", "Z")
    return record


def entra(seconds: float, upn: str, user_id: str, n: int = 0) -> dict[str, Any]:
    record = copy.deepcopy(_line("entra/signin-azure-monitor-handmade.jsonl", 1))
    when = (T0 + timedelta(seconds=seconds)).isoformat()
    record["time"] = when
    record["properties"] = {
        **record["properties"],
        "id": f"a1000001-0000-4000-8000-{n:012d}",
        "createdDateTime": when,
        "userPrincipalName": upn,
        "userId": user_id,
    }
    return record


def ocsf(seconds: float, user: dict[str, Any], n: int = 0) -> dict[str, Any]:
    record = copy.deepcopy(_line("ocsf/mfa-hand-made.jsonl", 1))
    record["time"] = int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)
    record["metadata"] = {**record["metadata"], "uid": f"hm-link-{n}"}
    record["user"] = {**user, "type_id": 1, "type": "User"}
    record["actor"] = {"user": record["user"]}
    return record


def write(tmp_path: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def resolved(tmp_path: Path, *files: Path, resolver: IdentityResolver | None = None) -> IdentityResolver:
    resolver = resolver or IdentityResolver()
    resolve_identities(list(files), resolver)
    return resolver


# -- each vendor field ---------------------------------------------------------------------------


def test_duo_email_beside_a_short_user_name_links_the_account(tmp_path: Path) -> None:
    logs = write(tmp_path, "duo.jsonl", [duo(0, "amartin", ALICE)])
    resolver = resolved(tmp_path, logs)
    assert resolver.person("duo|amartin") == ALICE
    (link,) = resolver.links_of(ALICE)
    assert (link.account, link.how) == ("duo|amartin", "duo email")
    assert link.record.endswith("duo.jsonl:1") and link.first_seen.startswith("2026-03-02T02:00")


def test_duo_without_email_stays_its_own_account(tmp_path: Path) -> None:
    resolver = resolved(tmp_path, write(tmp_path, "duo.jsonl", [duo(0, "amartin", "")]))
    assert resolver.person("duo|amartin") == "amartin"
    assert not resolver.state.links


def test_duo_user_key_links_the_address_and_the_short_name(tmp_path: Path) -> None:
    # Duo writes the address as user.name one day and the short name the next for one user.key (as the
    # Elastic records of ../shared/samples/duo/authlogs-v2.jsonl lines 1-2 do): one account
    records = [duo(0, "amartin", "", n=1), duo(60, ALICE, "", n=2)]
    resolver = resolved(tmp_path, write(tmp_path, "duo.jsonl", records))
    assert resolver.person("duo|amartin") == ALICE  # the address wins, whichever came first
    assert [link.how for link in resolver.links_of(ALICE)] == ["duo user.key"]


def test_okta_actor_id_links_a_renamed_login(tmp_path: Path) -> None:
    records = [okta(0, "alice.m@corp.example", n=1), okta(60, ALICE, n=2)]
    resolver = resolved(tmp_path, write(tmp_path, "okta.jsonl", records))
    assert resolver.person(f"okta|{ALICE}") == "alice.m@corp.example"
    assert [link.how for link in resolver.links_of("alice.m@corp.example")] == ["okta actor.id"]


def test_entra_user_id_links_a_changed_upn(tmp_path: Path) -> None:
    uid = "0f3e9a7c-1b2d-4c5e-8f90-a1b2c3d4e5f6"
    records = [
        entra(0, "mara.lind@contoso-example.com", uid, 1),
        entra(60, "mara.berg@contoso-example.com", uid, 2),
    ]
    resolver = resolved(tmp_path, write(tmp_path, "entra.jsonl", records))
    assert resolver.person("entra|mara.berg@contoso-example.com") == "mara.lind@contoso-example.com"
    assert [link.how for link in resolver.links_of("mara.lind@contoso-example.com")] == ["entra userId"]


def test_ocsf_user_uid_links_a_bare_name_to_its_email_addr(tmp_path: Path) -> None:
    records = [
        ocsf(0, {"name": "knguyen", "uid": "00uexamplekim000003"}, 1),
        ocsf(
            60, {"name": "knguyen", "email_addr": "kim.nguyen@example.org", "uid": "00uexamplekim000003"}, 2
        ),
    ]
    resolver = resolved(tmp_path, write(tmp_path, "ocsf.jsonl", records))
    assert resolver.person("ocsf|knguyen") == "kim.nguyen@example.org"
    assert [link.how for link in resolver.links_of("kim.nguyen@example.org")] == ["ocsf user.uid"]


# -- conflicts, the alias map, the directory -------------------------------------------------------


def test_one_duo_name_with_two_emails_is_a_conflict_and_not_linked(tmp_path: Path) -> None:
    records = [duo(0, "amartin", ALICE, n=1), duo(60, "amartin", "a.martin@other.example", n=2)]
    resolver = resolved(tmp_path, write(tmp_path, "duo.jsonl", records))
    assert resolver.person("duo|amartin") == "amartin"  # separate from then on
    (conflict,) = resolver.conflicts()
    assert conflict.subject == "duo|amartin"
    assert conflict.claims == ["a.martin@other.example", ALICE]
    assert "two addresses" in conflict.how and conflict.record.endswith("duo.jsonl:2")


def test_one_email_claimed_by_two_duo_accounts_is_a_conflict(tmp_path: Path) -> None:
    records = [duo(0, "amartin", ALICE, "DUKEY1", 1), duo(60, "amartin2", ALICE, "DUKEY2", 2)]
    resolver = resolved(tmp_path, write(tmp_path, "duo.jsonl", records))
    assert resolver.person("duo|amartin") == "amartin" and resolver.person("duo|amartin2") == "amartin2"
    (conflict,) = resolver.conflicts()
    assert (conflict.subject, conflict.claims) == (ALICE, ["duo|amartin", "duo|amartin2"])


def test_the_alias_map_wins_over_the_vendor_fields(tmp_path: Path) -> None:
    logs = write(tmp_path, "duo.jsonl", [duo(0, "amartin", ALICE)])
    aliases = AliasMap({"amartin": "alice@elsewhere.example"})
    resolver = resolved(tmp_path, logs, resolver=IdentityResolver(aliases))
    assert not resolver.state.links
    assert resolver.people() == {"alice@elsewhere.example": {"duo": ["amartin"]}}


def test_directory_json_links_and_reports_an_address_two_people_claim(tmp_path: Path) -> None:
    directory = tmp_path / "people.json"
    directory.write_text(
        json.dumps(
            [
                {"person": "E1", "emails": [ALICE, "a.m@corp.example"], "usernames": {"duo": "am01"}},
                {"person": "E2", "emails": ["bob@corp.example", "shared@corp.example"]},
                {"person": "E3", "emails": ["carol@corp.example", "shared@corp.example"]},
            ]
        ),
        encoding="utf-8",
    )
    links, conflicts = load_directory(directory)
    resolver = IdentityResolver(None, None, links, conflicts)
    assert resolver.person("duo|am01") == ALICE
    assert resolver.person("okta|a.m@corp.example") == ALICE
    assert resolver.person("okta|shared@corp.example") == "shared@corp.example"
    (conflict,) = resolver.conflicts()
    assert conflict.claims == ["bob@corp.example", "carol@corp.example"]


def test_directory_csv_wins_over_a_vendor_email_and_says_so(tmp_path: Path) -> None:
    directory = tmp_path / "people.csv"
    directory.write_text("person,emails,duo\nE9,bob@corp.example,amartin\n", encoding="utf-8")
    resolver = IdentityResolver(None, None, *load_directory(directory))
    resolved(tmp_path, write(tmp_path, "duo.jsonl", [duo(0, "amartin", ALICE)]), resolver=resolver)
    assert resolver.person("duo|amartin") == "bob@corp.example"
    assert "disagrees with the directory" in resolver.conflicts()[0].how


def test_links_are_kept_in_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    store = SqliteStore(state)
    analyze([write(tmp_path, "duo.jsonl", [duo(0, "amartin", ALICE, n=1)])], store=store)
    store.close()
    store = SqliteStore(state)
    # the next run: a record without the email goes to the person the first run linked
    later = write(tmp_path, "later.jsonl", [duo(3600, "amartin", "", n=2)])
    assert stored_resolver(store).person("duo|amartin") == ALICE
    analyze([later], store=store)
    store.close()


# -- the attack split across IdPs ----------------------------------------------------------------


def _split_attack(tmp_path: Path, email: str) -> list[Path]:
    """Two Okta denials and two Duo denials in six minutes: fewer than push_bombing's three on each IdP."""
    okta_log = write(tmp_path, "okta.jsonl", [okta(0, n=1), okta(180, n=3)])
    duo_log = write(tmp_path, "duo.jsonl", [duo(90, "amartin", email, n=2), duo(270, "amartin", email, n=4)])
    return [okta_log, duo_log]


def test_a_split_bombing_is_caught_when_the_duo_records_carry_the_email(tmp_path: Path) -> None:
    result = analyze(_split_attack(tmp_path, ALICE))
    bombing = [f for f in result.findings if f.detector == "push_bombing"]
    assert len(bombing) == 1
    finding = bombing[0]
    assert finding.user == ALICE and finding.provider == "several"
    assert any("2 prompts on Duo, 2 on Okta" in reason for reason in finding.reasons), finding.reasons


def test_the_same_attack_without_the_email_stays_two_accounts_under_the_threshold(tmp_path: Path) -> None:
    result = analyze(_split_attack(tmp_path, ""))
    assert not [f for f in result.findings if f.detector == "push_bombing"]


# -- decisions act on every account of the person -----------------------------------------------------


def test_a_step_up_decided_on_okta_reaches_the_person_s_duo_account(tmp_path: Path) -> None:
    logs = [
        write(tmp_path, "duo.jsonl", [duo(0, "amartin", ALICE)]),
        write(tmp_path, "okta.jsonl", [okta(60)]),
    ]
    resolver = resolved(tmp_path, *logs)
    config = enforcement_config(
        {"okta": {"groups": {"step_up": "00g-phr"}}, "duo": {"groups": {"step_up": "DG-webauthn"}}}
    )
    req = request(Provider.OKTA, ALICE)
    decision = decided(req, prompts_last_10m=8)
    accounts = person_accounts(resolver.accounts_of(resolver.person(f"okta|{ALICE}")))
    plan = plan_enforcement(req, decision, config, accounts=accounts)
    assert sorted((i.provider.value, i.login, i.group_id) for i in plan.intents) == [
        ("duo", "amartin", "DG-webauthn"),  # through Duo's own control, under the Duo username
        ("okta", ALICE, "00g-phr"),
    ]
    # without the link, the Okta decision stays on Okta
    alone = plan_enforcement(req, decision, config)
    assert [i.provider.value for i in alone.intents] == ["okta"]


def test_identities_command_lists_people_links_and_conflicts(tmp_path: Path) -> None:
    records = [duo(0, "amartin", ALICE, n=1), duo(60, "bmartin", "bob@corp.example", "DUKEY9", n=2)]
    records.append(duo(120, "bmartin", "b.other@corp.example", "DUKEY9", n=3))
    logs = write(tmp_path, "duo.jsonl", records)
    okta_log = write(tmp_path, "okta.jsonl", [okta(30)])
    result = CliRunner().invoke(app, ["identities", str(logs), str(okta_log), "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    alice = next(p for p in listed["people"] if p["person"] == ALICE)
    assert alice["accounts"] == {"duo": ["amartin"], "okta": [ALICE]}
    assert [(link["account"], link["how"]) for link in alice["links"]] == [("duo|amartin", "duo email")]
    assert [c["subject"] for c in listed["conflicts"]] == ["duo|bmartin"]
    table = CliRunner().invoke(app, ["identities", str(logs), str(okta_log)])
    assert table.exit_code == 0 and "duo email" in table.output and "Conflicts" in table.output


# -- the service links as it ingests ------------------------------------------------------------------


def test_the_service_links_accounts_as_it_ingests_and_decides_for_the_person(tmp_path: Path) -> None:
    from pushguard.api import Service, ServiceConfig
    from pushguard.store import SqliteStore

    config = ServiceConfig(
        state=str(tmp_path / "state.sqlite"), keys_file=str(tmp_path / "k.json"), reorder_window_s=0
    )
    service = Service(config)
    found = []
    # as the hook and the collectors deliver them: one vendor's batch at a time, in time order
    for provider, record in (
        (Provider.OKTA, okta(0, n=1)),
        (Provider.DUO, duo(90, "amartin", ALICE, n=2)),
        (Provider.OKTA, okta(180, n=3)),
        (Provider.DUO, duo(270, "amartin", ALICE, n=4)),
    ):
        found += service.ingest([record], provider, "test").findings
    assert [f.user for f in found if f.detector == "push_bombing"][-1:] == [ALICE]
    at = T0 + timedelta(seconds=300)
    # the Duo name is decided on the person's history: every prompt on both IdPs
    assert service.decide(request(Provider.DUO, "amartin", time=at)).signals["denials_last_day"] == 4
    assert service.decide(request(Provider.DUO, "someone-else", time=at)).signals["denials_last_day"] == 0
    service.close()
    kept = SqliteStore(tmp_path / "state.sqlite")  # the links outlive the process
    assert stored_resolver(kept).person("duo|amartin") == ALICE
    kept.close()


def test_the_service_s_closed_loop_acts_on_each_linked_account(tmp_path: Path) -> None:
    from pushguard.api import Service, ServiceConfig
    from pushguard.respond.audit import read_chain

    enforcement = tmp_path / "enforcement.yaml"
    enforcement.write_text(
        "okta:\n  groups: {step_up: 00g-phr}\nduo:\n  groups: {step_up: DG-webauthn}\n", encoding="utf-8"
    )
    config = ServiceConfig(
        state=str(tmp_path / "state.sqlite"),
        keys_file=str(tmp_path / "k.json"),
        reorder_window_s=0,
        enforcement=str(enforcement),
        enforcement_state=str(tmp_path / "enforcement.json"),
        audit_log=str(tmp_path / "audit.jsonl"),
    )
    service = Service(config)
    for provider, record in (
        (Provider.OKTA, okta(0, n=1)),
        (Provider.DUO, duo(90, "amartin", ALICE, n=2)),
        (Provider.OKTA, okta(180, n=3)),
        (Provider.DUO, duo(270, "amartin", ALICE, n=4)),
    ):
        service.ingest([record], provider, "test")
    service.close()
    planned = {(e["vendor"], e["login"]) for e in read_chain(tmp_path / "audit.jsonl") if e.get("finding")}
    # the step-up decided on the person reaches both accounts, each through its own IdP (a dry run)
    assert {("okta", ALICE), ("duo", "amartin")} <= planned
