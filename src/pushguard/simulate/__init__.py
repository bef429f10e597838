"""Synthetic tenants and labeled attack scenarios, in the vendors' real record shapes."""
