"""A Global Caché iTach IR unit on a loopback TCP port (its port-4998 command protocol).

Validates ``sendir`` like the unit does (connector, frequency, repeat, offset, pulse
pairs) and answers ``completeir``/``ERR_1:1,NNN``/``busyIR``; a ``sendir`` with repeats
counts as transmitting until its ``stopir``.  ``received`` keeps every byte; ``sent``
the IR each accepted ``sendir`` carried.  ``mode`` scripts faults: ``garbage`` (an
unrelated reply), ``silent`` (no reply), ``hangup`` (close on the first command).
"""

from __future__ import annotations

from dataclasses import dataclass

from peers.stream import StreamPeer


@dataclass
class SentIr:
    connector: str
    ident: int
    frequency: int
    repeat: int
    offset: int
    bursts: list[int]


class FakeItach(StreamPeer):
    VERSION = "710-1005-05"

    def __init__(self, connectors=("1:1", "1:2", "1:3"), mode: str = "ok") -> None:
        self.connectors = connectors
        self.mode = mode
        self.sent: list[SentIr] = []
        self.stopped: list[str] = []
        self.transmitting: dict[str, int] = {}  # connector -> ID of a repeating sendir
        super().__init__(FakeItach._serve_commands)

    def _serve_commands(self, conn) -> None:
        buffer = bytearray()
        while (line := self.recv_until(conn, b"\r", buffer)) is not None:
            if self.mode == "hangup":
                return
            reply = self.answer(line.decode().strip())
            if reply and self.mode == "garbage":
                reply = "Hello there\r"
            if reply and self.mode != "silent":
                conn.sendall(reply.encode())

    def answer(self, command: str) -> str:
        name, _, rest = command.partition(",")
        args = rest.split(",") if rest else []
        if name == "getversion":
            return self.VERSION + "\r"
        if name == "stopir":
            connector = args[0] if args else ""
            if connector not in self.connectors:
                return f"ERR_{connector},003\r"
            self.stopped.append(connector)
            self.transmitting.pop(connector, None)
            return f"stopir,{connector}\r"
        if name != "sendir":
            return "ERR_1:1,001\r"
        if len(args) < 7:
            return "ERR_1:1,017\r"
        connector, numbers = args[0], args[1:]
        if connector not in self.connectors:
            return f"ERR_{connector},003\r"
        try:
            ident, freq, repeat, offset, *bursts = [int(v) for v in numbers]
        except ValueError:
            return f"ERR_{connector},009\r"
        if not 15000 <= freq <= 500000:
            return f"ERR_{connector},005\r"
        if not 1 <= repeat <= 50:
            return f"ERR_{connector},006\r"
        if len(bursts) % 2:
            return f"ERR_{connector},010\r"
        if offset % 2 == 0 or offset > len(bursts):
            return f"ERR_{connector},007\r"
        if connector in self.transmitting:
            return f"busyIR,{connector},{ident}\r"
        self.sent.append(SentIr(connector, ident, freq, repeat, offset, bursts))
        if repeat > 1:
            self.transmitting[connector] = ident
            return ""
        return f"completeir,{connector},{ident}\r"
