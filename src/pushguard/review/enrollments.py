"""Enrollment provenance review: every factor registration (and removal) in the logs with where it came
from, what preceded it, what followed, ranked by risk. The periodic review that finds implants that
slipped past real-time checks.

The logs are replayed through the pipeline, so each enrollment is judged on the identity's state just
before it (the same signals as ``detect.enrollment_abuse``). What follows an enrollment (sign-ins,
privileged actions, other factors removed) is gathered for ``after_s`` and adds to its score: an
attacker's factor is used, often at once, and sometimes the victim's is removed.

Who registered it: ``self``, ``helpdesk:<login>`` (an account named in ``helpdesk`` or whose login reads
helpdesk / servicedesk / support), ``admin:<login>`` (any other account acting on the subject), or
``system``. A self-registration after a reset or a Temporary Access Pass names who issued it.

A record without the vendor's own coordinates (Entra and Okta audit records) takes the place the vendor
gave for the same IP in an earlier record (a sign-in), not the offline database's guess: both must
agree for "new place" to mean anything."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from pushguard.detect.enrollment_abuse import EnrollmentAbuse
from pushguard.detect.familiarity import THIN_DAYS, assess
from pushguard.detect.geo import is_hosting, place_text
from pushguard.flow import BeforeEvent, Flow
from pushguard.model import Event, EventKind, Finding, Geo, GeoSource, IdentityProfile

AFTER_S = 24 * 3600.0
BEFORE_S = 24 * 3600.0
_ACCESS = frozenset({EventKind.SIGNIN_SUCCESS, EventKind.PUSH_APPROVED, EventKind.MFA_SUCCESS})
_WEIGHTS = {  # the enrollment_abuse signals, plus what followed
    "refusals": 3,
    "refusal": 2,
    "unfamiliar": 2,
    "new_country": 3,
    "hosting": 1,
    "several": 2,
    "dormant": 2,
    "by_other": 2,
    "after_reset": 2,
    "bombing": 3,
    "risky_findings": 2,
    "privileged_after": 3,
    "access_new_place_after": 2,
    "removed_other_after": 3,
    "new_country_since_reset": 5,
    "place_new_today": 3,
    "removed_after_new_enrollment": 3,
    "risky_approval": 3,
    "hosting_new": 2,
    "owner_elsewhere_after": 3,
}
HELPDESK_WORDS = ("helpdesk", "servicedesk", "service-desk", "support")
RISKY_APPROVAL_S = 2 * 3600.0  # "right after" a risky approval: the attacker enrolls with the session won
_RISKY_DENIALS = 2  # refusals in the hour before an approval that make it a risky approval
_RISKY_PROMPTS = 5  # prompts in the hour before an approval that make it a risky approval
_MAX_IPS = 100_000  # vendor places remembered per IP; forgotten all at once past this


class Provenance(msgspec.Struct, kw_only=True):
    operation: str  # enrolled | removed
    identity: str
    provider: str
    time: str
    factor: str
    factor_id: str | None
    event_id: str
    registered_by: str  # self | admin:<login> | system
    place: str
    ip: str | None
    country: str | None
    device: str | None
    factors_now: int  # factors the identity has after this event, as far as the logs show
    before: list[str]  # what happened in the hours before
    after: list[str]  # what the identity did in the hours after
    signals: list[str]
    score: int


class _Open(msgspec.Struct, kw_only=True):
    record: Provenance
    ts: float
    country: str | None
    asn: int | None
    by_other: bool


def _who(event: Event, helpdesk: frozenset[str] = frozenset()) -> str:
    if not event.by_other:
        return "self"
    actor = event.actor
    name = (actor.login or actor.id) if actor is not None else None
    if not name:
        return "system"
    local = name.split("@", 1)[0].lower()
    if name.lower() in helpdesk or any(word in local for word in HELPDESK_WORDS):
        return f"helpdesk:{name}"
    return f"admin:{name}"


class EnrollmentReview:
    """Streaming: ``observe`` each event *before* the pipeline applies it; ``finish`` returns the ranking.
    An observer of a ``Flow`` pass (``before_event``), so the report reads the logs once. ``scorer``: the
    enrollment_abuse detector as the flow tunes it (``Flow.tuned_enrollment_abuse``, ``--config``)."""

    def __init__(self, scorer: EnrollmentAbuse, helpdesk: frozenset[str] = frozenset()) -> None:
        self.helpdesk = frozenset(h.lower() for h in helpdesk)
        self.scorer = scorer
        self.last = 0.0  # the latest event time seen (``since_days`` counts back from it)
        self.factors: dict[str, int] = {}
        self.open: dict[str, list[_Open]] = {}
        self.done: list[Provenance] = []
        # countries an identity had succeeded from when it was last reset: a sign-in with the temporary
        # credential teaches the profile the attacker's country before the attacker enrolls
        self.at_reset: dict[str, tuple[float, frozenset[str], frozenset[str], str]] = {}
        # the last approval that came after refusals or a burst of prompts, or from a new country
        self.risky_approval: dict[str, tuple[float, str]] = {}
        self.vendor_geo: dict[str, Geo] = {}
        # when each identity first succeeded from each country / network ("c:FR", "a:3215"): an attacker's
        # approval just before the enrollment makes the place known, but not old
        self.first_seen: dict[str, dict[str, float]] = {}
        self.identity_since: dict[str, float] = {}

    def before_event(self, event: Event, state: BeforeEvent) -> None:
        if event.identity:
            profile = state.profile(event.identity)
            profile.org = state.org_bits(event)  # as the engine shows its detectors
            self.observe(event, profile)
            profile.org = 0
        self.last = max(self.last, event.ts)

    def after_event(self, event: Event, findings: list[Finding]) -> None:
        pass

    def observe(self, event: Event, profile: IdentityProfile) -> None:
        identity = event.identity
        if not identity:
            return
        event = self._vendor_place(event)
        self._follow_up(event, profile)
        self.identity_since.setdefault(identity, event.ts)
        kind = event.kind
        if kind is EventKind.FACTORS_RESET:
            self.factors[identity] = 0
        resets = (EventKind.FACTORS_RESET, EventKind.PASSWORD_RESET, EventKind.BYPASS_ISSUED)
        previous = self.at_reset.get(identity)
        if kind in resets and (previous is None or event.ts - previous[0] > BEFORE_S):
            issuer = _who(event, self.helpdesk) if event.by_other else "the user"
            self.at_reset[identity] = (
                event.ts,
                frozenset(profile.countries),
                frozenset(profile.asns),
                issuer.split(":", 1)[-1] + (" (helpdesk)" if issuer.startswith("helpdesk:") else ""),
            )
        if kind is EventKind.PUSH_APPROVED:
            self._note_approval(event, profile)
        if kind in _ACCESS:
            self._learn_place(identity, event)
        if kind not in (EventKind.FACTOR_ENROLLED, EventKind.FACTOR_REMOVED):
            return
        count = self.factors.get(identity, 0) + (1 if kind is EventKind.FACTOR_ENROLLED else -1)
        self.factors[identity] = max(count, 0)
        signals = self.scorer.signals(event, profile) if kind is EventKind.FACTOR_ENROLLED else {}
        # the review ranks a country new to the person, not only one nobody here uses
        if (
            kind is EventKind.FACTOR_ENROLLED
            and not event.by_other
            and "new_country" not in signals
            and event.geo is not None
            and profile.active_days >= THIN_DAYS
            and assess(event, profile).abroad
        ):
            signals["new_country"] = f"from {event.geo.country}, a country this identity never succeeded from"
        if kind is EventKind.FACTOR_REMOVED:
            signals.update(self._removal_signals(event))
        before = self._before(event, profile)
        reset = self.at_reset.get(identity)
        geo = event.geo
        if (
            reset is not None
            and 0 <= event.ts - reset[0] <= BEFORE_S
            and reset[1]
            and geo is not None
            and geo.country
            and geo.country not in reset[1]
            and "new_country" not in signals
        ):
            signals["new_country_since_reset"] = f"from {geo.country}, new to this identity before its reset"
        if reset is not None and "after_reset" in signals:
            signals["after_reset"] += f" by {reset[3]}"
        if (
            is_hosting(geo)
            and geo is not None
            and geo.asn is not None
            and "hosting" not in signals
            and (
                (reset is not None and 0 <= event.ts - reset[0] <= BEFORE_S and str(geo.asn) not in reset[2])
                or self._first_use_within(identity, f"a:{geo.asn}", event.ts)
            )
        ):
            signals["hosting_new"] = f"hosting / VPN network AS{geo.asn} first used by this identity today"
        risky = self.risky_approval.get(identity)
        if risky is not None and 0 <= event.ts - risky[0] <= RISKY_APPROVAL_S:
            signals["risky_approval"] = f"{risky[1]}, {(event.ts - risky[0]) / 60:.0f} min before"
        recent = self._recent_place(identity, event)
        if recent and not {"new_country", "new_country_since_reset"} & set(signals):
            signals["place_new_today"] = recent
        for name, sentence in before.items():
            signals.setdefault(name, sentence)
        record = Provenance(
            operation="enrolled" if kind is EventKind.FACTOR_ENROLLED else "removed",
            identity=identity,
            provider=event.provider.value,
            time=event.time.isoformat().replace("+00:00", "Z"),
            factor=event.factor.value if event.factor else "unknown",
            factor_id=event.factor_id,
            event_id=event.event_id,
            registered_by=_who(event, self.helpdesk),
            place=place_text(geo, event.ip),
            ip=event.ip,
            country=geo.country if geo else None,
            device=event.device.id if event.device else None,
            factors_now=self.factors[identity],
            before=list(signals.values()),
            after=[],
            signals=list(signals),
            score=sum(_WEIGHTS.get(name, 1) for name in signals),
        )
        self.open.setdefault(identity, []).append(
            _Open(
                record=record,
                ts=event.ts,
                country=geo.country if geo else None,
                asn=geo.asn if geo else None,
                by_other=event.by_other,
            )
        )

    def _vendor_place(self, event: Event) -> Event:
        """Remember the vendor's place of each IP; give it to a record that has only a database guess."""
        ip, geo = event.ip, event.geo
        if not ip:
            return event
        # the vendor's own place, or the city the vendor named placed by the gazetteer (Duo)
        if geo is not None and geo.source in (GeoSource.VENDOR, GeoSource.GAZETTEER) and geo.country:
            if len(self.vendor_geo) >= _MAX_IPS:
                self.vendor_geo.clear()
            self.vendor_geo[ip] = geo
            return event
        known = self.vendor_geo.get(ip)
        return msgspec.structs.replace(event, geo=known) if known is not None else event

    def _note_approval(self, event: Event, profile: IdentityProfile) -> None:
        now = event.ts
        denials = sum(1 for t in profile.denials if 0 <= now - t <= 3600.0)
        prompts = sum(1 for t in profile.prompts if 0 <= now - t <= 3600.0)
        geo = event.geo
        why = ""
        if denials >= _RISKY_DENIALS:
            why = f"a push approved after {denials} refused in the hour"
        elif prompts >= _RISKY_PROMPTS:
            why = f"a push approved after {prompts} prompts in the hour"
        elif (
            geo is not None
            and geo.country
            and profile.active_days >= THIN_DAYS
            and not profile.knows_country(geo.country)
        ):
            why = f"a push approved from {geo.country}, new to this identity"
        if why:
            self.risky_approval[event.identity] = (now, why)

    def _first_use_within(self, identity: str, key: str, now: float) -> bool:
        first = self.first_seen.get(identity, {}).get(key)
        return first is not None and 0 <= now - first <= BEFORE_S

    def _learn_place(self, identity: str, event: Event) -> None:
        geo = event.geo
        if geo is None:
            return
        seen = self.first_seen.setdefault(identity, {})
        for key in (
            f"c:{geo.country}" if geo.country else None,
            f"a:{geo.asn}" if geo.asn is not None else None,
        ):
            if key is not None and key not in seen and len(seen) < 64:
                seen[key] = event.ts

    def _recent_place(self, identity: str, event: Event) -> str:
        """Why this event's place is new within the day (first success from it in the last BEFORE_S, for
        an identity seen for longer than that), or ""."""
        geo = event.geo
        if geo is None or event.ts - self.identity_since.get(identity, event.ts) <= BEFORE_S:
            return ""
        seen = self.first_seen.get(identity, {})
        for key, label in ((f"c:{geo.country}", geo.country), (f"a:{geo.asn}", f"AS{geo.asn}")):
            first = seen.get(key)
            if first is not None and 0 <= event.ts - first <= BEFORE_S:
                return f"{label} first used by this identity {(event.ts - first) / 60:.0f} min before"
        return ""

    def _before(self, event: Event, profile: IdentityProfile) -> dict[str, str]:
        now = event.ts
        found: dict[str, str] = {}
        recent_prompts = [t for t in profile.prompts if 0 <= now - t <= 3600.0]
        if len(recent_prompts) >= 5:
            found["bombing"] = f"{len(recent_prompts)} push prompts in the hour before"
        risky = [
            d for d, (rank, at) in profile.open_findings.items() if rank >= 2 and 0 <= now - at <= BEFORE_S
        ]
        if risky:
            found["risky_findings"] = "open findings: " + ", ".join(sorted(risky))
        return found

    def _removal_signals(self, event: Event) -> dict[str, str]:
        found: dict[str, str] = {}
        for pending in self.open.get(event.identity, []):
            record = pending.record
            if (
                record.operation == "enrolled"
                and not pending.by_other
                and event.ts - pending.ts <= AFTER_S
                and record.factor_id != event.factor_id
                and "new_country" in record.signals
            ):
                found["removed_after_new_enrollment"] = (
                    f"removed {(event.ts - pending.ts) / 60:.0f} min after a factor was enrolled from "
                    f"{pending.country or 'a new place'}"
                )
        if event.by_other:
            found["by_other"] = f"removed by {_who(event).removeprefix('admin:')}"
        return found

    def _follow_up(self, event: Event, profile: IdentityProfile) -> None:
        pending = self.open.get(event.identity)
        if not pending:
            return
        still = []
        for item in pending:
            if event.ts - item.ts > AFTER_S:
                self.done.append(item.record)
                continue
            still.append(item)
            record = item.record
            if record.operation != "enrolled" or event.event_id == record.event_id:
                continue
            minutes = (event.ts - item.ts) / 60.0
            if event.kind is EventKind.PRIVILEGED_ACTION and "privileged_after" not in record.signals:
                self._add(
                    record,
                    "privileged_after",
                    f"{event.detail or 'a privileged action'} {minutes:.0f} min after",
                )
            elif event.kind in _ACCESS and "access_new_place_after" not in record.signals:
                geo = event.geo
                new_place = geo is not None and (
                    (is_hosting(geo) and not profile.knows_asn(geo.asn))
                    or (geo.country is not None and not profile.knows_country(geo.country))
                )
                if new_place:
                    self._add(
                        record,
                        "access_new_place_after",
                        f"access from {place_text(geo, event.ip)} {minutes:.0f} min after",
                    )
                elif (
                    geo is not None
                    and geo.asn is not None
                    and item.asn is not None
                    and geo.asn != item.asn
                    and geo.country != item.country
                    and profile.knows_asn(geo.asn)
                    and "owner_elsewhere_after" not in record.signals
                    and {"new_country", "new_country_since_reset", "place_new_today", "hosting_new"}
                    & set(record.signals)
                ):
                    self._add(
                        record,
                        "owner_elsewhere_after",
                        f"the identity signed in from its usual {place_text(geo, event.ip)} "
                        f"{minutes:.0f} min after, while the factor was registered from "
                        f"{item.country or 'elsewhere'}",
                    )
                elif len(record.after) < 5:
                    record.after.append(f"{event.kind.value.replace('_', ' ')} {minutes:.0f} min after")
            elif event.kind is EventKind.FACTOR_REMOVED and event.factor_id != record.factor_id:
                self._add(record, "removed_other_after", f"another factor removed {minutes:.0f} min after")
        self.open[event.identity] = still

    @staticmethod
    def _add(record: Provenance, signal: str, sentence: str) -> None:
        record.signals.append(signal)
        record.after.append(sentence)
        record.score += _WEIGHTS.get(signal, 1)

    def ranked(self, since_days: float | None = None) -> list[Provenance]:
        """``finish``, only the last ``since_days`` (counted back from the latest event) when given."""
        ranked = self.finish()
        if since_days is not None:
            cutoff = datetime.fromtimestamp(self.last - since_days * 86400.0, UTC)
            text = cutoff.isoformat().replace("+00:00", "Z")
            ranked = [r for r in ranked if r.time >= text]
        return ranked

    def finish(self) -> list[Provenance]:
        for pending in self.open.values():
            self.done.extend(item.record for item in pending)
        self.open.clear()
        return sorted(self.done, key=lambda r: (-r.score, r.time, r.event_id))


def review_enrollments(
    inputs: Sequence[str | Path],
    *,
    since_days: float | None = None,
    helpdesk: frozenset[str] = frozenset(),
    flow: Flow | None = None,
) -> list[Provenance]:
    """Every enrollment and removal in the logs, ranked by risk (highest first)."""
    flow = flow or Flow()
    review = EnrollmentReview(flow.tuned_enrollment_abuse(), helpdesk)
    flow.run(inputs, observers=[review])
    return review.ranked(since_days)
