"""Collectors: poll the vendor log APIs (Okta, Microsoft Graph, Duo Admin API) with resumable checkpoints."""
