"""The simulated device: UI behaviour, latency, playback, defect injection, determinism, and the
shared injectors in ``detectors.synth``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from detectors.synth import audio as audio_fx
from detectors.synth import video as video_fx
from harness.clock import VirtualClock
from harness.errors import BadInput
from harness.sim import SUPPORTED_DEFECTS, SimSettings, SimulatedDevice
from harness.sim.content import ContentLibrary, real_media
from harness.sim.device import AUDIO_RAMP_S
from harness.sim.ui import build_apps

W, H, FPS, SR = 320, 180, 30.0, 48000
CHUNK = SR // 50  # 20 ms


class Driver:
    """Drives a device as the mock capture does: frames in order, audio fetched after them."""

    def __init__(self, **settings) -> None:
        settings.setdefault("content", "synthetic")
        self.dev = SimulatedDevice(W, H, FPS, SR, 2, SimSettings(**settings), VirtualClock())
        self.index = 0  # next frame to render

    @property
    def now(self) -> float:
        return self.index / FPS

    def press(self, key: str) -> float:
        t = self.now
        self.dev.press(key, t)
        return t

    def frames(self, n: int) -> list[np.ndarray]:
        out = [self.dev.video_frame(i) for i in range(self.index, self.index + n)]
        self.index += n
        return out

    def seconds(self, s: float) -> list[np.ndarray]:
        return self.frames(round(s * FPS))

    def sound(self, start_s: float, end_s: float, chunk: int = CHUNK) -> np.ndarray:
        start, end = round(start_s * SR), round(end_s * SR)
        parts = [self.dev.audio(s, min(chunk, end - s)) for s in range(start, end, chunk)]
        return np.concatenate(parts)

    def to_player(self) -> None:
        self.seconds(0.3)
        self.press("OK")
        self.seconds(0.5)
        self.press("OK")
        self.seconds(1.0)
        assert self.dev.screen == "player" and self.dev.playing


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def changed(a: np.ndarray, b: np.ndarray) -> bool:
    return not np.array_equal(a, b)


# --------------------------------------------------------------------------- UI
def test_home_idle_is_static_and_silent():
    d = Driver()
    frames = d.seconds(1.0)
    assert d.dev.screen == "home" and not d.dev.playing
    assert all(np.array_equal(frames[0], f) for f in frames)
    assert frames[0].shape == (H, W, 3) and frames[0].dtype == np.uint8
    assert not frames[0].flags.writeable
    assert np.abs(d.sound(0, 1.0)).max() == 0.0


def test_right_moves_focus_after_latency_then_settles():
    d = Driver(key_latency_ms=120, key_latency_jitter_ms=30)
    before = d.seconds(0.5)[-1]
    t = d.press("RIGHT")
    frames = d.seconds(1.5)
    first = next(i for i, f in enumerate(frames) if changed(f, before))
    latency = (d.index - len(frames) + first) / FPS - t
    assert 0.090 - 1e-9 <= latency <= 0.150 + 1 / FPS
    changes = [i for i in range(1, len(frames)) if changed(frames[i], frames[i - 1])]
    assert len(changes) >= 3, "the focus highlight slides over several frames"
    assert changes[-1] - first <= round(0.3 * FPS), "and settles within ~0.25 s"
    assert all(np.array_equal(frames[-1], f) for f in frames[changes[-1]:])
    # the launcher ticks softly on the key
    tick = d.sound(t, t + 0.3)
    assert 0 < np.abs(tick).max() < 0.1


def test_latency_stays_within_configured_bounds():
    for seed in range(4):
        d = Driver(seed=seed, key_latency_ms=200, key_latency_jitter_ms=50)
        before = d.seconds(0.2)[-1]
        for key in ("RIGHT", "RIGHT", "DOWN", "LEFT"):
            t = d.press(key)
            frames = d.seconds(0.8)
            first = next(i for i, f in enumerate(frames) if changed(f, before))
            latency = (d.index - len(frames) + first) / FPS - t
            assert 0.150 - 1e-9 <= latency <= 0.250 + 1 / FPS, (seed, key, latency)
            before = frames[-1]


def test_navigation_reaches_player_and_back():
    d = Driver()
    d.seconds(0.2)
    d.press("RIGHT")
    d.seconds(0.4)
    d.press("OK")
    d.seconds(0.4)
    assert d.dev.screen == "catalogue"
    d.press("BACK")
    d.seconds(0.4)
    assert d.dev.screen == "home"
    d.press("OK")
    d.seconds(0.4)
    d.press("DOWN")
    d.seconds(0.4)
    d.press("OK")
    d.seconds(0.4)
    assert d.dev.screen == "player" and d.dev.playing
    d.press("BACK")
    d.seconds(0.4)
    assert d.dev.screen == "catalogue" and not d.dev.playing
    d.press("OK")
    d.seconds(0.4)
    assert d.dev.screen == "player"
    d.press("HOME")
    d.seconds(0.4)
    assert d.dev.screen == "home"
    d.press("NO_SUCH_KEY")  # accepted and ignored, like a real box
    d.seconds(0.2)
    assert d.dev.screen == "home"


def test_held_key_repeats_until_released():
    d = Driver()
    d.seconds(0.2)
    d.dev.key_down("RIGHT", d.now)
    d.seconds(1.0)
    d.dev.key_up("RIGHT", d.now)
    d.seconds(0.5)
    state = d.dev._timeline.state_at(d.index)
    assert 3 <= state.home_focus <= 5  # the press, then a repeat every 0.1 s after 0.5 s


def test_power_toggles_standby():
    d = Driver()
    d.to_player()
    d.press("POWER")
    frames = d.seconds(0.5)
    assert d.dev.screen == "off" and not frames[-1].any()
    assert np.abs(d.sound(d.now - 0.2, d.now)).max() == 0.0
    d.press("POWER")
    d.seconds(0.5)
    assert d.dev.screen == "home"


def test_text_goes_to_the_catalogue_search():
    d = Driver()
    d.seconds(0.2)
    d.press("OK")
    d.seconds(0.4)
    catalogue = build_apps()[0]
    target = catalogue.items[7].title
    d.dev.text(target.split()[-1][:4], d.now)
    d.seconds(0.5)
    state = d.dev._timeline.state_at(d.index)
    assert state.query and catalogue.items[state.cat_focus].title.endswith(target.split()[-1])


# --------------------------------------------------------------------------- player
def test_player_picture_moves_and_sound_never_drops_out():
    d = Driver()
    d.to_player()
    start = d.now
    frames = d.seconds(6.0)
    assert all(changed(a, b) for a, b in zip(frames, frames[1:]))
    sound = d.sound(start, d.now)
    windows = sound[: sound.shape[0] // 4800 * 4800].reshape(-1, 4800, 2)
    assert min(rms(w) for w in windows) > 0.01, "never silent for 100 ms while playing"
    assert 0.03 < rms(sound) < 0.3


def test_pause_holds_picture_and_silences_audio_then_resumes():
    d = Driver()
    d.to_player()
    t = d.press("PLAY_PAUSE")
    d.seconds(0.3)
    assert not d.dev.playing
    position = d.dev.position_s
    held = d.seconds(1.0)
    assert all(np.array_equal(held[0], f) for f in held)
    assert np.abs(d.sound(t + 0.3, d.now)).max() == 0.0
    assert d.dev.position_s == position
    d.press("PLAY_PAUSE")
    d.seconds(0.3)
    moving = d.seconds(1.0)
    assert d.dev.playing and all(changed(a, b) for a, b in zip(moving, moving[1:]))
    assert rms(d.sound(d.now - 1.0, d.now)) > 0.02


def test_seek_moves_position():
    d = Driver()
    d.to_player()
    p0 = d.dev.position_s
    d.press("FAST_FORWARD")
    d.seconds(0.5)
    assert d.dev.position_s == pytest.approx(p0 + 10.5, abs=0.05)
    d.press("REWIND")
    d.seconds(0.5)
    assert d.dev.position_s == pytest.approx(p0 + 1.0, abs=0.05)
    d.press("REWIND")
    d.seconds(0.5)
    assert 0.5 - 0.2 <= d.dev.position_s <= 0.5 - 0.09, "clamped at the start"


def test_progress_bar_shows_after_ok_for_three_seconds():
    d, twin = Driver(), Driver()
    d.to_player()
    twin.to_player()
    d.press("OK")
    shown, plain = d.seconds(4.0), twin.seconds(4.0)
    differs = [changed(a, b) for a, b in zip(shown, plain)]
    first = differs.index(True)
    last = len(differs) - 1 - differs[::-1].index(True)
    assert first <= round(0.2 * FPS) and 2.9 <= (last - first + 1) / FPS <= 3.1
    top = int(H * 0.5)
    assert all(np.array_equal(a[:top], b[:top]) for a, b in zip(shown, plain))


# --------------------------------------------------------------------------- injection
def _twins(kind: str, at_offset: float = 1.0, duration: float = 1.0, severity: float = 1.0,
           **params):
    clean, damaged = Driver(), Driver()
    clean.to_player()
    damaged.to_player()
    at = damaged.now + at_offset
    event = damaged.dev.inject(kind, at=at, duration=duration, severity=severity, **params)
    n = round((at_offset + duration + 1.0) * FPS)
    start = clean.now
    frames = (clean.frames(n), damaged.frames(n))
    times = [(clean.index - n + i) / FPS for i in range(n)]
    sound = (clean.sound(start, clean.now), damaged.sound(start, damaged.now))
    return event, at, times, frames, start, sound


def _frames_differ_only_inside(times, frames, at, end):
    inside = [at <= t < end for t in times]
    differ = [changed(a, b) for a, b in zip(*frames)]
    assert not any(d for d, i in zip(differ, inside) if not i)
    return [d for d, i in zip(differ, inside) if i]


def _sound_differs_only_inside(start, sound, at, end, tolerance_s=0.0):
    delta = np.abs(sound[0] - sound[1]).max(axis=1)
    t = start + np.arange(delta.shape[0]) / SR
    outside = (t < at - tolerance_s) | (t >= end + tolerance_s)
    assert delta[outside].max(initial=0.0) == 0.0
    return delta, t


VIDEO_KINDS = ("black", "freeze", "stutter", "tearing", "block_corruption", "no_signal")
AUDIO_KINDS = ("silence", "clicks", "hum", "hiss", "distortion", "loudness", "channel", "av_offset")


def test_every_supported_defect_is_covered():
    assert set(VIDEO_KINDS + AUDIO_KINDS) == set(SUPPORTED_DEFECTS)


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_video_defect_changes_frames_in_its_window_only(kind):
    params = {"row": 100} if kind == "tearing" else {}
    event, at, times, frames, start, sound = _twins(kind, **params)
    end = at + 1.0
    assert (event.kind, event.start_s, event.end_s, event.detector) == (kind, at, end, "injected")
    assert event.details["severity"] == 1.0
    hit = _frames_differ_only_inside(times, frames, at, end)
    clean, damaged = frames
    window = [i for i, t in enumerate(times) if at <= t < end]
    if kind == "black":
        assert all(hit) and all(not damaged[i].any() for i in window)
    elif kind == "freeze":
        assert all(np.array_equal(damaged[window[0]], damaged[i]) for i in window)
        assert sum(hit) == len(window) - 1
    elif kind == "stutter":
        assert sum(hit) >= len(window) // 4
        repeats = sum(np.array_equal(damaged[i], damaged[i - 1]) for i in window)
        assert repeats >= 1
    elif kind == "tearing":
        assert all(hit) and event.region == (0, 92, W, 16)
        i = window[3]
        assert np.array_equal(damaged[i][:100], clean[i][:100])
        assert np.array_equal(damaged[i][100:], clean[i - 1][100:])
    elif kind == "block_corruption":
        x, y, w, h = event.region
        assert all(hit) and event.details["area_ratio"] == pytest.approx(w * h / (W * H))
        for i in window:
            diff = np.any(damaged[i] != clean[i], axis=2)
            ys, xs = np.nonzero(diff)
            assert ys.min() >= y and ys.max() < y + h and xs.min() >= x and xs.max() < x + w
    else:  # no_signal: solid blue, and silent
        assert all(np.array_equal(damaged[i], damaged[window[0]]) for i in window)
        assert tuple(damaged[window[0]][0, 0]) == (200, 0, 0)
    if kind == "no_signal":
        delta, t = _sound_differs_only_inside(start, sound, at, end)
        inside = (t >= at) & (t < end)
        assert np.abs(sound[1][inside]).max() == 0.0
    else:
        assert np.array_equal(*sound)


@pytest.mark.parametrize("kind, params", [("silence", {}), ("clicks", {}), ("hum", {"freq": 60}),
                                          ("hiss", {"colour": "pink"}), ("distortion", {}),
                                          ("loudness", {}), ("channel", {"mode": "swap"}),
                                          ("av_offset", {"offset_ms": 200})])
def test_audio_defect_changes_sound_in_its_window_only(kind, params):
    event, at, times, frames, start, sound = _twins(kind, **params)
    end = at + 1.0
    assert event.start_s == at and event.end_s == end and event.detector == "injected"
    tolerance = AUDIO_RAMP_S + 1 / SR if kind == "av_offset" else 0.0
    delta, t = _sound_differs_only_inside(start, sound, at, end, tolerance)
    inside = (t >= at) & (t < end)
    clean, damaged = sound[0][inside], sound[1][inside]
    assert all(np.array_equal(a, b) for a, b in zip(*frames)), "the picture is untouched"
    if kind == "silence":
        assert np.abs(damaged).max() == 0.0 and rms(clean) > 0.02
    elif kind == "clicks":
        spikes = np.nonzero(np.abs(damaged - clean).max(axis=1) > 0.25)[0]
        assert len(spikes) >= event.details["count"]
    elif kind == "hum":
        spectrum = np.abs(np.fft.rfft((damaged - clean)[:, 0]))
        freqs = np.fft.rfftfreq(damaged.shape[0], 1 / SR)
        assert freqs[spectrum.argmax()] == pytest.approx(60, abs=1.5)
        assert event.details["freq"] == 60
    elif kind == "hiss":
        snr = 20 * np.log10(audio_fx.PROGRAM_RMS / rms(damaged - clean))
        assert snr == pytest.approx(event.details["snr_db"], abs=1.0)
    elif kind == "distortion":
        assert np.abs(damaged).max() == 1.0 and np.mean(np.abs(damaged) == 1.0) > 0.01
    elif kind == "loudness":   # 20 dB down at severity 1, past the 5 ms ramps
        ramp = round(AUDIO_RAMP_S * SR)
        assert event.details["gain_db"] == -20.0
        assert np.allclose(damaged[ramp:-ramp], clean[ramp:-ramp] * 0.1, atol=1e-6)
    elif kind == "channel":
        assert event.details["mode"] == "swap" and rms(clean[:, 0] - clean[:, 1]) > 0.01
        assert np.array_equal(damaged[:, [1, 0]], clean)
    else:  # av_offset: the sound in the window is the clean sound from 200 ms before
        assert event.kind == "av_sync" and event.details["offset_ms"] == 200
        shift = round(0.2 * SR)
        ramp = round(AUDIO_RAMP_S * SR) + 1
        idx = np.nonzero(inside)[0][ramp:-ramp]
        assert np.array_equal(sound[1][idx], sound[0][idx - shift])


def test_scheduled_injections_from_settings_and_ground_truth():
    d = Driver(inject=[{"kind": "av_offset", "at": 3.0, "duration": 2.0,
                        "params": {"offset_ms": -80}},
                       {"kind": "tearing", "at": 1.0, "severity": 0.5}])
    later = d.dev.inject("hum", at=5.0, duration=0.5, severity=0.4)
    truth = d.dev.ground_truth
    assert [e.kind for e in truth] == ["tearing", "av_sync", "hum"]
    assert truth[2] is later
    tearing, av, hum = (e.to_json() for e in truth)
    assert av["details"] == {"severity": 1.0, "offset_ms": -80.0} and av["region"] is None
    assert tearing["region"][0] == 0 and tearing["region"][2] == W and tearing["details"]["row"]
    assert hum["details"]["freq"] == 50.0 and hum["start_s"] == 5.0 and hum["end_s"] == 5.5


def test_injection_is_validated_with_clear_messages():
    with pytest.raises(BadInput, match="supported: black, freeze, stutter"):
        Driver().dev.inject("smear", at=1.0)
    with pytest.raises(BadInput, match="offset_ms"):
        Driver().dev.inject("av_offset", at=1.0)
    with pytest.raises(BadInput, match="allowed: freq, harmonics"):
        Driver().dev.inject("hum", at=1.0, frequency=60)
    with pytest.raises(BadInput, match="severity"):
        Driver().dev.inject("black", at=1.0, severity=1.5)
    with pytest.raises(BadInput, match="outside the picture"):
        Driver().dev.inject("tearing", at=1.0, row=H)
    with pytest.raises(ValidationError, match="unknown defect kind"):
        SimSettings(inject=[{"kind": "wobble", "at": 1}])
    with pytest.raises(ValidationError):
        SimSettings(capture_noise=25)
    with pytest.raises(ValidationError):
        SimSettings(latency_ms=5)


def test_loudness_and_channel_faults_are_injected_into_the_sound():
    """The device's own sound faults: a level jump (a gain with 5 ms ramps, any chunking) and
    a channel fault (drop, swap, invert), each with its ground truth."""
    clean = Driver()
    clean.to_player()
    t0 = clean.now
    clean.seconds(4.0)
    reference = clean.sound(t0, t0 + 4.0)

    def faulty(chunk: int, **inject):
        d = Driver()
        d.to_player()
        event = d.dev.inject(at=t0 + 1.0, duration=2.0, **inject)
        d.seconds(4.0)
        return d.sound(t0, t0 + 4.0, chunk), event

    sound, truth = faulty(CHUNK, kind="loudness", severity=0.5)
    assert truth.kind == "loudness" and truth.details["direction"] == "down"
    assert truth.details["gain_db"] == pytest.approx(-13.0)
    inside, outside = slice(round(1.1 * SR), round(2.9 * SR)), slice(0, SR)
    assert np.allclose(sound[inside], reference[inside] * 10 ** (-13 / 20), atol=1e-6)
    assert np.array_equal(sound[outside], reference[outside])
    ramp = sound[SR:SR + 240, 0] / np.where(reference[SR:SR + 240, 0] == 0, 1, reference[SR:SR + 240, 0])
    assert np.all(np.diff(ramp[np.abs(reference[SR:SR + 240, 0]) > 1e-3]) <= 1e-4)   # fades in
    assert np.array_equal(faulty(997, kind="loudness", severity=0.5)[0], sound)   # any chunking
    up, truth = faulty(CHUNK, kind="loudness", severity=0.25, direction="up")
    assert truth.details["gain_db"] == pytest.approx(9.5)
    assert np.allclose(up[inside], np.clip(reference[inside] * 10 ** (9.5 / 20), -1, 1), atol=1e-6)
    dropped, truth = faulty(CHUNK, kind="channel")
    assert truth.details == {"severity": 1.0, "mode": "drop", "channel": 0}
    assert np.all(dropped[inside, 0] == 0) and np.array_equal(dropped[inside, 1], reference[inside, 1])
    inverted, _ = faulty(CHUNK, kind="channel", mode="invert", channel=1)
    assert np.array_equal(inverted[inside, 1], -reference[inside, 1])
    with pytest.raises(BadInput, match="channel 2 does not exist"):
        Driver().dev.inject("channel", at=1.0, channel=2)
    mono = SimulatedDevice(W, H, FPS, SR, 1, SimSettings(content="synthetic"), VirtualClock())
    with pytest.raises(BadInput, match="channel faults need two"):
        mono.inject("channel", at=1.0)


# --------------------------------------------------------------------------- determinism
def _session(chunk: int) -> tuple[list[np.ndarray], np.ndarray, list]:
    d = Driver(seed=7, capture_noise=3.0,
               inject=[{"kind": "block_corruption", "at": 2.2, "duration": 0.3}])
    d.dev.inject("hiss", at=2.0, duration=0.5, severity=0.5)
    d.dev.inject("clicks", at=2.5, duration=0.5)
    d.to_player()
    d.press("FAST_FORWARD")
    frames = d.seconds(2.0)
    d.press("PLAY_PAUSE")
    frames += d.seconds(0.5)
    return frames, d.sound(0, d.now, chunk), d.dev.ground_truth


def test_same_seed_and_events_give_identical_output():
    a_frames, a_sound, a_truth = _session(CHUNK)
    b_frames, b_sound, b_truth = _session(777)  # audio fetched in different chunk sizes
    assert all(np.array_equal(a, b) for a, b in zip(a_frames, b_frames))
    assert np.array_equal(a_sound, b_sound)
    assert [e.to_json() for e in a_truth] == [e.to_json() for e in b_truth]
    noisy = a_frames[:3]
    assert changed(noisy[0], noisy[1]), "capture noise differs from frame to frame"


def test_audio_running_ahead_of_video_is_consistent_for_known_keys():
    d = Driver()
    d.seconds(0.2)
    d.press("OK")
    d.seconds(0.4)
    d.press("OK")
    ahead = d.sound(0, d.now + 2.0)  # audio fetched 2 s ahead of the video
    d.seconds(2.0)
    again = Driver()
    again.seconds(0.2)
    again.press("OK")
    again.seconds(0.4)
    again.press("OK")
    again.seconds(2.0)
    assert np.array_equal(ahead, again.sound(0, again.now))


# --------------------------------------------------------------------------- content
def test_synthetic_content_has_cuts_and_beats():
    d = Driver(content="synthetic")
    d.to_player()
    program = d.dev._content.program(0, 0)
    assert not program.real and len(program.scenes) >= 4
    lengths = [(s.end - s.start) / SR for s in program.scenes]
    assert all(2.9 <= x <= 8.1 for x in lengths)


def test_content_moves_on_every_frame_and_fades_show_at_most_two_black_frames():
    library = ContentLibrary(W, H, FPS, SR, 2, seed=3, real=False)
    program = library.program(1, 2)
    assert program.fades.size >= 1
    run = longest = 0
    previous = None
    for position in range(round(program.cycle / SR * FPS) + 2):  # one whole cycle of scenes
        img = library.frame(program, position)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        run = run + 1 if np.count_nonzero(grey <= 32) >= 0.98 * grey.size else 0
        longest = max(longest, run)
        assert previous is None or changed(previous, img), position
        previous = img
    assert longest == 2


@pytest.mark.skipif(not all(real_media()), reason="opencv-doc clips / frozen-bubble music absent")
def test_real_content_plays_clips_and_music():
    d = Driver(content="real")
    d.to_player()
    assert d.dev._content.program(0, 0).real
    frames = d.seconds(3.0)
    assert all(changed(a, b) for a, b in zip(frames, frames[1:]))
    assert rms(d.sound(d.now - 3.0, d.now)) > 0.03


def test_real_content_required_but_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("harness.sim.device.real_media", lambda: ((), ()))
    with pytest.raises(BadInput, match="content is 'real'"):
        Driver(content="real")
    assert not Driver(content="auto").dev._content.real


# --------------------------------------------------------------------------- injectors
def test_video_injectors_are_pure_and_scale_with_severity():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    keep = img.copy()
    assert not video_fx.black(img, 1.0).any()
    assert video_fx.black(img, 0.9).max() <= 26
    torn = video_fx.tear(img, 255 - img, 20)
    assert np.array_equal(torn[:20], img[:20]) and np.array_equal(torn[20:], 255 - img[20:])
    small = video_fx.block_region(720, 1280, np.random.default_rng(1), 0.1)
    large = video_fx.block_region(720, 1280, np.random.default_rng(1), 1.0)
    assert small[2] * small[3] < large[2] * large[3] and all(v % 16 == 0 for v in large)
    out, region = video_fx.corrupt_blocks(img, np.random.default_rng(2), 1.0, block=8)
    x, y, w, h = region
    outside = np.ones(img.shape[:2], bool)
    outside[y:y + h, x:x + w] = False
    assert np.array_equal(out[outside], img[outside]) and changed(out, img)
    assert np.array_equal(img, keep), "inputs are never modified"
    bars = video_fx.no_signal(90, 160, "bars")
    assert len({tuple(p) for p in bars[10]}) == 7
    noise = video_fx.NoiseBank(64, 96, 4.0, np.random.default_rng(3))
    noisy = noise.apply(np.full((64, 96, 3), 128, np.uint8), np.random.default_rng(4))
    assert 3.0 < float(noisy.astype(float).std()) < 5.0


def test_stutter_map_breaks_cadence_and_returns_to_time():
    for seed in range(20):
        offsets = video_fx.stutter_map(np.random.default_rng(seed), 30, 1.0)
        steps = np.diff(offsets)
        assert offsets[0] == 0 and offsets[1] == 0 and offsets[-1] == 29
        assert set(steps) <= {0, 1, 2} and np.abs(offsets - np.arange(30)).max() <= 2


def test_audio_injectors_are_chunk_independent():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((4800, 2))).astype(np.float32)
    whole = audio_fx.add_hum(x, SR, 1.0, 50.0, 0.5)
    parts = np.concatenate([audio_fx.add_hum(x[:1000], SR, 1.0, 50.0, 0.5),
                            audio_fx.add_hum(x[1000:], SR, 1.0 + 1000 / SR, 50.0, 0.5)])
    assert np.allclose(whole, parts, atol=1e-6)
    times = audio_fx.click_times(np.random.default_rng(1), 1.0, 1.1, 1.0)
    whole = audio_fx.add_clicks(x, SR, 1.0, times)
    parts = np.concatenate([audio_fx.add_clicks(x[:2000], SR, 1.0, times),
                            audio_fx.add_clicks(x[2000:], SR, 1.0 + 2000 / SR, times)])
    assert np.array_equal(whole, parts) and changed(whole, x)
    assert np.array_equal(audio_fx.silence(x, 1.0), np.zeros_like(x))
    assert np.abs(audio_fx.clip(x, 1.0)).max() == 1.0
    assert np.array_equal(audio_fx.shift(x, SR, 10)[480:], x[:-480])
    assert np.array_equal(audio_fx.shift(x, SR, -10)[:-480], x[480:])
    pink = audio_fx.noise(np.random.default_rng(2), 48000, 2, "pink")
    assert pink.shape == (48000, 2) and np.allclose(pink.std(axis=0), 1.0, atol=1e-3)


def test_end_injections_drops_pending_and_truncates_running():
    from harness.clock import VirtualClock
    from harness.sim.device import SimSettings, SimulatedDevice

    sim = SimulatedDevice(320, 180, 30, 48000, 2, SimSettings(), VirtualClock())
    sim.inject("freeze", at=1.0, duration=2.0)
    sim.inject("black", at=5.0, duration=1.0)
    sim.end_injections(2.0)
    (truth,) = sim.ground_truth
    assert truth.kind == "freeze" and truth.start_s == 1.0 and truth.end_s == 2.0
    frames = [sim.video_frame(i) for i in range(0, 200)]
    assert all(f.mean() > 5 for f in frames[150:])  # no black at 5 s any more
