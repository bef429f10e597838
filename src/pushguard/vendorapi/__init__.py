"""Vendor API access shared by respond and collect: the HTTP client with its retry and error rules, the
auth hooks (Okta SSWS, Graph bearer through MSAL, Duo signatures) and the credentials from the environment."""

from pushguard.vendorapi.credentials import Secret, configured_vendors, missing_variables, vendor_http
from pushguard.vendorapi.http import VendorApiError, VendorHttp

__all__ = ["Secret", "VendorApiError", "VendorHttp", "configured_vendors", "missing_variables", "vendor_http"]
