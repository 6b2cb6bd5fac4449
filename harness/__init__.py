"""avharness: a hardware-in-the-loop test harness for video devices.

The pieces a test touches are :class:`harness.dut.Dut` (the ``dut`` fixture) and
:func:`harness.steps.Step` (``dut.step(...)``); everything else plugs in behind
small protocols (see ``harness.control.base`` and ``harness.capture.base``).
"""

from harness import threads as _threads

# one OpenBLAS/OpenMP thread per process unless the user says otherwise (harness/threads.py:
# the detectors' small products slow down with more)
_threads.SET_AT_IMPORT = tuple(_threads.default_math_threads())
try:   # and those a script loaded before importing harness (numpy first)
    _threads.limit_loaded_math_threads()
except _threads.MathThreadsError:
    pass   # reported where it can be shown: the CLI and the pytest plugin stop with it

__version__ = "0.1.0"
