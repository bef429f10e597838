"""Networks that make benign people look like attackers and attackers look like people: secure web
gateways egressing in another country, consumer VPNs, hotel Wi-Fi behind hosting providers, fresh VPSes
in the victim's own country and residential proxies on the victim's own ISP.

Each network carries the ASN and organisation a vendor reports and an address prefix from that
operator's space (checked against the bundled offline database: the country can differ per address,
the operator does not)."""

from __future__ import annotations

import random

from pushguard.simulate.places import HOME_NETWORKS, PLACES, Net, Network, Place, address, distance_km

# Corporate secure web gateways (cloud proxies): every request of the person leaves from a node of the
# vendor, often in a neighbouring country.
SWG_VENDORS: tuple[Network, ...] = (
    Network(53813, "Zscaler, Inc.", "165.225", "gateway"),
    Network(55256, "Netskope Inc", "163.116", "gateway"),
)
SWG_NODES = (
    "amsterdam",
    "frankfurt",
    "london",
    "paris",
    "zurich",
    "dublin",
    "ashburn",
    "newyork",
    "toronto",
    "montreal",
    "singapore",
    "mumbai",
    "tokyo",
)
# Consumer VPNs a person pays for (exit nodes rented on hosting networks).
CONSUMER_VPNS: tuple[Network, ...] = (
    Network(9009, "M247 Europe SRL", "146.70", "vpn"),
    Network(60068, "Datacamp Limited", "79.127", "vpn"),
    Network(13335, "Cloudflare, Inc.", "104.28", "vpn"),
)
VPN_EXITS = (
    "amsterdam",
    "frankfurt",
    "london",
    "paris",
    "zurich",
    "newyork",
    "ashburn",
    "dallas",
    "singapore",
)
# Hotel and conference Wi-Fi whose operator routes guests out through a cloud or hosting provider.
HOTEL_HOSTING: tuple[Network, ...] = (
    Network(16509, "Amazon.com, Inc.", "3.8", "hosting"),
    Network(63949, "Akamai Connected Cloud", "172.104", "hosting"),
    Network(20473, "The Constant Company, LLC", "45.77", "hosting"),
)
# Fresh virtual servers an attacker rents in the victim's country (a place there, a hosting network).
VPS_BY_COUNTRY: dict[str, tuple[tuple[str, Network], ...]] = {
    "FR": (
        ("roubaix", Network(16276, "OVH SAS", "51.38", "hosting")),
        ("paris", Network(12876, "Scaleway SAS", "51.15", "hosting")),
    ),
    "US": (
        ("newyork", Network(14061, "DigitalOcean, LLC", "159.203", "hosting")),
        ("dallas", Network(20473, "The Constant Company, LLC", "45.77", "hosting")),
        ("ashburn", Network(16509, "Amazon.com, Inc.", "44.200", "hosting")),
    ),
    "GB": (
        ("london", Network(16509, "Amazon.com, Inc.", "3.8", "hosting")),
        ("london", Network(14061, "DigitalOcean, LLC", "178.62", "hosting")),
    ),
    "DE": (
        ("nuremberg", Network(24940, "Hetzner Online GmbH", "116.203", "hosting")),
        ("frankfurt", Network(14061, "DigitalOcean, LLC", "164.90", "hosting")),
    ),
    "ES": (("madrid", Network(16509, "Amazon.com, Inc.", "18.100", "hosting")),),
    "CA": (("montreal", Network(16276, "OVH Hosting, Inc.", "144.217", "hosting")),),
    "IN": (
        ("mumbai", Network(16509, "Amazon.com, Inc.", "13.232", "hosting")),
        ("bangalore", Network(14061, "DigitalOcean, LLC", "139.59", "hosting")),
    ),
    "SG": (
        ("singapore", Network(14061, "DigitalOcean, LLC", "159.223", "hosting")),
        ("singapore", Network(63949, "Akamai Connected Cloud", "172.105", "hosting")),
    ),
}


def swg_node(rng: random.Random, home: Place) -> str:
    """A gateway node in another country than ``home``: one of the two nearest."""
    abroad = sorted(
        (k for k in SWG_NODES if PLACES[k].cc != home.cc), key=lambda k: distance_km(home, PLACES[k])
    )
    return rng.choice(abroad[:2])


def vpn_exit(rng: random.Random, home: Place) -> str:
    """A consumer VPN exit: in the person's country when the provider has one there, else anywhere."""
    local = [k for k in VPN_EXITS if PLACES[k].cc == home.cc]
    if local and rng.random() < 0.5:
        return rng.choice(local)
    return rng.choice(VPN_EXITS)


def residential_proxy(rng: random.Random, country: str) -> Net:
    """An address on a residential or mobile network of ``country`` (a proxy service's exit: someone's
    home router), the same operators the employees there use."""
    homes = [key for key in HOME_NETWORKS if PLACES[key].cc == country]
    place = rng.choice(homes)
    isp, mobile = HOME_NETWORKS[place]
    network = isp if rng.random() < 0.75 else mobile
    return Net(address(rng, network), PLACES[place], network)


def fresh_vps(rng: random.Random, country: str) -> Net | None:
    """A new server on a hosting network in ``country``; None where the simulation has none."""
    options = VPS_BY_COUNTRY.get(country)
    if not options:
        return None
    place, network = rng.choice(options)
    return Net(address(rng, network), PLACES[place], network)
