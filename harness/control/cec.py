"""HDMI-CEC controller through libCEC's ``cec-client`` (Debian: cec-utils), where it is installed.

One ``cec-client`` process (started as an argv list, on first use and again after
it dies) holds the adapter; commands are lines on its stdin and it prints
``waiting for input`` after each.  A key is the CEC "User Control Pressed"
message (opcode 0x44) with the keymap's UI command code, then "User Control
Released" (0x45), from our logical address (asked with ``self``) to ``target``::

    tx 14:44:00      (Select, from Recorder 1 to Playback 1)
    tx 14:45

libCEC logs every frame it transmits as ``TRAFFIC: [...] << 14:44:00``; a command
whose frame is not logged was not sent (rejected).  libCEC does not report the
follower's acknowledgement to cec-client, so a frame nobody acked is not
detected here: ``harness devices check`` polls the target's power status.

A held key repeats "User Control Pressed" every ``repeat_interval_s`` (the CEC
spec asks for repeats under 500 ms) until key-up sends "Released".
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
import time
from typing import IO, TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.control.base import RemoteControl, TransientControlError
from harness.control.transport import CommandRejected, KeyRepeater, safe_token
from harness.errors import ControllerLost

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig

UI_CODE = r"[0-9A-Fa-f]{2}"
READY = "waiting for input"
LOG_LEVEL = "11"  # libCEC log levels: ERROR (1) | WARNING (2) | TRAFFIC (8)


class CecParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cec_client: str = Field("cec-client", description="the cec-client binary (Debian: cec-utils)")
    adapter: str | None = Field(None, description="adapter port (e.g. /dev/ttyACM0, RPI); "
                                                  "default: the first one detected")
    device_type: Literal["p", "r", "t", "a"] = Field("r", description="what we register as: "
                                                     "playback, recording, tuner, audio")
    osd_name: str = Field("avharness", description="our name on the CEC bus")
    target: int = Field(0, ge=0, le=14, description="logical address of the device under test "
                                                    "(0 TV, 4/8/11 playback devices)")
    repeat_interval_s: float = Field(0.4, gt=0, lt=0.5, description="key repeat while held")
    startup_timeout_s: float = Field(20.0, gt=0, le=120,
                                     description="opening the adapter and registering")

    @field_validator("adapter")
    @classmethod
    def _adapter(cls, value: str | None) -> str | None:
        return None if value is None else safe_token(value, r"[A-Za-z0-9_./:][A-Za-z0-9_./:-]*",
                                                     "CEC adapter port")

    @field_validator("osd_name")
    @classmethod
    def _osd_name(cls, value: str) -> str:
        return safe_token(value, r"[A-Za-z0-9_.][A-Za-z0-9 _.-]{0,13}", "CEC OSD name")


class CecRemote(RemoteControl):
    Params = CecParams
    transport: ClassVar[str] = "HDMI-CEC (cec-client)"
    params: CecParams

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        super().__init__(spec, rig)
        binary = shutil.which(self.params.cec_client)
        if binary is None:
            raise ControllerLost(f"device {self.device_name!r}: {self.params.cec_client!r} not "
                                 f"found: install libCEC's cec-client (Debian: apt-get install "
                                 f"cec-utils) or set controller.params.cec_client")
        self.binary = binary
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._source: int | None = None
        self._repeaters: dict[str, KeyRepeater] = {}

    # -- key actions ----------------------------------------------------------------
    def _send_key(self, code: str, action: str) -> None:
        safe_token(code, UI_CODE, "CEC UI command code")
        if action == "up":
            repeater = self._repeaters.pop(code, None)
            if repeater is not None:
                try:
                    repeater.stop()
                except TransientControlError as exc:
                    raise ControllerLost(f"device {self.device_name!r}: repeating {code} during "
                                         f"a hold failed over {self.transport}: {exc}") from None
            self.transmit(0x45)
            return
        self.transmit(0x44, code)
        if action == "press":
            self.transmit(0x45)
        else:
            self._repeaters[code] = KeyRepeater(lambda: self.transmit(0x44, code),
                                                self.params.repeat_interval_s)

    def transmit(self, opcode: int, *params: str) -> None:
        """Send one frame to the target and check that libCEC transmitted it."""
        with self._lock:
            source = self._logical_address()
            frame = ":".join([f"{source:x}{self.params.target:x}", f"{opcode:02x}",
                              *(p.lower() for p in params)])
            output = self._command(f"tx {frame}")
        if not any(line.endswith(f"<< {frame}") for line in output):
            raise CommandRejected(f"device {self.device_name!r}: libCEC did not transmit "
                                  f"{frame}: {' / '.join(output) or 'no output'}")

    # -- probe ------------------------------------------------------------------------
    def probe(self) -> dict:
        target = str(self.params.target)

        def ask(command: str) -> str:
            with self._lock:
                lines = self._command(f"{command} {target}")
            answers = [line for line in lines if not line.startswith(("TRAFFIC:", "DEBUG:"))]
            return answers[-1] if answers else ""

        power = self._with_retries("cec power status", lambda: ask("pow"))
        with self._lock:
            source = self._with_retries("cec self", self._logical_address)
        facts: dict = {"adapter": self.params.adapter or "autodetected", "target": self.params.target,
                       "our_address": source,
                       "power": power.removeprefix("power status: "),
                       "cec_version": self._with_retries("cec version", lambda: ask("ver"))
                       .removeprefix("CEC version "),
                       "osd_name": re.sub(r"^OSD name of device \d+ is '(.*)'$", r"\1",
                                          self._with_retries("cec name", lambda: ask("name")))}
        if facts["power"] in ("unknown", ""):
            facts["problems"] = [f"logical address {target} did not answer a power status request"]
        return facts

    # -- the cec-client process ---------------------------------------------------------
    def _logical_address(self) -> int:
        self._start()  # a restarted cec-client may have registered at another address
        if self._source is None:
            lines = self._command("self")
            found = [re.search(r"Addresses controlled by libCEC: (\d+)", line) for line in lines]
            match = next((m for m in found if m), None)
            if match is None:
                raise self._died(f"no logical address in {lines!r}")
            self._source = int(match.group(1))
        return self._source

    def _command(self, line: str) -> list[str]:
        """Write a command; the lines cec-client printed before its next prompt."""
        process = self._start()
        assert process.stdin is not None
        try:
            process.stdin.write(line + "\n")
            process.stdin.flush()
        except OSError as exc:
            raise self._died(f"writing {line!r}: {exc}") from None
        return self._until_ready(self.spec.io_timeout_s, line)

    def _until_ready(self, timeout_s: float, what: str) -> list[str]:
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise self._died(f"no answer to {what!r} within {timeout_s:g} s "
                                 f"(last output: {lines[-3:]!r})") from None
            if line is None:
                raise self._died(f"cec-client exited during {what!r}: {' / '.join(lines[-5:])}")
            if line == READY:
                return lines
            if line:
                lines.append(line)

    def _start(self) -> subprocess.Popen[str]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop_process()
        argv = [self.binary, "-t", self.params.device_type, "-o", self.params.osd_name,
                "-d", LOG_LEVEL]
        if self.params.adapter:
            argv.append(self.params.adapter)
        try:
            self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, text=True, bufsize=1)
        except OSError as exc:
            raise TransientControlError(f"cannot start {self.binary}: {exc}") from None
        self._lines = queue.Queue()
        assert self._process.stdout is not None
        threading.Thread(target=_pump, args=(self._process.stdout, self._lines),
                         name="cec-client-output", daemon=True).start()
        self._source = None
        self._until_ready(self.params.startup_timeout_s, "opening the CEC adapter")
        return self._process

    def _died(self, what: str) -> TransientControlError:
        self._stop_process(quit_first=False)
        adapter = self.params.adapter or "autodetected adapter"
        return TransientControlError(f"cec-client ({adapter}): {what}")

    def _stop_process(self, quit_first: bool = True) -> None:
        """End cec-client: ``q`` lets it release the adapter; a broken one is killed."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                if not quit_first:
                    raise OSError("not answering")
                assert process.stdin is not None
                process.stdin.write("q\n")
                process.stdin.flush()
                process.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        super().close()
        for repeater in self._repeaters.values():
            try:
                repeater.stop()
            except Exception:  # noqa: BLE001 - teardown
                pass
        self._repeaters.clear()
        self._stop_process()


def _pump(stream: IO[str], lines: "queue.Queue[str | None]") -> None:
    """Copy cec-client's output lines into the queue; None marks its end."""
    try:
        for line in stream:
            lines.put(line.rstrip("\r\n"))
    except (OSError, ValueError):
        pass
    lines.put(None)
