"""``simulate(seed, users, days, out_dir)``: a tenant's week of logs in the vendors' real shapes, with
labeled attack campaigns of every kind the detectors cover, and ``labels.json`` naming them.

Deterministic: one ``random.Random(seed)`` drives everything, no clock is read, and the files are
byte-identical for the same arguments."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from pushguard.model import Provider
from pushguard.simulate import campaigns as push
from pushguard.simulate import campaigns_account as account
from pushguard.simulate.benign import simulate_benign
from pushguard.simulate.campaigns import Run
from pushguard.simulate.common import EPOCH, rfc3339
from pushguard.simulate.labels import LABELS_FILE, CampaignLabel, Labels, Manifest, write_labels
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
    "impossible_travel",
    "requester_responder_mismatch",
    "nhi_push",
    "privileged_after_approval",
)


class _Victims:
    def __init__(self, world: World) -> None:
        self.world = world
        self.used: set[str] = {u.login for u in world.tenant.helpdesk.values()}

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
        return victim


def _plan(world: World, victims: _Victims, people: int) -> list[Run]:
    rng = world.rng
    tenant = world.tenant
    present = [p for p in PUSH_VENDORS if tenant.on(p)]
    per_kind = max(1, round(people / 150))
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
        max(per_kind, min(3, round(people / 100))),
        (Provider.ENTRA, Provider.OKTA, Provider.DUO),
        lambda v, p: account.reset_enroll_access(world, v, p),
    )
    for index in range(per_kind):
        usable = [p for p in GEO_VENDORS if p in present]
        if usable:
            provider = usable[index % len(usable)]
            on = tenant.on(provider)
            runs.append(account.spray(world, provider, rng.sample(on, min(len(on), rng.randint(20, 50)))))
    each(per_kind, GEO_VENDORS, lambda v, p: account.impossible_travel(world, v, p))
    each(per_kind, (Provider.DUO,), lambda v, p: push.mismatch(world, v))
    for index in range(min(per_kind, len(tenant.services))):
        runs.append(account.nhi_push(world, tenant.services[index]))
    each(per_kind, GEO_VENDORS, lambda v, p: account.privileged_after_approval(world, v, p), admin=True)
    return runs


def simulate(seed: int, users: int, days: int, out_dir: Path) -> Manifest:
    """Write the logs and labels.json under ``out_dir``; returns what was written."""
    if users < 10:
        raise ValueError("users: at least 10")
    if days < 2:
        raise ValueError("days: at least 2 (day 0 is history)")
    rng = random.Random(seed)
    world = World(rng=rng, tenant=build_tenant(rng, users), days=days)
    victims = _Victims(world)
    runs = _plan(world, victims, users)
    simulate_benign(world, world.tenant.users)
    times = {event_id: when for records in world.logs.records.values() for when, event_id, _ in records}
    labels: list[CampaignLabel] = []
    for index, run in enumerate(runs):
        moments = sorted(times[i] for i in run.written.ids)
        labels.append(
            CampaignLabel(
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
            )
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = world.logs.write(out_dir)
    benign = sorted(u.login for u in world.tenant.users if u.login not in victims.used)
    benign += sorted(u.login for u in world.tenant.helpdesk.values())
    result = Labels(
        seed=seed,
        users=users,
        days=days,
        start=rfc3339(EPOCH),
        benign_users=sorted(set(benign)),
        service_accounts=sorted(s.login for s in world.tenant.services),
        campaigns=labels,
    )
    write_labels(out_dir / LABELS_FILE, result)
    return Manifest(out_dir=str(out_dir), labels=result, files=files)
