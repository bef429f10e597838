"""Country names → ISO 3166-1 alpha-2, so one person's history joins across vendors.

Okta and Duo write names ("United States"), Entra and the bundled database write codes ("US"); the
detectors compare countries, so every Geo leaves enrichment with a code when one is known."""

from __future__ import annotations

from functools import lru_cache

import msgspec
import pycountry

from pushguard.model import Event, Geo

# Names vendors write that pycountry's fuzzy-free lookup does not know.
_EXTRA = {
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "iran": "IR",
    "vietnam": "VN",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "syria": "SY",
    "laos": "LA",
    "moldova": "MD",
    "czech republic": "CZ",
    "turkey": "TR",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "hong kong sar": "HK",
    "ivory coast": "CI",
}


@lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """The alpha-2 code of a country name or code, or None when it is not a country."""
    text = name.strip()
    if not text:
        return None
    extra = _EXTRA.get(text.lower())  # before the two-letter codes: "UK" is not ISO's, GB is
    if extra is not None:
        return extra
    if len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
        return found.alpha_2 if found is not None else None
    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return str(found.alpha_2)


def _normal(geo: Geo | None) -> Geo | None:
    if geo is None or geo.country is None:
        return geo
    code = country_code(geo.country)
    if code is None or code == geo.country:
        return geo
    return msgspec.structs.replace(geo, country=code)


class CountryEnricher:
    def __call__(self, event: Event) -> Event:
        geo = _normal(event.geo)
        responder = _normal(event.responder_geo)
        if geo is event.geo and responder is event.responder_geo:
            return event
        return msgspec.structs.replace(event, geo=geo, responder_geo=responder)
