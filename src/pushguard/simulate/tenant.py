"""The synthetic organisation: places, networks, users, their devices and which IdP each is on.

Places carry coordinates and a fixed UTC offset (standard time; the simulated week is in early March,
before daylight saving starts anywhere in the tenant). Networks carry the ASN and organisation a vendor
would report, and an address prefix from that operator's real space, so that an offline geo database
agrees with the vendor at country level. Users are spread across Okta, Entra ID and Duo; some are on
two (Okta or Entra for SSO, Duo in front of the VPN, or both Okta and Entra). Some work behind a corporate
secure web gateway that egresses in another country, some have a consumer VPN of their own. Service
accounts sign in without a person."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pushguard.model import Provider
from pushguard.simulate.common import new_uuid, token, upper_token
from pushguard.simulate.networks import CONSUMER_VPNS, SWG_VENDORS, swg_node, vpn_exit
from pushguard.simulate.places import (
    AWS,
    AZURE,
    DOMAIN,
    FIRST,
    HOME_NETWORKS,
    HOME_WEIGHTS,
    LAPTOPS,
    LAST,
    OFFICES,
    PHONES,
    PLACES,
    Net,
    Network,
    Place,
    address,
)
from pushguard.simulate.rates import BenignRates, draw_benign


@dataclass(slots=True)
class Laptop:
    id: str  # Okta device id / Entra deviceId
    name: str
    os: str
    os_version: str
    browser: str
    browser_version: str
    managed: bool
    epkey: str  # Duo endpoint key


@dataclass(slots=True)
class Phone:
    name: str
    key: str  # Duo phone key (DP…)
    number: str
    enrollment_id: str  # Okta AuthenticatorEnrollment id


@dataclass(slots=True)
class User:
    login: str
    display: str
    idps: tuple[Provider, ...]
    okta_id: str
    entra_id: str
    duo_key: str
    home: Place
    isp: Network
    mobile: Network
    home_ip: str
    office: str | None
    vpn: bool
    laptop: Laptop
    phone: Phone
    number_match: bool  # Okta: number challenge on this user's pushes
    start_hour: float  # local time the working day starts
    apps: tuple[str, ...]
    admin: bool = False
    service: bool = False
    groups: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    joined_day: int = 0  # a new hire's first day (0: there from the start)
    gateway: tuple[str, Network] | None = None  # secure web gateway: node place, vendor network
    gateway_parity: int = 0  # gateway on days of this parity, home network on the others
    consumer_vpn: tuple[str, Network] | None = None  # exit place, VPN provider
    duo_name: str | None = (
        None  # a Duo username other than the address (``jsmith``); its records carry the address
    )

    @property
    def duo_login(self) -> str:
        return self.duo_name or self.login

    @property
    def tz(self) -> float:
        return self.home.utc_offset_h


@dataclass(slots=True)
class Tenant:
    users: list[User]  # people, in a stable order
    services: list[User]  # service accounts (user objects used by software)
    workloads: list[tuple[str, str, str]]  # Entra service principals: (id, app id, name)
    helpdesk: dict[Provider, User]  # who resets factors, per IdP
    okta_org: str
    entra_tenant: str
    duo_host: str

    def on(self, provider: Provider) -> list[User]:
        return [u for u in self.users if provider in u.idps]


OKTA_APPS = ("Salesforce", "Slack", "Zoom", "Workday", "GitHub Enterprise", "Atlassian Cloud", "Box")
ENTRA_APPS = (
    "Office 365 Exchange Online",
    "Microsoft Teams",
    "SharePoint Online",
    "Azure Portal",
    "Microsoft Graph",
    "OneDrive SyncEngine",
)
DUO_APPS = (
    "Cisco AnyConnect VPN",
    "Windows Logon (RDP)",
    "Microsoft Azure Active Directory",
    "Duo Single Sign-On",
)


def pooled(rng: random.Random, place_key: str, network: Network, size: int = 4) -> Net:
    """One of a small, fixed pool of egress addresses (an office, a VPN node): the pool depends only on
    the place and the network, the pick on ``rng``."""
    pool = random.Random(f"{place_key}|{network.asn}|{network.prefix}")
    third = pool.randint(1, 254)
    firsts = [pool.randint(1, 250) for _ in range(size)]
    return Net(f"{network.prefix}.{third}.{rng.choice(firsts)}", PLACES[place_key], network)


def helpdesk_net(rng: random.Random, admin: User) -> Net:
    if admin.office:
        return pooled(rng, admin.office, OFFICES[admin.office])
    return home_net(admin)


def apps_for(user: User, provider: Provider) -> tuple[str, ...]:
    if provider is user.idps[0]:
        return user.apps
    return DUO_APPS[:2] if provider is Provider.DUO else user.apps


def net(rng: random.Random, place_key: str, network: Network) -> Net:
    return Net(address(rng, network), PLACES[place_key], network)


def home_net(user: User) -> Net:
    return Net(user.home_ip, user.home, user.isp)


def _idps(rng: random.Random, second_share: float) -> tuple[Provider, ...]:
    roll = rng.random()
    primary = Provider.OKTA if roll < 0.47 else Provider.ENTRA if roll < 0.85 else Provider.DUO
    if primary is Provider.DUO or rng.random() >= second_share:
        return (primary,)
    if rng.random() < 0.7:
        return (primary, Provider.DUO)  # Duo in front of the VPN / RDP
    return (primary, Provider.ENTRA if primary is Provider.OKTA else Provider.OKTA)


def _person(rng: random.Random, index: int, taken: set[str], rates: BenignRates) -> User:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    login = f"{first}.{last}@{DOMAIN}"
    n = 2
    while login in taken:
        login = f"{first}.{last}{n}@{DOMAIN}"
        n += 1
    taken.add(login)
    home_key = rng.choices([k for k, _ in HOME_WEIGHTS], weights=[w for _, w in HOME_WEIGHTS])[0]
    isp, mobile = HOME_NETWORKS[home_key]
    os_name, os_version, browser, browser_version = rng.choice(LAPTOPS)
    idps = _idps(rng, rates.second_idp_share)
    apps_from = (
        OKTA_APPS if idps[0] is Provider.OKTA else ENTRA_APPS if idps[0] is Provider.ENTRA else DUO_APPS
    )
    return User(
        login=login,
        display=f"{first.title()} {last.title()}",
        idps=idps,
        okta_id="00u" + token(rng, 17),
        entra_id=new_uuid(rng),
        duo_key="DU" + upper_token(rng, 18),
        home=PLACES[home_key],
        isp=isp,
        mobile=mobile,
        home_ip=address(rng, isp),
        office=home_key if home_key in OFFICES and rng.random() < 0.7 else None,
        vpn=rng.random() < 0.35,
        laptop=Laptop(
            id="guo" + token(rng, 17),
            name=f"NW-{upper_token(rng, 7)}",
            os=os_name,
            os_version=os_version,
            browser=browser,
            browser_version=browser_version,
            managed=rng.random() < 0.9,
            epkey="EP" + upper_token(rng, 18),
        ),
        phone=Phone(
            name=rng.choice(PHONES),
            key="DP" + upper_token(rng, 18),
            number=f"+1 555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            enrollment_id="pfd" + token(rng, 17),
        ),
        number_match=rng.random() < 0.5,
        start_hour=rng.uniform(7.5, 9.75),
        apps=tuple(rng.sample(apps_from, rng.randint(2, 4))),
        groups=("Duo Users", f"{PLACES[home_key].city} Staff"),
    )


def _networks(rng: random.Random, user: User, rates: BenignRates) -> None:
    """A far secure web gateway (remote workers: no office) or a consumer VPN, for a share of people."""
    roll = rng.random()
    if roll < rates.far_gateway_share:
        user.gateway = (swg_node(rng, user.home), rng.choice(SWG_VENDORS))
        user.gateway_parity = rng.randint(0, 1)
        user.office = None
        user.vpn = False
    elif roll < rates.far_gateway_share + rates.consumer_vpn_share:
        user.consumer_vpn = (vpn_exit(rng, user.home), rng.choice(CONSUMER_VPNS))


SERVICE_NAMES = (
    "svc-backup",
    "svc-payroll-sync",
    "svc-jenkins",
    "svc-crm-export",
    "svc-scanner",
    "svc-hr-feed",
    "svc-monitoring",
    "svc-reporting",
    "svc-print",
    "svc-etl",
)


def new_person(
    rng: random.Random, index: int, taken: set[str], rates: BenignRates, idps: tuple[Provider, ...]
) -> User:
    """One more person on ``idps``, networks included (the people of ``simulate.split_idp``)."""
    user = _person(rng, index, taken, rates)
    user.idps = idps
    primary = idps[0]
    apps_from = (
        OKTA_APPS if primary is Provider.OKTA else ENTRA_APPS if primary is Provider.ENTRA else DUO_APPS
    )
    user.apps = tuple(rng.sample(apps_from, rng.randint(2, 4)))
    _networks(rng, user, rates)
    return user


def build_tenant(rng: random.Random, people: int, rates: BenignRates | None = None) -> Tenant:
    """``rates``: the seed's benign rates (drawn from ``rng`` when not given)."""
    rates = draw_benign(rng) if rates is None else rates
    taken: set[str] = set()
    users = [_person(rng, i, taken, rates) for i in range(people)]
    for user in users:
        _networks(rng, user, rates)
    # Admins: a few per IdP; the first of each is also that IdP's helpdesk.
    helpdesk: dict[Provider, User] = {}
    for provider in (Provider.OKTA, Provider.ENTRA, Provider.DUO):
        on = [u for u in users if provider in u.idps]
        if not on:
            continue
        for user in on[: max(1, len(on) // 25)]:
            user.admin = True
        helpdesk[provider] = on[0]
    services: list[User] = []
    for i in range(max(2, people // 40)):
        name = SERVICE_NAMES[i % len(SERVICE_NAMES)] + (f"{i // len(SERVICE_NAMES) + 1}" if i >= 10 else "")
        provider = Provider.ENTRA if i % 2 == 0 else Provider.OKTA
        owner = _person(rng, people + i, taken, rates)
        services.append(
            User(
                login=f"{name}@{DOMAIN}",
                display=name,
                idps=(provider,),
                okta_id="00u" + token(rng, 17),
                entra_id=new_uuid(rng),
                duo_key="DU" + upper_token(rng, 18),
                home=PLACES["ashburn"] if provider is Provider.OKTA else PLACES["dublin"],
                isp=AWS if provider is Provider.OKTA else AZURE,
                mobile=owner.mobile,
                home_ip=address(rng, AWS if provider is Provider.OKTA else AZURE),
                office=None,
                vpn=False,
                laptop=owner.laptop,
                phone=owner.phone,  # the admin who created it registered their own phone on it
                number_match=False,
                start_hour=0.0,
                apps=("Microsoft Graph",) if provider is Provider.ENTRA else ("Okta API",),
                service=True,
            )
        )
    workloads = [
        (new_uuid(rng), new_uuid(rng), name)
        for name in ("Payroll Connector", "Backup Orchestrator", "SIEM Collector")
    ]
    return Tenant(
        users=users,
        services=services,
        workloads=workloads,
        helpdesk=helpdesk,
        okta_org="northwind.okta.example",
        entra_tenant=new_uuid(rng),
        duo_host="api-3f9a1c2e.duosecurity.com",
    )
