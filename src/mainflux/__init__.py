"""Mainflux for Python: an IoT platform wire-compatible with Mainflux 0.11."""

__version__ = "0.11.0"
