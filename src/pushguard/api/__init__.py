"""The HTTP service (FastAPI app factory)."""
