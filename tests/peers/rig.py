"""Build controller backends the way ``harness.rig.Rig`` does, without capture backends.

Every controller built here is closed after its test by the autouse fixture
:func:`closing_controllers` (import it into a test module to use it).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from harness.clock import RealClock
from harness.control import controller_backend
from harness.control.base import RemoteControl
from harness.profile import ControllerSpec, Profile, load_profile

_OPEN: list[RemoteControl] = []


class BenchRig:
    """What a controller reads from its rig: the clock and the profile (name, source)."""

    def __init__(self, name: str = "bench", source: str = "") -> None:
        self.clock = RealClock()
        self.profile = type("BenchProfile", (), {"name": name, "source": source})()


def _build(spec: ControllerSpec, rig: BenchRig) -> RemoteControl:
    remote = controller_backend(spec.type)(spec, rig)
    _OPEN.append(remote)
    return remote


def controller(type_name: str, params: dict[str, Any], keymap: dict[str, str] | None = None,
               name: str = "bench", **spec: Any) -> RemoteControl:
    spec.setdefault("inter_key_delay_s", 0)
    spec.setdefault("io_timeout_s", 2.0)
    controller_spec = ControllerSpec(type=type_name, params=params, keymap=keymap or {}, **spec)
    return _build(controller_spec, BenchRig(name))


def shipped_controller(profile_name: str, **params: Any) -> tuple[Profile, RemoteControl]:
    """A shipped profile's controller, with ``params`` (the peer's address) overriding its own."""
    profile = load_profile(profile_name)
    spec = profile.controller.model_copy(update={
        "params": {**profile.controller.params, **params}, "inter_key_delay_s": 0})
    return profile, _build(spec, BenchRig(profile.name, profile.source))


@pytest.fixture(autouse=True)
def closing_controllers() -> Iterator[None]:
    yield
    while _OPEN:
        try:
            _OPEN.pop().close()
        except Exception:  # noqa: BLE001 - a broken controller must not hide the test's result
            pass
