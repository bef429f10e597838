"""The detector contract: metadata plus a pure step over explicit state.

A detector never reads the clock, never does I/O, never sees the store: the pipeline hands it its own
state, the event and the identity's shared profile (read-only), and takes back Detections, which it turns
into Findings (adding the incident, frameworks and provider)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from pushguard.model import Event, EventKind, Finding, FindingStatus, IdentityProfile, Severity, stable_id
from pushguard.model.event import SUCCESS_KINDS as SUCCESS_KINDS  # the detectors import it from here


class Tunable(msgspec.Struct, frozen=True):
    """A detector's setting: its default, what it means, its unit and the values it accepts.

    Unit and range left out follow the name: ``*_s`` seconds, ``*_km`` kilometres, ``*_kmh`` km/h,
    ``*_ratio`` a share in [0, 1]; any number is at least 0 (a negative window or count means nothing)."""

    default: float | int | str | bool
    description: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None

    def limits(self, name: str) -> tuple[str, float | None, float | None]:
        """(unit, lowest, highest) accepted: the declared ones, else the naming convention's."""
        if isinstance(self.default, bool | str):
            return self.unit or "", self.min, self.max
        unit = self.unit
        if unit is None:
            unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), "")
        low = self.min if self.min is not None else 0
        high = self.max if self.max is not None else (1 if name.endswith("_ratio") else None)
        return unit, low, high

    def range_text(self, name: str) -> str:
        """The accepted values as a reader sees them: ``>= 1 prompts``, ``0 to 1``."""
        unit, low, high = self.limits(name)
        shown = f" {unit}" if unit else ""
        if low is not None and high is not None:
            return f"{_num(low)} to {_num(high)}{shown}"
        if low is not None:
            return f">= {_num(low)}{shown}"
        if high is not None:
            return f"<= {_num(high)}{shown}"
        return "any" + shown


