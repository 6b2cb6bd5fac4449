"""A simulated Android device that speaks the adb transport protocol (what adbd speaks) over TCP.

The real adb server attaches to it with ``host:connect:127.0.0.1:PORT`` (``adb connect``),
exactly as it attaches to a Fire TV or Android TV with network debugging on: a CNXN
handshake, then OPEN/OKAY/WRTE/CLSE streams, one per service the host opens.  The device
side of ``shell:`` runs a tiny command interpreter for what the controller sends
(``input``, ``getprop``, ``am``, ``cmd package``, ``dumpsys package``, ``logcat``) and
records every service string byte for byte.

Faults: :meth:`drop` cuts every link (a dropped Wi-Fi link); :meth:`reboot` also stops
listening for a while (the device rebooting).
"""

from __future__ import annotations

import shlex
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

from peers.stream import close_listener

A_CNXN, A_OPEN, A_OKAY, A_CLSE, A_WRTE = (0x4E584E43, 0x4E45504F, 0x59414B4F, 0x45534C43,
                                          0x45545257)
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
RC_SUFFIX = "; echo __adb_rc=$?"

DEFAULT_PROPS = {
    "ro.product.manufacturer": "Amazon", "ro.product.model": "AFTMM",
    "ro.build.version.release": "9", "ro.build.version.sdk": "28",
    "ro.build.display.id": "PS7624/3337", "ro.build.version.name": "Fire OS 7.6.2.4 (PS7624/3337)",
}


