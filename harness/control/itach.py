"""Global Caché iTach / GC-100 IR controller (TCP port 4998, ``sendir``).

The keymap maps each key to a code name; the codes are Pronto hex, kept in the
profile (``params.codes``) or in a YAML file it names (``params.codes_file``,
relative to the profile).  A press sends::

    sendir,1:1,ID,FREQ,1,OFFSET,on1,off1,...\r      ->  completeir,1:1,ID\r

A hold sends the code with ``hold_repeat`` repeats at key-down and ``stopir`` at
key-up, so the device sees the repeat frames a held remote sends.  ``busyIR``
(the emitter is still sending) and link faults are transient; ``ERR_...`` and a
GC-100's ``unknowncommand`` mean the unit rejected the command (bad connector,
bad code) and are reported with Global Caché's meaning of the error code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.control.base import RemoteControl, TransientControlError
from harness.control.pronto import IrCode, parse_pronto
from harness.control.transport import CommandRejected, SocketLink, safe_token
from harness.errors import BadInput

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig

ERRORS = {  # Global Caché's iTach error codes
    1: "invalid command", 2: "invalid module address", 3: "invalid connector address",
    4: "invalid ID value", 5: "invalid frequency", 6: "invalid repeat value",
    7: "invalid offset value", 8: "invalid pulse count", 9: "invalid pulse data",
    10: "uneven number of on/off values", 11: "no carriage return found",
    12: "repeat count exceeded", 13: "IR command sent to an input connector",
    14: "blaster command sent to a non-blaster connector", 15: "no carriage return before buffer full",
    16: "no carriage return", 17: "bad command syntax", 18: "sensor command sent to a non-input connector",
    19: "repeated IR transmission failure", 20: "above the IR on/off pair limit",
}


class ItachParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="the unit's IP address or host name")
    port: int = Field(4998, ge=1, le=65535)
    connector: str = Field("1:1", description="module:port of the IR emitter")
    codes: dict[str, str] = Field(default_factory=dict, description="code name -> Pronto hex")
    codes_file: str | None = Field(None, description="YAML file of code name -> Pronto hex, "
                                                     "relative to the profile")
    hold_repeat: int = Field(50, ge=1, le=50, description="repeats sent for a held key "
                                                           "(stopped at key-up)")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return safe_token(value, r"[A-Za-z0-9.:\[\]-]+", "host")

    @field_validator("connector")
    @classmethod
    def _connector(cls, value: str) -> str:
        return safe_token(value, r"\d+:\d+", "connector address")

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            parse_pronto(text, name)
        return value


def load_codes(path: Path) -> dict[str, IrCode]:
    """A code file: a YAML mapping of code name -> Pronto hex."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"IR code file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BadInput(f"IR code file {path}: must be a mapping of code name -> Pronto hex")
    return {str(name): parse_pronto(text, f"{path.name}:{name}") for name, text in data.items()}


class ItachRemote(RemoteControl):
    """IR through a Global Caché unit; every keymap code must be in the code set."""

    Params = ItachParams
    transport: ClassVar[str] = "Global Caché TCP"
    params: ItachParams

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        super().__init__(spec, rig)
        codes: dict[str, IrCode] = {}
        if self.params.codes_file:
            path = Path(self.params.codes_file)
            if not path.is_absolute() and rig.profile.source:
                path = Path(rig.profile.source).parent / path
            codes.update(load_codes(path))
        codes.update({name: parse_pronto(text, name) for name, text in self.params.codes.items()})
        missing = sorted(set(spec.keymap.values()) - set(codes))
        if missing:
            raise BadInput(f"device {self.device_name!r}: keymap codes without an IR code: "
                           f"{', '.join(missing)} (add them to controller.params.codes or the "
                           f"codes_file)")
        self.ir_codes = codes
        self.link = SocketLink(f"{self.params.host}:{self.params.port}", spec.io_timeout_s,
                               "Global Caché unit")
        self._next_id = 0

    def sendir(self, code: IrCode, repeat: int) -> tuple[int, str]:
        """The ``sendir`` line for ``code`` with a fresh ID."""
        self._next_id = self._next_id % 65535 + 1
        values = [self.params.connector, self._next_id, code.frequency_hz, repeat,
                  code.repeat_offset, *code.bursts]
        return self._next_id, "sendir," + ",".join(str(v) for v in values) + "\r"

    def _send_key(self, code: str, action: str) -> None:
        ir = self.ir_codes[code]
        if action == "press":
            ident, line = self.sendir(ir, 1)
            self.link.send(line.encode())
            self._await(f"completeir,{self.params.connector},{ident}")
        elif action == "down":  # the repeats run until stopir; their completeir is skipped later
            _, line = self.sendir(ir, self.params.hold_repeat)
            self.link.send(line.encode())
        else:
            self.link.send(f"stopir,{self.params.connector}\r".encode())
            self._await(f"stopir,{self.params.connector}")

    def _await(self, expected: str) -> str:
        """Read reply lines until ``expected``; completions of earlier sends are skipped."""
        while True:
            line = self.link.read_until(b"\r").decode("ascii", "replace").strip()
            if line == expected or line.startswith(expected + ","):
                return line
            if line.startswith("completeir,") or not line:
                continue
            if line.startswith("busyIR"):
                raise TransientControlError(f"Global Caché {self.link.address}: emitter busy "
                                            f"({line})")
            error = re.fullmatch(r"ERR_?(?:[\d:]+,)?(\d+)|unknowncommand,? ?(\d+)", line)
            if error:
                number = int(error.group(1) or error.group(2))
                raise CommandRejected(f"device {self.device_name!r}: Global Caché "
                                      f"{self.link.address} rejected the command: {line} "
                                      f"({ERRORS.get(number, 'unknown error')})")
            self.link.close()
            raise TransientControlError(f"Global Caché {self.link.address}: unexpected reply "
                                        f"{line[:80]!r} (waiting for {expected!r})")

    def probe(self) -> dict:
        def ask() -> str:
            self.link.send(b"getversion\r")
            while True:  # skip completions of earlier sends
                line = self.link.read_until(b"\r").decode("ascii", "replace").strip()
                if line and not line.startswith("completeir,"):
                    return line
        return {"address": self.link.address, "version": self._with_retries("getversion", ask),
                "connector": self.params.connector, "codes": len(self.ir_codes)}

    def close(self) -> None:
        super().close()
        self.link.close()