_UNITS = (("_kmh", "km/h"), ("_km", "km"), ("_s", "s"), ("_ratio", "ratio"))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class DetectorMeta(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    description: str
    severity: Severity  # the usual severity when it fires; escalation rules are in the description
    techniques: tuple[str, ...]
    frameworks: Mapping[str, tuple[str, ...]]
    tunables: Mapping[str, Tunable]
    actions: tuple[str, ...]  # what a responder should do
    # How to confirm or dismiss a finding quickly, and the benign situations known to raise it: both are
    # shown next to the detector's findings in the report.
    triage: str = ""
    false_positives: tuple[str, ...] = ()
    keys: tuple[str, ...] = ("user",)  # what the state is partitioned by
    # The event kinds ``observe`` acts on (None: every kind). The engine hands a detector no other kind,
    # so most events cost most detectors nothing; tests check that the others change nothing.
    watches: tuple[EventKind, ...] | None = None


class Detection(msgspec.Struct, frozen=True, kw_only=True):
    """What a detector reports: one episode's current view. The pipeline makes it a Finding."""

    detector: str
    identity: str
    anchor: str  # event id that opened the episode: with detector + identity, the finding's id
    revision: int
    title: str
    severity: Severity
    confidence: float
    first_seen: datetime
    last_seen: datetime
    detected_at: datetime
    evidence: tuple[str, ...]
    source_ips: tuple[str, ...]
    reasons: tuple[str, ...]
    providers: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()  # added to the detector's own (e.g. T1078 once approved)
    status: FindingStatus = FindingStatus.OPEN
    targets: tuple[str, ...] = ()  # the accounts a finding about a source (a spray) targeted


# What counts as the identity getting in: the profile learns places from these, detectors judge them.

S = TypeVar("S")


def kinds(*groups: Iterable[EventKind]) -> tuple[EventKind, ...]:
    """A detector's watched kinds, deduplicated and in a stable order (the metadata is printed)."""
    return tuple(sorted({kind for group in groups for kind in group}))


class Detector(Protocol, Generic[S]):
    """``meta.keys == ("user",)``: state per identity, ``observe`` sees that identity's events only.

    Any other key (a source IP, an ASN): a second-stage detector whose state is per ``partition(event)``
    (None: the event is not for it); it sees events of every identity, and its Detections name their own
    ``identity`` (e.g. ``ip:203.0.113.5``)."""

    meta: ClassVar[DetectorMeta]
    state_type: ClassVar[type[Any]]

    def initial_state(self) -> S: ...

    def observe(self, state: S, event: Event, profile: IdentityProfile) -> tuple[S, list[Detection]]: ...

    def advance(self, state: S, watermark: float) -> tuple[S, list[Detection]]: ...


class KeyedDetector(Detector[S], Protocol):
    def partition(self, event: Event) -> str | None:
        """The key of the state this event belongs to (None: not for this detector)."""
        ...

    def observe_at(
        self, state: S, key: str, event: Event, profile: IdentityProfile
    ) -> tuple[S, list[Detection]]:
        """``observe`` for an event whose ``partition`` the caller has computed already (``key``)."""
        ...

    def profile_view(self, profile: IdentityProfile, event: Event) -> IdentityProfile:
        """The part of ``profile`` that ``observe`` reads for ``event`` (the rest left empty): what a
        parallel run hands to the second stage instead of the whole profile."""
        ...


def settings(meta: DetectorMeta, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tunables' defaults with overrides applied; an unknown name, a wrong type or a value out of
    the tunable's range is refused, naming the key (``detectors.<id>.<tunable>``) and what is allowed."""
    values: dict[str, Any] = {name: tunable.default for name, tunable in meta.tunables.items()}
    for name, value in (overrides or {}).items():
        key = f"detectors.{meta.id}.{name}"
        if name not in meta.tunables:
            known = ", ".join(sorted(meta.tunables))
            raise ValueError(f"{key}: unknown tunable {name!r} (known: {known})")
        tunable = meta.tunables[name]
        default = tunable.default
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, type(default) | int):
            raise ValueError(f"{key}: tunable {name} must be {type(default).__name__}, not {value!r}")
        _, low, high = tunable.limits(name)
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is not None and (
            (low is not None and number < low) or (high is not None and number > high)
        ):
            raise ValueError(f"{key}: {value!r} is out of range (allowed: {tunable.range_text(name)})")
        values[name] = value
    return values


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def finding_id(detector: str, identity: str, anchor: str) -> str:
    return stable_id(detector, identity, anchor)


def to_finding(meta: DetectorMeta, detection: Detection, incident: str, provider: str) -> Finding:
    techniques = list(dict.fromkeys((*meta.techniques, *detection.techniques)))
    return Finding(
        id=finding_id(detection.detector, detection.identity, detection.anchor),
        revision=detection.revision,
        status=detection.status,
        incident=incident,
        detector=detection.detector,
        title=detection.title,
        severity=detection.severity,
        confidence=round(detection.confidence, 3),
        user=detection.identity,
        provider=provider,
        first_seen=rfc3339(detection.first_seen),
        last_seen=rfc3339(detection.last_seen),
        detected_at=rfc3339(detection.detected_at),
        first_detected_at=rfc3339(detection.detected_at),
        techniques=techniques,
        frameworks={name: list(refs) for name, refs in meta.frameworks.items() if refs},
        evidence=list(detection.evidence),
        source_ips=list(detection.source_ips),
        reasons=list(detection.reasons),
        actions=list(meta.actions),
        targets=list(detection.targets) if detection.targets else msgspec.UNSET,
    )


def from_ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def prune_before(items: list[Any], cutoff: float) -> int:
    """Drop the leading items older than ``cutoff``: timestamps, or records with a ``ts`` (lists are kept
    in time order). Returns how many were dropped. The one prune loop every detector uses."""
    drop = 0
    for value in items:
        if (value if isinstance(value, int | float) else value.ts) >= cutoff:
            break
        drop += 1
    if drop:
        del items[:drop]
    return drop


def append_bounded(items: list[Any], value: Any, limit: int) -> None:
    items.append(value)
    if len(items) > limit:
        del items[: len(items) - limit]
