"""A Roku on a loopback HTTP port: the External Control Protocol as a real Roku answers it.

``requests`` keeps (method, raw path, body) of every request; ``mode`` scripts faults:
``forbidden`` (403, ECP limited), ``error`` (503), ``garbage`` (queries answer non-XML),
``slow`` (answers after ``slow_s``), ``hangup`` (closes without answering).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEVICE_INFO = """<?xml version="1.0" encoding="UTF-8" ?>
<device-info>
\t<udn>29380007-0800-1025-80a4-d83134d8b7c6</udn>
\t<serial-number>X01900SUNSET</serial-number>
\t<vendor-name>Roku</vendor-name>
\t<model-name>Roku Ultra</model-name>
\t<model-number>4800X</model-number>
\t<software-version>12.5.0</software-version>
\t<software-build>4178</software-build>
\t<power-mode>PowerOn</power-mode>
</device-info>
"""
APPS = {"12": ("Netflix", "5.2.95"), "dev": ("Player Under Test", "1.0.7")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that gave up is expected
            super().handle_error(request, client_address)


class FakeRoku:
    def __init__(self, mode: str = "ok", slow_s: float = 1.0) -> None:
        self.mode = mode
        self.slow_s = slow_s
        self.requests: list[tuple[str, str, bytes]] = []
        self.active: str | None = None
        self.held: set[str] = set()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                peer.handle(self, "GET")

            def do_POST(self) -> None:
                peer.handle(self, "POST")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        self.requests.append((method, request.path, body))
        if self.mode == "hangup":
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.mode == "slow":
            time.sleep(self.slow_s)
        if self.mode == "forbidden":
            return self.reply(request, 403, b"")
        if self.mode == "error":
            return self.reply(request, 503, b"")
        status, payload = self.route(method, urllib.parse.urlsplit(request.path))
        if self.mode == "garbage" and method == "GET":
            payload = b"<html><body>Welcome to nginx"
        self.reply(request, status, payload)

    def route(self, method: str, url: urllib.parse.SplitResult) -> tuple[int, bytes]:
        parts = url.path.strip("/").split("/")
        if method == "POST" and parts[0] in ("keypress", "keydown", "keyup") and len(parts) == 2:
            key = urllib.parse.unquote(parts[1])
            (self.held.add if parts[0] == "keydown" else self.held.discard)(key)
            return 200, b""
        if method == "POST" and parts[0] == "launch" and len(parts) == 2:
            if parts[1] not in APPS:
                return 404, b""
            self.active = parts[1]
            return 200, b""
        if method == "GET" and parts == ["query", "device-info"]:
            return 200, DEVICE_INFO.encode()
        if method == "GET" and parts == ["query", "apps"]:
            return 200, ("<apps>" + "".join(f'<app id="{i}" type="appl" version="{v}">{n}</app>'
                                            for i, (n, v) in APPS.items()) + "</apps>").encode()
        if method == "GET" and parts == ["query", "active-app"]:
            if self.active is None:
                return 200, b"<active-app><app>Roku</app></active-app>"
            name, version = APPS[self.active]
            return 200, (f'<active-app><app id="{self.active}" type="appl" version="{version}">'
                         f"{name}</app></active-app>").encode()
        return 404, b""

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
