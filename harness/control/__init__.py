"""Controllers: one module per protocol, looked up by the profile's ``controller.type``."""

from __future__ import annotations

import importlib

from harness.control.base import KeyPress, RemoteControl
from harness.errors import BadInput

# type -> "module:Class", imported on first use (a backend's library is only needed if used)
CONTROLLER_BACKENDS: dict[str, str] = {
    "mock": "harness.control.mock:MockRemote",
    "adb": "harness.control.adb:AdbRemote",
    "serial": "harness.control.serial_tv:SerialRemote",
    "lirc": "harness.control.lirc:LircRemote",
    "itach": "harness.control.itach:ItachRemote",
    "roku": "harness.control.roku:RokuRemote",
    "cec": "harness.control.cec:CecRemote",
}


def controller_backend(type_name: str) -> type[RemoteControl]:
    target = CONTROLLER_BACKENDS.get(type_name)
    if target is None:
        raise BadInput(f"unknown controller type {type_name!r}; known: "
                       f"{', '.join(sorted(CONTROLLER_BACKENDS))}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


__all__ = ["CONTROLLER_BACKENDS", "KeyPress", "RemoteControl", "controller_backend"]
