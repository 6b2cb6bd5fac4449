"""A real lircd (Debian's lirc) with its ``file`` driver: it writes the pulse/space timings it
would send to an IR emitter into a file, which the tests decode.

``Lircd(config, tmp_path)`` starts ``lircd --nodaemon`` on a socket in ``tmp_path`` (and on a
loopback TCP port with ``listen=True``); ``frames()`` returns what it transmitted, split at
the inter-frame gaps; :func:`decode_rc6` reads an RC6 mode-6 frame back into its bits.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from peers.stream import free_port

RC6_T_US = 444  # RC6 half-bit


class Lircd:
    def __init__(self, config: Path, tmp_path: Path, listen: bool = False) -> None:
        lircd = shutil.which("lircd") or "/usr/sbin/lircd"
        if not Path(lircd).exists():
            raise RuntimeError("lircd is required (scripts/setup.sh installs Debian's lirc)")
        self.output = tmp_path / "ir-out"
        self.socket = str(tmp_path / "lircd.sock")
        self.port = free_port() if listen else None
        argv = [lircd, "--nodaemon", "--driver=file", f"--device={self.output}",
                f"--output={self.socket}", f"--pidfile={tmp_path / 'lircd.pid'}",
                f"--logfile={tmp_path / 'lircd.log'}"]
        if self.port:
            argv.append(f"--listen=127.0.0.1:{self.port}")
        self.process = subprocess.Popen([*argv, str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.connect(self.socket)
                if self.port:
                    socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"lircd did not start: {self.log()}") from None
                time.sleep(0.02)

    def log(self) -> str:
        path = self.socket.replace("lircd.sock", "lircd.log")
        return Path(path).read_text() if Path(path).exists() else ""

    def timings(self) -> list[tuple[str, int]]:
        if not self.output.exists():
            return []
        return [(kind, int(us)) for kind, us in
                (line.split() for line in self.output.read_text().splitlines() if line.strip())]

    def frames(self, gap_us: int = 20000) -> list[list[tuple[str, int]]]:
        frames: list[list[tuple[str, int]]] = [[]]
        for kind, us in self.timings():
            if kind == "space" and us >= gap_us:
                frames.append([])
            else:
                frames[-1].append((kind, us))
        return [frame for frame in frames if frame]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def decode_rc6(frame: list[tuple[str, int]], bits: int = 37) -> int:
    """The bits of an RC6 mode-6 frame (start, mode, trailer, 32 data bits, MSB first).

    RC6 is Manchester coded in half-bits of 444 us: a 1 is mark-space, a 0 space-mark;
    the trailer (4th bit after the start bit) has double-length halves.
    """
    (lead_kind, lead), (_, lead_space) = frame[0], frame[1]
    assert lead_kind == "pulse" and round(lead / RC6_T_US) == 6 and round(lead_space / RC6_T_US) == 2
    levels: list[int] = []
    for kind, us in frame[2:]:
        levels += [1 if kind == "pulse" else 0] * round(us / RC6_T_US)
    levels += [0] * 4  # the last half-bit's space merges into the gap
    value, i = 0, 0
    for index in range(bits):
        width = 2 if index == 4 else 1
        value = value << 1 | levels[i]
        i += 2 * width
    return value
