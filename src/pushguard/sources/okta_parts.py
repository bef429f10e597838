"""The parts of an Okta LogEvent (``okta_log_event``) read into the model's: principals, place, device,
app and the debugData maps."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from pushguard.model import Device, Geo, Principal, PrincipalType
from pushguard.sources.base import (
    NOT_JSON,
    asn_or_none,
    bool_or_none,
    float_or_none,
    lower_or_none,
    text_or_none,
    vendor_geo,
)
from pushguard.sources.okta_log_event import (
    NO_DEBUG,
    NO_DEVICE,
    NO_PLACE,
    NO_POINT,
    NO_SECURITY,
    NO_USER_AGENT,
    OktaClient,
    OktaDebugData,
    OktaDevice,
    OktaGeographicalContext,
    OktaLogEvent,
    OktaPrincipal,
    OktaSecurityContext,
)

_BEHAVIOR_NAMES = {
    "new geo-location": "new_geo_location",
    "new device": "new_device",
    "new ip": "new_ip",
    "new state": "new_state",
    "new country": "new_country",
    "new city": "new_city",
    "velocity": "velocity",
}
_MAP_SEPARATORS = re.compile(r"[{},]")
_json = msgspec.json.Decoder()


def debug_data(record: OktaLogEvent) -> OktaDebugData:
    context = record.debug_context
    return (context.debug_data if context is not None else None) or NO_DEBUG


def principal(data: OktaPrincipal | None) -> Principal | None:
    if data is None:
        return None
    ptype = _PRINCIPAL_TYPES.get(str(data.type or "").lower(), PrincipalType.UNKNOWN)
    login = lower_or_none(data.alternate_id)
    if ptype is PrincipalType.ADDRESS:
        login = None
    return Principal(
        id=text_or_none(data.id),
        login=login,
        display_name=text_or_none(data.display_name),
        type=ptype,
    )


_PRINCIPAL_TYPES = {
    "user": PrincipalType.USER,
    "systemprincipal": PrincipalType.SYSTEM,
    "publicclientapp": PrincipalType.SERVICE,
    "client": PrincipalType.SERVICE,
    "appinstance": PrincipalType.SERVICE,
    "ip address": PrincipalType.ADDRESS,
}


def geo(context: OktaGeographicalContext | None, security: OktaSecurityContext | None) -> Geo | None:
    place = context or NO_PLACE
    sec = security or NO_SECURITY
    point = place.geolocation or NO_POINT
    lat = float_or_none(point.lat)
    lon = float_or_none(point.lon)
    city = text_or_none(place.city)
    country = text_or_none(place.country)
    return vendor_geo(
        lat=lat,
        lon=lon,
        country=country,
        region=text_or_none(place.state),
        city=city,
        asn=asn_or_none(sec.as_number),
        as_org=text_or_none(sec.as_org) or text_or_none(sec.isp),
        is_proxy=bool_or_none(sec.is_proxy),
    )


def device(client: OktaClient, context: OktaDevice | None, debug: OktaDebugData) -> Device | None:
    agent = client.user_agent or NO_USER_AGENT
    dev = context or NO_DEVICE
    device_id = text_or_none(dev.id) or text_or_none(debug.device_fingerprint)
    os_name = text_or_none(agent.os)
    platform = text_or_none(dev.os_platform)
    if platform:
        version = text_or_none(dev.os_version)
        os_name = f"{platform} {version}" if version else platform
    result = Device(
        id=device_id,
        name=text_or_none(dev.name),
        managed=bool_or_none(dev.managed),
        registered=bool_or_none(dev.registered),
        os=os_name,
        browser=text_or_none(agent.browser),
        user_agent=text_or_none(agent.raw_user_agent),
        kind=text_or_none(client.device),
    )
    return None if result == _NO_DEVICE_KNOWN else result


_NO_DEVICE_KNOWN = Device()


def app(targets: Sequence[OktaPrincipal]) -> str | None:
    for target in targets:
        if target.type == "AppInstance":
            return text_or_none(target.display_name) or text_or_none(target.alternate_id)
    return None


def enrollment_id(targets: Sequence[OktaPrincipal]) -> str | None:
    for target in targets:
        if target.type == "AuthenticatorEnrollment":
            return text_or_none(target.id)
    return None


def _kv_or_json(value: Any) -> dict[str, Any]:
    """debugData packs maps as ``{k=v, k2=v2}`` (Java toString) or as JSON strings. The result is
    shared between records with the same text: callers only read it."""
    if isinstance(value, dict):
        return value
    text = text_or_none(value)
    if not text:
        return {}
    return _cached_text_map(text) if len(text) <= 1024 else _text_map(text)


def _text_map(text: str) -> dict[str, Any]:
    if text.startswith('{"'):
        try:
            decoded = _json.decode(text)
        except NOT_JSON:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return _java_map(text)


def _java_map(text: str) -> dict[str, str]:
    """``{k=v, k2=v2}`` → {k: v, k2: v2}, in time linear in the text (a backtracking ``k=v`` pattern is
    quadratic on a long run without ``=``: 40,000 characters cost seconds). Within each piece between
    braces and commas, ``a=b=c=d`` gives a=b and c=d and an empty name is skipped, as a left-to-right
    scan for ``name=value`` would."""
    pairs: dict[str, str] = {}
    for piece in _MAP_SEPARATORS.split(text):
        if "=" not in piece:
            continue
        parts = piece.split("=")
        index = 0
        while index < len(parts) - 1:
            if parts[index]:
                pairs[parts[index].strip()] = parts[index + 1].strip()
                index += 2
            else:
                index += 1
    return pairs


# A tenant's behaviour and risk strings repeat endlessly; long (odd) ones are not kept.
_cached_text_map = functools.lru_cache(maxsize=4096)(_text_map)


def behaviors(debug: OktaDebugData) -> tuple[str, ...]:
    if debug.behaviors is None and debug.log_only_security_data is None:
        return ()  # the common case, without the calls
    behaviors = _kv_or_json(debug.behaviors)
    if not behaviors:
        behaviors = _kv_or_json(_kv_or_json(debug.log_only_security_data).get("behaviors"))
    positive = []
    for name, verdict in behaviors.items():
        if str(verdict).upper() == "POSITIVE":
            positive.append(_BEHAVIOR_NAMES.get(name.lower(), name.lower().replace(" ", "_")))
    return tuple(sorted(positive))


def risk_level(debug: OktaDebugData) -> str | None:
    if debug.risk is None and debug.log_only_security_data is None:
        return None  # the common case, without the calls
    risk = _kv_or_json(debug.risk)
    if not risk:
        risk = _kv_or_json(_kv_or_json(debug.log_only_security_data).get("risk"))
    level = text_or_none(risk.get("level"))
    return level.lower() if level else None
