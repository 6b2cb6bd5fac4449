"""A stream-socket peer (loopback TCP or a Unix socket) whose behaviour a test scripts."""

from __future__ import annotations

import socket
import threading
from typing import Callable


class StreamPeer:
    """Listens on an ephemeral loopback port (or ``unix_path``); each connection is served by
    ``handler(peer, conn)``.

    ``received`` holds the bytes of all connections in arrival order; ``connections``
    counts accepted connections; ``address`` is what a controller's params name.
    A handler reads with :meth:`recv_until`.
    """

    def __init__(self, handler: Callable[["StreamPeer", socket.socket], None],
                 unix_path: str | None = None) -> None:
        self.handler = handler
        self.received = bytearray()
        self.connections = 0
        self._conns: list[socket.socket] = []
        if unix_path is None:
            self._listener = socket.socket()
            self._listener.bind(("127.0.0.1", 0))
            self.port = self._listener.getsockname()[1]
            self.address = f"127.0.0.1:{self.port}"
        else:
            self._listener = socket.socket(socket.AF_UNIX)
            self._listener.bind(unix_path)
            self.address = unix_path
        self._listener.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(self, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def recv_until(self, conn: socket.socket, delimiter: bytes, buffer: bytearray) -> bytes | None:
        """The next ``delimiter``-terminated chunk from ``conn`` (None when it closed)."""
        while delimiter not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            self.received += chunk
            buffer += chunk
        end = buffer.index(delimiter) + len(delimiter)
        data = bytes(buffer[:end])
        del buffer[:end]
        return data

    def drop_connections(self) -> None:
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        close_listener(self._listener)
        self.drop_connections()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def close_listener(listener: socket.socket) -> None:
    """Close a listening socket; shutdown first wakes (and ends) a thread blocked in accept()."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()
