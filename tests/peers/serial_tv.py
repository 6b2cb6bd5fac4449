"""A TV on the far end of a serial line: LG RS-232C, Samsung MDC, Samsung Ex-Link, or a line console.

``SerialTv(protocol)`` opens a pty pair (``os.openpty``) and serves the master side;
the controller opens ``tv.url`` (the slave, /dev/pts/N) with pyserial like a USB-serial
adapter.  ``SerialTv(protocol, tcp=True)`` serves a loopback TCP port instead, for
pyserial's ``socket://`` URLs.  ``received`` keeps every byte the TV got; ``keys`` the
key codes it acted on.  ``mode`` scripts faults: ``silent``, ``garbage``, ``reject``
(NG / NAK), ``busy`` (LG's NG03 "wait more time" once).
"""

from __future__ import annotations

import os
import re
import select
import socket
import threading
import tty


class SerialTv:
    def __init__(self, protocol: str, mode: str = "ok", set_id: int = 1, tcp: bool = False,
                 power: bool = True, console_prompt: str = "stb# ") -> None:
        self.protocol = protocol
        self.mode = mode
        self.set_id = set_id
        self.power = power
        self.prompt = console_prompt
        self.received = bytearray()
        self.keys: list[str] = []
        self.held: set[str] = set()
        self._buffer = bytearray()
        self._closed = threading.Event()
        self._busy_once = mode == "busy"
        self._threads: list[threading.Thread] = []
        if tcp:
            self._listener = socket.socket()
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen()
            self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
            self._fd = -1
            self._start(self._accept)
        else:
            self._listener = None
            self._fd, slave = os.openpty()
            tty.setraw(self._fd)
            self.url = os.ttyname(slave)
            self._slave = slave  # kept open so the pty survives the controller reopening it
            self._start(self._serve, self._fd)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conn = conn
            self._start(self._serve, conn.fileno())

    def _serve(self, fd: int) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.02)
                if not ready:
                    continue
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.received += chunk
            self._buffer += chunk
            for reply in self._answers():
                if self.mode == "silent":
                    continue
                if self.mode == "garbage":
                    reply = b"\x00\x13garbage line noise!\r\n" * 2
                try:
                    os.write(fd, reply)
                except OSError:
                    return

    # -- the protocols ------------------------------------------------------------
    def _answers(self):
        handler = {"lg": self._lg, "samsung-mdc": self._mdc, "samsung-exlink": self._exlink,
                   "line": self._line}[self.protocol]
        while (reply := handler()) is not None:
            yield reply

    def _take(self, n: int) -> bytes | None:
        if len(self._buffer) < n:
            return None
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _lg(self) -> bytes | None:
        if b"\r" not in self._buffer:
            return None
        line = self._take(self._buffer.index(b"\r") + 1).decode().strip()
        match = re.fullmatch(r"([a-z])([a-z]) ([0-9a-f]{2}) ([0-9a-f]{2})", line.lower())
        if not match:
            return b"? 00 NG01x"
        command, set_id, data = match.group(1) + match.group(2), match.group(3), match.group(4)
        if set_id not in (f"{self.set_id:02x}", "00"):
            return b""  # another set's command: no answer
        if self.mode == "reject" or self._busy_once:
            error = "03" if self._busy_once else "01"
            self._busy_once = False
            return f"{match.group(2)} {set_id} NG{error}x".encode()
        if command == "mc":
            self.keys.append(data)
        elif command == "ka":
            if data == "ff":
                data = "01" if self.power else "00"
            else:
                self.power = data == "01"
        else:
            return f"{match.group(2)} {set_id} NG01x".encode()
        return f"{match.group(2)} {set_id} OK{data}x".encode()

    def _mdc(self) -> bytes | None:
        head = bytes(self._buffer[:4])
        if len(head) < 4 or len(self._buffer) < 5 + head[3]:
            return None
        frame = self._take(5 + head[3])
        command, display_id, data = frame[1], frame[2], frame[4:-1]
        if frame[0] != 0xAA or sum(frame[1:-1]) & 0xFF != frame[-1]:
            return b""  # a real set ignores a bad frame
        if self.mode == "reject":
            return _mdc_answer(display_id, ord("N"), command, bytes([0x01]))
        if command == 0xB0:
            self.keys.append(f"{data[0]:02X}")
            return _mdc_answer(display_id, ord("A"), command, data)
        if command == 0x00:
            return _mdc_answer(display_id, ord("A"), command, bytes([1 if self.power else 0, 25, 0,
                                                                      0x21, 0x10, 0, 0]))
        return _mdc_answer(display_id, ord("N"), command, bytes([0x00]))

    def _exlink(self) -> bytes | None:
        frame = self._take(7)
        if frame is None:
            return None
        if sum(frame) & 0xFF or frame[:2] != b"\x08\x22" or self.mode == "reject":
            return b"\x03\x0c\xff"
        if frame[2:5] == b"\x0d\x00\x00":
            self.keys.append(f"{frame[5]:02X}")
        return b"\x03\x0c\xf1"

    def _line(self) -> bytes | None:
        if b"\n" not in self._buffer:
            return None
        line = self._take(self._buffer.index(b"\n") + 1).decode().strip()
        echo = f"{line}\r\n"  # a console echoes what it is typed
        words = line.split()
        if words[:1] == ["keyinject"] and len(words) == 2:
            self.keys.append(words[1])
            return f"{echo}[  12.345] input: key {words[1]}\r\nOK\r\n{self.prompt}".encode()
        if words[:2] in (["key", "down"], ["key", "up"]) and len(words) == 3:
            (self.held.add if words[1] == "down" else self.held.discard)(words[2])
            self.keys.append(f"{words[1]}:{words[2]}")
            return f"{echo}OK\r\n{self.prompt}".encode()
        if words == ["version"]:
            return f"{echo}STB-9000 firmware 3.4.1 (build 2024-11-02)\r\nOK\r\n{self.prompt}".encode()
        return f"{echo}ERROR: unknown command '{line}'\r\n{self.prompt}".encode()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._listener is not None:
            self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        # the serving threads stop polling before their fds close (a reused fd number must
        # not be read by a stale thread)
        for thread in self._threads:
            thread.join()
        if self._listener is not None:
            conn = getattr(self, "_conn", None)
            if conn is not None:
                conn.close()
        else:
            os.close(self._fd)
            os.close(self._slave)


def _mdc_answer(display_id: int, ack: int, command: int, values: bytes) -> bytes:
    """0xAA 0xFF id len 'A'|'N' r-cmd values... checksum (sum of the bytes after 0xAA)."""
    body = bytes([0xFF, display_id, 2 + len(values), ack, command]) + values
    return b"\xaa" + body + bytes([sum(body) % 256])