def _message(command: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    checksum = sum(data) & 0xFFFFFFFF
    return struct.pack("<6I", command, arg0, arg1, len(data), checksum,
                       command ^ 0xFFFFFFFF) + data


class FakeAdbd:
    def __init__(self, props: dict[str, str] | None = None,
                 packages: dict[str, str] | None = None) -> None:
        self.props = dict(DEFAULT_PROPS if props is None else props)
        self.packages = dict(packages or {})  # package -> versionName
        self.services: list[bytes] = []     # every OPEN payload, as received
        self.events: list[tuple] = []       # what the device did: ("key", code), ("text", t)...
        self.connections = 0                # CNXN handshakes seen
        self.foreground: str | None = None
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._log_lines: list[str] = []
        self._log_cond = threading.Condition()
        self._closed = False
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self.serial = f"127.0.0.1:{self.port}"

    # -- control from the test ---------------------------------------------
    def log(self, line: str) -> None:
        """Append a line to the device log (streamed to every running logcat)."""
        with self._log_cond:
            self._log_lines.append(line)
            self._log_cond.notify_all()

    def drop(self) -> None:
        """Cut every transport link (the host sees the device go offline)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def reboot(self, down_s: float) -> None:
        """Drop every link and refuse connections for ``down_s`` seconds, then listen again."""
        close_listener(self._listener)
        self.drop()

        def come_back() -> None:
            time.sleep(down_s)
            if not self._closed:
                self._listener = self._listen(self.port)
        threading.Thread(target=come_back, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        close_listener(self._listener)
        self.drop()
        with self._log_cond:
            self._log_cond.notify_all()

    # -- transport ------------------------------------------------------------
    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return sock

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=_Link(self, conn).run, daemon=True).start()

    # -- the device shell -------------------------------------------------------
    def run_shell(self, command: str) -> tuple[str, int]:
        with_rc = command.endswith(RC_SUFFIX)
        argv = shlex.split(command[:-len(RC_SUFFIX)] if with_rc else command)
        out, rc = self._run(argv)
        return (out + f"__adb_rc={rc}\n" if with_rc else out), rc

    def _run(self, argv: list[str]) -> tuple[str, int]:
        match argv:
            case ["input", "keyevent", "--longpress", code]:
                self.events.append(("longpress", code))
            case ["input", "keyevent", code]:
                self.events.append(("key", code))
            case ["input", "text", text]:
                self.events.append(("text", text))
            case ["getprop"]:
                return "".join(f"[{k}]: [{v}]\n" for k, v in self.props.items()), 0
            case ["cmd", "package", "resolve-activity", "--brief", "-c", _, package]:
                if package not in self.packages:
                    return "No activity found\n", 0
                return ("priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 "
                        f"isDefault=false\n{package}/.MainActivity\n"), 0
            case ["am", "start", "-n", component]:
                package = component.split("/")[0]
                if package not in self.packages:
                    return (f"Starting: Intent {{ cmp={component} }}\nError: Activity class "
                            f"{{{component}}} does not exist.\n"), 1
                self.foreground = package
                self.events.append(("start", component))
                return f"Starting: Intent {{ cmp={component} }}\n", 0
            case ["am", "force-stop", package]:
                self.events.append(("stop", package))
                if self.foreground == package:
                    self.foreground = None
            case ["dumpsys", "package", package]:
                if package not in self.packages:
                    return f"Unable to find package: {package}\n", 0
                return (f"Packages:\n  Package [{package}] (5c0ffee):\n    versionCode=70 "
                        f"minSdk=22 targetSdk=30\n    versionName={self.packages[package]}\n"), 0
            case _:
                return f"/system/bin/sh: {argv[0] if argv else ''}: inaccessible or not found\n", 127
        return "", 0

    def log_position(self) -> int:
        with self._log_cond:
            return len(self._log_lines)

    def stream_log(self, alive: Callable[[], bool], sent: int) -> Iterator[str]:
        """Log lines from position ``sent`` on, as they come, while ``alive()``."""

        def more(already: int) -> bool:
            return len(self._log_lines) > already or not alive() or self._closed
        while alive() and not self._closed:
            with self._log_cond:
                self._log_cond.wait_for(partial(more, sent), timeout=0.1)
                new, sent = self._log_lines[sent:], len(self._log_lines)
            yield from new


class _Link:
    """One transport connection from the adb server."""

    def __init__(self, device: FakeAdbd, conn: socket.socket) -> None:
        self.device = device
        self.conn = conn
        self.send_lock = threading.Lock()
        self.next_id = 1
        self.acks: dict[int, threading.Event] = {}
        self.open_streams: set[int] = set()

    def send(self, *message: object) -> None:
        with self.send_lock:
            self.conn.sendall(_message(*message))  # type: ignore[arg-type]

    def recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("host closed the link")
            data += chunk
        return data

    def run(self) -> None:
        try:
            while True:
                command, arg0, arg1, length, checksum, magic = struct.unpack(
                    "<6I", self.recv_exact(24))
                if magic != command ^ 0xFFFFFFFF:
                    raise ConnectionError("bad magic")
                data = self.recv_exact(length) if length else b""
                self.handle(command, arg0, arg1, data)
        except (OSError, ConnectionError):
            self.conn.close()
        finally:
            self.open_streams.clear()
            for event in self.acks.values():
                event.set()

    def handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.device.connections += 1
            banner = ";".join(f"{k}={self.device.props.get(k, '')}" for k in
                              ("ro.product.name", "ro.product.model", "ro.product.device"))
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, f"device::{banner};".encode())
        elif command == A_OPEN:
            self.device.services.append(data.rstrip(b"\0"))
            local_id, self.next_id = self.next_id, self.next_id + 1
            self.open_streams.add(local_id)
            log_from = self.device.log_position()  # a logcat sees lines logged after it opened
            self.send(A_OKAY, local_id, arg0)
            threading.Thread(target=self.serve,
                             args=(local_id, arg0, data.rstrip(b"\0").decode(), log_from),
                             daemon=True).start()
        elif command == A_OKAY:
            event = self.acks.get(arg1)
            if event is not None:
                event.set()
        elif command == A_CLSE:
            self.open_streams.discard(arg1)
            event = self.acks.get(arg1)
            if event is not None:
                event.set()
        elif command == A_WRTE:
            self.send(A_OKAY, arg1, arg0)

    def write(self, local_id: int, remote_id: int, data: bytes) -> bool:
        """WRTE and wait for the host's OKAY (adb's flow control)."""
        event = self.acks[local_id] = threading.Event()
        self.send(A_WRTE, local_id, remote_id, data)
        event.wait(5)
        return local_id in self.open_streams

    def serve(self, local_id: int, remote_id: int, service: str, log_from: int) -> None:
        try:
            if service.startswith("shell:logcat"):
                for line in self.device.stream_log(lambda: local_id in self.open_streams, log_from):
                    if not self.write(local_id, remote_id, (line + "\n").encode()):
                        return
            elif service.startswith("shell:"):
                out, _ = self.device.run_shell(service[len("shell:"):])
                if out:
                    self.write(local_id, remote_id, out.encode())
            self.send(A_CLSE, local_id, remote_id)
        except OSError:
            pass
