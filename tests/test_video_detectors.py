"""The video detector suite: stutter, tearing, block_corruption, no_signal, aspect, blur,
interlace, color_range.  Positives made with the shared injectors of ``detectors.synth.video``,
negatives including the hard ones (cadence, cuts, fades, dark scenes, menus, fine texture)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors import base as registry
from detectors import detect
from detectors.synth import video as fx
from harness.media import Frame
from harness.sim.content import procedural_texture

W, H = 320, 180


def scene(n: int, fps: float = 30.0, kind: str = "terrain", seed: int = 0,
          speed: tuple[int, int] = (2, 1), noise: float = 1.5, start: int = 0,
          size: tuple[int, int] = (W, H)) -> list[Frame]:
    """``n`` frames panning across a procedural texture, with capture noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    big = procedural_texture(kind, int(h * 1.6), int(w * 1.6), rng)
    bank = fx.NoiseBank(h, w, noise, rng) if noise else None
    span_x, span_y = big.shape[1] - w, big.shape[0] - h
    frames = []
    for i in range(n):
        x = abs((speed[0] * i + span_x) % (2 * span_x) - span_x)
        y = abs((speed[1] * i + span_y) % (2 * span_y) - span_y)
        image = np.ascontiguousarray(big[y:y + h, x:x + w])
        if bank is not None:
            image = bank.apply(image, rng)
        frames.append(Frame((start + i) / fps, start + i, image))
    return frames


def retimed(frames: list[Frame], fps: float) -> list[Frame]:
    """The same pictures presented at ``fps``, from t = 0."""
    return [Frame(i / fps, i, f.image) for i, f in enumerate(frames)]


def kinds(events, kind: str):
    return [e for e in events if e.kind == kind]


def pulldown(frames: list[Frame], counts, fps: float = 60.0) -> list[Frame]:
    """Content pictures each shown ``counts[k]`` times on a ``fps`` output (3:2 pulldown...)."""
    out = []
    for frame, count in zip(frames, counts):
        out += [frame.image] * int(count)
    return [Frame(i / fps, i, image) for i, image in enumerate(out)]


def overlaps(events, start: float, end: float, tol: float = 0.2) -> bool:
    return any(e.overlaps(start, end, tol) for e in events)


# --------------------------------------------------------------------------- registry
VIDEO = ("stutter", "tearing", "block_corruption", "block_corruption:dsp", "no_signal", "aspect",
         "blur", "interlace", "color_range")


def test_every_video_kind_is_registered_with_documented_thresholds():
    names = set(registry.available())
    assert set(VIDEO) <= names
    dsp = registry.detector_class("block_corruption:dsp")
    assert dsp is registry.detector_class("block_corruption")
    for name in VIDEO:
        cls = registry.detector_class(name)
        assert cls.media == "video" and cls.kind == name.split(":")[0]
        for field, info in cls.Config.model_fields.items():
            assert info.description, f"{name}.{field} has no description"


def test_one_pass_shares_the_planes():
    """Every detector asks the frame for its planes; they are computed once per frame."""
    detectors = [registry.create(n) for n in VIDEO if ":" not in n]
    frames = scene(8)
    for frame in frames:
        for detector in detectors:
            detector.feed(frame)
    keys = set(frames[-1]._planes)
    # one transition measurement (freeze and stutter share it), one block map (block_corruption
    # and stutter share it), the rest planes
    previous = frames[-2].index
    assert keys <= {("gray", None), ("gray", 160), ("bgr_samples", 8),
                    ("transition", 4, 160, None, previous),
                    ("block_map", 16, 8, 2.5, 6.0, 2.0, 3)}, keys
    assert sum(1 for k in keys if k[0] == "transition") == 1
    assert sum(1 for k in keys if k[0] == "block_map") == 1


def test_events_are_in_the_defects_format():
    frames = scene(60)
    frames, _ = fx.interlace_episode(frames, 0.5, 1.5)
    (event,) = kinds(detect("interlace", frames=frames), "interlace")
    data = event.to_json()
    assert set(data) == {"kind", "start_s", "end_s", "score", "detector", "region", "details"}
    assert 0 <= data["score"] <= 1 and data["detector"] == "interlace"
    x, y, w, h = data["region"]
    assert 0 <= x and 0 <= y and x + w <= W and y + h <= H


