"""Geography of the simulation: places with coordinates and UTC offsets, and the networks (ASN,
organisation, address prefix from that operator's real space) homes, offices, the corporate VPN,
hotels and attackers connect from. The simulated period starts early in January and lasts at most a few
weeks, before daylight saving time starts or ends anywhere here, so each place has one fixed offset."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Place:
    key: str
    city: str
    state: str
    country: str  # full name (Okta, Duo)
    cc: str  # ISO 3166 alpha-2 (Entra countryOrRegion)
    lat: float
    lon: float
    utc_offset_h: float
    postal: str | None = None


@dataclass(frozen=True, slots=True)
class Network:
    asn: int
    org: str
    prefix: str  # first two octets
    kind: str  # isp | mobile | office | vpn | gateway | hosting | hotel | proxy


@dataclass(frozen=True, slots=True)
class Net:
    """One endpoint as a vendor sees it: address, network and where it geolocates."""

    ip: str
    place: Place
    network: Network

    @property
    def proxy(self) -> bool:
        return self.network.kind in ("proxy", "vpn", "gateway")


def address(rng: random.Random, network: Network) -> str:
    """An address in the network's space."""
    return f"{network.prefix}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def distance_km(a: Place, b: Place) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _p(key: str, city: str, state: str, country: str, cc: str, lat: float, lon: float, tz: float) -> Place:
    return Place(key, city, state, country, cc, lat, lon, tz)


PLACES: dict[str, Place] = {
    p.key: p
    for p in (
        _p("paris", "Paris", "Ile-de-France", "France", "FR", 48.8566, 2.3522, 1),
        _p("lyon", "Lyon", "Auvergne-Rhone-Alpes", "France", "FR", 45.764, 4.8357, 1),
        _p("london", "London", "England", "United Kingdom", "GB", 51.5072, -0.1276, 0),
        _p("berlin", "Berlin", "Berlin", "Germany", "DE", 52.52, 13.405, 1),
        _p("madrid", "Madrid", "Madrid", "Spain", "ES", 40.4168, -3.7038, 1),
        _p("newyork", "New York", "New York", "United States", "US", 40.7128, -74.006, -5),
        _p("chicago", "Chicago", "Illinois", "United States", "US", 41.8781, -87.6298, -6),
        _p("austin", "Austin", "Texas", "United States", "US", 30.2672, -97.7431, -6),
        _p("sanfrancisco", "San Francisco", "California", "United States", "US", 37.7749, -122.4194, -8),
        _p("toronto", "Toronto", "Ontario", "Canada", "CA", 43.6532, -79.3832, -5),
        _p("bangalore", "Bengaluru", "Karnataka", "India", "IN", 12.9716, 77.5946, 5.5),
        _p("singapore", "Singapore", "Singapore", "Singapore", "SG", 1.3521, 103.8198, 8),
        # elsewhere: travel, VPN nodes, attackers
        _p("frankfurt", "Frankfurt am Main", "Hesse", "Germany", "DE", 50.1109, 8.6821, 1),
        _p("amsterdam", "Amsterdam", "North Holland", "Netherlands", "NL", 52.3676, 4.9041, 1),
        _p("ashburn", "Ashburn", "Virginia", "United States", "US", 39.0438, -77.4874, -5),
        _p("dublin", "Dublin", "Leinster", "Ireland", "IE", 53.3498, -6.2603, 0),
        _p("tokyo", "Tokyo", "Tokyo", "Japan", "JP", 35.6762, 139.6503, 9),
        _p("dubai", "Dubai", "Dubai", "United Arab Emirates", "AE", 25.2048, 55.2708, 4),
        _p("saopaulo", "Sao Paulo", "Sao Paulo", "Brazil", "BR", -23.5558, -46.6396, -3),
        _p("mexicocity", "Mexico City", "Mexico City", "Mexico", "MX", 19.4326, -99.1332, -6),
        _p("lisbon", "Lisbon", "Lisbon", "Portugal", "PT", 38.7223, -9.1393, 0),
        _p("rome", "Rome", "Lazio", "Italy", "IT", 41.9028, 12.4964, 1),
        _p("sydney", "Sydney", "New South Wales", "Australia", "AU", -33.8688, 151.2093, 11),
        _p("lagos", "Lagos", "Lagos", "Nigeria", "NG", 6.5244, 3.3792, 1),
        _p("bucharest", "Bucharest", "Bucuresti", "Romania", "RO", 44.4268, 26.1025, 2),
        _p("moscow", "Moscow", "Moscow", "Russia", "RU", 55.7558, 37.6173, 3),
        _p("hongkong", "Hong Kong", "Hong Kong", "Hong Kong", "HK", 22.3193, 114.1694, 8),
        _p("roubaix", "Roubaix", "Hauts-de-France", "France", "FR", 50.6942, 3.1746, 1),
        _p("dallas", "Dallas", "Texas", "United States", "US", 32.7767, -96.797, -6),
        _p("montreal", "Montreal", "Quebec", "Canada", "CA", 45.5019, -73.5674, -5),
        _p("mumbai", "Mumbai", "Maharashtra", "India", "IN", 19.076, 72.8777, 5.5),
        _p("nuremberg", "Nuremberg", "Bavaria", "Germany", "DE", 49.4521, 11.0767, 1),
        _p("zurich", "Zurich", "Zurich", "Switzerland", "CH", 47.3769, 8.5417, 1),
    )
}

