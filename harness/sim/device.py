"""The simulated set-top box behind ``--device=mock``.

:class:`SimulatedDevice` renders what a capture card would see and hear from a TV box: a launcher,
app catalogues and a player with moving, sounding content (see :mod:`harness.sim.ui` and
:mod:`harness.sim.content`), reacting to remote keys after a modelled latency, with defects
injected on a schedule and reported as ground truth in the event format of ``DEFECTS.md``.

Determinism: every picture and sample is a function of the settings, the key actions with their
times and the injections; nothing reads the wall clock and nothing is shared between devices.

Time: frame ``i`` is presented at ``i / fps`` and audio sample ``s`` at ``s / sample_rate``, both
on the session clock.  A key takes effect on the first frame at or after its time plus the
modelled latency (never before the next frame still to be rendered, and never before an earlier
key's effect: keys are handled in order).  Pictures already rendered are never revised.  Audio
is computed from the key actions known when it is rendered, so audio fetched ahead of the video
does not hear a key that arrives later for that stretch.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors.base import Event, Region
from detectors.synth import audio as audio_fx
from detectors.synth import video as video_fx
from harness.clock import Clock
from harness.errors import BadInput
from harness.sim.audio import key_tick
from harness.sim.content import ContentLibrary, real_media
from harness.sim.ui import (MAX_VOLUME, NEVER, App, UiRenderer, UiState, apply_key, apply_text,
                            build_apps)

SUPPORTED_DEFECTS = ("black", "freeze", "stutter", "tearing", "block_corruption", "no_signal",
                     "silence", "clicks", "hum", "hiss", "distortion", "loudness", "channel",
                     "av_offset")

KEY_REPEAT_DELAY_S = 0.5   # a held key repeats after this ...
KEY_REPEAT_S = 0.1         # ... every this often
AUDIO_RAMP_S = 0.005       # the sound fades over this around jumps (pause, seek, ...): no clicks
HISS_TABLE_S = 4.0         # injected hiss loops a noise table this long


# --------------------------------------------------------------------------- settings
class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _NoParams(_Params):
    pass


class _TearingParams(_Params):
    row: int | None = Field(None, ge=1, description="seam row; default: seeded, in the middle half")


class _BlockParams(_Params):
    block: int = Field(16, ge=4, le=128, description="macroblock size in pixels")


class _NoSignalParams(_Params):
    style: video_fx.NoSignalStyle = "blue"


class _ClicksParams(_Params):
    rate: float | None = Field(None, gt=0, le=100, description="clicks per second")


class _HumParams(_Params):
    freq: float = Field(50.0, gt=0, le=1000, description="mains frequency, 50 or 60 Hz")
    harmonics: int = Field(5, ge=1, le=20)


class _HissParams(_Params):
    colour: audio_fx.NoiseColour = "white"


class _DistortionParams(_Params):
    mode: audio_fx.ClipMode = "hard"


class _LoudnessParams(_Params):
    direction: audio_fx.LoudnessDirection = Field(
        "down", description="down: the sound ducks (a volume fault); up: louder, and clipped "
        "where the programme has less headroom than the step (a digital gain overflowing)")


class _ChannelParams(_Params):
    mode: audio_fx.ChannelFault = "drop"
    channel: int = Field(0, ge=0, le=7, description="the channel dropped or inverted")


class _AvOffsetParams(_Params):
    offset_ms: float = Field(ge=-5000, le=5000, description="> 0: audio late; < 0: audio early")


_PARAMS: dict[str, type[_Params]] = {
    "black": _NoParams, "freeze": _NoParams, "stutter": _NoParams, "tearing": _TearingParams,
    "block_corruption": _BlockParams, "no_signal": _NoSignalParams, "silence": _NoParams,
    "clicks": _ClicksParams, "hum": _HumParams, "hiss": _HissParams,
    "distortion": _DistortionParams, "loudness": _LoudnessParams, "channel": _ChannelParams,
    "av_offset": _AvOffsetParams,
}


class InjectionSpec(BaseModel):
    """One defect episode, active over ``[at, at + duration)`` seconds on the device clock.

    ``severity`` scales the defect (see :mod:`detectors.synth`): the darkening of ``black``, the
    share of irregular steps of ``stutter``, the share of torn frames of ``tearing``, the area of
    ``block_corruption``, the level of the audio defects.  ``freeze``, ``no_signal`` and
    ``av_offset`` have no degree and ignore it.  ``params`` are checked per kind and filled with
    their defaults: tearing ``row``, block_corruption ``block``, no_signal ``style``
    (blue/black/bars), clicks ``rate``, hum ``freq`` and ``harmonics``, hiss ``colour``
    (white/pink), distortion ``mode`` (hard/soft), loudness ``direction`` (up/down: a jump of
    6 dB at severity near 0 to 20 dB at 1), channel ``mode`` (drop/swap/invert) and ``channel``,
    av_offset ``offset_ms`` (required).
    """

    model_config = ConfigDict(extra="forbid")

    kind: str
    at: float
    duration: float = Field(1.0, gt=0)
    severity: float = Field(1.0, gt=0, le=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in SUPPORTED_DEFECTS:
            raise ValueError(f"unknown defect kind {value!r}; supported: "
                             f"{', '.join(SUPPORTED_DEFECTS)}")
        return value

    @model_validator(mode="after")
    def _kind_params(self) -> "InjectionSpec":
        model = _PARAMS[self.kind]
        try:
            self.params = model.model_validate(self.params).model_dump()
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}"
                                 for e in exc.errors())
            allowed = ", ".join(model.model_fields) or "none"
            raise ValueError(f"params of {self.kind}: {problems} (allowed: {allowed})") from None
        return self


class SimSettings(BaseModel):
    """The ``sim:`` block of a device profile."""

    model_config = ConfigDict(extra="forbid")

    key_latency_ms: float = Field(120.0, ge=0, le=10_000, description="key-to-screen latency")
    key_latency_jitter_ms: float = Field(30.0, ge=0, le=10_000,
                                         description="uniform +- jitter on the latency (seeded)")
    seed: int = 0
    content: Literal["auto", "real", "synthetic"] = Field(
        "auto", description="auto: real clips and music where installed, else synthetic")
    capture_noise: float = Field(0.0, ge=0, le=20,
                                 description="std dev of gaussian noise added to each frame")
    inject: list[InjectionSpec] = Field(default_factory=list, description="scheduled defects")


# --------------------------------------------------------------------------- key timeline
@dataclass(frozen=True)
class _Entry:
    frame: int            # the state holds from this frame on
    state: UiState
    key: str | None       # the key or text that produced it
    audio_break: bool     # the programme sound jumps here (start, stop, pause, seek, mute)


@dataclass
class _Hold:
    key: str
    start: int
    end: int | None = None


class _Timeline:
    """The UI state over output frames, folded lazily from the key actions.

    Actions are kept in effect order.  Folding runs as far as someone has asked (video or audio);
    an action landing in the folded range (only possible when audio ran ahead) refolds from
    there.  A held key repeats after :data:`KEY_REPEAT_DELAY_S` until released.
    """

    def __init__(self, apps: tuple[App, ...], fps: float) -> None:
        self._apps = apps
        self._fps = fps
        self._actions: list[tuple[int, str, str]] = []  # (frame, "key" | "text", value)
        self._action_frames: list[int] = []
        self._holds: list[_Hold] = []
        self._entries: list[_Entry] = [_Entry(NEVER, UiState(), None, False)]
        self._entry_frames: list[int] = [NEVER]
        self._built = NEVER
        self._next_action = 0
        self._repeat_delay = max(1, round(KEY_REPEAT_DELAY_S * fps))
        self._repeat_every = max(1, round(KEY_REPEAT_S * fps))

    @property
    def last_effect(self) -> int:
        return self._action_frames[-1] if self._action_frames else NEVER

    def add(self, frame: int, kind: str, value: str) -> None:
        self._actions.append((frame, kind, value))
        self._action_frames.append(frame)
        self._invalidate(frame)

    def hold(self, key: str, frame: int) -> None:
        self.add(frame, "key", key)
        self._holds.append(_Hold(key, frame))

    def release(self, key: str, frame: int) -> None:
        for hold in reversed(self._holds):
            if hold.key == key and hold.end is None:
                hold.end = frame
                self._invalidate(frame)
                return

    def state_at(self, frame: int) -> UiState:
        return self.entries(frame, frame)[0].state

    def entries(self, first: int, last: int) -> list[_Entry]:
        """The entry in effect at frame ``first`` and those starting in (first, last]."""
        if last > self._built:
            self._extend(last)
        lo = bisect.bisect_right(self._entry_frames, first) - 1
        hi = bisect.bisect_right(self._entry_frames, last)
        return self._entries[lo:hi]

    def _invalidate(self, frame: int) -> None:
        if frame > self._built:
            return
        cut = bisect.bisect_left(self._entry_frames, frame)
        del self._entries[cut:], self._entry_frames[cut:]
        self._built = frame - 1
        self._next_action = bisect.bisect_left(self._action_frames, frame)

    def _extend(self, last: int) -> None:
        events: list[tuple[int, int, str, str]] = []
        while self._next_action < len(self._actions) and \
                self._action_frames[self._next_action] <= last:
            frame, kind, value = self._actions[self._next_action]
            events.append((frame, self._next_action, kind, value))
            self._next_action += 1
        for hold in self._holds:
            if hold.end is not None and hold.end <= self._built + 1:
                continue
            first = hold.start + self._repeat_delay
            k = max(0, -(-(self._built + 1 - first) // self._repeat_every))
            frame = first + k * self._repeat_every
            while frame <= last and (hold.end is None or frame < hold.end):
                events.append((frame, len(self._actions), "key", hold.key))
                frame += self._repeat_every
        events.sort(key=lambda e: (e[0], e[1]))
        for frame, _, kind, value in events:
            before = self._entries[-1].state
            if kind == "key":
                after = apply_key(before, value, frame, self._apps, self._fps)
            else:
                after = apply_text(before, value, frame, self._apps)
            brk = _sound_mapping(before, frame) != _sound_mapping(after, frame)
            self._entries.append(_Entry(frame, after, value, brk))
            self._entry_frames.append(frame)
        self._built = last


def _sound_mapping(state: UiState, frame: int) -> Hashable:
    """What the programme sound is at ``frame``: equal across a key exactly when it continues."""
    if state.screen != "player" or not state.playing or state.muted or state.volume == 0:
        return None
    return (state.app, state.item, state.position(frame))


def _volume_gain(state: UiState) -> float:
    """0 dB at full volume, 2 dB less per step, silent at 0 or muted."""
    if state.muted or state.volume == 0:
        return 0.0
    return float(10.0 ** (-(MAX_VOLUME - state.volume) * 2.0 / 20.0))


# --------------------------------------------------------------------------- injections
@dataclass
class _Episode:
    spec: InjectionSpec
    number: int
    event: Event
    frames: tuple[int, int]           # output frames [first, end)
    samples: tuple[int, int]          # audio samples [first, end)
    data: dict[str, Any] = field(default_factory=dict)  # per-kind precomputed parts

    @property
    def kind(self) -> str:
        return self.spec.kind

    def covers_frame(self, index: int) -> bool:
        return self.frames[0] <= index < self.frames[1]

    def overlap(self, start: int, end: int) -> tuple[int, int] | None:
        """This episode's samples within [start, end), or None."""
        lo, hi = max(start, self.samples[0]), min(end, self.samples[1])
        return (lo, hi) if lo < hi else None


