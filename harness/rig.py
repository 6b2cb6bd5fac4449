"""A rig: the controller and capture sources of one device profile, on one clock.

Backends are looked up by the ``type`` each profile section names and are built
(and their parameters checked) here, so a test never touches hardware classes.
The clock is virtual only when every backend can run on one (the simulated
device, files) and real time was not asked for.
"""

from __future__ import annotations

from harness.capture import AudioSource, VideoSource, audio_backend, video_backend
from harness.clock import Clock, RealClock, VirtualClock
from harness.control import RemoteControl, controller_backend
from harness.errors import InfrastructureError
from harness.profile import Profile


class Rig:
    def __init__(self, profile: Profile, realtime: bool = False, clock: Clock | None = None) -> None:
        self.profile = profile
        controller_cls = controller_backend(profile.controller.type)
        video_cls = video_backend(profile.video.type)
        audio_cls = audio_backend(profile.audio.type) if profile.audio else None
        if clock is None:
            can_virtual = all(cls.supports_virtual_clock
                              for cls in (controller_cls, video_cls, audio_cls) if cls is not None)
            clock = VirtualClock() if can_virtual and not realtime else RealClock()
        self.clock: Clock = clock
        self._sim = None
        self.controller: RemoteControl | None = None
        self.video: VideoSource | None = None
        self.audio: AudioSource | None = None
        try:
            self.controller = controller_cls(profile.controller, self)
            self.video = video_cls(profile.video, self)
            self.audio = audio_cls(profile.audio, self) if audio_cls else None
        except InfrastructureError:
            self.close()
            raise

    def simulator(self):
        """The simulated device behind ``mock`` backends (created once per rig)."""
        if self._sim is None:
            from harness.sim.device import SimSettings, SimulatedDevice

            audio = self.profile.audio
            self._sim = SimulatedDevice(
                width=self.profile.video.width, height=self.profile.video.height,
                fps=self.profile.video.fps,
                sample_rate=audio.sample_rate if audio else 48000,
                channels=audio.channels if audio else 2,
                settings=SimSettings.model_validate(self.profile.sim or {}),
                clock=self.clock)
        return self._sim

    @property
    def sim(self):
        """The simulated device if this rig has one, else None."""
        return self._sim

    def close(self) -> None:
        for part in (self.controller, self.video, self.audio):
            if part is not None:
                try:
                    part.close()
                except Exception:  # noqa: BLE001 - teardown must release every part
                    pass
