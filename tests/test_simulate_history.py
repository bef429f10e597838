"""The wide simulator: a history period written apart from the scored one (same people, continuous),
rates drawn per seed, benign episodes that point at the look-alike records they name, and attacks drawn
from wide ranges (residential proxies and fresh VPSes in the victim's country, admin deletions of the
victim's authenticator, sprays whose password works for a few victims)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import msgspec
import pytest

from pushguard.enrich import AliasMap
from pushguard.flow import analyze
from pushguard.model import Event, EventKind, Provider
from pushguard.pipeline import RunStats, parse_items
from pushguard.simulate.labels import Labels, read_labels
from pushguard.simulate.networks import SWG_VENDORS
from pushguard.simulate.places import HOME_NETWORKS
from pushguard.simulate.rates import draw_attacks, draw_benign
from pushguard.simulate.scenario import simulate
from pushguard.sources.readers import expand_paths, read_file

PUSHES = {EventKind.PUSH_SENT, EventKind.PUSH_TIMEOUT, EventKind.PUSH_DENIED, EventKind.PUSH_APPROVED}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _events(directory: Path) -> list[Event]:
    stats = RunStats()
    events: list[Event] = []
    for path in expand_paths([directory]):
        events.extend(parse_items(read_file(path), stats, None, AliasMap()))
    assert stats.errors == 0 and not stats.unmapped
    return events


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "tenant"
    simulate(8, 240, 5, out, history_days=7)
    return out


@pytest.fixture(scope="module")
def labels(tenant: Path) -> Labels:
    return read_labels(tenant / "labels.json")


@pytest.fixture(scope="module")
def history(tenant: Path) -> list[Event]:
    return _events(tenant / "history")


@pytest.fixture(scope="module")
def scored(tenant: Path) -> list[Event]:
    return _events(tenant / "scored")


def test_history_and_scored_period_are_apart_and_continuous(
    tenant: Path, labels: Labels, history: list[Event], scored: list[Event]
) -> None:
    assert (tenant / "labels.json").is_file()
    assert {p.relative_to(tenant).parts[0] for p in expand_paths([tenant])} == {"history", "scored"}
    boundary = _time(labels.start)
    assert labels.history_days == 7 and labels.days == 5
    assert (boundary - _time(labels.history_start)).days == 7
    assert max(e.time for e in history) < boundary <= min(e.time for e in scored)
    for campaign in labels.campaigns:  # attacks happen in the scored period only
        assert _time(campaign.start) >= boundary, campaign.id
    # The same people on both sides: almost everyone active in the scored period was there before,
    # except the new hires, who have no history at all.
    hires = {e.identity for e in labels.benign_episodes if e.behaviour == "new_hire"}
    assert hires
    before = {e.identity for e in history}
    after = {e.identity for e in scored if e.identity in labels.benign_users}
    assert not hires & before
    assert len((after - hires) - before) <= len(after) // 20


def test_each_part_parses_with_no_error_and_nothing_unmapped(tenant: Path) -> None:
    for part in ("history", "scored"):
        stats = analyze([tenant / part]).stats
        assert stats.records > 0 and stats.errors == 0, stats.error_samples
        assert not stats.unmapped, stats.unmapped
        assert set(stats.by_provider) == {"okta", "entra", "duo"}


def test_same_seed_same_bytes_and_each_seed_its_own_rates(tmp_path: Path) -> None:
    first = simulate(21, 40, 2, tmp_path / "a", history_days=3)
    again = simulate(21, 40, 2, tmp_path / "b", history_days=3)
    other = simulate(22, 40, 2, tmp_path / "c", history_days=3)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.files == again.files
    assert first.labels.benign_rates is not None and other.labels.benign_rates is not None
    assert first.labels.benign_rates != other.labels.benign_rates
    assert first.labels.attack_rates != other.labels.attack_rates


def test_rates_are_drawn_from_the_documented_wide_intervals() -> None:
    import random

    drawn = [draw_benign(random.Random(seed)) for seed in range(200)]
    missed = [r.missed_prompt for r in drawn]
    assert 0.01 <= min(missed) < 0.02 and 0.07 < max(missed) <= 0.08
    assert {r.missed_max for r in drawn} == set(range(3, 9))
    gateway = [r.far_gateway_share for r in drawn]
    assert min(gateway) < 0.03 and max(gateway) > 0.11
    attacks = [draw_attacks(random.Random(seed), 450) for seed in range(200)]
    assert {a.per_kind for a in attacks} == set(range(6, 9))
    assert min(a.bombing_pushes[0] for a in attacks) == 3 and max(a.bombing_pushes[1] for a in attacks) == 20
    assert all(a.residential_share + a.local_vps_share < 1 for a in attacks)


def _within(events: list[Event], identity: str, start: str, end: str) -> list[Event]:
    low, high = _time(start), _time(end)
    return [e for e in events if e.identity == identity and low <= e.time <= high]


def test_benign_episodes_point_at_the_look_alikes_they_name(
    labels: Labels, history: list[Event], scored: list[Event]
) -> None:
    episodes = labels.benign_episodes
    kinds = Counter(e.behaviour for e in episodes)
    for behaviour in ("missed_prompts", "double_denial", "far_gateway", "office_rush", "password_typo"):
        assert kinds[behaviour] >= 2, kinds
    assert {e.behaviour for e in episodes} <= {
        "missed_prompts",
        "double_denial",
        "wrong_number",
        "password_typo",
        "far_gateway",
        "consumer_vpn",
        "office_rush",
        "hotel_vpn",
        "roaming_phone",
        "travel",
        "lost_phone_reset",
        "new_phone",
        "new_hire",
        "admin_work",
        "legacy_protocol_exception",  # simulate.campaigns_assurance
        "password_only_test_account",
    }
    for episode in episodes:
        assert episode.start <= episode.end
        assert episode.end >= labels.start  # in the scored period (it may have begun before)
    gateway_asns = {n.asn for n in SWG_VENDORS}
    attack = {i for c in labels.campaigns for i in (*c.event_ids, *c.context_event_ids)}
    benign = [e for e in history + scored if e.event_id not in attack]
    for episode in episodes:
        mine = _within(benign, episode.identity, episode.start, episode.end)
        kinds_here = Counter(e.kind for e in mine)
        if episode.behaviour == "missed_prompts":
            # one or more prompts left unanswered, then the approval (Okta logs only the send)
            assert sum(kinds_here[k] for k in PUSHES) >= 2 and kinds_here[EventKind.PUSH_APPROVED] >= 1
        elif episode.behaviour == "double_denial":
            assert kinds_here[EventKind.PUSH_DENIED] >= 1 and kinds_here[EventKind.PUSH_APPROVED] >= 1
            assert (_time(episode.end) - _time(episode.start)).total_seconds() <= 70
            # From the same network as the approval (Okta's push-only deny is logged from the phone).
            denied = {
                e.ip for e in mine if e.kind is EventKind.PUSH_DENIED and e.provider is not Provider.OKTA
            }
            assert denied <= {e.ip for e in mine if e.kind is EventKind.PUSH_APPROVED}
        elif episode.behaviour == "far_gateway":
            asns = {e.geo.asn for e in mine if e.geo is not None and e.geo.asn is not None}
            assert asns and asns <= gateway_asns
        elif episode.behaviour == "legacy_protocol_exception":
            assert mine and {e.legacy_protocol for e in mine} <= {"IMAP4", "Authenticated SMTP"}
            assert episode.identity in labels.assurance_exceptions
        elif episode.behaviour == "password_only_test_account":
            assert all(e.single_factor for e in mine if e.kind is EventKind.SIGNIN_SUCCESS)
        elif episode.behaviour == "office_rush" and episode.identity.startswith("ip:"):
            ip = episode.identity[3:]
            people = {e.identity for e in scored if e.ip == ip and _time(episode.start) <= e.time}
            assert len(people) >= 2


def test_attacks_come_from_wide_ranges(labels: Labels, scored: list[Event]) -> None:
    by_id = {e.event_id: e for e in scored}
    infrastructure = Counter(c.infrastructure for c in labels.campaigns)
    assert infrastructure["residential"] and infrastructure["local_vps"] and infrastructure["foreign"]
    residential_asns = {n.asn for pair in HOME_NETWORKS.values() for n in pair}
    for campaign in labels.campaigns:
        events = [by_id[i] for i in campaign.event_ids]
        attacker = [e for e in events if e.ip in campaign.source_ips and e.geo is not None and e.geo.asn]
        if campaign.infrastructure == "residential" and attacker:
            assert {e.geo.asn for e in attacker if e.geo} <= residential_asns, campaign.id
        if campaign.kind.startswith("push_bombing"):
            assert 3 <= campaign.prompts <= 20
        if campaign.kind == "reset_enroll_access":
            removals = [e for e in events if e.kind in (EventKind.FACTOR_REMOVED, EventKind.FACTORS_RESET)]
            assert removals and all(e.actor is not None and e.actor != e.subject for e in removals)
            assert any(e.kind is EventKind.FACTOR_ENROLLED for e in events)


def test_labels_round_trip_with_the_new_fields(labels: Labels) -> None:
    again = msgspec.json.decode(msgspec.json.encode(labels), type=Labels)
    assert again == labels
    assert labels.benign_rates is not None and labels.attack_rates is not None