# --------------------------------------------------------------------------- the device
class SimulatedDevice:
    """A deterministic TV box: key in, pictures and sound out, defects on request.

    Pictures returned by :meth:`video_frame` are read-only and may be shared between frames
    (an idle screen returns the same array): copy one before drawing on it.
    """

    def __init__(self, width: int, height: int, fps: float, sample_rate: int, channels: int,
                 settings: SimSettings, clock: Clock) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.sample_rate, self.channels = sample_rate, channels
        self.settings = settings
        self.clock = clock
        self._apps = build_apps()
        self._ui = UiRenderer(width, height, fps, self._apps)
        self._content = ContentLibrary(width, height, fps, sample_rate, channels, settings.seed,
                                       self._use_real_media(settings.content))
        self._timeline = _Timeline(self._apps, fps)
        self._key_rng = np.random.default_rng([settings.seed, 0])
        self._episodes: list[_Episode] = []
        self._noise: video_fx.NoiseBank | None = None
        if settings.capture_noise > 0:
            self._noise = video_fx.NoiseBank(height, width, settings.capture_noise,
                                             np.random.default_rng([settings.seed, 3]))
        self._tick = key_tick(sample_rate)
        self._ramp = max(1, round(AUDIO_RAMP_S * sample_rate))
        self._last_index = -1
        self._clean_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._last_key: Hashable | None = None
        self._last_picture: np.ndarray | None = None
        for spec in settings.inject:
            self._add_episode(spec)

    @staticmethod
    def _use_real_media(content: str) -> bool:
        if content == "synthetic":
            return False
        clips, music = real_media()
        if content == "real" and not (clips and music):
            raise BadInput("sim.content is 'real' but the sample media are not installed "
                           "(clips from Debian opencv-doc, music from frozen-bubble-data); "
                           "install them or use content: auto or synthetic")
        return bool(clips and music)

    # -- remote control
    def key_down(self, key: str, t: float) -> None:
        self._timeline.hold(key, self._effect_frame(t))

    def key_up(self, key: str, t: float) -> None:
        self._timeline.release(key, self._effect_frame(t))

    def press(self, key: str, t: float) -> None:
        """A key press; unknown keys are accepted and ignored, as by a real box."""
        self._timeline.add(self._effect_frame(t), "key", key)

    def text(self, text: str, t: float) -> None:
        """Typed text: goes to the catalogue's search box, ignored elsewhere."""
        self._timeline.add(self._effect_frame(t), "text", text)

    def _effect_frame(self, t: float) -> int:
        jitter = self.settings.key_latency_jitter_ms
        latency_ms = self.settings.key_latency_ms + (self._key_rng.uniform(-jitter, jitter)
                                                     if jitter > 0 else 0.0)
        frame = math.ceil((t + max(0.0, latency_ms) / 1000.0) * self.fps - 1e-6)
        return max(frame, self._last_index + 1, self._timeline.last_effect)

    # -- state
    @property
    def _state(self) -> UiState:
        return self._timeline.state_at(max(self._last_index, 0))

    @property
    def screen(self) -> str:
        """``home``, ``catalogue``, ``player`` or ``off``, as of the last rendered frame."""
        return self._state.screen

    @property
    def playing(self) -> bool:
        state = self._state
        return state.screen == "player" and state.playing

    @property
    def position_s(self) -> float:
        """The player's programme position at the last rendered frame."""
        return self._state.position(max(self._last_index, 0)) / self.fps

    @property
    def ground_truth(self) -> list[Event]:
        """Every injected episode, by start time, as ``detector="injected"`` events."""
        return [ep.event for ep in sorted(self._episodes, key=lambda e: (e.event.start_s,
                                                                         e.number))]

    # -- injection
    def inject(self, kind: str, at: float, duration: float = 1.0, severity: float = 1.0,
               **params: Any) -> Event:
        """Schedule a defect over ``[at, at + duration)`` (absolute seconds on the clock) and
        return the ground-truth event it produces.  Frames already rendered are not revised."""
        try:
            spec = InjectionSpec(kind=kind, at=at, duration=duration, severity=severity,
                                 params=params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or kind}: "
                f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
            raise BadInput(f"cannot inject {kind!r}: {problems}") from None
        return self._add_episode(spec)

    def end_injections(self, t: float) -> None:
        """End every injection still pending at ``t`` (absolute seconds): ones not yet started
        are dropped, running ones are cut short at ``t`` (and their ground truth with them).

        The pytest plugin calls this when a test ends, so a defect injected for one test never
        leaks into the next."""
        frame_end = math.ceil(t * self.fps - 1e-9)
        sample_end = math.ceil(t * self.sample_rate - 1e-9)
        kept = []
        for episode in self._episodes:
            if episode.event.end_s > t:
                if episode.event.start_s >= t:
                    continue
                episode.frames = (episode.frames[0], min(episode.frames[1], frame_end))
                episode.samples = (episode.samples[0], min(episode.samples[1], sample_end))
                episode.event.end_s = t
            kept.append(episode)
        self._episodes = kept

    def _add_episode(self, spec: InjectionSpec) -> Event:
        number = len(self._episodes)
        rng = np.random.default_rng([self.settings.seed, 2, number])
        end = spec.at + spec.duration
        frames = (math.ceil(spec.at * self.fps - 1e-9), math.ceil(end * self.fps - 1e-9))
        samples = (math.ceil(spec.at * self.sample_rate - 1e-9),
                   math.ceil(end * self.sample_rate - 1e-9))
        params = spec.params
        details: dict[str, Any] = {"severity": spec.severity}
        data: dict[str, Any] = {}
        region: Region | None = None
        kind = spec.kind
        if kind == "stutter":
            data["map"] = video_fx.stutter_map(rng, frames[1] - frames[0], spec.severity)
        elif kind == "tearing":
            row = params["row"]
            if row is None:
                row = int(rng.integers(self.height // 4, 3 * self.height // 4))
            if not 1 <= row < self.height:
                raise BadInput(f"tearing row {row} is outside the picture (1..{self.height - 1})")
            torn = rng.random(frames[1] - frames[0]) < spec.severity
            torn[:1] = True
            data.update(row=row, torn=torn)
            region = video_fx.tear_region(self.width, self.height, row)
            details["row"] = row
        elif kind == "block_corruption":
            region = video_fx.block_region(self.height, self.width, rng, spec.severity,
                                           params["block"])
            data["region"] = region
            details.update(block=params["block"],
                           area_ratio=region[2] * region[3] / (self.width * self.height))
        elif kind == "no_signal":
            picture = video_fx.no_signal(self.height, self.width, params["style"])
            picture.flags.writeable = False
            data["picture"] = picture
            details["style"] = params["style"]
        elif kind == "clicks":
            data["times"] = audio_fx.click_times(rng, spec.at, end, spec.severity, params["rate"])
            details["count"] = len(data["times"])
        elif kind == "hum":
            details.update(freq=params["freq"], harmonics=params["harmonics"],
                           level_dbfs=20 * math.log10(audio_fx.hum_level(spec.severity)))
        elif kind == "hiss":
            length = min(samples[1] - samples[0], int(HISS_TABLE_S * self.sample_rate))
            data["noise"] = audio_fx.noise(rng, length, self.channels, params["colour"])
            details.update(colour=params["colour"], snr_db=audio_fx.hiss_snr_db(spec.severity))
        elif kind == "distortion":
            details.update(mode=params["mode"], drive_db=audio_fx.clip_drive_db(spec.severity))
        elif kind == "loudness":
            step = audio_fx.loudness_step_db(spec.severity)
            gain_db = step if params["direction"] == "up" else -step
            data["gain"] = np.float32(10.0 ** (gain_db / 20.0))
            details.update(direction=params["direction"], gain_db=round(gain_db, 3))
        elif kind == "channel":
            if self.channels < 2:
                raise BadInput(f"cannot inject 'channel': the device's sound has "
                               f"{self.channels} channel; channel faults need two")
            if params["channel"] >= self.channels:
                raise BadInput(f"cannot inject 'channel': channel {params['channel']} does not "
                               f"exist (the sound has {self.channels}: 0..{self.channels - 1})")
            details.update(mode=params["mode"], channel=params["channel"])
        elif kind == "av_offset":
            data["shift"] = round(params["offset_ms"] * self.sample_rate / 1000.0)
            details["offset_ms"] = params["offset_ms"]
        event = Event(kind="av_sync" if kind == "av_offset" else kind, start_s=spec.at,
                      end_s=end, score=1.0, detector="injected", region=region, details=details)
        self._episodes.append(_Episode(spec, number, event, frames, samples, data))
        return event

    def _active(self, kinds: tuple[str, ...], index: int) -> list[_Episode]:
        return [ep for ep in self._episodes if ep.kind in kinds and ep.covers_frame(index)]

    # -- video
    def video_frame(self, index: int) -> np.ndarray:
        """The picture of frame ``index`` (presented at ``index / fps``): BGR uint8, read-only."""
        self._last_index = max(self._last_index, index)
        img = self._clean(self._source_index(index))
        for ep in self._active(("tearing",), index):
            if ep.data["torn"][index - ep.frames[0]]:
                previous = self._clean(self._source_index(index - 1))
                img = video_fx.tear(img, previous, ep.data["row"])
        for ep in self._active(("block_corruption",), index):
            rng = np.random.default_rng([self.settings.seed, 4, ep.number, index])
            img, _ = video_fx.corrupt_blocks(img, rng, ep.spec.severity,
                                             ep.spec.params["block"], ep.data["region"])
        for ep in self._active(("black",), index):
            img = video_fx.black(img, ep.spec.severity)
        for ep in self._active(("no_signal",), index):
            img = ep.data["picture"]
        if self._noise is not None:
            img = self._noise.apply(img, np.random.default_rng([self.settings.seed, 5, index]))
        img.flags.writeable = False
        return img

    def _source_index(self, index: int) -> int:
        """Which clean frame output frame ``index`` shows (freeze and stutter re-time frames)."""
        for ep in reversed(self._active(("freeze", "stutter"), index)):
            first = ep.frames[0]
            if ep.kind == "freeze":
                return first
            return first + int(ep.data["map"][index - first])
        return index

    def _clean(self, index: int) -> np.ndarray:
        """The undamaged picture of frame ``index`` (cached: a few recent ones, and the last
        static screen, which is reused while nothing on it changes)."""
        cached = self._clean_cache.get(index)
        if cached is not None:
            self._clean_cache.move_to_end(index)
            return cached
        state = self._timeline.state_at(index)
        key = self._ui.frame_key(state, index)
        if key is not None and key == self._last_key and self._last_picture is not None:
            picture = self._last_picture
        else:
            picture = self._render(state, index)
            picture.flags.writeable = False
            if key is not None:
                self._last_key, self._last_picture = key, picture
        self._clean_cache[index] = picture
        while len(self._clean_cache) > 4:
            self._clean_cache.popitem(last=False)
        return picture

    def _render(self, state: UiState, index: int) -> np.ndarray:
        if state.screen == "off":
            return self._ui.off()
        if state.screen == "home":
            return self._ui.home(state, index)
        if state.screen == "catalogue":
            return self._ui.catalogue(state, index)
        program = self._content.program(state.app, state.item)
        img = self._content.frame(program, state.position(index))
        self._ui.player_overlay(img, state, index)
        return img

    # -- audio
    def audio(self, start_sample: int, n: int) -> np.ndarray:
        """Samples ``[start_sample, start_sample + n)``: float32 ``(n, channels)``."""
        end = start_sample + n
        out = self._delayed_audio(start_sample, n)
        for ep in self._episodes:  # what the device does to its sound: dropouts, overdrive
            span = ep.overlap(start_sample, end)
            if span is None:
                continue
            a, b = span[0] - start_sample, span[1] - start_sample
            if ep.kind in ("silence", "no_signal"):
                severity = 1.0 if ep.kind == "no_signal" else ep.spec.severity
                out[a:b] = audio_fx.silence(out[a:b], severity)
            elif ep.kind == "distortion":
                out[a:b] = audio_fx.clip(out[a:b], ep.spec.severity, ep.spec.params["mode"])
            elif ep.kind == "loudness":
                # the gain fades in and out over AUDIO_RAMP_S, as a volume stage moves
                weight = audio_fx.edge_weight(np.arange(span[0], span[1]), *ep.samples,
                                              self._ramp)
                out[a:b] *= (1.0 + (ep.data["gain"] - 1.0) * weight)[:, None]
            elif ep.kind == "channel":
                out[a:b] = audio_fx.channel_fault(out[a:b], ep.spec.params["mode"],
                                                  ep.spec.severity, ep.spec.params["channel"])
        for ep in self._episodes:  # what the analogue path adds: hum, hiss, clicks
            span = ep.overlap(start_sample, end) if ep.kind in ("clicks", "hum", "hiss") else None
            if span is None:
                continue
            a, b = span[0] - start_sample, span[1] - start_sample
            t0 = span[0] / self.sample_rate
            if ep.kind == "hum":
                out[a:b] = audio_fx.add_hum(out[a:b], self.sample_rate, t0,
                                            ep.spec.params["freq"], ep.spec.severity,
                                            ep.spec.params["harmonics"])
            elif ep.kind == "hiss":
                table = ep.data["noise"]
                rows = (np.arange(span[0], span[1]) - ep.samples[0]) % table.shape[0]
                out[a:b] = audio_fx.add_hiss(out[a:b], table[rows], ep.spec.severity)
            else:
                out[a:b] = audio_fx.add_clicks(out[a:b], self.sample_rate, t0, ep.data["times"],
                                               ep.spec.severity)
        np.clip(out, -1.0, 1.0, out=out)
        return out

    def _delayed_audio(self, start: int, n: int) -> np.ndarray:
        """Clean sound, shifted in time where an av_offset episode is active, with short ramps
        where the shift starts and stops."""
        offsets = [ep for ep in self._episodes if ep.kind == "av_offset"]
        if not offsets:
            return self._clean_audio(start, n)
        end = start + n
        cuts = sorted({start, end, *(s for ep in offsets for s in ep.samples if start < s < end)})
        out = np.empty((n, self.channels), np.float32)
        for a, b in zip(cuts[:-1], cuts[1:]):
            shift = 0
            for ep in offsets:
                if ep.samples[0] <= a < ep.samples[1]:
                    shift = ep.data["shift"]
            out[a - start:b - start] = self._clean_audio(a - shift, b - a)
        edges = [s for ep in offsets for s in ep.samples]
        gain = self._ramps(start, n, edges)
        if gain is not None:
            out *= gain[:, None]
        return out

    def _ramps(self, start: int, n: int, breaks: list[int]) -> np.ndarray | None:
        """Gain dipping to 0 at each of ``breaks`` (sample positions), over AUDIO_RAMP_S on
        each side."""
        near = [b for b in breaks if start - self._ramp < b < start + n + self._ramp]
        if not near:
            return None
        positions = np.arange(start, start + n)
        gain = np.ones(n, np.float32)
        for b in near:
            np.minimum(gain, np.minimum(1.0, np.abs(positions - b) / self._ramp), out=gain)
        return gain

    def _frame_sample(self, frame: int) -> int:
        """The first audio sample presented at or after frame ``frame``."""
        return math.ceil(frame * self.sample_rate / self.fps - 1e-6)

    def _sample_frame(self, sample: int) -> int:
        """The frame being presented when sample ``sample`` plays."""
        return math.floor(sample * self.fps / self.sample_rate + 1e-6)

    def _clean_audio(self, start: int, n: int) -> np.ndarray:
        """The device's sound without defects: programme audio while playing (with ramps around
        jumps, pauses and programme wraps), a soft tick on launcher key presses, else silence."""
        out = np.zeros((n, self.channels), np.float32)
        end = start + n
        margin = max(self._ramp, self._tick.shape[0])
        entries = self._timeline.entries(self._sample_frame(start - margin),
                                         self._sample_frame(end + margin))
        breaks: list[int] = []
        for i, entry in enumerate(entries):
            seg_start = self._frame_sample(entry.frame) if entry.frame != NEVER else start - margin
            seg_end = (self._frame_sample(entries[i + 1].frame) if i + 1 < len(entries)
                       else end + margin)
            if entry.audio_break:
                breaks.append(seg_start)
            state = entry.state
            if entry.key is not None and state.screen in ("home", "catalogue"):
                self._mix(out, start, seg_start, self._tick * _volume_gain(state))
            if _sound_mapping(state, entry.frame) is None:
                continue
            breaks.extend(self._wraps(state, max(seg_start, start - margin),
                                      min(seg_end, end + margin)))
            lo, hi = max(seg_start, start), min(seg_end, end)
            if lo < hi:
                positions = self._programme_samples(state, lo, hi)
                program = self._content.program(state.app, state.item)
                out[lo - start:hi - start] = self._content.audio(program, positions) \
                    * np.float32(_volume_gain(state))
        gain = self._ramps(start, n, breaks)
        if gain is not None:
            out *= gain[:, None]
        return out

    def _programme_offset(self, state: UiState) -> int:
        """Programme sample = (output sample + offset) mod duration, while ``state`` plays."""
        return (round(state.anchor_pos * self.sample_rate / self.fps)
                - self._frame_sample(state.anchor_frame))

    def _programme_samples(self, state: UiState, lo: int, hi: int) -> np.ndarray:
        duration = round(state.duration * self.sample_rate / self.fps)
        return (np.arange(lo, hi, dtype=np.int64) + self._programme_offset(state)) % duration

    def _wraps(self, state: UiState, lo: int, hi: int) -> list[int]:
        """Output samples in [lo, hi) where the looping programme restarts."""
        duration = round(state.duration * self.sample_rate / self.fps)
        first = lo + (-(lo + self._programme_offset(state))) % duration
        return list(range(first, hi, duration))

    @staticmethod
    def _mix(out: np.ndarray, start: int, at: int, sound: np.ndarray) -> None:
        """Add mono ``sound`` starting at sample ``at`` into ``out`` (which starts at ``start``)."""
        a, b = max(at, start), min(at + sound.shape[0], start + out.shape[0])
        if a < b:
            out[a - start:b - start] += sound[a - at:b - at, None]
