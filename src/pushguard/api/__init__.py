"""The HTTP service: FastAPI app factory, API keys, configuration, Okta event hooks, structured logs."""

from pushguard.api.app import create_app
from pushguard.api.config import ServiceConfig, load_config
from pushguard.api.keys import KeyStore, Scope
from pushguard.api.service import Service

__all__ = ["KeyStore", "Scope", "Service", "ServiceConfig", "create_app", "load_config"]