# --------------------------------------------------------------------------- stutter
def test_stutter_finds_repeats_and_skips_at_the_capture_rate():
    rng = np.random.default_rng(3)
    frames, truth = fx.stutter_episode(scene(120), 2.0, 3.0, rng, severity=0.6)
    events = kinds(detect("stutter", frames=frames), "stutter")
    assert events and all(overlaps([e], truth.start_s, truth.end_s) for e in events)
    assert events[0].details["content_fps"] == pytest.approx(30.0, abs=0.1)


def test_stutter_lost_frames_on_a_fixed_output():
    rng = np.random.default_rng(4)
    frames, truth = fx.stutter_episode(scene(120), 2.0, 3.2, rng, severity=0.5, pattern="drops")
    assert overlaps(kinds(detect("stutter", frames=frames), "stutter"), truth.start_s, truth.end_s)


def test_stutter_accepts_pulldown_and_flags_a_broken_cadence():
    content = scene(100, fps=24.0)
    counts = [3 if k % 2 == 0 else 2 for k in range(100)]  # 24 in 60
    assert not list(detect("stutter", frames=pulldown(content, counts)))
    broken = np.array(counts)
    broken[50:62] = fx.cadence_counts(broken[50:62], np.random.default_rng(1), severity=1.0)
    frames = pulldown(content, broken)
    start = sum(counts[:50]) / 60.0
    end = sum(counts[:62]) / 60.0
    events = list(detect("stutter", frames=frames))
    assert events and all(overlaps([e], start, end) for e in events)
    assert events[0].details["content_fps"] == pytest.approx(24.0, abs=0.1)


def test_stutter_one_displaced_picture_is_not_judder_two_are():
    """A picture shown a frame late and the next on time (3:2 -> 3:3:1:3...) is the smallest
    slip there is; judder holds pictures twice."""
    content = scene(100, fps=24.0)
    counts = np.array([3 if k % 2 == 0 else 2 for k in range(100)])  # 24 in 60
    once = counts.copy()
    once[51] += 1  # picture 51 held a frame longer, 52 a frame shorter
    once[52] -= 1
    assert not list(detect("stutter", frames=pulldown(content, once)))
    twice = once.copy()
    twice[55] += 1
    twice[56] -= 1
    start, end = sum(counts[:51]) / 60.0, sum(counts[:57]) / 60.0
    events = list(detect("stutter", frames=pulldown(content, twice)))
    assert events and all(overlaps([e], start, end) for e in events)


def test_stutter_a_hold_before_a_cut_is_judged():
    """A decoder losing pictures holds the last good one, then shows the next scene (or a
    damaged picture, as different as a cut); the hold before the cut is still judder."""
    first = [f.image for f in scene(40, kind="terrain", seed=1)]
    second = [f.image for f in scene(40, kind="city", seed=2)]
    pictures = first[:30] + [first[29]] * 2 + second[:1] * 2 + second[1:]
    frames = [Frame(i / 30, i, image) for i, image in enumerate(pictures)]
    events = list(detect("stutter", frames=frames))
    assert events and all(overlaps([e], 29 / 30, 34 / 30) for e in events)


def test_stutter_leaves_damaged_pictures_to_block_corruption():
    """A damaged stream shows its damaged pictures out of cadence (concealment redraws them);
    what the viewer sees is the blocks, block_corruption's.  Judged, the same pictures would
    be judder."""
    content = scene(100, fps=24.0)
    counts = np.array([3 if k % 2 == 0 else 2 for k in range(100)])  # 24 in 60
    for k in (51, 55):  # two pictures displaced ...
        counts[k] += 1
        counts[k + 1] -= 1
    rng = np.random.default_rng(7)
    for picture in content[50:58]:  # ... and damaged (a repeat shows the same damage)
        picture.image = fx.corrupt_blocks(picture.image, rng, 0.6)[0]
    frames = pulldown(content, counts)
    start, end = sum(counts[:50]) / 60.0, sum(counts[:58]) / 60.0
    assert overlaps(kinds(detect("block_corruption", frames=frames), "block_corruption"),
                    start, end)
    assert not list(detect("stutter", frames=frames))
    events = list(detect("stutter", frames=frames, max_damaged_area=None))
    assert events and all(overlaps([e], start, end) for e in events)


def test_stutter_motion_fading_out_is_not_judder():
    """10 fps footage in 25 whose motion dies down twice: a picture that changes a few pixels,
    the next too little to tell from a repeat.  A hold after a faint picture is not judged."""
    moving = [f.image for f in scene(34, speed=(3, 1))]
    pictures = moving[:15]
    for k in (15, 17):
        faint = pictures[-1].copy()
        faint[40:50, 100:130] = cv2.add(faint[40:50, 100:130], 12)  # 0.5 % of the picture
        pictures += [faint, faint] + moving[k:k + 2]  # the next one too faint to see
    pictures += moving[19:]
    counts = [3 if k % 2 == 0 else 2 for k in range(len(pictures))]  # 10 in 25
    frames = pulldown([Frame(0, 0, p) for p in pictures], counts, fps=25.0)
    assert not list(detect("stutter", frames=frames))
    assert list(detect("stutter", frames=frames, faint_factor=1.0))  # judged: two "holds"


