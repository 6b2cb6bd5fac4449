"""avharness: a hardware-in-the-loop test harness for video devices.

The pieces a test touches are :class:`harness.dut.Dut` (the ``dut`` fixture) and
:func:`harness.steps.Step` (``dut.step(...)``); everything else plugs in behind
small protocols (see ``harness.control.base`` and ``harness.capture.base``).
"""

__version__ = "0.1.0"
