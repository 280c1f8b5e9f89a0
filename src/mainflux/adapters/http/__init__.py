"""The HTTP adapter (``mainflux-http``): devices POST messages onto the bus."""

from __future__ import annotations

from mainflux.adapters.http.api import create_app

__all__ = ["create_app"]
