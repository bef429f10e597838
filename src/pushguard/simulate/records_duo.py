"""Duo Admin API v2 records for the simulator: authentication logs (``access_device`` where the login
came from, ``auth_device`` the phone that answered, ``result`` / ``reason`` / ``factor`` / ``txid`` /
``isotimestamp``) and administrator logs (``action``, ``object``, ``username``, ``description`` as a JSON
string), in the keys and nesting of ../shared/samples/duo and ``sources.duo`` / ``sources.duo_admin``.

Duo logs the second factor only (the password is checked by the application in front of it), one record
per prompt, outcome included. Administrator records carry no id: the event id is ``record_id`` of the
record, the same hash the parser computes."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import msgspec

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome, Written
from pushguard.simulate.common import DUO_ADMIN, DUO_AUTH, Logs, duo_admin_iso, duo_iso, new_uuid, upper_token
from pushguard.simulate.places import Net
from pushguard.simulate.tenant import Tenant, User
from pushguard.sources.duo_admin import record_id

_RESULT = {
    Outcome.APPROVED: ("success", "user_approved"),
    Outcome.DENIED: ("denied", "user_mistake"),
    Outcome.TIMEOUT: ("denied", "no_response"),
    Outcome.FRAUD: ("fraud", "user_marked_fraud"),
    Outcome.WRONG_NUMBER: ("denied", "verification_code_incorrect"),
    Outcome.BLOCKED: ("denied", "frequent_attempts"),
}
_APP_KEYS = {
    "Cisco AnyConnect VPN": "DIX8P2Q7RWLM5ZK3BN4A",
    "Windows Logon (RDP)": "DIQ4TY7UV9WX2ZA5BC8D",
    "Microsoft Azure Active Directory": "DIY231J8BR23QK4UKBY8",
    "Duo Single Sign-On": "DIK9LM3NP6QR8ST1UV2W",
}


def _location(src: Net | None) -> dict[str, Any]:
    if src is None:
        return {"city": None, "country": None, "state": None}
    return {"city": src.place.city, "country": src.place.country, "state": src.place.state}


class DuoWriter:
    provider = Provider.DUO

    def __init__(self, rng: random.Random, logs: Logs, tenant: Tenant) -> None:
        self.rng = rng
        self.logs = logs
        self.tenant = tenant

    def _auth(
        self,
        user: User,
        when: datetime,
        src: Net,
        *,
        factor: str,
        result: str,
        reason: str | None,
        app: str,
        phone: Net | None,
        phone_name: str | None,
        attacker: bool,
        event_type: str = "authentication",
        phone_key: str | None = None,
    ) -> str:
        txid = new_uuid(self.rng)
        laptop = user.laptop
        access: dict[str, Any] = {
            "browser": "Chrome" if attacker else laptop.browser,
            "browser_version": "124.0.6367.91" if attacker else laptop.browser_version,
            "flash_version": "uninstalled",
            "hostname": None,
            "ip": src.ip,
            "is_encryption_enabled": "unknown" if attacker else True,
            "is_firewall_enabled": "unknown" if attacker else True,
            "is_password_set": "unknown" if attacker else True,
            "java_version": "uninstalled",
            "location": _location(src),
            "os": "Linux" if attacker else laptop.os,
            "os_version": "" if attacker else laptop.os_version,
            "security_agents": [],
        }
        if not attacker and laptop.managed:
            access["epkey"] = laptop.epkey
        record: dict[str, Any] = {
            "access_device": access,
            "alias": "",
            "application": {"key": _APP_KEYS.get(app, "DIZZ00AA11BB22CC33DD"), "name": app},
            "auth_device": {
                "ip": phone.ip if phone is not None else None,
                "location": _location(phone),
                "name": phone_name or f"{user.phone.name} ({user.phone.number[-8:]})",
                "key": phone_key or user.phone.key,
            },
            "email": user.login,
            "event_type": event_type,
            "factor": factor,
            "isotimestamp": duo_iso(when),
            "ood_software": None,
            "reason": reason,
            "result": result,
            "timestamp": int(when.timestamp()),
            "trusted_endpoint_status": "not trusted" if attacker or not laptop.managed else "trusted",
            "txid": txid,
            "user": {"groups": list(user.groups), "key": user.duo_key, "name": user.duo_login},
        }
        return self.logs.add(DUO_AUTH, when, txid, record)

    def _admin(
        self, when: datetime, action: str, admin: User, obj: str | None, description: dict[str, Any]
    ) -> str:
        record = {
            "action": action,
            "description": msgspec.json.encode(description).decode(),
            "isotimestamp": duo_admin_iso(when),
            "object": obj,
            "timestamp": int(when.timestamp()),
            "username": admin.display,
            "host": self.tenant.duo_host,
        }
        return self.logs.add(DUO_ADMIN, when, record_id(record), record)

    # -- actions ---------------------------------------------------------------------------------

    def attempt(
        self,
        user: User,
        when: datetime,
        src: Net,
        outcome: Outcome,
        *,
        app: str,
        phone: Net | None,
        attacker: bool = False,
        answer_s: float = 8.0,
    ) -> Written:
        result, reason = _RESULT[outcome]
        answering = phone if outcome not in (Outcome.TIMEOUT, Outcome.BLOCKED) else None
        txid = self._auth(
            user,
            when,
            src,
            factor="duo_push",
            result=result,
            reason=reason,
            app=app,
            phone=answering,
            phone_name=None,
            attacker=attacker,
        )
        approved = [when] if outcome is Outcome.APPROVED else []
        return Written([txid], [] if outcome is Outcome.BLOCKED else [when], approved)

    def password_failure(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        return Written()  # the application checks the password; Duo logs nothing

    def quiet(self, user: User, when: datetime, src: Net, *, app: str) -> Written:
        txid = self._auth(
            user,
            when,
            src,
            factor="remembered_device",
            result="success",
            reason="remembered_device",
            app=app,
            phone=None,
            phone_name=None,
            attacker=False,
        )
        return Written([txid])

    def enroll(self, user: User, when: datetime, src: Net, *, phone_name: str, attacker: bool) -> Written:
        txid = self._auth(
            user,
            when,
            src,
            factor="duo_push",
            result="success",
            reason=None,
            app="Duo Single Sign-On",
            phone=None,
            phone_name=phone_name,
            attacker=attacker,
            event_type="enrollment",
            phone_key="DP" + upper_token(self.rng, 18),
        )
        return Written([txid])

    def remove_factors(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._admin(when, "user_update", admin, user.duo_login, {"phones": ""})
        return Written([event])

    def delete_authenticator(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        return self.remove_factors(user, when, admin, src)  # the user's phone is the authenticator

    def password_reset(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        return Written()  # the application in front of Duo holds the password

    def signin_to_enroll(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        return Written()  # Duo logs the enrollment itself

    def issue_bypass(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        description = {
            "bypass": "",
            "count": 1,
            "valid_secs": 3600,
            "remaining_uses": 1,
            "user_id": user.duo_key,
            "bypass_code_ids": ["DB" + upper_token(self.rng, 18)],
        }
        return Written([self._admin(when, "bypass_create", admin, user.duo_login, description)])

    def use_bypass(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        txid = self._auth(
            user,
            when,
            src,
            factor="bypass_code",
            result="success",
            reason="valid_passcode",
            app=app,
            phone=None,
            phone_name="",
            attacker=attacker,
        )
        return Written([txid])

    def privileged(self, user: User, when: datetime, src: Net, *, action: int) -> Written:
        return Written()  # Duo admin actions are made by Duo administrators, not by end users

    def service(self, user: User, when: datetime, src: Net) -> Written:
        return Written()
