"""What the live capture backends share: a bounded ring, a device-clock mapping, a format error.

A live backend runs a producer (a capture thread, or an audio driver's callback)
that never waits for the reader.  Between them sits a :class:`Ring`: bounded, so
memory stays flat however far the reader falls behind, and *counting*: an item
pushed out because the ring was full is returned to the producer, which adds it
to its source's ``stats.dropped``.  Finite sources (files) use a blocking ring
instead, so nothing is lost when the reader is slow.

A device stamps its items on its own clock (stream PTS, the V4L2 buffer time,
PortAudio's stream time).  :class:`ClockMapper` maps that clock onto
``time.monotonic()`` (and so onto the harness :class:`~harness.clock.RealClock`)
through the least-delayed arrival, which removes the scheduling jitter of
stamping at arrival time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

from harness.errors import InfrastructureError

T = TypeVar("T")


class FormatMismatch(InfrastructureError):
    """A capture device or stream delivers another format than the profile requests."""


class Ring(Generic[T]):
    """A bounded FIFO from one producer thread to one reader.

    ``put`` never blocks on a live ring: when full, the oldest item is pushed out
    and ``put`` returns 1 (the count the producer must add to ``dropped``).  With
    ``block=True`` (finite sources) ``put`` waits for room instead and returns 0.
    ``close(exc)`` ends the stream: the reader drains what is left, then every
    ``get`` raises ``exc`` (``EndOfStream`` or ``CaptureLost``).
    """

    def __init__(self, capacity: int, block: bool = False) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.block = block
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed: BaseException | None = None
        #: time.monotonic() of the last put (or of construction): how long the producer has been silent
        self.last_put_mono = time.monotonic()
        #: the most items held at once: how far the reader fell behind
        self.peak = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def put(self, item: T) -> int:
        """Append ``item``; returns how many items were pushed out to make room (0 or 1)."""
        with self._cond:
            pushed_out = 0
            if self.block:
                while len(self._items) >= self.capacity and self._closed is None:
                    self._cond.wait()
            elif len(self._items) >= self.capacity:
                self._items.popleft()
                pushed_out = 1
            if self._closed is None:
                self._items.append(item)
                self.peak = max(self.peak, len(self._items))
            self.last_put_mono = time.monotonic()
            self._cond.notify_all()
            return pushed_out

    def get(self, timeout_s: float | None = None) -> T | None:
        """The oldest item; ``None`` if none arrived within ``timeout_s`` (``None``: wait for ever).

        Raises the exception given to :meth:`close` once the ring is closed and empty.
        """
        deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while not self._items:
                if self._closed is not None:
                    raise self._closed
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self, exc: BaseException) -> None:
        """No more items will come; readers get ``exc`` after draining. The first close wins."""
        with self._cond:
            if self._closed is None:
                self._closed = exc
            self._cond.notify_all()

    def discard(self) -> int:
        """Empty the ring (the source is closing); returns how many items were thrown away."""
        with self._cond:
            count = len(self._items)
            self._items.clear()
            self._cond.notify_all()
            return count


class ClockMapper:
    """Maps a device's clock onto ``time.monotonic()``.

    Each item arrives some time after the device stamped it: a fixed latency plus
    scheduling jitter, never less than the latency.  So the smallest
    ``arrival - device_time`` over the last ``window`` items is the best estimate
    of the offset between the clocks; a sliding window follows slow drift
    between them.  A device clock that goes backwards, or leaps ahead by more than
    ``jump_s`` beyond the arrival clock, restarts the mapping (a new stream, a
    wrapped counter); ``resets`` counts those restarts.
    """

    def __init__(self, window: int, jump_s: float = 1.0) -> None:
        self.window = max(1, window)
        self.jump_s = jump_s
        self.resets = 0
        self._count = 0
        self._mins: deque[tuple[int, float]] = deque()  # (index, offset), offsets increasing
        self._last: tuple[float, float] | None = None  # (device_t, mono) of the previous item

    @property
    def offset(self) -> float | None:
        """monotonic - device time, or None before the first observation."""
        return self._mins[0][1] if self._mins else None

    def observe(self, device_t: float, mono: float) -> bool:
        """Record that the item stamped ``device_t`` arrived at ``mono``.

        Returns True when the device clock jumped and the mapping restarted.
        """
        jumped = False
        if self._last is not None:
            last_device, last_mono = self._last
            if device_t < last_device or (device_t - last_device) - (mono - last_mono) > self.jump_s:
                self._mins.clear()
                self.resets += 1
                jumped = True
        self._last = (device_t, mono)
        offset = mono - device_t
        while self._mins and self._mins[-1][1] >= offset:
            self._mins.pop()
        self._mins.append((self._count, offset))
        while self._mins[0][0] <= self._count - self.window:
            self._mins.popleft()
        self._count += 1
        return jumped

    def to_monotonic(self, device_t: float) -> float:
        offset = self.offset
        if offset is None:
            raise RuntimeError("ClockMapper.to_monotonic before any observation")
        return device_t + offset
