"""pushguard: a policy and detection layer for push MFA."""

__version__ = "0.1.0"
