"""How often each look-alike and each attack variant happens: drawn per seed from wide intervals, so that
no detector can be fitted to one set of numbers. A tuning seed and a held-out seed differ in their rates,
not only in their dice.

The intervals are deliberately wide (real tenants differ by that much: a flaky-phone population, a
company behind a cloud proxy, a travelling sales team) and every draw is recorded in ``labels.json``."""

from __future__ import annotations

import random

import msgspec


class BenignRates(msgspec.Struct, kw_only=True, frozen=True):
    missed_prompt: float  # chance a sign-in's prompt finds the phone out of reach
    missed_max: int  # the person misses 1..missed_max prompts before approving
    missed_gap_s: tuple[float, float]  # between two unanswered prompts (re-sent by the person)
    double_denial: float  # chance of one or two quick denials (fat fingers) before the approval
    wrong_number: float  # number challenge: the wrong number picked once
    password_typo: float  # chance a sign-in starts with a mistyped password
    far_gateway_share: float  # people behind a secure web gateway egressing in another country
    consumer_vpn_share: float  # people with a consumer VPN
    consumer_vpn_day: float  # chance such a person has it on for the day
    trips_per_week: float  # chance per person per week of a trip abroad
    roaming_share: float  # trips on which the phone stays on the home carrier (geolocates at home)
    hotel_hosting_share: float  # trips whose hotel Wi-Fi leaves through a hosting provider
    office_rush: float  # chance per office and weekday that everyone signs in at 9:00 from one egress
    lost_phones_per_week: float  # chance per person per week of a lost phone and a helpdesk reset
    temporary_credential: float  # resets where the helpdesk also issues a TAP / temporary password
    new_phones_per_week: float  # chance per person per week of a new phone enrolled by themselves
    new_hire_share: float  # people who start during the scored period (no history)
    second_idp_share: float  # people on two identity providers
    evening: float  # chance per weekday of an evening sign-in from home


class AttackRates(msgspec.Struct, kw_only=True, frozen=True):
    per_kind: int  # campaigns of each kind in the scored period
    residential_share: float  # campaigns from a residential proxy in the victim's country
    local_vps_share: float  # campaigns from a fresh VPS in the victim's country
    bombing_pushes: tuple[int, int]  # pushes in a bombing
    bombing_gap_s: tuple[float, float]  # seconds between two pushes of a bombing
    give_in: float  # low-and-slow / spray-then-push victims who approve in the end
    spray_targets: tuple[int, int]  # accounts one spray tries
    spray_hits: tuple[int, int]  # accounts whose password works, per spray-then-push operation
    temporary_credential: float  # helpdesk-reset attacks where the helpdesk also issues a TAP / temp pass


def _between(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 4)


def draw_benign(rng: random.Random) -> BenignRates:
    gap_low = _between(rng, 20, 90)
    return BenignRates(
        missed_prompt=_between(rng, 0.01, 0.08),
        missed_max=rng.randint(3, 8),
        missed_gap_s=(gap_low, gap_low + _between(rng, 40, 300)),
        double_denial=_between(rng, 0.004, 0.03),
        wrong_number=_between(rng, 0.002, 0.02),
        password_typo=_between(rng, 0.01, 0.06),
        far_gateway_share=_between(rng, 0.02, 0.12),
        consumer_vpn_share=_between(rng, 0.02, 0.10),
        consumer_vpn_day=_between(rng, 0.2, 0.7),
        trips_per_week=_between(rng, 0.02, 0.10),
        roaming_share=_between(rng, 0.2, 0.8),
        hotel_hosting_share=_between(rng, 0.2, 0.7),
        office_rush=_between(rng, 0.1, 0.6),
        lost_phones_per_week=_between(rng, 0.005, 0.02),
        temporary_credential=_between(rng, 0.3, 0.9),
        new_phones_per_week=_between(rng, 0.004, 0.02),
        new_hire_share=_between(rng, 0.01, 0.04),
        second_idp_share=_between(rng, 0.08, 0.3),
        evening=_between(rng, 0.05, 0.2),
    )


def draw_attacks(rng: random.Random, people: int) -> AttackRates:
    """``per_kind``: about one campaign of each kind per 55-80 people (5-10 at 300-600 people)."""
    low, high = max(1, round(people / 80)), max(1, round(people / 55))
    gap_low = _between(rng, 3, 30)
    return AttackRates(
        per_kind=rng.randint(low, high),
        residential_share=_between(rng, 0.15, 0.5),
        local_vps_share=_between(rng, 0.15, 0.4),
        bombing_pushes=(3, rng.randint(12, 20)),
        bombing_gap_s=(gap_low, gap_low + _between(rng, 20, 200)),
        give_in=_between(rng, 0.3, 0.7),
        spray_targets=(20, rng.randint(40, 80)),
        spray_hits=(1, rng.randint(2, 4)),
        temporary_credential=_between(rng, 0.3, 0.8),
    )
