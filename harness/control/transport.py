"""Pieces several controller backends share: a socket link, safe tokens, key repeat.

* :class:`SocketLink`: one TCP or Unix-domain stream connection with a timeout on
  every operation.  Any socket fault closes it and raises
  :class:`~harness.control.base.TransientControlError`, so the base class's retry
  reconnects on the next attempt (lircd, Global Caché, the adb server).
* :class:`CommandRejected`: the device answered "no" (not retried).
* :func:`safe_token`: values that end up in a device-side command line (a key
  code, a package name) are checked against a pattern instead of being quoted
  and hoped for.
* :class:`KeyRepeater`: protocols whose key commands are momentary (RS-232 TV
  commands, CEC "user control pressed") hold a key the way a remote does, by
  repeating it until it is released.
"""

from __future__ import annotations

import re
import socket
import threading
from typing import Callable

from harness.control.base import TransientControlError
from harness.errors import BadInput, HarnessError

class CommandRejected(HarnessError):
    """The device (or the daemon in front of it) answered and refused a command.

    Not an infrastructure fault: the link works, but the profile asked for something
    the device does not accept (an unknown IR code, an app that is not installed, a
    key the TV rejects with NG).
    """


class BadValue(BadInput, ValueError):
    """A value that fails a check; inside a params model pydantic reports it as a field error."""


def parse_address(address: str) -> str | tuple[str, int]:
    """``host:port`` (``[v6]:port``) -> a TCP (host, port); ``unix:/path`` or ``/path`` -> a path."""
    if address.startswith("unix:"):
        return address[len("unix:"):]
    if address.startswith("/"):
        return address
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadValue(f"bad address {address!r}: use HOST:PORT, unix:/path or /path")
    return host.strip("[]"), int(port)




class SocketLink:
    """A stream connection opened on first use and after any fault."""

    def __init__(self, address: str, timeout_s: float, name: str) -> None:
        self.address = address
        self.target = parse_address(address)
        self.timeout_s = timeout_s
        self.name = name
        self._sock: socket.socket | None = None
        self._buffer = b""

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            try:
                if isinstance(self.target, tuple):
                    sock = socket.create_connection(self.target, timeout=self.timeout_s)
                else:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.settimeout(self.timeout_s)
                    try:
                        sock.connect(self.target)
                    except OSError:
                        sock.close()
                        raise
            except OSError as exc:
                reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or exc)
                raise TransientControlError(f"cannot connect to {self.name} at {self.address}: "
                                            f"{reason}") from None
            self._sock, self._buffer = sock, b""
        return self._sock

    def _fault(self, what: str, exc: BaseException | str) -> TransientControlError:
        self.close()
        reason = "timed out" if isinstance(exc, TimeoutError) else (
            exc if isinstance(exc, str) else (getattr(exc, "strerror", None) or str(exc)))
        return TransientControlError(f"{what} {self.name} at {self.address}: {reason}")

    def connect(self) -> None:
        self._socket()

    def send(self, data: bytes) -> None:
        sock = self._socket()
        try:
            sock.sendall(data)
        except OSError as exc:
            raise self._fault("sending to", exc) from None

    def _fill(self) -> None:
        sock = self._socket()
        try:
            chunk = sock.recv(65536)
        except OSError as exc:
            raise self._fault("reading from", exc) from None
        if not chunk:
            raise self._fault("reading from", "connection closed by peer")
        self._buffer += chunk

    def read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def read_until(self, delimiter: bytes, limit: int = 65536) -> bytes:
        """The next chunk up to and including ``delimiter``."""
        while delimiter not in self._buffer:
            if len(self._buffer) > limit:
                raise self._fault("reading from", f"no {delimiter!r} within {limit} bytes (garbage?)")
            self._fill()
        end = self._buffer.index(delimiter) + len(delimiter)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def read_to_end(self) -> bytes:
        """Everything until the peer closes the connection (which then is closed here too)."""
        sock = self._socket()
        chunks = [self._buffer]
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError as exc:
                raise self._fault("reading from", exc) from None
            if not chunk:
                break
            chunks.append(chunk)
        self.close()
        return b"".join(chunks)

    def detach(self) -> tuple[socket.socket, bytes]:
        """Hand the connected socket, and what was read past the last reply, to a new owner."""
        sock, pending = self._socket(), self._buffer
        self._sock, self._buffer = None, b""
        return sock, pending

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock, self._buffer = None, b""


def safe_token(value: str, pattern: str, what: str) -> str:
    """``value`` if it fully matches ``pattern``; otherwise a clear error (never quoted through)."""
    if not re.fullmatch(pattern, value):
        raise BadValue(f"{what} {value!r} is not allowed: it must match {pattern}")
    return value


class KeyRepeater:
    """Repeats ``send()`` every ``interval_s`` on a thread while a key is held.

    ``stop()`` ends the repeat and re-raises the first fault a repeat hit, so a
    link that died during a hold is reported at key-up instead of being lost.
    """

    def __init__(self, send: Callable[[], None], interval_s: float) -> None:
        self._send = send
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="key-repeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._send()
            except BaseException as exc:  # noqa: BLE001 - handed to stop()
                self._error = exc
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error


