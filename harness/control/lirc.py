"""LIRC controller: IR through lircd's socket protocol (``irsend`` without the process).

lircd holds the code sets (its ``lircd.conf.d`` remotes; a profile names the remote,
and ``harness devices check`` verifies that every keymap code is in it).  Commands
are lines on lircd's Unix socket (or its TCP port with ``lircd --listen``)::

    SEND_ONCE remote KEY_OK          press
    SEND_START remote KEY_OK         key down: lircd repeats the code until
    SEND_STOP remote KEY_OK          key up
    LIST remote / VERSION            probe

and every reply is a block ``BEGIN / command / SUCCESS|ERROR / [DATA / n / n lines] / END``.
Broadcast blocks (``SIGHUP``) between replies are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.control.base import RemoteControl, TransientControlError
from harness.control.transport import (CommandRejected, SocketLink, parse_address,
                                       safe_token)

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig

NAME = r"[A-Za-z0-9_.+-]+"  # remote and code names: one word, nothing that ends a line


class LircParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remote: str = Field(description="the remote's name in lircd's configuration")
    socket: str = Field("/var/run/lirc/lircd",
                        description="lircd's socket: a path, or HOST:PORT for lircd --listen")

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str) -> str:
        return safe_token(value, NAME, "LIRC remote name")

    @field_validator("socket")
    @classmethod
    def _socket(cls, value: str) -> str:
        parse_address(value)
        return value


class LircRemote(RemoteControl):
    Params = LircParams
    transport: ClassVar[str] = "lircd socket"
    params: LircParams

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        super().__init__(spec, rig)
        self.link = SocketLink(self.params.socket, spec.io_timeout_s, "lircd")

    def command(self, *words: str) -> list[str]:
        """Send one command; its DATA lines, or CommandRejected with lircd's message."""
        line = " ".join(safe_token(w, NAME, "LIRC command word") for w in words)
        self.link.send(line.encode() + b"\n")
        while True:
            self._expect("BEGIN")
            echo = self._line()
            if echo == line:
                break
            while self._line() != "END":  # a broadcast (SIGHUP) or a stale reply
                pass
        status = self._line()
        data: list[str] = []
        after = self._line()
        if after == "DATA":
            count = self._line()
            if not count.isdigit():
                raise self._garbage(f"DATA count {count!r}")
            data = [self._line() for _ in range(int(count))]
            after = self._line()
        if after != "END":
            raise self._garbage(f"{after!r} where END belongs")
        if status == "ERROR":
            raise CommandRejected(f"device {self.device_name!r}: lircd at {self.params.socket} "
                                  f"refused `{line}`: {' '.join(data) or 'no reason given'}")
        if status != "SUCCESS":
            raise self._garbage(f"status {status!r}")
        return data

    def _line(self) -> str:
        return self.link.read_until(b"\n").decode("utf-8", "replace").rstrip("\n")

    def _expect(self, word: str) -> None:
        line = self._line()
        if line != word:
            raise self._garbage(f"{line!r} where {word} belongs")

    def _garbage(self, what: str) -> TransientControlError:
        self.link.close()
        return TransientControlError(f"lircd at {self.params.socket}: garbled reply: {what}")

    def _send_key(self, code: str, action: str) -> None:
        verb = {"press": "SEND_ONCE", "down": "SEND_START", "up": "SEND_STOP"}[action]
        self.command(verb, self.params.remote, code)

    def probe(self) -> dict:
        version = self._with_retries("VERSION", lambda: self.command("VERSION"))
        codes = self._with_retries(f"LIST {self.params.remote}",
                        lambda: self.command("LIST", self.params.remote))
        names = {entry.split()[-1] for entry in codes if entry.split()}
        facts: dict = {"lircd": version[0] if version else "?", "socket": self.params.socket,
                       "remote": self.params.remote, "codes": len(names)}
        missing = sorted(set(self.spec.keymap.values()) - names)
        if missing:
            facts["problems"] = [f"keymap codes not in lircd's remote {self.params.remote!r}: "
                                 f"{', '.join(missing)}"]
        return facts

    def close(self) -> None:
        super().close()
        self.link.close()
