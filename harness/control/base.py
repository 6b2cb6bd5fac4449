"""The remote-control protocol every controller backend implements.

Tests press canonical key names (``OK``, ``HOME``, ``FAST_FORWARD``...); the
profile's keymap turns each into the backend's code.  This base class owns what
is common to every backend (keymap lookup with a clear error for unmapped keys,
inter-key pacing, bounded retries on transient faults, timestamps on the session
clock, the key log) so a backend only implements the three ``_send_*`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from harness.errors import ControllerLost, UnmappedKey

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig


T = TypeVar("T")


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransientControlError(Exception):
    """A backend raises this for a fault worth retrying (timeout, reset link)."""


class EvidenceStream(Protocol):
    """A device log being copied to ``path`` until ``stop()``; ``error`` says if it broke."""

    path: Path
    error: str | None

    def stop(self) -> Path: ...


@dataclass(frozen=True)
class KeyPress:
    """One key action on the session clock. ``t_up`` is None while a key is held."""

    key: str
    code: str
    t_down: float
    t_up: float | None
    action: str = "press"  # press | hold | text

    def __bool__(self) -> bool:
        return True

    def to_json(self) -> dict:
        return {"key": self.key, "code": self.code, "t_down": round(self.t_down, 4),
                "t_up": None if self.t_up is None else round(self.t_up, 4), "action": self.action}


class RemoteControl:
    """Base of every controller backend; construct through ``harness.rig.open_rig``."""

    Params: ClassVar[type[BaseModel]] = NoParams
    transport: ClassVar[str] = "?"
    #: True only for in-process controllers that can run on a VirtualClock (the simulator)
    supports_virtual_clock: ClassVar[bool] = False

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        self.spec = spec
        self.params = self.Params.model_validate(spec.params)
        self.clock = rig.clock
        self.device_name = rig.profile.name
        self.keylog: list[KeyPress] = []
        self._last_action_t: float | None = None
        self._held: dict[str, KeyPress] = {}

    # -- what tests call -------------------------------------------------
    def press(self, key: str, hold_s: float = 0.0) -> KeyPress:
        """Press and release ``key``; with ``hold_s`` > 0 the key is held that long."""
        code = self.code(key)
        self._pace()
        if hold_s > 0:
            t_down = self.clock.now()
            self._with_retries(f"key down {key}", lambda: self._send_key(code, "down"))
            self.clock.sleep(hold_s)
            t_up = self.clock.now()
            self._with_retries(f"key up {key}", lambda: self._send_key(code, "up"))
            record = KeyPress(key, code, t_down, t_up, "hold")
        else:
            t_down = self.clock.now()
            self._with_retries(f"press {key}", lambda: self._send_key(code, "press"))
            record = KeyPress(key, code, t_down, t_down, "press")
        return self._log(record)

    def key_down(self, key: str) -> KeyPress:
        code = self.code(key)
        self._pace()
        t = self.clock.now()
        self._with_retries(f"key down {key}", lambda: self._send_key(code, "down"))
        record = KeyPress(key, code, t, None, "hold")
        self._held[key] = record
        return self._log(record)

    def key_up(self, key: str) -> KeyPress:
        code = self.code(key)
        t = self.clock.now()
        self._with_retries(f"key up {key}", lambda: self._send_key(code, "up"))
        down = self._held.pop(key, None)
        record = KeyPress(key, code, down.t_down if down else t, t, "hold")
        if down is not None:
            self.keylog[self.keylog.index(down)] = record
            return record
        return self._log(record)

    def text(self, text: str) -> KeyPress:
        self._pace()
        t = self.clock.now()
        self._with_retries("text input", lambda: self._send_text(text))
        return self._log(KeyPress("TEXT", text, t, t, "text"))

    def code(self, key: str) -> str:
        """The backend code for ``key``; an unmapped key is an error naming the profile."""
        keymap = self.spec.keymap
        if key in keymap:
            return keymap[key]
        known = ", ".join(sorted(keymap)) or "(empty keymap)"
        raise UnmappedKey(f"key {key!r} is not in the keymap of device {self.device_name!r} "
                          f"(controller.keymap); mapped keys: {known}. "
                          f"Add `{key}: <code>` under controller.keymap in the profile.")

    def probe(self) -> dict:
        """Ask the device what it is (model, OS and app versions...); {} if the protocol can't.

        Used by ``harness devices check`` and for the report's environment; a backend
        that talks to the device here raises ``ControllerLost`` if it does not answer.
        A ``problems`` entry (a list of strings) reports what answered but is wrong
        (e.g. keymap codes the device does not know).
        """
        return {}

    def start_evidence(self, directory: Path) -> list[EvidenceStream]:
        """Start what the device can log while a step runs (e.g. ADB's logcat) into files under
        ``directory``; the step stops each stream and attaches its file. Default: nothing."""
        del directory
        return []

    def close(self) -> None:
        for key in list(self._held):
            try:
                self.key_up(key)
            except Exception:  # noqa: BLE001 - best effort release at teardown
                pass

    # -- what backends implement ------------------------------------------
    def _send_key(self, code: str, action: str) -> None:
        """Send one key action: ``press`` (down+up), ``down`` or ``up``."""
        raise NotImplementedError

    def _send_text(self, text: str) -> None:
        for char in text:
            self._send_key(self.code(char.upper()) if char.upper() in self.spec.keymap else char,
                           "press")

    # -- shared machinery -------------------------------------------------
    def _pace(self) -> None:
        if self._last_action_t is not None:
            self.clock.sleep_until(self._last_action_t + self.spec.inter_key_delay_s)

    def _log(self, record: KeyPress) -> KeyPress:
        self._last_action_t = record.t_up if record.t_up is not None else record.t_down
        self.keylog.append(record)
        return record

    def _with_retries(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action`` (retrying transient faults) and return its result."""
        attempts = self.spec.retries + 1
        last: Exception | None = None
        for _ in range(attempts):
            try:
                return action()
            except TransientControlError as exc:
                last = exc
        raise ControllerLost(f"device {self.device_name!r}: {what} failed over {self.transport} "
                             f"after {attempts} attempts: {last}")
