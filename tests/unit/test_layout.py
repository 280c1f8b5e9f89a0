"""Each management service keeps the ports it depends on (Protocols) in ``ports.py`` and
only domain entities in ``models.py``; the service's own face (``service.Service``) stays
with the service."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Protocol

import pytest

SERVICES = ["users", "authn", "things", "bootstrap", "provision"]
#: A service's own interface, the face its transports take, is not one of its ports.
OWN_FACE = "service.Service"


def _protocols(module_name: str) -> set[str]:
    module = importlib.import_module(module_name)
    return {
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and value.__module__ == module_name
        and Protocol in getattr(value, "__mro__", ())
        and getattr(value, "_is_protocol", False)
    }


@pytest.mark.parametrize("service", SERVICES)
def test_models_hold_no_ports(service: str) -> None:
    assert _protocols(f"mainflux.{service}.models") == set()


@pytest.mark.parametrize("service", SERVICES)
def test_every_protocol_of_a_service_is_in_its_ports(service: str) -> None:
    package = importlib.import_module(f"mainflux.{service}")
    outside = {
        f"{info.name}.{name}"
        for info in pkgutil.iter_modules(package.__path__)
        if info.name != "ports"
        for name in _protocols(f"mainflux.{service}.{info.name}")
    }
    assert outside - {OWN_FACE} == set()
    assert _protocols(f"mainflux.{service}.ports")
