"""What an Entra sign-in's error code (``status.errorCode`` / ``resultType``) means, in one table.

Names and meanings are Microsoft's ("Microsoft Entra authentication and authorization error codes", the
AADSTS table of Microsoft Learn). A sign-in log row with a non-zero code is not always a failure: many
codes are *interrupts*, a step of a sign-in that goes on (the "Stay signed in?" page, a request for MFA,
a device check) and is logged as a row of its own. Only a wrong or unusable credential is a credential
failure (``signin_failure``), what password-spray detection counts; an interrupt that asks for MFA is
``mfa_required``, any other interrupt ``signin_interrupted``; a policy or account-state refusal is
``access_blocked``. 500121 (MFA failed; not in Microsoft's table, seen in sign-in logs and in Microsoft's
own Sentinel rules) is read from its wording by ``sources.entra``. A code not in this table is counted
as not mapped, by code: an unknown code must not look like a password spray.
"""

from __future__ import annotations

from pushguard.model import EventKind

MFA_FAILED = 500121  # "Authentication failed during strong authentication request": the wording says how

_FAILURE = EventKind.SIGNIN_FAILURE
_MFA = EventKind.MFA_REQUIRED
_INTERRUPT = EventKind.SIGNIN_INTERRUPTED
_BLOCKED = EventKind.ACCESS_BLOCKED

# code → (kind, Microsoft's name - what it means)
SIGNIN_CODES: dict[int, tuple[EventKind, str]] = {
    # -- credential failures: a wrong, unknown, locked or expired credential ----------------------
    50126: (_FAILURE, "InvalidUserNameOrPassword - invalid username or password"),
    50053: (_FAILURE, "IdsLocked - locked after too many wrong attempts (smart lockout), or a malicious IP"),
    50055: (_FAILURE, "InvalidPasswordExpiredPassword - the password is expired"),
    50056: (_FAILURE, "invalid or null password - no password in the directory for this user"),
    50064: (_FAILURE, "CredentialAuthenticationError - credential validation on username or password failed"),
    50144: (_FAILURE, "InvalidPasswordExpiredOnPremPassword - the Active Directory password is expired"),
    50034: (_FAILURE, "UserAccountNotFound - no such account (a mistyped or guessed username)"),
    7000215: (_FAILURE, "invalid client secret (a workload's credential)"),
    7000222: (_FAILURE, "InvalidClientSecretExpiredKeysProvided - the client secret is expired"),
    700027: (_FAILURE, "client assertion failed signature validation (a workload's credential)"),
    # -- interrupts asking for MFA or its registration: not prompts, not failures -----------------
    50074: (_MFA, "UserStrongAuthClientAuthNRequiredInterrupt - strong authentication is required"),
    50076: (_MFA, "UserStrongAuthClientAuthNRequired - MFA required (policy, per-user or new location)"),
    50072: (_MFA, "UserStrongAuthEnrollmentRequiredInterrupt - the user must enrol a second factor"),
    50079: (_MFA, "UserStrongAuthEnrollmentRequired - the user must register security info for MFA"),
    50078: (_MFA, "UserStrongAuthExpired - the MFA presented has expired, MFA again"),
    50158: (_MFA, "ExternalSecurityChallenge - an external security challenge (external MFA) is pending"),
    # -- other interrupts: the sign-in asks for something else and goes on -------------------------
    50140: (_INTERRUPT, "KmsiInterrupt - the 'Stay signed in?' page, an expected step of the sign-in"),
    50199: (_INTERRUPT, "CmsiInterrupt - the user confirms the app they sign in to (mobile redirect)"),
    50125: (_INTERRUPT, "PasswordResetRegistrationRequiredInterrupt - password reset registration"),
    50135: (_INTERRUPT, "PasswordChangeCompromisedPassword - a password change is required (account risk)"),
    50058: (_INTERRUPT, "UserInformationNotProvided - no single-sign-on session (e.g. prompt=none)"),
    50097: (_INTERRUPT, "DeviceAuthenticationRequired - device authentication is required"),
    50129: (_INTERRUPT, "DeviceIsNotWorkplaceJoined - workplace join is required to register the device"),
    50089: (_INTERRUPT, "flow token expired - the app asks the user to sign in again"),
    50132: (_INTERRUPT, "SsoArtifactInvalidOrExpired - session invalid after a password expiry or change"),
    50133: (_INTERRUPT, "SsoArtifactRevoked - session invalid after a password expiry or change"),
    50173: (_INTERRUPT, "FreshTokenNeeded - tokens were revoked, the user signs in again"),
    70043: (_INTERRUPT, "BadTokenDueToSignInFrequency - refresh token expired by sign-in frequency"),
    700082: (_INTERRUPT, "ExpiredOrRevokedGrantInactiveToken - refresh token expired by inactivity"),
    16000: (_INTERRUPT, "InteractionRequired - the account is not in this tenant, choose another"),
    16001: (_INTERRUPT, "UserAccountSelectionInvalid - the chosen account tile was rejected, pick again"),
    700020: (_INTERRUPT, "InteractionRequired - the access grant requires interaction"),
    81010: (_INTERRUPT, "DesktopSsoAuthTokenInvalid - Seamless SSO failed (Kerberos ticket), prompts next"),
    # -- refused by policy or account state (the credential is not what failed) -------------------
    53003: (_BLOCKED, "BlockedByConditionalAccess - Conditional Access blocks token issuance"),
    53000: (_BLOCKED, "DeviceNotCompliant - Conditional Access requires a compliant device"),
    53001: (_BLOCKED, "DeviceNotDomainJoined - Conditional Access requires a domain-joined device"),
    53002: (_BLOCKED, "ApplicationUsedIsNotAnApprovedApp - Conditional Access requires an approved app"),
    53004: (_BLOCKED, "ProofUpBlockedDueToRisk - MFA registration blocked due to risk"),
    53011: (_BLOCKED, "user blocked due to risk on home tenant"),
    530032: (_BLOCKED, "BlockedByConditionalAccessOnSecurityPolicy - a tenant security policy blocks it"),
    530034: (_BLOCKED, "DelegatedAdminBlockedDueToSuspiciousActivity - delegated admin blocked (risk)"),
    530035: (_BLOCKED, "BlockedBySecurityDefaults - blocked by security defaults (e.g. legacy auth)"),
    50131: (_BLOCKED, "ConditionalAccessFailed - Conditional Access error (device state, suspicious)"),
    50005: (_BLOCKED, "DevicePolicyError - platform not supported by Conditional Access"),
    50057: (_BLOCKED, "UserDisabled - the account is disabled"),
    50105: (_BLOCKED, "EntitlementGrantsNotFound - the user is not assigned to the app"),
}


def signin_kind(code: int) -> EventKind | None:
    """The kind of a sign-in with this non-zero code other than 500121; None: not in the table."""
    known = SIGNIN_CODES.get(code)
    return known[0] if known is not None else None
