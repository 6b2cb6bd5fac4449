"""The defect injectors of ``detectors.synth``: each makes the defect it claims, where it says,
and reports it in the event format."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.synth import audio as afx
from detectors.synth import codec
from detectors.synth import content
from detectors.synth import video as vfx
from harness.media import AudioChunk, Frame
from tests.conftest import textured_frames

FPS, SR = 25.0, 48000


@pytest.fixture
def clip() -> list[Frame]:
    return textured_frames(50, fps=FPS, size=(160, 96))


@pytest.fixture
def music() -> AudioChunk:
    """Two seconds of a chord with a little noise, stereo, at programme level."""
    t = np.arange(2 * SR) / SR
    rng = np.random.default_rng(0)
    mono = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    stereo = np.stack([mono, 0.7 * mono], axis=1) + 0.01 * rng.standard_normal((t.size, 2))
    return AudioChunk(0.0, content.level(stereo.astype(np.float32)), SR)


def images(frames: list[Frame]) -> list[np.ndarray]:
    return [f.image for f in frames]


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b)


def check_truth(event, kind: str, start: float, end: float) -> None:
    assert event.kind == kind and event.detector == "injected" and event.score == 1.0
    assert event.start_s == pytest.approx(start) and event.end_s == pytest.approx(end)
    assert "severity" in event.details
    assert set(event.to_json()) == {"kind", "start_s", "end_s", "score", "detector", "region",
                                    "details"}


def untouched_outside(before: list[Frame], after: list[Frame], first: int, stop: int) -> bool:
    return all(same(a.image, b.image) for k, (a, b) in enumerate(zip(before, after))
               if not first <= k < stop)


# --------------------------------------------------------------------------- video
def test_black_cuts_to_black_or_near_black(clip):
    out, truth = vfx.black_episode(clip, 0.4, 0.8, severity=1.0)
    check_truth(truth, "black", 0.4, 0.8)
    assert all(not f.image.any() for f in out[10:20]) and untouched_outside(clip, out, 10, 20)
    near, truth = vfx.black_episode(clip, 0.4, 0.8, severity=0.9)
    assert all(0 < f.image.max() <= 26 for f in near[10:20]) and truth.details["severity"] == 0.9


def test_freeze_repeats_the_frame_before_then_moves_on(clip):
    out, truth = vfx.freeze_episode(clip, 1.0, 1.6, np.random.default_rng(0))
    check_truth(truth, "freeze", 1.0, 1.6)
    held = clip[24].image
    assert all(same(f.image, held) for f in out[25:40])
    assert not same(out[40].image, held) and untouched_outside(clip, out, 25, 40)
    noisy, _ = vfx.freeze_episode(clip, 1.0, 1.6, np.random.default_rng(0), severity=0.5)
    diffs = [np.abs(f.image.astype(int) - held).mean() for f in noisy[25:40]]
    assert all(0 < d < 2.0 for d in diffs), "near-identical, not identical"
    with pytest.raises(ValueError):
        vfx.freeze_episode(clip, 0.0, 0.5, np.random.default_rng(0))


@pytest.mark.parametrize("pattern", ["mixed", "drops"])
def test_stutter_repeats_and_skips_frames_within_the_episode(clip, pattern):
    out, truth = vfx.stutter_episode(clip, 0.8, 1.6, np.random.default_rng(1), 1.0, pattern)
    check_truth(truth, "stutter", 0.8, 1.6)
    assert truth.details["pattern"] == pattern
    index = {id(f.image): k for k, f in enumerate(clip)}
    shown = [index[id(f.image)] for f in out]
    steps = np.diff(shown[19:41])
    assert (steps == 0).any() and (steps == 2).any(), "a repeat and a jump"
    assert set(steps) <= {0, 1, 2} and shown[:20] == list(range(20)) and shown[40:] == list(range(40, 50))


def test_cadence_break_moves_repeats_of_a_pulldown_clip():
    pictures = [np.full((8, 8, 3), k, np.uint8) for k in range(40)]
    pattern = np.repeat(np.arange(40), [2 if k % 4 == 3 else 1 for k in range(40)])[:50]
    clip = [Frame(i / 30, i, pictures[k]) for i, k in enumerate(pattern)]
    out, truth = vfx.stutter_episode(clip, 0.5, 1.5, np.random.default_rng(2), 1.0, "cadence")
    assert truth.details["pattern"] == "cadence"
    shown = [int(f.image[0, 0, 0]) for f in out]
    assert shown != list(pattern) and sorted(set(shown)) == sorted(set(pattern))
    assert np.all(np.diff(shown) >= 0), "pictures keep their order"
    repeats = np.flatnonzero(np.diff(shown[15:45]) == 0)
    regular = np.flatnonzero(np.diff(pattern[15:45]) == 0)
    assert set(np.diff(regular)) == {5} and set(np.diff(repeats)) != {5}, "cadence broken"
    counts = vfx.cadence_counts(np.array([1, 1, 1, 2] * 5), np.random.default_rng(0), 0.5)
    assert counts.sum() == 25 and counts.min() >= 1
    with pytest.raises(ValueError):
        vfx.cadence_counts(np.ones(10, np.int64), np.random.default_rng(0))


def test_drop_map_loses_lone_frames():
    offsets = vfx.drop_map(np.random.default_rng(3), 200, 1.0)
    lost = np.flatnonzero(offsets != np.arange(200))
    assert lost[0] == 1 and np.all(np.diff(lost) > 1) and np.all(offsets[lost] == lost - 1)


def test_tearing_joins_two_frames_at_the_row(clip):
    out, truth = vfx.tearing_episode(clip, 0.4, 0.8, np.random.default_rng(0), 1.0, row=40)
    check_truth(truth, "tearing", 0.4, 0.8)
    torn = out[10].image
    assert same(torn[:40], clip[10].image[:40]) and same(torn[40:], clip[9].image[40:])
    x, y, w, h = truth.region
    assert w == 160 and y <= 40 < y + h and truth.details["row"] == 40


def test_tearing_seam_can_roll_from_frame_to_frame(clip):
    height = clip[0].image.shape[0]
    out, truth = vfx.tearing_episode(clip, 0.4, 0.8, np.random.default_rng(0), 1.0, row=40,
                                     drift=7)
    rows = truth.details["rows"]
    assert rows[:3] == [40, 47, 54] and all(height // 8 <= r < 7 * height // 8 for r in rows)
    for k, row in enumerate(rows):
        i = 10 + k
        assert same(out[i].image[:row], clip[i].image[:row])
        assert same(out[i].image[row:], clip[i - 1].image[row:])
    x, y, w, h = truth.region
    assert y <= min(rows) and max(rows) < y + h
    drawn = vfx.tear_rows(np.random.default_rng(1), height, 50, 40, drift=None)
    assert len(set(np.diff(drawn).tolist()) - {0}) >= 1 and drawn.min() >= height // 8


@pytest.mark.parametrize("styles", [None, ("smear",), ("flat", "false_colour")])
def test_block_corruption_stays_in_its_region(clip, styles):
    out, truth = vfx.block_corruption_episode(clip, 0.4, 0.6, np.random.default_rng(4), 1.0,
                                              block=8, styles=styles)
    check_truth(truth, "block_corruption", 0.4, 0.6)
    x, y, w, h = truth.region
    assert truth.details["area_ratio"] == pytest.approx(w * h / (160 * 96))
    for before, after in zip(clip[10:15], out[10:15]):
        mask = np.ones((96, 160), bool)
        mask[y:y + h, x:x + w] = False
        assert same(after.image[mask], before.image[mask])
        assert not same(after.image, before.image)
    if styles == ("smear",):
        roi = out[10].image[y:y + h, x:x + w]
        block_rows = roi.reshape(h // 8, 8, w, 3)
        smeared = np.all(block_rows == block_rows[:, :1], axis=(1, 3))
        assert smeared.any(), "some blocks are their top row streaked down"


def test_default_block_corruption_is_unchanged_for_the_simulator():
    """The simulator's stream of random draws (and so its pictures) must not change."""
    img = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    out, region = vfx.corrupt_blocks(img, np.random.default_rng(2), 1.0, block=8)
    rng = np.random.default_rng(2)
    expect_region = vfx.block_region(64, 96, rng, 1.0, 8)
    assert region == expect_region
    kinds = rng.choice(4, size=(region[3] // 8, region[2] // 8), p=[0.1, 0.36, 0.36, 0.18])
    x, y, w, h = region
    per_pixel = np.repeat(np.repeat(kinds, 8, 0), 8, 1)
    assert np.array_equal(out[y:y + h, x:x + w][per_pixel == 0], img[y:y + h, x:x + w][per_pixel == 0])


def test_no_signal_shows_bars_or_a_solid_colour(clip):
    out, truth = vfx.no_signal_episode(clip, 0.2, 0.6, style="bars")
    check_truth(truth, "no_signal", 0.2, 0.6)
    assert len({tuple(p) for p in out[6].image[5]}) == 7 and truth.details["style"] == "bars"
    blue, _ = vfx.no_signal_episode(clip, 0.2, 0.6, style="blue")
    assert len(np.unique(blue[6].image.reshape(-1, 3), axis=0)) == 1


@pytest.mark.parametrize("mode", ["letterbox", "pillarbox", "stretch", "zoom"])
def test_aspect_modes(clip, mode):
    out, truth = vfx.aspect_episode(clip, 0.4, 0.8, 1.0, mode)
    check_truth(truth, "aspect", 0.4, 0.8)
    img, src = out[12].image, clip[12].image
    x, y, w, h = truth.details["active"]
    assert img.shape == src.shape
    if mode == "letterbox":
        assert y > 0 and not img[:y].any() and not img[y + h:].any() and img[y:y + h].any()
    elif mode == "pillarbox":
        assert x > 0 and not img[:, :x].any() and not img[:, x + w:].any()
    else:
        assert (x, y, w, h) == (0, 0, 160, 96) and not same(img, src)


@pytest.mark.parametrize("mode", ["upscale", "gaussian"])
def test_blur_removes_detail(clip, mode):
    out, truth = vfx.blur_episode(clip, 0.4, 0.8, 0.8, mode)
    check_truth(truth, "blur", 0.4, 0.8)

    def sharpness(img: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())
    assert sharpness(out[12].image) < 0.2 * sharpness(clip[12].image)


def test_interlace_weaves_the_previous_field(clip):
    out, truth = vfx.interlace_episode(clip, 0.4, 0.8, 1.0)
    check_truth(truth, "interlace", 0.4, 0.8)
    woven = out[12].image
    assert same(woven[0::2], clip[12].image[0::2]) and same(woven[1::2], clip[11].image[1::2])


def test_color_range_washes_out_or_crushes(clip):
    washed, truth = vfx.color_range_episode(clip, 0.4, 0.8, 1.0, "washed")
    check_truth(truth, "color_range", 0.4, 0.8)
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    assert vfx.color_range(ramp, "washed").min() == 16 and vfx.color_range(ramp, "washed").max() == 235
    crushed = vfx.color_range(ramp, "crushed")
    assert crushed[ramp <= 16].max() == 0 and crushed[ramp >= 235].min() == 255
    assert washed[12].image.min() >= 16


def test_episode_span_end_is_the_next_frame():
    times = [k / 25 for k in range(10)]
    assert vfx.episode_span(times, 0.2, 0.3) == (5, 8, 0.2, pytest.approx(0.32))
    assert vfx.episode_span(times, 0.3, 5.0)[1:] == (10, pytest.approx(0.32), pytest.approx(0.4))
    with pytest.raises(ValueError):
        vfx.episode_span(times, 1.0, 2.0)


# --------------------------------------------------------------------------- audio
def _span(a: float, b: float) -> slice:
    return slice(round(a * SR), round(b * SR))


def test_silence_mutes_the_episode_only(music):
    out, truth = afx.silence_episode(music, 0.5, 0.9)
    check_truth(truth, "silence", 0.5, 0.9)
    assert not out.samples[_span(0.5, 0.9)].any()
    assert np.array_equal(out.samples[:_span(0.5, 0.9).start], music.samples[:_span(0.5, 0.9).start])


def test_clicks_add_impulses_at_the_labelled_times(music):
    out, truth = afx.clicks_episode(music, 0.5, 1.5, np.random.default_rng(0), 1.0)
    check_truth(truth, "clicks", 0.5, 1.5)
    times = np.array(truth.details["times"])
    assert truth.details["count"] == len(times) >= 1
    added = (out.samples - music.samples)[:, 0]
    at = np.ceil(times * SR - 1e-9).astype(int)
    assert np.allclose(np.abs(added[at]), 1.0, atol=1e-5), "a full-scale impulse at each time"
    elsewhere = np.ones(added.size, bool)
    for k in at:
        elsewhere[k:k + 6] = False
    assert not added[elsewhere].any()


def _band_level(x: np.ndarray, freq: float) -> float:
    spectrum = np.abs(np.fft.rfft(x[:, 0] * np.hanning(x.shape[0])))
    bins = np.fft.rfftfreq(x.shape[0], 1 / SR)
    return float(spectrum[np.abs(bins - freq) < 2].max())


@pytest.mark.parametrize("freq", [50.0, 60.0])
def test_hum_adds_energy_at_the_mains_frequency_and_harmonics(music, freq):
    out, truth = afx.hum_episode(music, 0.5, 1.5, 0.6, freq=freq)
    check_truth(truth, "hum", 0.5, 1.5)
    assert truth.details["freq"] == freq
    inside, before = out.samples[_span(0.5, 1.5)], music.samples[_span(0.5, 1.5)]
    for k in (1, 2, 3):
        assert _band_level(inside, k * freq) > 20 * _band_level(before, k * freq)
    assert np.array_equal(out.samples[:_span(0.5, 1.5).start], music.samples[:_span(0.5, 1.5).start])


@pytest.mark.parametrize("colour", ["white", "pink"])
def test_hiss_is_broadband_noise_at_the_stated_snr(music, colour):
    out, truth = afx.hiss_episode(music, 0.5, 1.5, np.random.default_rng(0), 0.5, colour)
    check_truth(truth, "hiss", 0.5, 1.5)
    added = (out.samples - music.samples)[_span(0.5, 1.5)]
    snr = 20 * np.log10(afx.PROGRAM_RMS / np.sqrt(np.mean(added ** 2)))
    assert snr == pytest.approx(truth.details["snr_db"], abs=0.2)
    spectrum = np.abs(np.fft.rfft(added[:, 0])) ** 2
    bins = np.fft.rfftfreq(added.shape[0], 1 / SR)
    low, high = spectrum[(bins > 100) & (bins < 1000)].mean(), spectrum[bins > 10000].mean()
    assert (low / high > 10) if colour == "pink" else (0.5 < low / high < 2)


@pytest.mark.parametrize("mode", ["hard", "soft", "crush"])
def test_distortion_clips_saturates_or_crushes(music, mode):
    out, truth = afx.distortion_episode(music, 0.5, 1.5, 1.0, mode)
    check_truth(truth, "distortion", 0.5, 1.5)
    inside = out.samples[_span(0.5, 1.5)]
    if mode == "hard":
        assert np.abs(inside).max() == 1.0 and np.mean(np.abs(inside) == 1.0) > 0.2
    elif mode == "soft":
        assert np.abs(inside).max() <= 1.0 and np.mean(np.abs(inside) > 0.9) > 0.2
    else:
        assert len(np.unique(inside)) <= 2 ** truth.details["bits"]


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_clipping_of_quiet_content_still_reaches_the_clipper(music, mode):
    """The drive counts from the episode's own peak: content 30 dB under full scale is
    clipped as hard as content at full scale (counted from full scale it stayed linear)."""
    quiet = AudioChunk(0.0, music.samples * np.float32(0.03 / np.abs(music.samples).max()), SR)
    out, truth = afx.distortion_episode(quiet, 0.5, 1.5, 0.3, mode)   # 7.2 dB of drive
    inside = np.abs(out.samples[_span(0.5, 1.5)])
    assert truth.details["input_peak_db"] == pytest.approx(-30.5, abs=0.1)   # its own peak
    saturated = 1.0 if mode == "hard" else float(np.tanh(1.0))
    assert np.mean(inside >= saturated) > 0.05


def test_lossy_reencode_damages_the_episode_only(music):
    out, truth = codec.lossy_episode(music, 0.5, 1.5, 1.0)
    check_truth(truth, "distortion", 0.5, 1.5)
    assert truth.details["mode"] == "lossy" and truth.details["bitrate_kbps"] == 6
    inside, clean = out.samples[_span(0.5, 1.5)], music.samples[_span(0.5, 1.5)]
    error = np.sqrt(np.mean((inside - clean) ** 2)) / np.sqrt(np.mean(clean ** 2))
    assert 0.02 < error < 1.0, "audibly changed but the same programme, in time"
    assert np.array_equal(out.samples[:_span(0.5, 1.5).start], music.samples[:_span(0.5, 1.5).start])


@pytest.mark.parametrize("direction", ["up", "down"])
def test_loudness_jumps_by_the_recorded_gain_without_clicks(music, direction):
    quiet = AudioChunk(0.0, music.samples * 0.1, SR)
    out, truth = afx.loudness_episode(quiet, 0.5, 1.5, 0.5, direction)
    check_truth(truth, "loudness", 0.5, 1.5)
    gain = truth.details["gain_db"]
    assert (gain > 0) == (direction == "up") and abs(gain) == pytest.approx(13.0)
    inner = _span(0.6, 1.4)
    power = np.mean(out.samples[inner] ** 2) / np.mean(quiet.samples[inner] ** 2)
    assert 10 * np.log10(power) == pytest.approx(gain, abs=0.01)
    steepest = np.abs(np.diff(quiet.samples[:, 0])).max() * 10 ** (max(gain, 0) / 20)
    assert np.abs(np.diff(out.samples[:, 0])).max() < 1.5 * steepest, "ramped edges: no click"


def test_loud_up_jump_is_the_labelled_step_even_without_headroom(music):
    """Content peaking near full scale: the jump is still the labelled step (the programme
    around it is brought down), nothing clips, and an earlier episode keeps its own step."""
    hot = AudioChunk(0.0, music.samples * np.float32(0.95 / np.abs(music.samples).max()), SR)
    first, t1 = afx.loudness_episode(hot, 0.2, 0.7, 1.0, "up")
    out, t2 = afx.loudness_episode(first, 1.2, 1.8, 0.5, "up")
    assert np.abs(out.samples).max() <= afx.INSERT_PEAK * 1.0001   # (gains rounded to 0.001 dB)
    for t in (t1, t2):
        assert t.details["gain_db"] == pytest.approx(afx.loudness_step_db(t.details["severity"]))
    assert t1.details["programme_gain_db"] < -20      # 20 dB asked, none left under -1 dBFS

    def db(x):
        return 10 * np.log10(np.mean(x.astype(np.float64) ** 2))
    for (a, b), gain in (((0.25, 0.65), 20.0), ((1.25, 1.75), 13.0)):
        inside = db(out.samples[_span(a, b)]) - db(hot.samples[_span(a, b)])
        outside = db(out.samples[_span(0.9, 1.1)]) - db(hot.samples[_span(0.9, 1.1)])
        assert inside - outside == pytest.approx(gain, abs=0.01)


@pytest.mark.parametrize("mode", ["drop", "swap", "invert"])
def test_channel_faults(music, mode):
    out, truth = afx.channel_episode(music, 0.5, 1.5, 1.0, mode)
    check_truth(truth, "channel", 0.5, 1.5)
    inside, clean = out.samples[_span(0.5, 1.5)], music.samples[_span(0.5, 1.5)]
    if mode == "drop":
        assert not inside[:, 0].any() and np.array_equal(inside[:, 1], clean[:, 1])
    elif mode == "swap":
        assert np.array_equal(inside, clean[:, ::-1])
    else:
        assert np.array_equal(inside[:, 0], -clean[:, 0])


@pytest.mark.parametrize("offset_ms", [120.0, -80.0])
def test_av_offset_shifts_the_sound_inside_the_episode(music, offset_ms):
    out, truth = afx.av_offset_episode(music, 0.5, 1.5, offset_ms)
    check_truth(truth, "av_sync", 0.5, 1.5)
    assert truth.details["offset_ms"] == offset_ms
    k = round(offset_ms * SR / 1000)
    inner = np.arange(round(0.6 * SR), round(1.4 * SR))
    assert np.array_equal(out.samples[inner], music.samples[inner - k])
    assert np.array_equal(out.samples[:round(0.5 * SR)], music.samples[:round(0.5 * SR)])


def test_audio_episodes_are_deterministic(music):
    a, _ = afx.hiss_episode(music, 0.2, 0.8, np.random.default_rng(7), 0.5, "pink")
    b, _ = afx.hiss_episode(music, 0.2, 0.8, np.random.default_rng(7), 0.5, "pink")
    assert np.array_equal(a.samples, b.samples)


# --------------------------------------------------------------------------- codec damage
def test_damage_labels_come_from_the_difference_to_the_clean_decode():
    clean = [np.full((64, 96, 3), 100, np.uint8) for _ in range(12)]
    damaged = [img.copy() for img in clean]
    for k in (3, 4, 6):             # 3, 4 and 6: one episode (a 1-frame gap is bridged)
        damaged[k][16:48, 32:64] = 200
    damaged[10][0:16, 0:32] = 180   # a second episode
    damaged[8][0:16, 0:16] = 104    # below the damage level: invisible, not labelled
    hits = [codec.hit_for(3, 0.5), codec.hit_for(10, 1.0)]
    events = codec.label_damage(clean, damaged, [k / 25 for k in range(12)], "h264", hits)
    assert [(e.start_s, e.end_s) for e in events] == [pytest.approx((0.12, 0.28)),
                                                       pytest.approx((0.4, 0.44))]
    first, second = events
    assert first.region == (32, 16, 32, 32) and second.region == (0, 0, 32, 16)
    assert first.details["area_ratio"] == pytest.approx(4 / 24, abs=1e-4)
    assert first.details["frames"] == 4 and first.details["severity"] == 0.5
    assert second.details["severity"] == 1.0 and first.kind == "block_corruption"


def test_concealment_holds_are_labelled_freeze_or_stutter():
    fps = 25
    rng = np.random.default_rng(0)
    clean = [rng.integers(0, 255, (48, 160, 3), dtype=np.uint8) for _ in range(60)]
    damaged = list(clean)
    for k in range(5, 20):          # 15 frames (0.6 s) held: a freeze
        damaged[k] = damaged[4]
    for k in (30, 35):              # two lone repeats 0.2 s apart: stutter
        damaged[k] = damaged[k - 1]
    damaged[50] = damaged[49]       # one lone repeat: not judder
    static = [clean[0]] * 10        # the clean decode holds too: content, not damage
    events = codec.label_holds(clean + static, damaged + static,
                               [k / fps for k in range(70)], "h264")
    assert [(e.kind, round(e.start_s, 2), round(e.end_s, 2)) for e in events] == [
        ("freeze", 0.2, 0.8), ("stutter", 1.2, 1.44)]
    assert events[1].details["count_repeats"] == 2


def test_noise_expression_targets_the_hit_packets():
    expr = codec.noise_expression([codec.Hit(10, 12, 4, 0.5), codec.Hit(40, 40, 30, 1.0)])
    assert expr == (r"if(between(n\,10\,12)\,max(floor(size/4)\,1)\,"
                    r"if(between(n\,40\,40)\,max(floor(size/30)\,1)\,0))")
    assert codec.hit_for(5, 1.0) == codec.Hit(5, 8, 32, 1.0)


@pytest.mark.parametrize("name", ["h264", "hevc"])
def test_bitstream_damage_corrupts_real_streams_deterministically(name):
    frames = textured_frames(40, fps=FPS, size=(160, 96), seed=3)
    hits = [codec.hit_for(15, 1.0)]
    out, events = codec.bitstream_damage(frames, FPS, name, hits)
    again, events_again = codec.bitstream_damage(frames, FPS, name, hits)
    assert len(out) == 40 and all(same(a.image, b.image) for a, b in zip(out, again))
    assert [e.to_json() for e in events] == [e.to_json() for e in events_again]
    assert events, "a hard hit on moving content shows"
    assert {e.kind for e in events} <= {"block_corruption", "freeze", "stutter"}
    for event in events:
        if event.kind != "block_corruption":  # a concealment hold: the whole picture
            assert event.region is None and event.details["codec"] == name
            continue
        x, y, w, h = event.region
        assert 0 <= x < x + w <= 160 and 0 <= y < y + h <= 96
        assert event.details["codec"] == name and 0 < event.details["area_ratio"] <= 1
        assert 0.5 <= event.start_s < 1.6
