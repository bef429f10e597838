"""``simulate(seed, users, days, out_dir, history_days=0)``: a tenant's logs in the vendors' real shapes,
with labeled attack campaigns of every kind the detectors cover, and ``labels.json`` naming them and the
benign look-alikes (``benign_episodes``) of the scored period.

With ``history_days``, the first days are ordinary life only, written under ``out_dir/history/``; the
scored days follow under ``out_dir/scored/`` (the same people, their behaviour continuous across the
boundary). Without, everything is written under ``out_dir`` and day 0 is the detectors' warm-up.

Each seed draws its own rates (``rates``): how flaky the phones are, how many people sit behind a
gateway abroad, how attackers pick their infrastructure. Deterministic: one ``random.Random(seed)``
drives everything, no clock is read, and the files are byte-identical for the same arguments. The
people with a short Duo username and the attacks split across their two IdPs (``split_idp``) come last,
from a stream of their own: the other records are those of a simulation without them."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pushguard.model import Provider
from pushguard.simulate import campaigns as push
from pushguard.simulate import campaigns_account as account
from pushguard.simulate.benign import simulate_benign
from pushguard.simulate.campaigns import Run
from pushguard.simulate.campaigns_assurance import KIND as ASSURANCE_KIND
from pushguard.simulate.campaigns_assurance import simulate_assurance
from pushguard.simulate.campaigns_spray import spray, spray_then_push
from pushguard.simulate.common import EPOCH, rfc3339
from pushguard.simulate.labels import (
    LABELS_FILE,
    BenignEpisode,
    CampaignLabel,
    Labels,
    Manifest,
    write_labels,
)
from pushguard.simulate.rates import draw_attacks, draw_benign
from pushguard.simulate.split_idp import SPLIT_KIND, add_split_idp
from pushguard.simulate.tenant import User, build_tenant
from pushguard.simulate.world import World

PUSH_VENDORS = (Provider.OKTA, Provider.ENTRA, Provider.DUO)
GEO_VENDORS = (Provider.OKTA, Provider.ENTRA)  # vendors that give coordinates
KINDS = (
    "push_bombing_approved",
    "push_bombing_ridden_out",
    "low_and_slow",
    "approval_after_denials",
    "fraud_report",
    "enrollment_abuse",
    "reset_enroll_access",
    "password_spray",
    "spray_then_push",
    "impossible_travel",
    "requester_responder_mismatch",
    "nhi_push",
    "privileged_after_approval",
    ASSURANCE_KIND,
    SPLIT_KIND,
)


class _Victims:
    def __init__(self, world: World) -> None:
        self.world = world
        self.used: set[str] = {u.login for u in world.tenant.helpdesk.values()}
        self.used |= {u.login for u in world.tenant.users if u.joined_day > 0}  # no one to attack yet
        self.victims: set[str] = set()

    def pick(self, provider: Provider, admin: bool = False) -> User | None:
        candidates = [u for u in self.world.tenant.users if provider in u.idps and u.login not in self.used]
        if admin:
            admins = [u for u in candidates if u.admin]
            if not admins and candidates:
                promoted = self.world.rng.choice(candidates)
                promoted.admin = True
                admins = [promoted]
            candidates = admins
        if not candidates:
            return None
        victim = self.world.rng.choice(candidates)
        self.used.add(victim.login)
        self.victims.add(victim.login)
        return victim


def _sprays(world: World, victims: _Victims, count: int) -> list[Run]:
    rng, rates = world.rng, world.attacks
    present = [p for p in GEO_VENDORS if world.tenant.on(p)]
    runs: list[Run] = []
    for index in range(count if present else 0):
        provider = present[index % len(present)]
        on = world.tenant.on(provider)
        runs.append(spray(world, provider, rng.sample(on, min(len(on), rng.randint(*rates.spray_targets)))))
    remaining, index = count, 0
    while remaining > 0 and present:
        provider = present[index % len(present)]
        index += 1
        hits = [victims.pick(provider) for _ in range(min(remaining, rng.randint(*rates.spray_hits)))]
        picked = [v for v in hits if v is not None]
        if not picked:
            break
        on = world.tenant.on(provider)
        targets = rng.sample(on, min(len(on), rng.randint(*rates.spray_targets)))
        runs.extend(spray_then_push(world, provider, targets, picked))
        remaining -= len(picked)
    return runs


def _plan(world: World, victims: _Victims) -> list[Run]:
    tenant = world.tenant
    present = [p for p in PUSH_VENDORS if tenant.on(p)]
    per_kind = world.attacks.per_kind
    runs: list[Run] = []

    def each(
        kind_count: int,
        vendors: tuple[Provider, ...],
        make: Callable[[User, Provider], Run],
        admin: bool = False,
    ) -> None:
        usable = [p for p in vendors if p in present]
        for index in range(kind_count if usable else 0):
            provider = usable[index % len(usable)]
            victim = victims.pick(provider, admin=admin)
            if victim is not None:
                runs.append(make(victim, provider))

    each(per_kind, PUSH_VENDORS, lambda v, p: push.bombing(world, v, p, approve=True))
    each(per_kind, PUSH_VENDORS[::-1], lambda v, p: push.bombing(world, v, p, approve=False))
    each(per_kind, PUSH_VENDORS, lambda v, p: push.low_and_slow(world, v, p))
    each(
        per_kind,
        (Provider.ENTRA, Provider.OKTA, Provider.DUO),
        lambda v, p: push.approval_after_denials(world, v, p),
    )
    each(per_kind, (Provider.DUO, Provider.OKTA, Provider.ENTRA), lambda v, p: push.fraud_report(world, v, p))
    each(per_kind, PUSH_VENDORS, lambda v, p: account.enrollment_abuse(world, v, p))
    each(
        per_kind,
        (Provider.ENTRA, Provider.OKTA, Provider.DUO),
        lambda v, p: account.reset_enroll_access(world, v, p),
    )
    runs.extend(_sprays(world, victims, per_kind))
    each(per_kind, GEO_VENDORS, lambda v, p: account.impossible_travel(world, v, p))
    each(per_kind, (Provider.DUO,), lambda v, p: push.mismatch(world, v))
    for index in range(min(per_kind, len(tenant.services))):
        runs.append(account.nhi_push(world, tenant.services[index]))
    each(per_kind, GEO_VENDORS, lambda v, p: account.privileged_after_approval(world, v, p), admin=True)
    return runs


def _hire(world: World) -> None:
    """New hires: people whose first day falls in the scored period (no history of them)."""
    rng = world.rng
    helpdesk = set(map(id, world.tenant.helpdesk.values()))
    candidates = [u for u in world.tenant.users if id(u) not in helpdesk and not u.admin]
    count = min(len(candidates), round(len(world.tenant.users) * world.rates.new_hire_share))
    for user in rng.sample(candidates, count):
        user.joined_day = rng.randint(world.first_attack_day, world.days - 1)


def _campaign_label(index: int, run: Run, times: dict[str, datetime]) -> CampaignLabel:
    moments = sorted(times[i] for i in run.written.ids)
    return CampaignLabel(
        id=f"c{index:03d}-{run.kind}",
        kind=run.kind,
        identity=run.identity,
        provider=run.provider.value,
        source_ips=run.ips,
        start=rfc3339(moments[0]),
        end=rfc3339(moments[-1]),
        techniques=run.techniques,
        event_ids=run.written.ids,
        prompts=len(run.written.prompts),
        prompt_times=[rfc3339(t) for t in sorted(run.written.prompts)],
        targets=run.targets,
        outcome="access" if run.access else "none",
        infrastructure=run.infrastructure,
        context_event_ids=run.context,
        approved_prompt_at=rfc3339(min(run.written.approvals)) if run.written.approvals else "",
    )


def simulate(seed: int, users: int, days: int, out_dir: Path, history_days: int = 0) -> Manifest:
    """Write the logs and labels.json under ``out_dir``; returns what was written. ``days`` are scored
    (labeled); ``history_days`` of ordinary life come before them, under ``out_dir/history/``."""
    if users < 10:
        raise ValueError("users: at least 10")
    if history_days < 0:
        raise ValueError("history days: not negative")
    if days < (1 if history_days else 2):
        raise ValueError("days: at least 2 without history (day 0 is warm-up), at least 1 with it")
    rng = random.Random(seed)
    benign_rates, attack_rates = draw_benign(rng), draw_attacks(rng, users)
    world = World(
        rng=rng,
        tenant=build_tenant(rng, users, benign_rates),
        days=history_days + days,
        history_days=history_days,
        benign_rates=benign_rates,
        attack_rates=attack_rates,
    )
    _hire(world)
    victims = _Victims(world)
    runs = _plan(world, victims)
    simulate_benign(world, world.tenant.users)
    # after everything else, each from a stream of its own: the records above stay what they were
    assurance_runs, exceptions = simulate_assurance(seed, world)
    runs += assurance_runs
    split_people, split_runs = add_split_idp(world, seed)
    runs += split_runs
    victims.victims.update(run.identity for run in split_runs)
    times = {event_id: when for records in world.logs.records.values() for when, event_id, _ in records}
    labels = [_campaign_label(index, run, times) for index, run in enumerate(runs)]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = world.logs.write(out_dir, split_at=world.scored_start if history_days else None)
    people = [*world.tenant.users, *split_people]
    benign = sorted(u.login for u in people if u.login not in victims.victims)
    episodes = sorted(
        (e for e in world.episodes if e.end >= world.scored_start),
        key=lambda e: (e.start, e.identity, e.behaviour),
    )
    result = Labels(
        seed=seed,
        users=users,
        days=days,
        start=rfc3339(world.scored_start),
        benign_users=sorted(set(benign)),
        service_accounts=sorted(s.login for s in world.tenant.services),
        campaigns=labels,
        history_days=history_days,
        history_start=rfc3339(EPOCH) if history_days else "",
        benign_episodes=[
            BenignEpisode(
                identity=e.identity,
                behaviour=e.behaviour,
                start=rfc3339(e.start),
                end=rfc3339(e.end),
                provider=e.provider,
            )
            for e in episodes
        ],
        benign_rates=benign_rates,
        attack_rates=attack_rates,
        assurance_exceptions=exceptions,
    )
    write_labels(out_dir / LABELS_FILE, result)
    return Manifest(out_dir=str(out_dir), labels=result, files=files)
