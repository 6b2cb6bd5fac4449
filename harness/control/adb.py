"""ADB controller (Fire TV, Android TV, Google TV) over the adb server's smart-socket protocol.

The controller talks to an adb server (``adb start-server``; the real one from
platform-tools) the way the ``adb`` client does: a TCP connection per request,
each request a 4-hex-digit length and a service name, each answer ``OKAY`` or
``FAIL`` plus a length-prefixed message.  The server owns the USB and TCP links
to devices, so USB devices (``serial: G070VM...``) and ADB over TCP/IP
(``serial: 192.168.1.20:5555``, attached with ``host:connect``) work the same.

On the device every command runs through its shell (``shell:`` service), so the
command line is built from an argument list with each argument validated or
quoted for the device shell: key codes must match ``[A-Z0-9_]+``, package and
activity names their Java syntax, and text for ``input text`` is quoted.

A command that cannot reach the device (server down, device offline, TCP link
dropped, a reboot) is a transient fault: the next attempt re-attaches the device
(``host:connect`` for TCP devices) and waits up to ``io_timeout_s`` for it to be
online, so a reboot is ridden out when ``retries * io_timeout_s`` covers it.

Key hold: ``input`` cannot keep a key down between two commands, so a hold is
Android's long press (``input keyevent --longpress``) sent at key-down; key-up
sends nothing.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.control.base import RemoteControl, TransientControlError
from harness.control.transport import CommandRejected, SocketLink, parse_address, safe_token
from harness.errors import BadInput

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig

KEYCODE = r"[A-Z0-9_]+"
PACKAGE = r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+"
ACTIVITY = r"\.?[A-Za-z][A-Za-z0-9_$]*(\.[A-Za-z][A-Za-z0-9_$]*)*"
SERIAL = r"[A-Za-z0-9._:\[\]-]+"
LOGCAT_ARG = r"[A-Za-z0-9_.:*=/-]+"
_CONNECT_POLL_S = 0.25
_RC_MARK = "__adb_rc="  # the device shell echoes the command's exit status after this


class AdbParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: str = Field(description="device serial: HOST:PORT for ADB over TCP/IP, else the USB serial")
    server: str = Field("127.0.0.1:5037", description="the adb server, HOST:PORT")
    adb: str = Field("adb", description="adb binary, to start a local server that is not running")
    app: str | None = Field(None, description="package under test (its version is probed)")
    launch_category: str = Field("android.intent.category.LEANBACK_LAUNCHER",
                                 description="intent category that launch() resolves an app's "
                                             "activity with (LAUNCHER on phones)")
    logcat_args: list[str] = Field(["-v", "threadtime", "-T", "1"],
                                   description="arguments of the streamed `logcat`")

    @field_validator("serial")
    @classmethod
    def _serial(cls, value: str) -> str:
        return safe_token(value, SERIAL, "adb serial")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        parse_address(value)
        return value

    @field_validator("app")
    @classmethod
    def _app(cls, value: str | None) -> str | None:
        return None if value is None else safe_token(value, PACKAGE, "package name")

    @field_validator("launch_category")
    @classmethod
    def _category(cls, value: str) -> str:
        return safe_token(value, PACKAGE, "intent category")

    @field_validator("logcat_args")
    @classmethod
    def _logcat_args(cls, value: list[str]) -> list[str]:
        return [safe_token(arg, LOGCAT_ARG, "logcat argument") for arg in value]

    @property
    def over_tcp(self) -> bool:
        return re.fullmatch(r".+:\d+", self.serial) is not None


class LogcatStream:
    """A running ``logcat`` whose output is copied to a file until :meth:`stop`."""

    def __init__(self, sock: socket.socket, pending: bytes, path: Path) -> None:
        self.path = path
        self.error: str | None = None
        self._sock = sock
        self._sock.settimeout(0.2)
        self._stopping = threading.Event()
        self._out: IO[bytes] = path.open("wb")
        self._out.write(pending)
        self._thread = threading.Thread(target=self._copy, name="adb-logcat", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        while not self._stopping.is_set():
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                self.error = f"logcat stream failed: {exc}"
                return
            if not chunk:
                if not self._stopping.is_set():
                    self.error = "logcat stream ended: the device or the adb server closed it"
                return
            self._out.write(chunk)
            self._out.flush()

    def stop(self) -> Path:
        """Stop streaming; returns the file. ``error`` says if the stream broke early."""
        self._stopping.set()
        self._thread.join()
        self._sock.close()
        self._out.close()
        return self.path

    def __enter__(self) -> "LogcatStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AdbRemote(RemoteControl):
    """Keys, text, apps, device facts and logcat through the adb server."""

    Params = AdbParams
    transport: ClassVar[str] = "adb"
    params: AdbParams

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        super().__init__(spec, rig)
        self._timeout_s = spec.io_timeout_s
        self._attach_needed = True  # (re)attach and wait for the device before the next command

    # -- keys and text ----------------------------------------------------
    def _send_key(self, code: str, action: str) -> None:
        safe_token(code, KEYCODE, "Android key code")
        if action == "press":
            self.shell(["input", "keyevent", code])
        elif action == "down":
            self.shell(["input", "keyevent", "--longpress", code])

    def _send_text(self, text: str) -> None:
        if not all(" " <= char <= "~" for char in text):
            raise BadInput(f"`input text` types printable ASCII only, not {text!r}")
        # `input text` reads %s as a space; the shell quoting is shlex's
        self.shell(["input", "text", text.replace(" ", "%s")])

    # -- apps and device facts --------------------------------------------
    def launch(self, package: str, activity: str | None = None) -> str:
        """Start ``package`` (its launcher activity unless ``activity`` is given)."""
        safe_token(package, PACKAGE, "package name")
        if activity is None:
            resolved = self._with_retries(f"resolve {package}", lambda: self.shell(
                ["cmd", "package", "resolve-activity", "--brief", "-c",
                 self.params.launch_category, package]))
            component = resolved.strip().splitlines()[-1].strip() if resolved.strip() else ""
            if "/" not in component:
                raise CommandRejected(f"device {self.device_name!r}: no "
                                      f"{self.params.launch_category} activity in {package!r}: "
                                      f"{resolved.strip()}")
        else:
            component = f"{package}/{safe_token(activity, ACTIVITY, 'activity name')}"
        return self._with_retries(f"launch {package}",
                       lambda: self.shell(["am", "start", "-n", component]))

    def stop_app(self, package: str) -> None:
        safe_token(package, PACKAGE, "package name")
        self._with_retries(f"stop {package}", lambda: self.shell(["am", "force-stop", package]))

    def properties(self) -> dict[str, str]:
        """Every system property (``getprop``)."""
        out = self._with_retries("getprop", lambda: self.shell(["getprop"]))
        return dict(re.findall(r"^\[([^\]]+)\]: \[(.*)\]\s*$", out, flags=re.M))

    def app_version(self, package: str) -> str | None:
        safe_token(package, PACKAGE, "package name")
        out = self._with_retries(f"version of {package}",
                      lambda: self.shell(["dumpsys", "package", package]))
        match = re.search(r"versionName=(\S+)", out)
        return match.group(1) if match else None

    def probe(self) -> dict:
        props = self.properties()
        facts = {"serial": self.params.serial,
                 "manufacturer": props.get("ro.product.manufacturer"),
                 "model": props.get("ro.product.model"),
                 "os": f"Android {props.get('ro.build.version.release', '?')} "
                       f"(SDK {props.get('ro.build.version.sdk', '?')})",
                 "build": props.get("ro.build.display.id")}
        if "ro.build.version.name" in props:  # Fire OS names its release here
            facts["os_name"] = props["ro.build.version.name"]
        if self.params.app:
            facts["app"] = self.params.app
            facts["app_version"] = self.app_version(self.params.app)
        return {k: v for k, v in facts.items() if v is not None}

    def start_evidence(self, directory: Path) -> list[LogcatStream]:
        """Each step's evidence gets the device log written while it ran."""
        return [self.logcat(directory / "logcat.txt")]

    def logcat(self, path: Path | str) -> LogcatStream:
        """Stream the device log into ``path`` until the returned stream is stopped."""
        argv = ["logcat", *self.params.logcat_args]
        return self._with_retries("logcat",
                       lambda: LogcatStream(*self._open_shell(argv).detach(), Path(path)))

    # -- the device shell --------------------------------------------------
    def shell(self, argv: list[str]) -> str:
        """Run ``argv`` on the device; its output, or :class:`CommandRejected` on failure.

        A transport fault raises :class:`TransientControlError`; callers that are
        not key actions wrap it in retries (see ``RemoteControl._with_retries``).
        """
        link = self._open_shell(argv, rc_mark=True)
        out = link.read_to_end().decode("utf-8", "replace").replace("\r\n", "\n")
        body, mark, status = out.rpartition(_RC_MARK)
        if not mark or not status.strip().isdigit():
            self._attach_needed = True
            raise TransientControlError(f"device {self.params.serial}: `{argv[0]}` was cut off "
                                        f"(no exit status in {out[-200:]!r})")
        rc = int(status.strip())
        failed = [line for line in body.splitlines() if line.startswith(("Error", "Exception"))]
        if rc != 0 or failed:
            raise CommandRejected(f"device {self.device_name!r}: `{shlex.join(argv)}` failed "
                                  f"(exit status {rc}): {body.strip()[-500:]}")
        return body

    def _open_shell(self, argv: list[str], rc_mark: bool = False) -> SocketLink:
        """A server connection switched to the device and running ``argv`` in its shell."""
        if self._attach_needed:
            self._attach()
        command = shlex.join(argv) + (f"; echo {_RC_MARK}$?" if rc_mark else "")
        link = self._server()
        try:
            self._request(link, f"host:transport:{self.params.serial}")
            self._request(link, f"shell:{command}")
        except TransientControlError:
            link.close()
            raise
        return link

    # -- the adb server's smart-socket protocol ------------------------------
    def _server(self) -> SocketLink:
        link = SocketLink(self.params.server, self._timeout_s, "adb server")
        try:
            link.connect()
        except TransientControlError:
            if not self._start_local_server():
                raise
            link.connect()
        return link

    def _start_local_server(self) -> bool:
        """Start the adb server when it is local and the binary is here (like the adb client)."""
        target = parse_address(self.params.server)
        host, port = target if isinstance(target, tuple) else ("", 0)
        adb = shutil.which(self.params.adb)
        try:
            local = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if not (local and adb):
            return False
        try:
            subprocess.run([adb, "-P", str(port), "start-server"], capture_output=True,
                           timeout=max(self._timeout_s, 10.0), check=False)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _request(self, link: SocketLink, service: str) -> None:
        """Send one request; a FAIL answer is a transient fault (the device may come back)."""
        failure = self._send_request(link, service)
        if failure is not None:
            link.close()
            self._attach_needed = True
            raise TransientControlError(f"adb server at {self.params.server}: {service[:60]}: "
                                        f"{failure}")

    def _send_request(self, link: SocketLink, service: str) -> str | None:
        """Send one request: None when the server answers OKAY, its message when FAIL."""
        payload = service.encode()
        link.send(f"{len(payload):04x}".encode() + payload)
        status = link.read_exact(4)
        if status == b"OKAY":
            return None
        if status == b"FAIL":
            return self._read_message(link)
        link.close()
        raise TransientControlError(f"adb server at {self.params.server}: garbage reply "
                                    f"{status!r} to {service[:60]}")

    def _read_message(self, link: SocketLink) -> str:
        size = link.read_exact(4)
        try:
            length = int(size, 16)
        except ValueError:
            link.close()
            raise TransientControlError(f"adb server at {self.params.server}: garbage length "
                                        f"{size!r}") from None
        return link.read_exact(length).decode("utf-8", "replace")

    def _query(self, service: str) -> str:
        """A host service with a length-prefixed answer (``host:connect:...``)."""
        link = self._server()
        try:
            self._request(link, service)
            return self._read_message(link)
        finally:
            link.close()

    def _state(self) -> str:
        """The server's view of the device: ``device``, ``offline``, ``device offline``, ``... not found``."""
        link = self._server()
        try:
            failure = self._send_request(link, f"host-serial:{self.params.serial}:get-state")
            return failure if failure is not None else self._read_message(link)
        finally:
            link.close()

    def _attach(self) -> None:
        """Attach a TCP device (``adb connect``) and wait until it is online."""
        serial = self.params.serial
        if self.params.over_tcp:
            if "offline" in self._state():  # a dead link the server is still retrying
                self._query(f"host:disconnect:{serial}")
            deadline = time.monotonic() + self._timeout_s
            while True:  # a rebooting device refuses connections until its adbd is up
                answer = self._query(f"host:connect:{serial}")
                if answer.startswith(("connected to", "already connected to")):
                    break
                if time.monotonic() >= deadline:
                    raise TransientControlError(f"adb connect {serial}: {answer}")
                time.sleep(_CONNECT_POLL_S)
        link = self._server()
        try:
            # OKAY once for the request, and once more when the device is online
            self._request(link, f"host-serial:{serial}:wait-for-any-device")
            try:
                online = link.read_exact(4) == b"OKAY"
            except TransientControlError:
                online = False
        finally:
            link.close()
        if not online:
            state = self._state()
            hint = " (accept this computer's key on the device)" if "unauthorized" in state else ""
            raise TransientControlError(f"device {serial} did not come online within "
                                        f"{self._timeout_s:g} s (adb server {self.params.server}: "
                                        f"{state}){hint}")
        self._attach_needed = False
