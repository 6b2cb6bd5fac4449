"""Controller for the simulated device: key actions go straight to ``harness.sim``."""

from __future__ import annotations

from harness.control.base import RemoteControl


class MockRemote(RemoteControl):
    transport = "in-process simulator"
    supports_virtual_clock = True

    def __init__(self, spec, rig) -> None:
        super().__init__(spec, rig)
        self.sim = rig.simulator()

    def _send_key(self, code: str, action: str) -> None:
        t = self.clock.now()
        if action == "press":
            self.sim.press(code, t)
        elif action == "down":
            self.sim.key_down(code, t)
        else:
            self.sim.key_up(code, t)

    def _send_text(self, text: str) -> None:
        self.sim.text(text, self.clock.now())
