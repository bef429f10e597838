"""Entra ID Graph ``directoryAudit`` records for the simulator, flat as in ../shared/samples/entra:
"User registered security info", "Admin registered security info" (Temporary Access Pass), "Admin
deleted security info", "Reset user password", "Add service principal credentials", "Consent to
application" (the wordings ``sources.entra_audit`` documents)."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from pushguard.simulate.actions import Written
from pushguard.simulate.common import ENTRA_AUDIT, Logs, new_uuid, token
from pushguard.simulate.places import Net
from pushguard.simulate.tenant import Tenant, User

_PRIVILEGED = ("Add service principal credentials", "Consent to application")


class EntraAuditWriter:
    def __init__(self, rng: random.Random, logs: Logs, tenant: Tenant) -> None:
        self.rng = rng
        self.logs = logs
        self.tenant = tenant

    # -- audit -----------------------------------------------------------------------------------

    def _audit(
        self,
        when: datetime,
        activity: str,
        *,
        by: User,
        src: Net,
        reason: str,
        category: str,
        service: str,
        operation: str,
        target: User | None = None,
        other_target: dict[str, Any] | None = None,
    ) -> str:
        rng = self.rng
        prefix = "Directory" if service == "Core Directory" else "SSGM"
        event_id = f"{prefix}_{new_uuid(rng)}_{token(rng, 5).upper()}_{rng.randint(10**8, 10**9 - 1)}"
        targets: list[dict[str, Any]] = []
        if target is not None:
            targets.append(
                {
                    "id": target.entra_id,
                    "displayName": target.display,
                    "type": "User",
                    "userPrincipalName": target.login,
                    "modifiedProperties": [],
                    "groupType": None,
                }
            )
        if other_target is not None:
            targets.append(other_target)
        record = {
            "id": event_id,
            "category": category,
            "correlationId": new_uuid(rng),
            "result": "success",
            "resultReason": reason,
            "activityDisplayName": activity,
            "activityDateTime": when.isoformat(timespec="microseconds"),
            "loggedByService": service,
            "operationType": operation,
            "initiatedBy": {
                "user": {
                    "id": by.entra_id,
                    "displayName": by.display,
                    "userPrincipalName": by.login,
                    "ipAddress": src.ip,
                    "userType": None,
                    "homeTenantId": self.tenant.entra_tenant,
                    "homeTenantName": None,
                },
                "app": None,
            },
            "targetResources": targets,
            "additionalDetails": [{"key": "UserType", "value": "Member"}],
        }
        return self.logs.add(ENTRA_AUDIT, when, event_id, record)

    def enroll(self, user: User, when: datetime, src: Net, *, phone_name: str, attacker: bool) -> Written:
        event = self._audit(
            when,
            "User registered security info",
            by=user,
            src=src,
            target=user,
            reason="User registered Authenticator App with Notification and Code",
            category="UserManagement",
            service="Authentication Methods",
            operation="Add",
        )
        return Written([event])

    def remove_factors(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._audit(
            when,
            "Admin deleted security info",
            by=admin,
            src=src,
            target=user,
            reason="Admin deleted Authenticator App with Notification and Code method for user",
            category="UserManagement",
            service="Authentication Methods",
            operation="Delete",
        )
        return Written([event])

    def delete_authenticator(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        return self.remove_factors(user, when, admin, src)  # the push method is the one deleted

    def issue_bypass(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._audit(
            when,
            "Admin registered security info",
            by=admin,
            src=src,
            target=user,
            reason="Admin registered temporary access pass method for user",
            category="UserManagement",
            service="Authentication Methods",
            operation="Add",
        )
        return Written([event])

    def password_reset(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._audit(
            when,
            "Reset user password",
            by=admin,
            src=src,
            target=user,
            reason="",
            category="UserManagement",
            service="Core Directory",
            operation="Update",
        )
        return Written([event])

    def privileged(self, user: User, when: datetime, src: Net, *, action: int) -> Written:
        activity = _PRIVILEGED[action % len(_PRIVILEGED)]
        sp_id, _, name = self.tenant.workloads[action % len(self.tenant.workloads)]
        other = {
            "id": sp_id,
            "displayName": name,
            "type": "ServicePrincipal",
            "modifiedProperties": [
                {
                    "displayName": "KeyDescription",
                    "oldValue": "[]",
                    "newValue": (
                        f'["[KeyIdentifier={new_uuid(self.rng)},KeyType=Password,'
                        'KeyUsage=Verify,DisplayName=]"]'
                    ),
                }
            ],
        }
        event = self._audit(
            when,
            activity,
            by=user,
            src=src,
            reason="",
            other_target=other,
            category="ApplicationManagement",
            service="Core Directory",
            operation="Update",
        )
        return Written([event])
