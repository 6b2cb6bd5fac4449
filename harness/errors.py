"""Exceptions with a clear split between *the device is wrong* and *the rig is wrong*.

* :class:`InfrastructureError` and subclasses: a lost capture, a controller that
  stopped answering.  pytest reports these as ERROR and Allure as "broken",
  never as a test failure and never as a pass.
* :class:`ProfileError`, :class:`BadInput`: configuration or input the user must
  fix; the message names the file, the field and the fix.
* Defects found on the device surface as ``AssertionError`` (see ``harness.steps``).
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class InfrastructureError(HarnessError):
    """The test rig failed (capture, controller, transport): the result says nothing about the device."""


class CaptureLost(InfrastructureError):
    pass


class ControllerLost(InfrastructureError):
    pass


class CaptureMissing(InfrastructureError):
    """The rig has no capture of what a step watches (a step expecting no hum on a rig that
    captures no sound): the step can say nothing about the device, pass or fail."""


class BadInput(HarnessError):
    """Unreadable file, unknown detector, bad option value."""


class UnmappedKey(BadInput):
    pass


class StreamMissing(BadInput):
    """A file lacks the stream every detector asked of it needs (audio detectors on a video
    with no sound, video detectors on a song): analysing it would report nothing, which reads as
    clean."""


class ProfileError(HarnessError):
    """A device profile that cannot be used. ``problems`` lists (field path, reason, fix)."""

    def __init__(self, source: str, problems: list[tuple[str, str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"invalid device profile {source}:"]
        for path, reason, fix in problems:
            line = f"  {path or '<top level>'}: {reason}"
            if fix:
                line += f" (fix: {fix})"
            lines.append(line)
        super().__init__("\n".join(lines))
