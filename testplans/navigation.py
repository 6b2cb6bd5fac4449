"""Navigation helpers for the release suites: written against keys and the screen, not a device."""

from __future__ import annotations

import pytest

from harness.dut import Dut


def go_home(dut: Dut) -> None:
    """HOME, then wait for the home screen to be still (it does not change if already there)."""
    dut.press("HOME")
    settled = dut.wait_until_still(stable_s=1.0, timeout_s=10)
    if not settled:
        pytest.fail(f"the screen never settled after HOME: {settled!r}")


def max_latency_s(dut: Dut) -> float:
    return dut.profile.latency.max_key_to_screen_ms / 1000.0


def assert_reacts(transition, dut: Dut, what: str) -> None:
    """A key press changed the screen, in time, and the screen settled."""
    assert transition, f"{what}: {transition!r}"
    assert transition.latency_s <= max_latency_s(dut), (
        f"{what}: key-to-screen latency {transition.latency_s * 1000:.0f} ms exceeds "
        f"{dut.profile.latency.max_key_to_screen_ms:.0f} ms ({transition!r})")


def open_app(dut: Dut) -> None:
    """From home: open the focused app's catalogue."""
    assert_reacts(dut.press_and_wait("OK", stable_s=1.0), dut, "opening the app")


def start_playback(dut: Dut, timeout_s: float = 10.0) -> None:
    """From the catalogue: play the focused title and wait until the picture moves."""
    dut.press("OK")
    started = dut.wait_for_motion(timeout_s=timeout_s)
    assert started, f"playback did not start within {timeout_s:.0f} s of OK: {started!r}"
