"""Roku controller: External Control Protocol (ECP), HTTP on port 8060.

Keys are ``POST /keypress/Select`` (``keydown``/``keyup`` for a hold), text is one
``POST /keypress/Lit_<char>`` per character, ``launch`` is ``POST /launch/<app id>``
with deep-link parameters, and ``GET /query/device-info``, ``/query/active-app`` and
``/query/apps`` answer what the device, its OS and the channel under test are.

Connection faults, timeouts and 5xx answers are transient.  Any other non-2xx
answer is the device refusing: a 403 means ECP is limited (Settings > System >
Advanced system settings > Control by mobile apps > Network access: Permissive).
"""

from __future__ import annotations

import http.client
import urllib.parse
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.control.base import RemoteControl, TransientControlError
from harness.control.transport import CommandRejected, safe_token

if TYPE_CHECKING:
    from harness.profile import ControllerSpec
    from harness.rig import Rig

KEY = r"[A-Za-z0-9_]+"
APP_ID = r"[A-Za-z0-9_]+"
DEVICE_FACTS = ("vendor-name", "model-name", "model-number", "software-version",
                "software-build", "serial-number")


class RokuParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="the Roku's IP address or host name")
    port: int = Field(8060, ge=1, le=65535)
    app: str | None = Field(None, description="channel id under test (its version is probed); "
                                              "'dev' for a sideloaded channel")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return safe_token(value, r"[A-Za-z0-9.:\[\]-]+", "host")

    @field_validator("app")
    @classmethod
    def _app(cls, value: str | None) -> str | None:
        return None if value is None else safe_token(value, APP_ID, "Roku app id")


class RokuRemote(RemoteControl):
    Params = RokuParams
    transport: ClassVar[str] = "Roku ECP (HTTP)"
    params: RokuParams

    def __init__(self, spec: "ControllerSpec", rig: "Rig") -> None:
        super().__init__(spec, rig)
        self.base_url = f"http://{self.params.host}:{self.params.port}"

    def request(self, method: str, path: str) -> bytes:
        """One ECP request; the body of a 2xx answer."""
        connection = http.client.HTTPConnection(self.params.host, self.params.port,
                                                timeout=self.spec.io_timeout_s)
        try:
            connection.request(method, path, headers={"Content-Length": "0"} if method == "POST"
                               else {})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (
                getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
            raise TransientControlError(f"{method} {self.base_url}{path}: {reason}") from None
        finally:
            connection.close()
        if response.status >= 500:
            raise TransientControlError(f"{method} {self.base_url}{path}: HTTP {response.status} "
                                        f"{response.reason}")
        if not 200 <= response.status < 300:
            hint = (" (ECP is limited: set Settings > System > Advanced system settings > Control "
                    "by mobile apps > Network access to Permissive)") if response.status == 403 else ""
            raise CommandRejected(f"device {self.device_name!r}: {method} {self.base_url}{path}: "
                                  f"HTTP {response.status} {response.reason}{hint}")
        return body

    def _send_key(self, code: str, action: str) -> None:
        safe_token(code, KEY, "Roku key name")
        verb = {"press": "keypress", "down": "keydown", "up": "keyup"}[action]
        self.request("POST", f"/{verb}/{code}")

    def _send_text(self, text: str) -> None:
        for char in text:
            self.request("POST", "/keypress/Lit_" + urllib.parse.quote(char, safe=""))

    def launch(self, app: str, **deep_link: str) -> None:
        """Start channel ``app`` (``contentId=..., mediaType=...`` deep-link into it)."""
        query = f"?{urllib.parse.urlencode(deep_link)}" if deep_link else ""
        path = f"/launch/{safe_token(app, APP_ID, 'Roku app id')}{query}"
        self._with_retries(f"launch {app}", lambda: self.request("POST", path))

    def query(self, what: str) -> ET.Element:
        """``GET /query/<what>`` parsed (a garbled answer is transient)."""
        path = f"/query/{safe_token(what, r'[a-z-]+', 'ECP query')}"

        def fetch() -> ET.Element:
            body = self.request("GET", path)
            try:
                return ET.fromstring(body)
            except ET.ParseError as exc:
                raise TransientControlError(f"GET {self.base_url}{path}: not XML ({exc}): "
                                            f"{body[:60]!r}") from None
        return self._with_retries(f"query {what}", fetch)

    def active_app(self) -> dict[str, str]:
        """The foreground channel: ``{"id", "name", "version"}`` (the home screen has no id)."""
        app = self.query("active-app").find("app")
        if app is None:
            return {}
        return {"id": app.get("id", ""), "name": (app.text or "").strip(),
                "version": app.get("version", "")}

    def probe(self) -> dict:
        info = self.query("device-info")
        facts: dict = {name: info.findtext(name) for name in DEVICE_FACTS
                       if info.findtext(name) is not None}
        active = self.active_app()
        facts["active_app"] = active["name"] if active.get("id") else "home screen"
        if self.params.app:
            apps = {a.get("id"): a for a in self.query("apps").findall("app")}
            found = apps.get(self.params.app)
            facts["app"] = self.params.app
            if found is None:
                facts["problems"] = [f"channel {self.params.app!r} is not installed"]
            else:
                facts["app_name"] = (found.text or "").strip()
                facts["app_version"] = found.get("version", "")
        return facts
