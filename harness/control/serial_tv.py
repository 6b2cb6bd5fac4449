"""Serial controller: TV RS-232 command sets and line-oriented consoles, over any pyserial URL.

``url`` is anything pyserial opens: ``/dev/ttyUSB0``, ``socket://host:port`` (a
serial-over-TCP server), ``rfc2217://host:port``.  ``protocol`` picks the framing:

``lg``
    LG's RS-232C commands: a key is ``mc <set id> <IR code>\\r`` (e.g. ``mc 01 44\\r``),
    acknowledged ``c 01 OK44x`` or ``c 01 NG<error>x``; the probe reads power (``ka 01 ff``).
``samsung-mdc``
    Samsung MDC: ``0xAA, command, display id, length, data..., checksum`` with the
    checksum the low byte of the sum of every byte after the header.  A key is the
    virtual remote command 0xB0; the answer is ``0xAA 0xFF id len 'A'|'N' r-cmd ...``
    (ACK or NAK with an error code); the probe reads status (command 0x00).
``samsung-exlink``
    Samsung consumer TVs' Ex-Link: ``08 22 0D 00 00 <key> <checksum>`` with the
    checksum making the 7 bytes sum to 0; ``03 0C F1`` is ACK, ``03 0C FF`` NAK.
``line``
    A set-top box debug console or a serial IR/HID bridge: each key action is a
    line from a template (``press``, and ``down``/``up`` where the bridge can hold a
    key); with ``ok`` set, reply lines are read until one matches ``ok`` (done) or
    ``error`` (rejected), skipping echo and log noise.

TV command sets have no key hold, so a hold repeats the key every
``repeat_interval_s`` (as a held IR remote repeats) until key-up.  Every read and
write has ``io_timeout_s``; a port that fails (unplugged adapter, closed
socket) is reopened on the next attempt.
"""

from __future__ import annotations

import re
import termios
import threading
import time
from typing import TYPE_CHECKING, ClassVar, Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.control.base import RemoteControl, TransientControlError
from harness.control.transport import CommandRejected, KeyRepeater, safe_token
from harness.errors import ControllerLost

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig

HEX_BYTE = r"[0-9A-Fa-f]{2}"
LINE_CODE = r"[A-Za-z0-9_.:,+-]+"
LG_ERRORS = {"01": "illegal code", "02": "function not supported", "03": "wait more time"}
MDC_HEADER, MDC_ACK, MDC_NAK = 0xAA, ord("A"), ord("N")
MDC_REMOTE, MDC_STATUS = 0xB0, 0x00
EXLINK_ACK, EXLINK_NAK = b"\x03\x0c\xf1", b"\x03\x0c\xff"
# what a failing port raises (a pty or tty whose far end is gone fails in termios calls)
PORT_ERRORS = (serial.SerialException, OSError, termios.error)


def _console_line(value: str) -> str:
    """A template is one plain command: no control characters, no shell operators."""
    return safe_token(value, r"[^\x00-\x1f\x7f;|&$`<>\\]+", "console command template")


class LineProtocol(BaseModel):
    """Templates (``{code}`` is the keymap code) and reply patterns of a line console."""

    model_config = ConfigDict(extra="forbid")

    press: str = Field("{code}", description="line sent for a key press")
    down: str | None = Field(None, description="line for key down (a bridge that holds keys)")
    up: str | None = Field(None, description="line for key up")
    eol: Literal["\r\n", "\n", "\r"] = Field("\r\n", description="line ending sent and expected")
    ok: str | None = Field(None, description="regex of the reply line that confirms a command; "
                                             "unset: nothing is awaited")
    error: str = Field(r"(?i)^\s*(err|error|unknown|invalid)\b",
                       description="regex of a reply line that rejects a command")
    probe: str | None = Field(None, description="a command whose reply probe() reports "
                                                "(e.g. a version command)")

    @field_validator("press", "down", "up")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None and "{code}" not in value:
            raise ValueError(f"template {value!r} has no {{code}}")
        return None if value is None else _console_line(value)

    @field_validator("probe")
    @classmethod
    def _probe(cls, value: str | None) -> str | None:
        return None if value is None else _console_line(value)

    @field_validator("ok", "error")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _hold_pair(self) -> "LineProtocol":
        if (self.down is None) != (self.up is None):
            raise ValueError("give both down and up templates (or neither: holds then repeat)")
        return self


class SerialParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="pyserial URL: /dev/ttyUSB0, socket://HOST:PORT, rfc2217://HOST:PORT")
    protocol: Literal["lg", "samsung-mdc", "samsung-exlink", "line"]
    baudrate: int = Field(9600, gt=0)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    set_id: int = Field(1, ge=0, le=254, description="LG set ID (0: all sets) / Samsung MDC "
                                                     "display ID")
    repeat_interval_s: float = Field(0.2, gt=0, le=2, description="key repeat while held")
    line: LineProtocol | None = Field(None, description="templates of the line protocol")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            serial.serial_for_url(value, do_not_open=True)
        except (ValueError, serial.SerialException) as exc:
            raise ValueError(f"pyserial cannot use {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _line_needs_templates(self) -> "SerialParams":
        if self.protocol == "line" and self.line is None:
            self.line = LineProtocol()
        return self


def mdc_frame(command: int, display_id: int, data: bytes = b"") -> bytes:
    body = bytes([command, display_id, len(data)]) + data
    return bytes([MDC_HEADER]) + body + bytes([sum(body) & 0xFF])


def exlink_frame(cmd: bytes) -> bytes:
    return cmd + bytes([-sum(cmd) & 0xFF])


class SerialRemote(RemoteControl):
    Params = SerialParams
    transport: ClassVar[str] = "serial"
    params: SerialParams

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        super().__init__(spec, rig)
        self._port: serial.Serial | None = None
        self._lock = threading.Lock()  # a repeating hold shares the port with other commands
        self._repeaters: dict[str, KeyRepeater] = {}

    # -- key actions ----------------------------------------------------------
    def _send_key(self, code: str, action: str) -> None:
        line = self.params.line
        if line is not None and line.down is not None and line.up is not None and action != "press":
            self._line_command(line.down if action == "down" else line.up, code)
        elif action == "up":
            repeater = self._repeaters.pop(code, None)
            if repeater is not None:
                self._stop_repeat(repeater, code)
        else:
            self._key(code)
            if action == "down":
                self._repeaters[code] = KeyRepeater(lambda: self._key(code),
                                                    self.params.repeat_interval_s)

    def _stop_repeat(self, repeater: KeyRepeater, code: str) -> None:
        try:
            repeater.stop()
        except TransientControlError as exc:  # not retried: the hold itself already broke
            raise ControllerLost(f"device {self.device_name!r}: repeating {code} during a hold "
                                 f"failed over {self.transport} {self.params.url}: {exc}") from None

    def _key(self, code: str) -> None:
        protocol = self.params.protocol
        if protocol == "lg":
            self._lg("mc", safe_token(code, HEX_BYTE, "LG IR key code").lower())
        elif protocol == "samsung-mdc":
            self._mdc(MDC_REMOTE, bytes([int(safe_token(code, HEX_BYTE, "MDC key code"), 16)]))
        elif protocol == "samsung-exlink":
            key = int(safe_token(code, HEX_BYTE, "Ex-Link key code"), 16)
            with self._lock:
                self._write(exlink_frame(bytes([0x08, 0x22, 0x0D, 0x00, 0x00, key])))
                answer = self._read(3)
            if answer == EXLINK_NAK:
                raise CommandRejected(f"device {self.device_name!r}: Ex-Link NAK for key {code}")
            if answer != EXLINK_ACK:
                raise self._garbage(f"Ex-Link answer {answer.hex(' ')}")
        else:
            assert self.params.line is not None
            self._line_command(self.params.line.press, code)

    # -- LG ---------------------------------------------------------------------
    def _lg(self, command: str, data: str) -> str:
        """Send ``command set-id data``; the acknowledged data."""
        set_id = f"{self.params.set_id:02x}"
        with self._lock:
            self._write(f"{command} {set_id} {data}\r".encode())
            reply = self._read_until(b"x").decode("ascii", "replace").strip()
        match = re.fullmatch(r"([a-z]) ([0-9A-Fa-f]{2}) (OK|NG)([0-9A-Fa-f]*)x", reply)
        if not match or match.group(1) != command[1] or (
                self.params.set_id and match.group(2).lower() != set_id):
            raise self._garbage(f"LG acknowledgement {reply!r} to `{command} {set_id} {data}`")
        if match.group(3) == "NG":
            error = match.group(4)
            if error == "03":
                raise TransientControlError(f"LG TV at {self.params.url}: NG03 (wait more time)")
            raise CommandRejected(f"device {self.device_name!r}: LG TV answered NG{error} "
                                  f"({LG_ERRORS.get(error, 'unknown error')}) to "
                                  f"`{command} {set_id} {data}`")
        return match.group(4)

    # -- Samsung MDC --------------------------------------------------------------
    def _mdc(self, command: int, data: bytes = b"") -> bytes:
        """Send one MDC command; the ACK's values (after 'A' and the echoed command)."""
        with self._lock:
            self._write(mdc_frame(command, self.params.set_id, data))
            head = self._read(4)
            if head[0] != MDC_HEADER or head[1] != 0xFF:
                raise self._garbage(f"MDC answer header {head.hex(' ')}")
            rest = self._read(head[3] + 1)
        body, checksum = head[1:] + rest[:-1], rest[-1]
        if sum(body) & 0xFF != checksum:
            raise self._garbage(f"MDC checksum {checksum:02X} != {sum(body) & 0xFF:02X} "
                                f"in {(head + rest).hex(' ')}")
        payload = body[3:]
        if len(payload) < 2 or payload[1] != command or payload[0] not in (MDC_ACK, MDC_NAK):
            raise self._garbage(f"MDC answer {(head + rest).hex(' ')} to command {command:02X}")
        if payload[0] == MDC_NAK:
            error = payload[2] if len(payload) > 2 else -1
            raise CommandRejected(f"device {self.device_name!r}: Samsung MDC NAK (error "
                                  f"{error:02X}) to command {command:02X} data {data.hex(' ')}")
        return payload[2:]

    # -- line consoles --------------------------------------------------------------
    def _line_command(self, template: str, code: str) -> list[str]:
        line = self.params.line
        assert line is not None
        text = template.replace("{code}", safe_token(code, LINE_CODE, "console key code"))
        with self._lock:
            self._write((text + line.eol).encode())
            return self._await_ok(text) if line.ok is not None else []

    def _await_ok(self, sent: str) -> list[str]:
        line = self.params.line
        assert line is not None and line.ok is not None
        seen: list[str] = []
        deadline = time.monotonic() + self.spec.io_timeout_s
        while True:
            reply = self._read_until(line.eol[-1:].encode(), deadline).decode("utf-8", "replace")
            reply = reply.strip()
            if not reply or reply == sent:
                continue
            seen.append(reply)
            if re.search(line.error, reply):
                raise CommandRejected(f"device {self.device_name!r}: console at {self.params.url} "
                                      f"rejected {sent!r}: {reply}")
            if re.search(line.ok, reply):
                return seen

    # -- probe --------------------------------------------------------------------------
    def probe(self) -> dict:
        facts: dict = {"url": self.params.url, "protocol": self.params.protocol}
        protocol = self.params.protocol
        if protocol == "lg":
            power = self._with_retries("LG power status", lambda: self._lg("ka", "ff"))
            facts["power"] = {"01": "on", "00": "off"}.get(power, power)
        elif protocol == "samsung-mdc":
            status = self._with_retries("MDC status", lambda: self._mdc(MDC_STATUS))
            if len(status) >= 4:
                facts.update(power="on" if status[0] else "off", volume=status[1],
                             mute=bool(status[2]), input=f"0x{status[3]:02X}")
        elif protocol == "line" and self.params.line and self.params.line.probe:
            command = self.params.line.probe
            facts["reply"] = self._with_retries(f"console {command!r}", lambda: self._console(command))
        return facts

    def _console(self, command: str) -> str:
        line = self.params.line
        assert line is not None
        with self._lock:
            self._write((command + line.eol).encode())
            if line.ok is not None:
                return " / ".join(self._await_ok(command))
            deadline = time.monotonic() + self.spec.io_timeout_s
            while True:
                reply = self._read_until(line.eol[-1:].encode(), deadline).decode("utf-8", "replace")
                if reply.strip() and reply.strip() != command:
                    return reply.strip()

    # -- the port -----------------------------------------------------------------------
    def _open(self) -> serial.Serial:
        if self._port is None:
            p = self.params
            try:
                self._port = serial.serial_for_url(
                    p.url, baudrate=p.baudrate, bytesize=p.bytesize, parity=p.parity,
                    stopbits=p.stopbits, timeout=self.spec.io_timeout_s,
                    write_timeout=self.spec.io_timeout_s)
            except PORT_ERRORS as exc:
                raise TransientControlError(f"cannot open {p.url}: {exc}") from None
        return self._port

    def _fault(self, what: str, exc: BaseException) -> TransientControlError:
        self._close_port()
        return TransientControlError(f"{what} {self.params.url}: {exc}")

    def _write(self, data: bytes) -> None:
        port = self._open()
        try:
            port.reset_input_buffer()  # a late answer to an earlier command is not this one's
            port.write(data)
            port.flush()
        except PORT_ERRORS as exc:
            raise self._fault("writing to", exc) from None

    def _read(self, n: int) -> bytes:
        try:
            data = self._open().read(n)
        except PORT_ERRORS as exc:
            raise self._fault("reading from", exc) from None
        if len(data) < n:
            raise TransientControlError(f"{self.params.url}: timed out after "
                                        f"{self.spec.io_timeout_s:g} s waiting for an answer "
                                        f"(got {data!r})")
        return data

    def _read_until(self, terminator: bytes, deadline: float | None = None) -> bytes:
        port = self._open()
        if deadline is not None:
            port.timeout = max(0.0, deadline - time.monotonic())
        try:
            data = port.read_until(terminator)
        except PORT_ERRORS as exc:
            raise self._fault("reading from", exc) from None
        finally:
            if self._port is not None:
                self._port.timeout = self.spec.io_timeout_s
        if not data.endswith(terminator):
            raise TransientControlError(f"{self.params.url}: timed out after "
                                        f"{self.spec.io_timeout_s:g} s waiting for an answer "
                                        f"(got {data[-80:]!r})")
        return data

    def _garbage(self, what: str) -> TransientControlError:
        return TransientControlError(f"{self.params.url}: garbled reply: {what}")

    def _close_port(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except PORT_ERRORS:
                pass
            self._port = None

    def close(self) -> None:
        super().close()
        for code, repeater in list(self._repeaters.items()):
            self._repeaters.pop(code)
            try:
                repeater.stop()
            except Exception:  # noqa: BLE001 - teardown
                pass
        self._close_port()