# Home ISP and mobile carrier per home place.
HOME_NETWORKS: dict[str, tuple[Network, Network]] = {
    "paris": (
        Network(3215, "Orange S.A.", "90.84", "isp"),
        Network(5410, "Bouygues Telecom", "176.187", "mobile"),
    ),
    "lyon": (
        Network(12322, "Free SAS", "88.160", "isp"),
        Network(51207, "Free Mobile SAS", "37.166", "mobile"),
    ),
    "london": (
        Network(2856, "British Telecommunications PLC", "86.150", "isp"),
        Network(12576, "EE Limited", "31.94", "mobile"),
    ),
    "berlin": (
        Network(3320, "Deutsche Telekom AG", "79.200", "isp"),
        Network(3209, "Vodafone GmbH", "178.24", "mobile"),
    ),
    "madrid": (
        Network(3352, "Telefonica de Espana", "83.32", "isp"),
        Network(12430, "Vodafone Spain", "46.6", "mobile"),
    ),
    "newyork": (
        Network(7922, "Comcast Cable Communications, LLC", "73.12", "isp"),
        Network(21928, "T-Mobile USA, Inc.", "172.58", "mobile"),
    ),
    "chicago": (
        Network(7922, "Comcast Cable Communications, LLC", "73.44", "isp"),
        Network(6167, "Cellco Partnership DBA Verizon Wireless", "174.205", "mobile"),
    ),
    "austin": (
        Network(7018, "AT&T Services, Inc.", "99.8", "isp"),
        Network(20057, "AT&T Mobility LLC", "107.77", "mobile"),
    ),
    "sanfrancisco": (
        Network(7922, "Comcast Cable Communications, LLC", "73.158", "isp"),
        Network(6167, "Cellco Partnership DBA Verizon Wireless", "174.206", "mobile"),
    ),
    "toronto": (
        Network(812, "Rogers Communications Canada Inc.", "99.230", "isp"),
        Network(812, "Rogers Communications Canada Inc.", "72.143", "mobile"),
    ),
    "bangalore": (
        Network(24560, "Bharti Airtel Ltd.", "122.171", "isp"),
        Network(55836, "Reliance Jio Infocomm Limited", "49.36", "mobile"),
    ),
    "singapore": (
        Network(7473, "Singapore Telecommunications Ltd", "116.86", "isp"),
        Network(4773, "M1 Limited", "112.199", "mobile"),
    ),
}
# Offices: the company's egress (a transit provider's space).
OFFICES: dict[str, Network] = {
    "paris": Network(174, "Cogent Communications", "149.6", "office"),
    "london": Network(174, "Cogent Communications", "149.5", "office"),
    "newyork": Network(6461, "Zayo Bandwidth", "64.125", "office"),
    "sanfrancisco": Network(6461, "Zayo Bandwidth", "64.124", "office"),
    "bangalore": Network(9498, "Bharti Airtel Ltd. (Enterprise)", "182.74", "office"),
}
# Corporate cloud VPN (secure web gateway) nodes: the user appears from the node's city.
VPN_NODES: dict[str, str] = {
    "paris": "paris",
    "lyon": "frankfurt",
    "london": "london",
    "berlin": "frankfurt",
    "madrid": "paris",
    "newyork": "ashburn",
    "chicago": "chicago",
    "austin": "dallas",
    "sanfrancisco": "sanfrancisco",
    "toronto": "ashburn",
    "bangalore": "singapore",
    "singapore": "singapore",
}
VPN = Network(53813, "Zscaler, Inc.", "165.225", "vpn")
AZURE = Network(8075, "Microsoft Corporation", "20.61", "hosting")
AWS = Network(16509, "Amazon.com, Inc.", "3.93", "hosting")
TRAVEL_NETWORKS: dict[str, Network] = {
    "tokyo": Network(2516, "KDDI Corporation", "106.128", "hotel"),
    "dubai": Network(5384, "Emirates Telecommunications Corporation", "94.200", "hotel"),
    "saopaulo": Network(28573, "Claro NXT Telecomunicacoes Ltda", "177.9", "hotel"),
    "mexicocity": Network(8151, "UNINET", "187.188", "hotel"),
    "lisbon": Network(3243, "MEO - Servicos de Comunicacoes e Multimedia", "85.241", "hotel"),
    "rome": Network(3269, "Telecom Italia S.p.A.", "79.30", "hotel"),
    "sydney": Network(1221, "Telstra Limited", "110.140", "hotel"),
    "singapore": Network(7473, "Singapore Telecommunications Ltd", "116.87", "hotel"),
    "newyork": Network(701, "Verizon Business", "108.46", "hotel"),
    "london": Network(5089, "Virgin Media Limited", "82.10", "hotel"),
    "berlin": Network(6805, "Telefonica Germany", "91.64", "hotel"),
}
# Attacker infrastructure: hosting, VPN providers, a mobile network, a residential proxy.
ATTACKER_NETWORKS: tuple[tuple[str, Network], ...] = (
    ("amsterdam", Network(14061, "DigitalOcean, LLC", "159.223", "hosting")),
    ("frankfurt", Network(14061, "DigitalOcean, LLC", "164.90", "hosting")),
    ("roubaix", Network(16276, "OVH SAS", "51.38", "hosting")),
    ("bucharest", Network(9009, "M247 Europe SRL", "185.156", "proxy")),
    ("singapore", Network(63949, "Akamai Connected Cloud", "172.105", "hosting")),
    ("lagos", Network(29465, "MTN NIGERIA Communication limited", "102.89", "mobile")),
    ("moscow", Network(9123, "TimeWeb Ltd.", "92.53", "hosting")),
    ("hongkong", Network(133380, "Hong Kong Zenlayer", "128.1", "hosting")),
    ("dallas", Network(20473, "The Constant Company, LLC", "45.77", "hosting")),
    ("ashburn", Network(16509, "Amazon.com, Inc.", "44.200", "hosting")),
)

