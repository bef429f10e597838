"""User-agent enrichment: ``device.os`` and ``device.browser`` parsed from ``device.user_agent`` (and the
responder device's) with ua-parser and its bundled rules, only where the vendor left them empty. Parses
are cached per user-agent string in a bounded LRU."""

from __future__ import annotations

import functools

import msgspec
import ua_parser

from pushguard.model import Device, Event

DEFAULT_CACHE_SIZE = 16_384  # distinct user-agent strings kept parsed
_UNKNOWN = "Other"  # ua-parser's family when no rule matched
_MAX_UA_LENGTH = 2048  # longer strings are cut before parsing (regex cost grows with the input)


def _version(*parts: str | None) -> str:
    return ".".join(p for p in parts if p)


class UserAgentEnricher:
    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.parse = functools.lru_cache(maxsize=cache_size)(self._parse)

    @staticmethod
    def _parse(user_agent: str) -> tuple[str | None, str | None]:
        """(os, browser) as "Family major.minor", each None when unknown."""
        text = user_agent[:_MAX_UA_LENGTH]
        os_found = ua_parser.parse_os(text)
        agent = ua_parser.parse_user_agent(text)
        os_name = None
        if os_found is not None and os_found.family != _UNKNOWN:
            os_name = f"{os_found.family} {_version(os_found.major, os_found.minor)}".strip()
        browser = None
        if agent is not None and agent.family != _UNKNOWN:
            browser = f"{agent.family} {_version(agent.major, agent.minor)}".strip()
        return os_name, browser

    def device(self, device: Device | None) -> Device | None:
        """The device with os/browser filled from its user agent (the same object when nothing is added)."""
        if device is None or not device.user_agent or (device.os and device.browser):
            return device
        os_name, browser = self.parse(device.user_agent)
        changes: dict[str, str] = {}
        if not device.os and os_name:
            changes["os"] = os_name
        if not device.browser and browser:
            changes["browser"] = browser
        return msgspec.structs.replace(device, **changes) if changes else device

    def __call__(self, event: Event) -> Event:
        device = self.device(event.device)
        responder = self.device(event.responder_device)
        if device is event.device and responder is event.responder_device:
            return event
        return msgspec.structs.replace(event, device=device, responder_device=responder)
