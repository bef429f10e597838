"""Prometheus metrics, one registry per app (two apps in one process, as in the tests, never collide).

Label values are bounded: routes are the route templates (``/v1/identities/{identity}``, not the path),
and rejection reasons are classes (``malformed``, ``unrecognised``, ``unmapped_okta`` …), never the
vendor's own event type, which a sender controls."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pushguard.model import Finding, Provider

_PROVIDERS = frozenset(p.value for p in Provider)
# seconds from the IdP event to its control in place: hook delivery (~10 s), polling (~2 min), Entra (~5 min)
CONTROL_BUCKETS = (1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1800.0, 3600.0)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def reason_label(reason: str) -> str:
    """A rejection reason as a metric label: 'malformed', 'unrecognised' or 'unmapped_<provider>'."""
    if reason == "malformed":
        return reason
    vendor = reason.split(":", 1)[0]
    return f"unmapped_{vendor}" if vendor in _PROVIDERS else "unrecognised"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "pushguard_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "pushguard_http_request_seconds",
            "HTTP request latency, from the first byte read to the answer",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter("pushguard_decisions", "decisions by action", ["action"], registry=r)
        self.fallbacks = Counter(
            "pushguard_decision_fallbacks", "decisions where the policy's fallback applied", registry=r
        )
        self.findings = Counter(
            "pushguard_findings", "findings (and escalated revisions) by detector", ["detector"], registry=r
        )
        self.records = Counter("pushguard_records", "raw records received", ["source"], registry=r)
        self.rejected = Counter(
            "pushguard_records_rejected", "records not turned into events, by reason", ["reason"], registry=r
        )
        self.hook_deliveries = Counter(
            "pushguard_hook_deliveries", "Okta event-hook deliveries by outcome", ["outcome"], registry=r
        )
        self.hook_queue = Gauge(
            "pushguard_hook_queue", "Okta event-hook deliveries accepted, not yet processed", registry=r
        )

        self.time_to_control = Histogram(
            "pushguard_time_to_control_seconds",
            "Closed loop: from the IdP event that raised a finding to its control in place at the vendor",
            ["vendor"],
            buckets=CONTROL_BUCKETS,
            registry=r,
        )
        self.received_to_control = Histogram(
            "pushguard_received_to_control_seconds",
            "Closed loop: from receiving that event to its control in place",
            ["vendor"],
            buckets=CONTROL_BUCKETS,
            registry=r,
        )
        self.intents = Counter(
            "pushguard_enforcement_intents", "closed-loop intents closed, by outcome", ["outcome"], registry=r
        )

    def controlled(
        self, vendor: str, outcome: str, since_event: float | None, since_received: float | None
    ) -> None:
        """One closed-loop intent closed (performed, planned in a dry run, skipped, failed)."""
        self.intents.labels(outcome).inc()
        if since_event is not None:
            self.time_to_control.labels(vendor).observe(max(since_event, 0.0))
        if since_received is not None:
            self.received_to_control.labels(vendor).observe(max(since_received, 0.0))

    def ingested(self, source: str, records: int, rejected: dict[str, int], findings: list[Finding]) -> None:
        self.records.labels(source).inc(records)
        for reason, count in rejected.items():
            self.rejected.labels(reason_label(reason)).inc(count)
        self.found(findings)

    def found(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.findings.labels(finding.detector).inc()