HOME_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("paris", 18),
    ("lyon", 6),
    ("london", 12),
    ("berlin", 6),
    ("madrid", 4),
    ("newyork", 16),
    ("chicago", 6),
    ("austin", 6),
    ("sanfrancisco", 10),
    ("toronto", 5),
    ("bangalore", 8),
    ("singapore", 3),
)
FIRST = (
    "amelie",
    "lucas",
    "chloe",
    "hugo",
    "emma",
    "noah",
    "olivia",
    "liam",
    "sofia",
    "mateo",
    "aisha",
    "ravi",
    "priya",
    "kenji",
    "yuki",
    "lea",
    "jonas",
    "mia",
    "ben",
    "clara",
    "omar",
    "fatima",
    "daniel",
    "sarah",
    "james",
    "grace",
    "ethan",
    "zoe",
    "leo",
    "nina",
    "marco",
    "elena",
    "tom",
    "anna",
    "felix",
    "ines",
    "arjun",
    "meera",
    "chen",
    "wei",
)
LAST = (
    "martin",
    "bernard",
    "dubois",
    "smith",
    "jones",
    "muller",
    "schmidt",
    "garcia",
    "lopez",
    "brown",
    "wilson",
    "taylor",
    "nguyen",
    "kim",
    "patel",
    "sharma",
    "tanaka",
    "rossi",
    "silva",
    "cohen",
    "walker",
    "wright",
    "moreau",
    "fischer",
    "weber",
    "khan",
    "singh",
    "lee",
    "tan",
    "ali",
)
LAPTOPS: tuple[tuple[str, str, str, str], ...] = (  # os, os_version, browser, browser_version
    ("Windows", "10", "Chrome", "131.0.6778.86"),
    ("Windows", "11", "Edge", "131.0.2903.70"),
    ("Mac OS X", "14.6.1", "Chrome", "131.0.6778.86"),
    ("Mac OS X", "15.1", "Safari", "18.1"),
)
PHONES = ("iPhone 15", "iPhone 14", "iPhone 13", "Pixel 8", "Galaxy S23", "Galaxy S24", "iPhone 16")
DOMAIN = "northwind.example"
