"""black, freeze and silence: positives, negatives, streaming = batch, registry behaviour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors import base as registry
from detectors import detect
from detectors.base import Event
from detectors.video.black import is_black
from harness.errors import BadInput
from harness.media import Frame
from tests.conftest import textured_frames, tone_chunks


def with_black(frames, start, end, level=0):
    for f in frames:
        if start <= f.t < end:
            f.image = np.full_like(f.image, level)
    return frames


def test_black_episode_has_times_score_and_region():
    frames = with_black(textured_frames(90), 1.0, 1.5)
    events = list(detect("black", frames=frames))
    assert len(events) == 1
    e = events[0]
    assert e.kind == "black" and e.detector == "black"
    assert e.start_s == pytest.approx(1.0, abs=0.04) and e.end_s == pytest.approx(1.5, abs=0.04)
    assert e.score > 0.9 and e.region == (0, 0, 320, 180)
    assert e.frame is not None and bool(e)


def test_black_ignores_dark_textured_content_and_short_fades():
    dark = textured_frames(60)
    for f in dark:
        f.image = (f.image // 4).astype(np.uint8)  # dark scene: mean ~ 30, but detail
    assert not list(detect("black", frames=dark))
    fade = with_black(textured_frames(60), 1.0, 1.0 + 2 / 30)  # two black frames in a fade
    assert not list(detect("black", frames=fade))
    assert list(detect("black", frames=with_black(textured_frames(60), 1.0, 1.07), min_duration_s=0))


def test_black_region_only_looks_inside():
    frames = textured_frames(30)
    for f in frames:
        f.image[:90, :160] = 0
    assert not list(detect("black", frames=frames))
    events = list(detect("black", frames=frames, region=(0, 0, 160, 90)))
    assert len(events) == 1 and events[0].region == (0, 0, 160, 90)
    assert is_black(frames[0], region=(0, 0, 160, 90)) and not is_black(frames[0])


def test_freeze_detects_hold_and_ignores_capture_noise():
    frames = textured_frames(120)
    held = frames[45].image
    rng = np.random.default_rng(1)
    for f in frames[46:75]:  # 1.0 s hold, with capture noise on every frame
        noise = rng.normal(0, 2.0, held.shape)
        f.image = np.clip(held + noise, 0, 255).astype(np.uint8)
    events = list(detect("freeze", frames=frames))
    assert len(events) == 1
    assert events[0].start_s == pytest.approx(46 / 30, abs=0.05)
    assert events[0].end_s == pytest.approx(75 / 30, abs=0.05)
    assert events[0].score > 0.5


def test_freeze_negatives_moving_content_short_hold_and_static_black():
    assert not list(detect("freeze", frames=textured_frames(90)))
    frames = textured_frames(90)
    for f in frames[30:38]:  # 0.27 s: stutter territory, not a freeze
        f.image = frames[29].image.copy()
    assert not list(detect("freeze", frames=frames))
    black = [Frame(i / 30, i, np.zeros((90, 160, 3), np.uint8)) for i in range(60)]
    assert not list(detect("freeze", frames=black))


def test_freeze_region_watches_only_that_part():
    frames = textured_frames(90)  # a picture that stops moving after 1 s ...
    for f in frames[30:]:
        f.image = frames[30].image.copy()
    for f in frames:  # ... with a ticker at the bottom that keeps moving
        f.image[150:, :] = np.roll(frames[0].image[150:, :], f.index * 5, axis=1)
    assert not list(detect("freeze", frames=frames))
    assert list(detect("freeze", frames=frames, region=(0, 0, 320, 140)))
    assert not list(detect("freeze", frames=frames, region=(0, 150, 320, 30)))


def test_static_content_is_not_a_freeze_but_moving_content_that_stops_is():
    slides = []
    for n in range(3):  # three 2-second slides: cuts between still pictures
        slides += textured_frames(60, moving=False, seed=n, start_t=2.0 * n)
    assert not list(detect("freeze", frames=slides))
    film = textured_frames(120)
    for f in film[60:]:
        f.image = film[60].image.copy()
    (event,) = detect("freeze", frames=film)
    assert event.start_s == pytest.approx(61 / 30, abs=0.04)
    low_rate = textured_frames(120)  # 10 fps content in 30 fps: every picture shown 3 times
    for f in low_rate:
        f.image = low_rate[min(f.index - f.index % 3, 60)].image.copy()
    (event,) = detect("freeze", frames=low_rate)
    assert event.start_s == pytest.approx(63 / 30, abs=0.04)  # when the next picture was due
    # pictures must have kept coming: with a smaller allowed gap, 10 fps content is not moving
    assert not list(detect("freeze", frames=low_rate, max_picture_gap_s=0.05))


def test_freeze_hold_is_judged_against_the_content_picture_rate():
    def slow(held=range(0)):  # 2.5 pictures/s footage (each picture held 12 frames at 30)
        frames = textured_frames(150)
        for f in frames:
            f.image = frames[72 if f.index in held else f.index - f.index % 12].image.copy()
        return frames

    assert not list(detect("freeze", frames=slow())), "0.4 s per picture is its cadence"
    # picture 72 held to frame 120 (1.6 s): three pictures missed; the next was due at 84
    (event,) = detect("freeze", frames=slow(held=range(84, 120)))
    assert event.start_s == pytest.approx(84 / 30, abs=0.04)
    assert event.end_s == pytest.approx(120 / 30, abs=0.04)
    assert event.details["required_s"] == pytest.approx(1.0, abs=0.01)


def test_ui_animation_coming_to_rest_after_a_still_screen_is_not_a_freeze():
    still = textured_frames(60, moving=False)            # 2 s of a still menu ...
    moving = textured_frames(9, start_t=2.0, seed=0)     # ... a 0.3 s focus animation ...
    rest = [Frame(2.3 + i / 30, 69 + i, moving[-1].image.copy()) for i in range(60)]
    for i, f in enumerate(moving):
        f.index = 60 + i
    assert not list(detect("freeze", frames=still + moving + rest))


def _scene(seed: int, n: int, start: int, level: int) -> list[Frame]:
    """A smooth panning scene (its pictures change little from one to the next: a cut to
    another scene changes much more)."""
    frames = textured_frames(n, seed=seed, start_t=start / 30)
    for i, f in enumerate(frames):
        f.index = start + i
        smooth = cv2.GaussianBlur(f.image, (0, 0), 3)
        f.image = cv2.normalize(smooth, None, level, level + 80, cv2.NORM_MINMAX)
    return frames


def test_hold_after_a_cut_is_a_freeze_only_if_the_scene_then_moves_on():
    before, after = _scene(1, 60, 0, 30), _scene(2, 90, 60, 160)  # a moving scene, a cut, another
    to_still = before + [Frame(f.t, f.index, after[0].image) for f in after]
    assert not list(detect("freeze", frames=to_still)), "a cut to a still picture is an edit"
    frozen = before + [Frame(f.t, f.index, after[0].image if i < 30 else f.image)
                       for i, f in enumerate(after)]
    (event,) = detect("freeze", frames=frozen)
    assert event.start_s == pytest.approx(61 / 30, abs=0.04)
    assert event.end_s == pytest.approx(3.0, abs=0.04) and event.details["after_cut"]
    # the scene moves on only briefly (a focus animation on a menu): not confirmed
    brief = before + [Frame(f.t, f.index, after[0 if i < 30 else min(i, 36)].image)
                      for i, f in enumerate(after)]
    assert not list(detect("freeze", frames=brief))


def test_blue_no_signal_screen_is_not_black():
    blue = [Frame(i / 30, i, np.full((90, 160, 3), (120, 10, 0), np.uint8)) for i in range(30)]
    assert not list(detect("black", frames=blue))
    assert list(detect("black", frames=blue, max_chroma=255))


def test_silence_detects_dropout_not_quiet_passages():
    chunks = tone_chunks(3.0, silent=[(1.0, 1.5)])
    events = list(detect("silence", audio=chunks))
    assert len(events) == 1
    assert events[0].start_s == pytest.approx(1.0, abs=0.03)
    assert events[0].end_s == pytest.approx(1.5, abs=0.03)
    assert events[0].score > 0.9
    quiet = tone_chunks(3.0, level=0.003)  # about -53 dBFS: a quiet passage, not a dropout
    assert not list(detect("silence", audio=quiet))
    short = tone_chunks(3.0, silent=[(1.0, 1.1)])
    assert not list(detect("silence", audio=short))


def test_streaming_in_any_chunking_gives_the_same_events():
    a = list(detect("silence", audio=tone_chunks(3.0, chunk_s=0.02, silent=[(1.0, 1.6)])))
    b = list(detect("silence", audio=tone_chunks(3.0, chunk_s=0.137, silent=[(1.0, 1.6)])))
    assert [e.to_json() for e in a] == [e.to_json() for e in b]


def test_registry_rejects_unknown_names_and_thresholds():
    with pytest.raises(BadInput, match="unknown detector 'nope'.*black"):
        registry.create("nope")
    with pytest.raises(Exception, match="min_durration"):
        registry.create("freeze", min_durration_s=1)
    assert {"black", "freeze", "silence"} <= set(registry.available())
    assert registry.resolve_names("black,silence", media="audio") == ["silence"]


def test_event_json_round_trip_matches_the_contract():
    e = Event("freeze", 3.0, 4.2, 0.97, "freeze", (0, 0, 10, 10), {"x": np.float32(1.5)})
    data = e.to_json()
    assert set(data) == {"kind", "start_s", "end_s", "score", "detector", "region", "details"}
    assert Event.from_json(data).to_json() == data


def test_all_runs_each_detector_once_not_its_aliases():
    names = registry.resolve_names("all")
    assert "block_corruption" in names and "block_corruption:dsp" not in names
    assert registry.resolve_names("block_corruption:dsp") == ["block_corruption:dsp"]