def test_stutter_hard_negatives_freeze_menu_cut_to_another_rate_and_black():
    frames = scene(90)
    for f in frames[40:70]:  # a 1 s hold: the freeze detector's, not judder
        f.image = frames[39].image
    assert not list(detect("stutter", frames=frames))
    # a menu: still, a short focus animation now and then
    menu = scene(12, speed=(6, 0))
    still = [menu[0].image] * 10 + [f.image for f in menu] + [menu[-1].image] * 14
    frames = [Frame(i / 30, i, img) for i, img in enumerate(still * 4)]
    assert not list(detect("stutter", frames=frames))
    # a cut from 10 fps footage to 30 fps footage (30 fps output)
    slow = pulldown(scene(20, kind="city", seed=2), [3] * 20, fps=30.0)
    fast = scene(60, kind="terrain", seed=5)
    frames = retimed(slow + fast, 30.0)
    assert not list(detect("stutter", frames=frames))
    black = [Frame(i / 30, i, np.zeros((H, W, 3), np.uint8)) for i in range(60)]
    assert not list(detect("stutter", frames=black))


def test_stutter_content_rate_can_be_given():
    content = scene(100, fps=25.0)
    counts = [2 if k % 5 in (0, 1, 3) else 3 for k in range(100)]  # 25 in 60: 2,2,3,2,3
    frames = pulldown(content, counts)
    assert not list(detect("stutter", frames=frames, content_fps=25.0))
    assert list(detect("stutter", frames=frames, content_fps=60.0))  # 25 fps judged as 60: judder


# --------------------------------------------------------------------------- tearing
def test_tearing_finds_the_seam_and_its_row():
    rng = np.random.default_rng(2)
    frames, truth = fx.tearing_episode(scene(90, speed=(3, 2)), 1.0, 2.0, rng, severity=0.6,
                                       row=100)
    events = kinds(detect("tearing", frames=frames), "tearing")
    assert events and all(overlaps([e], truth.start_s, truth.end_s) for e in events)
    assert abs(events[0].details["row"] - 100) <= 6
    x, y, w, h = events[0].region
    assert w == W and y <= 100 <= y + h


