"""The familiarity of a request's context, judged exactly as the detectors judge an event's.

``detect.familiarity.assess`` reads an Event and the identity's profile (with the organisation's ORG_*
bits for that event). A decision request carries the same facts a sign-in record does (address, place,
device, browser), so the decision point builds the event the request stands for and asks the same
question: a policy then steps up on what the detectors would call unfamiliar, not on a rule of its own
that drifts from theirs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import msgspec

from pushguard.detect.familiarity import Familiarity, assess
from pushguard.detect.org import OrgKnowledge
from pushguard.enrich.useragent import UserAgentEnricher
from pushguard.model import (
    DecisionRequest,
    Device,
    Event,
    EventKind,
    IdentityProfile,
    Operation,
    Provider,
)

_KIND = {Operation.PUSH: EventKind.PUSH_SENT, Operation.ENROLL: EventKind.FACTOR_ENROLLED}


@functools.lru_cache(maxsize=1)
def _user_agents() -> UserAgentEnricher:
    return UserAgentEnricher(cache_size=4096)


def request_event(request: DecisionRequest) -> Event:
    """The event the request stands for: its requesting side as a sign-in record would carry it. The
    operating system and browser are the request's own when given (the IdP names them as its logs do),
    else parsed from the user agent, as ingestion fills them."""
    device: Device | None = None
    if (
        request.device_id
        or request.user_agent
        or request.device_os
        or request.device_browser
        or request.device_managed is not None
    ):
        device = Device(
            id=request.device_id,
            managed=request.device_managed,
            compliant=request.device_compliant,
            os=request.device_os,
            browser=request.device_browser,
            user_agent=request.user_agent,
        )
        device = _user_agents().device(device)
    return Event(
        provider=request.provider or Provider.PUSHGUARD,
        event_id="",
        time=request.time,
        kind=_KIND[request.operation],
        identity=request.identity,
        user_kind=request.user_kind,
        ip=request.ip,
        geo=request.geo,
        device=device,
        app=request.app,
        factor=request.factor,
    )


def located(request: DecisionRequest, enrichers: Sequence[Callable[[Event], Event]]) -> DecisionRequest:
    """The request with its address placed by the enrichers ingestion uses (geo/ASN and hosting from the
    user's MaxMind files or the bundled database, country codes, the gazetteer), so that the new-country
    and hosting rules see what the detectors see. A ``geo`` the caller sent is completed, as a vendor's
    is (its ASN added when missing), never replaced. The same request when there is nothing to add."""
    if request.ip is None and request.geo is None:
        return request
    event = msgspec.structs.replace(request_event(request), device=None)  # only the place is wanted
    for enrich in enrichers:
        event = enrich(event)
    if event.geo == request.geo:
        return request
    return msgspec.structs.replace(request, geo=event.geo)


def org_bits(request: DecisionRequest, org: OrgKnowledge | None) -> int:
    """What the organisation knows of the request's network (ORG_* bits); 0 with no table or address."""
    if org is None or not request.ip:
        return 0
    return org.bits(request_event(request))


def familiarity(request: DecisionRequest, profile: IdentityProfile, org: int | None) -> Familiarity:
    """The detectors' judgement of the request's context, with ``org`` bits for its network (None: the
    profile's own, as the engine sets them for an event). The profile is read only: a copy carries the
    bits when they differ from its own."""
    if org is not None and profile.org != org:
        profile = msgspec.structs.replace(profile, org=org)
    return assess(request_event(request), profile)
