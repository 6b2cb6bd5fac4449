"""One clock for every timestamp in a session.

Frames, audio chunks, key presses, step boundaries and detector events are all
stamped in seconds on one :class:`Clock`, so a key-to-screen latency or an A/V
offset is a subtraction.  Live capture uses :class:`RealClock` (monotonic, zero at
session start); the simulated device runs on :class:`VirtualClock`, which only
moves when something waits on it, so CI runs faster than real time.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Seconds since the session's epoch, shared by every source and controller."""

    is_virtual: bool

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def sleep_until(self, t: float) -> None: ...

    def wall_time(self, t: float) -> datetime: ...


class RealClock:
    """Monotonic seconds since construction; sleeps really sleep."""

    is_virtual = False

    def __init__(self) -> None:
        self._epoch_mono = time.monotonic()
        self._epoch_wall = datetime.now(timezone.utc)

    def now(self) -> float:
        return time.monotonic() - self._epoch_mono

    def from_monotonic(self, mono: float) -> float:
        """Convert a ``time.monotonic()`` reading (as capture threads take them)."""
        return mono - self._epoch_mono

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def sleep_until(self, t: float) -> None:
        self.sleep(t - self.now())

    def wall_time(self, t: float) -> datetime:
        return self._epoch_wall + timedelta(seconds=t)


class VirtualClock:
    """A clock that advances only when told to (or when someone sleeps on it).

    Time never goes backwards: ``advance_to`` an earlier time is a no-op.
    """

    is_virtual = True

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()
        self._epoch_wall = datetime.now(timezone.utc)

    def now(self) -> float:
        return self._t

    def advance_to(self, t: float) -> None:
        with self._lock:
            if t > self._t:
                self._t = float(t)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance_to(self._t + seconds)

    def sleep_until(self, t: float) -> None:
        self.advance_to(t)

    def wall_time(self, t: float) -> datetime:
        return self._epoch_wall + timedelta(seconds=t)