@pytest.mark.parametrize("drift", [-30, -5, 30])
def test_tearing_finds_a_seam_rolling_from_frame_to_frame(drift):
    """Without vertical sync every frame tears and the seam moves: rolling up, the late rows
    of a frame are a band between its seam and the last one's (a slow roll: a thin band)."""
    rng = np.random.default_rng(4)
    frames, truth = fx.tearing_episode(scene(90, speed=(3, 2)), 1.0, 2.0, rng, severity=1.0,
                                       row=H // 2, drift=drift)
    events = kinds(detect("tearing", frames=frames), "tearing")
    assert events and all(overlaps([e], truth.start_s, truth.end_s) for e in events)
    if drift < 0:
        assert any(e.details["late_side"] == "band" for e in events)


def test_tearing_hard_negatives_cuts_repeats_and_local_motion():
    frames = retimed(scene(45, kind="terrain") + scene(45, kind="city", seed=3), 30.0)
    rng = np.random.default_rng(5)
    frames, _ = fx.stutter_episode(frames, 1.8, 2.6, rng, severity=1.0)
    assert not list(detect("tearing", frames=frames))
    # only the top half moves (a ticker over a still picture)
    moving = scene(60, speed=(4, 0))
    still = moving[0].image
    local = []
    for f in moving:
        image = still.copy()
        image[:80] = f.image[:80]
        local.append(Frame(f.t, f.index, image))
    assert not list(detect("tearing", frames=local))


def test_tearing_leaves_a_concealed_slice_on_the_grid_to_block_corruption():
    """A damaged stream's lost slice, concealed with the picture before, splits the frame on a
    coding-grid row like a seam.  When the rows just below that row are still or barely move
    (nothing tells where the change stops), the seam is searched over all of them, and it is
    found on the grid; reported as tearing only when the grid rule is off."""
    moving = scene(40, speed=(3, 2))
    still = moving[0].image
    frames = []
    for k, f in enumerate(moving):
        image = f.image.copy()
        image[64:100] = still[64:100]  # a still strip under the slice boundary (row 64) ...
        image[92:100] = np.clip(image[92:100].astype(np.int16) + k % 2, 0, 255)  # ... flickering a level at the end
        if k in (15, 25):  # the slice below row 64 lost: concealed with the frame before
            image[64:] = frames[-1].image[64:]
        frames.append(Frame(f.t, f.index, image))
    assert not kinds(detect("tearing", frames=frames), "tearing")
    events = kinds(detect("tearing", frames=frames, grid=None), "tearing")
    assert events and all(abs(e.details["row"] - 64) <= 2 for e in events)


# --------------------------------------------------------------------------- block corruption
def test_block_corruption_flat_and_displaced_blocks():
    rng = np.random.default_rng(0)
    frames, truth = fx.block_corruption_episode(scene(60), 0.8, 1.4, rng, severity=0.5)
    (event,) = kinds(detect("block_corruption", frames=frames), "block_corruption")
    assert overlaps([event], truth.start_s, truth.end_s)
    assert event.details["max_area_ratio"] > 0.02
    ex, ey, ew, eh = event.region
    tx, ty, tw, th = truth.region
    assert ex < tx + tw and tx < ex + ew and ey < ty + th and ty < ey + eh  # localised there
    smear, _ = fx.block_corruption_episode(scene(60, seed=4), 0.8, 1.4, rng, severity=0.6,
                                           styles=("smear", "flat"))
    assert kinds(detect("block_corruption:dsp", frames=smear), "block_corruption")


def test_block_corruption_hard_negatives_texture_and_a_menu_on_the_grid():
    assert not list(detect("block_corruption", frames=scene(60, kind="city")))
    menu = np.full((H, W, 3), 40, np.uint8)
    for x in range(16, W - 48, 64):  # tiles drawn on the 16-pixel grid, flat inside
        menu[32:96, x:x + 48] = (200, 120, 60)
        menu[112:144, x:x + 48] = (90, 200, 90)
    frames = [Frame(i / 30, i, menu.copy()) for i in range(45)]
    assert not list(detect("block_corruption", frames=frames))


# --------------------------------------------------------------------------- no signal
@pytest.mark.parametrize("style", ["blue", "bars"])
def test_no_signal_solid_colour_and_bars(style):
    frames, truth = fx.no_signal_episode(scene(90), 1.0, 2.5, style=style)
    (event,) = kinds(detect("no_signal", frames=frames), "no_signal")
    assert event.start_s == pytest.approx(truth.start_s, abs=0.05)
    assert event.end_s == pytest.approx(truth.end_s, abs=0.05)
    assert event.details["style"] == ("solid" if style == "blue" else "bars")


def test_no_signal_black_is_the_black_detectors_unless_configured():
    frames, _ = fx.no_signal_episode(scene(60), 0.5, 1.5, style="black")
    assert not list(detect("no_signal", frames=frames))
    assert list(detect("no_signal", frames=frames, report_black=True))


def test_no_signal_hard_negatives_test_pattern_dark_scene_and_slide():
    pattern = []
    for i in range(45):  # a grey field with a thin bar sweeping across it (A/V sync pattern)
        image = np.full((720, 1280, 3), 64, np.uint8)
        image[:, (i * 7) % 1280: (i * 7) % 1280 + 8] = 160
        pattern.append(Frame(i / 30, i, image))
    assert not list(detect("no_signal", frames=pattern))
    dark = scene(60, kind="city")
    assert not list(detect("no_signal", frames=dark))
    slide = [Frame(i / 30, i, scene(1, kind="clouds")[0].image) for i in range(60)]
    assert not list(detect("no_signal", frames=slide))


# --------------------------------------------------------------------------- aspect
@pytest.mark.parametrize("mode", ["letterbox", "pillarbox"])
def test_aspect_bars_where_none_are_expected(mode):
    frames, truth = fx.aspect_episode(scene(120), 1.0, 3.0, severity=0.6, mode=mode)
    (event,) = kinds(detect("aspect", frames=frames), "aspect")
    assert overlaps([event], truth.start_s, truth.end_s)
    assert event.details["mode"] == mode
    active = truth.details["active"]
    assert all(abs(a - b) <= 6 for a, b in zip(event.region, active))


@pytest.mark.parametrize("mode", ["zoom", "stretch"])
def test_aspect_geometry_switches(mode):
    frames, truth = fx.aspect_episode(scene(120, speed=(1, 0)), 1.0, 3.0, severity=0.6, mode=mode)
    (event,) = kinds(detect("aspect", frames=frames), "aspect")
    assert event.start_s == pytest.approx(truth.start_s, abs=0.05)
    assert event.end_s == pytest.approx(truth.end_s, abs=0.05)
    assert event.details["mode"] == mode


def test_aspect_expected_area_and_dark_scenes():
    boxed = [Frame(f.t, f.index, fx.reframe(f.image, "letterbox", 0.6)[0]) for f in scene(60)]
    active = fx.reframe(boxed[0].image, "letterbox", 0.6)[1]
    assert kinds(detect("aspect", frames=boxed), "aspect")
    assert not list(detect("aspect", frames=boxed, expected_active=active))
    # the expected bars missing: the picture was stretched or cropped to fill the frame
    (event,) = detect("aspect", frames=scene(60), expected_active=active)
    assert event.details["mode"] == "filled"
    # a dark scene with black at its top only, and a fade through black
    dark = scene(90, kind="city", seed=1)
    for f in dark:
        f.image[:30] = 0
    fades, _ = fx.black_episode(dark, 1.0, 1.5)
    assert not list(detect("aspect", frames=fades))


# --------------------------------------------------------------------------- blur
@pytest.mark.parametrize("mode", ["gaussian", "upscale"])
def test_blur_loss_of_detail_mid_scene(mode):
    frames, truth = fx.blur_episode(scene(120, kind="city"), 1.0, 3.0, severity=0.5, mode=mode)
    (event,) = kinds(detect("blur", frames=frames), "blur")
    assert event.start_s == pytest.approx(truth.start_s, abs=0.05)
    assert event.end_s == pytest.approx(truth.end_s, abs=0.05)
    assert event.details["detail_loss"] > 0.3


def test_blur_hard_negatives_soft_scene_after_a_cut_and_fades():
    sharp = scene(45, kind="city")
    soft = scene(45, kind="clouds", seed=1)  # a softer scene: less detail, but content
    frames = retimed(sharp + soft + sharp, 30.0)
    assert not list(detect("blur", frames=frames))
    fading = scene(90, kind="terrain")
    for k, f in enumerate(fading[30:60]):
        f.image = (f.image * (1 - k / 30)).astype(np.uint8)
    assert not list(detect("blur", frames=fading))


# --------------------------------------------------------------------------- interlace
def test_interlace_combing_on_motion():
    frames, truth = fx.interlace_episode(scene(90, speed=(5, 2)), 1.0, 2.0, severity=0.8)
    (event,) = kinds(detect("interlace", frames=frames), "interlace")
    assert overlaps([event], truth.start_s, truth.end_s)
    assert event.details["max_field_lateness"] > 1.2


def test_interlace_hard_negatives_still_lines_and_moving_fine_texture():
    lines = np.full((H, W, 3), 30, np.uint8)
    lines[::2] = 220  # one-pixel stripes: comb-like, but still
    frames = [Frame(i / 30, i, lines.copy()) for i in range(30)]
    assert not list(detect("interlace", frames=frames))
    rng = np.random.default_rng(0)
    fine = [Frame(f.t, f.index, np.clip(f.image.astype(int) + rng.normal(0, 12, f.image.shape), 0,
                                        255).astype(np.uint8)) for f in scene(60, speed=(7, 3))]
    assert not list(detect("interlace", frames=fine))


# --------------------------------------------------------------------------- colour range
@pytest.mark.parametrize("mode", ["washed", "crushed"])
def test_color_range_switch_mid_scene(mode):
    frames, truth = fx.color_range_episode(scene(120), 1.0, 3.0, severity=0.8, mode=mode)
    (event,) = kinds(detect("color_range", frames=frames), "color_range")
    assert event.start_s == pytest.approx(truth.start_s, abs=0.05)
    assert event.end_s == pytest.approx(truth.end_s, abs=0.05)
    assert event.details["mode"] == mode


def test_color_range_hard_negatives_fades_cuts_and_low_contrast():
    frames = scene(90)
    for k, f in enumerate(frames[30:60]):  # a fade to black and back
        gain = abs(15 - k) / 15
        f.image = (f.image * gain).astype(np.uint8)
    assert not list(detect("color_range", frames=frames))
    cut = retimed(scene(45, kind="terrain") + scene(45, kind="clouds", seed=2), 30.0)
    assert not list(detect("color_range", frames=cut))
    washed_content = [Frame(f.t, f.index, fx.color_range(f.image, "washed")) for f in scene(60)]
    assert not list(detect("color_range", frames=washed_content))  # graded so from the start
