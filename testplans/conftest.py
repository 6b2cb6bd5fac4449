"""Fixtures for the release suites: the device at home, or already playing."""

from __future__ import annotations

import pytest

from harness.dut import Dut
from testplans.navigation import go_home, open_app, start_playback


@pytest.fixture
def home(dut: Dut) -> Dut:
    """The device at its home screen."""
    go_home(dut)
    return dut


@pytest.fixture
def playing(home: Dut) -> Dut:
    """The device playing the first title of the first app, a couple of seconds in."""
    open_app(home)
    start_playback(home)
    home.wait(2.0)
    return home
