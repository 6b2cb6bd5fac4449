"""The dut and steps against the simulated device: latency, waits, recording, verdicts, evidence."""

from __future__ import annotations

import json
import time

import pytest

from harness.capture.file import probe
from harness.dut import Dut
from harness.errors import BadInput, CaptureLost
from harness.steps import no, present
from harness.vision import Motion


@pytest.fixture
def dut():
    the_dut = Dut.open("mock")
    yield the_dut
    the_dut.close()


def to_player(dut: Dut) -> None:
    dut.press_and_wait("OK", stable_s=0.5)  # home -> catalogue
    dut.press("OK")                         # catalogue -> player
    assert dut.wait_for_motion(timeout_s=5)
    dut.wait(1.0)


def test_one_clock_for_frames_audio_and_keys(dut):
    dut.wait(0.5)
    key = dut.press("RIGHT")
    segment = dut.record(1.0)
    assert segment.stored_frames[0].t >= key.t_down - 1 / 30
    assert segment.audio_chunks[0].t == pytest.approx(segment.start_s, abs=0.03)
    assert abs(segment.audio_chunks[-1].end - segment.stored_frames[-1].t) < 0.05


def test_press_and_wait_measures_modelled_latency(dut):
    dut.wait(0.5)
    latency_ms = dut.profile.sim["key_latency_ms"]
    jitter_ms = dut.profile.sim["key_latency_jitter_ms"]
    for key in ("RIGHT", "RIGHT", "LEFT"):
        transition = dut.press_and_wait(key, stable_s=0.5)
        assert transition, transition
        assert latency_ms - jitter_ms - 1 <= transition.latency_s * 1000 <= latency_ms + jitter_ms + 1000 / 30 + 1
        assert transition.duration_s < 1.0
        assert transition.frame is not None


def test_press_and_wait_reports_no_change(dut):
    dut.wait(0.5)
    result = dut.press_and_wait("VOLUME_UP", timeout_s=2)  # home screen ignores it
    assert not result and result.status == "no_change" and result.latency_s is None


def test_wait_for_returns_truthy_evidence_or_falsy_timeout(dut):
    dut.wait(0.5)
    still = dut.wait_for(Motion(), timeout_s=1.0)
    assert not still and still.waited_s >= 1.0
    to_player(dut)
    moving = dut.wait_for(Motion(), timeout_s=2.0)
    assert moving and moving.frame is not None and moving.value.changed_fraction > 0


def test_record_segment_bounded_and_clip(dut, tmp_path):
    to_player(dut)
    segment = dut.record(2.0, scale=0.5)
    assert 59 <= len(segment) <= 62 and segment.discarded_frames == 0
    assert next(segment.frames).width == 640
    samples, rate = segment.audio_between(segment.start_s, segment.end_s)
    assert rate == 48000 and samples.shape[0] == pytest.approx(96000, abs=2000)
    clip = segment.write_clip(tmp_path / "clip.mp4")
    info = probe(clip)
    assert info.video is not None and info.audio is not None and info.duration_s == pytest.approx(2.0, abs=0.2)
    tiny = dut.record(2.0, scale=0.5, max_bytes=200_000)
    assert tiny.discarded_frames > 0 and len(tiny) + tiny.discarded_frames >= 59


def test_clean_playback_step_passes_with_counts(dut):
    to_player(dut)
    with dut.step("play", expect=[no("freeze", longer_than=0.5), no("black"), no("silence")]) as step:
        dut.wait(5.0)
    result = step.result
    assert result and result.status == "passed" and result.events == []
    assert 148 <= result.frames_analysed <= 152
    assert result.capture["video"]["dropped"] == 0 and result.capture["video"]["delivered"] >= 148


@pytest.mark.parametrize("kind, duration", [("freeze", 1.5), ("black", 0.8), ("silence", 0.6)])
def test_injected_defect_fails_the_step_with_evidence(dut, kind, duration):
    to_player(dut)
    start = dut.clock.now()
    truth = dut.sim.inject(kind, at=start + 2.0, duration=duration)
    with pytest.raises(AssertionError) as info:
        with dut.step("play", expect=[no("freeze", longer_than=0.5), no("black"), no("silence")]) as step:
            dut.wait(5.0)
    message = str(info.value)
    assert f"expected no {kind}" in message and f"found {kind} at" in message and "score" in message
    found = step.result.events_of(kind)
    assert len(found) == 1, step.result.events
    event = found[0]
    assert event.overlaps(truth.start_s, truth.end_s, tolerance_s=0.2)
    assert abs(event.start_s - truth.start_s) <= 0.2 and abs(event.end_s - truth.end_s) <= 0.2
    assert step.result.status == "failed"
    # the step reports times relative to its start
    assert f"{event.start_s - step.result.start_s:.2f}" in message


def test_a_step_reports_one_event_per_episode_when_detectors_share_a_kind(dut):
    """Two detectors of one kind (here the DSP block detector under both its names; in use a
    DSP detector and the audio classifier) see the same episode: the step reports it once."""
    to_player(dut)
    truth = dut.sim.inject("block_corruption", at=dut.clock.now() + 1.0, duration=1.0)
    with pytest.raises(AssertionError, match="expected no block_corruption"):
        with dut.step("play", expect=[no("block_corruption")],
                      detectors=["block_corruption:dsp"]) as step:
            dut.wait(3.0)
    assert all(step._events[name] for name in ("block_corruption", "block_corruption:dsp"))
    (event,) = step.result.events_of("block_corruption")
    assert event.overlaps(truth.start_s, truth.end_s, tolerance_s=0.2)


def test_present_expectation(dut):
    to_player(dut)
    with dut.step("pause", expect=[present("freeze", at_least_s=1.0), present("silence")]):
        dut.press("PLAY_PAUSE")
        dut.wait(2.5)
    with pytest.raises(AssertionError, match="expected freeze present.*reported none"):
        with dut.step("not paused", expect=[present("freeze")]):
            dut.press("PLAY_PAUSE")
            dut.wait(2.0)


def test_step_thresholds_override_the_profile(dut):
    to_player(dut)
    dut.sim.inject("freeze", at=dut.clock.now() + 1.0, duration=0.8)
    with dut.step("lenient", expect=[no("freeze")], thresholds={"freeze": {"min_duration_s": 1.0}}):
        dut.wait(3.0)
    with pytest.raises(BadInput, match="thresholds given for 'black'"):
        dut.step("bad", expect=[no("freeze")], thresholds={"black": {}})


def test_lost_capture_is_infrastructure_error_not_failure(dut):
    to_player(dut)

    def dead(timeout_s=None):
        raise CaptureLost("HDMI capture went away")

    dut.video.read = dead
    with pytest.raises(CaptureLost):
        with dut.step("play", expect=[no("freeze")]) as step:
            dut.wait(2.0)
    assert step.result.status == "broken"


def test_stalled_capture_times_out_as_infrastructure_error(dut):
    dut.video.read = lambda timeout_s=None: None
    with pytest.raises(CaptureLost, match="no video frame for"):
        dut.wait(1.0)


def test_log_records_keys_steps_and_events(dut):
    to_player(dut)
    dut.sim.inject("black", at=dut.clock.now() + 1.0, duration=0.5)
    with pytest.raises(AssertionError):
        with dut.step("s", expect=[no("black")]):
            dut.wait(2.0)
    types = [entry.type for entry in dut.log]
    assert "key" in types and "transition" in types and types.count("step") == 2 and "event" in types
    json.dumps([e.to_json() for e in dut.log])


def test_realtime_mode_runs_on_the_wall_clock():
    dut = Dut.open("mock", realtime=True)
    try:
        start = time.monotonic()
        dut.wait(0.5)
        elapsed = time.monotonic() - start
        assert not dut.clock.is_virtual and elapsed >= 0.45
        stats = dut.capture_stats()["video"]
        assert stats["delivered"] >= 14 and stats["dropped"] == 0
        time.sleep(5.0)  # a reader that stalls longer than the ring buffer loses frames, counted
        dut.wait(0.1)
        assert dut.capture_stats()["video"]["dropped"] > 0
    finally:
        dut.close()


def test_step_keeps_its_capture_as_a_file(dut, tmp_path):
    to_player(dut)
    with dut.step("kept", expect=[no("freeze")], keep=tmp_path / "steps" / "kept.mp4"):
        dut.wait(2.0)
    info = probe(tmp_path / "steps" / "kept.mp4")
    assert info.video is not None and info.audio is not None
    assert info.duration_s == pytest.approx(2.0, abs=0.25)


def test_step_carries_programme_loudness(dut):
    # figures that are no event (the loudness detector's) come with the step's result and its
    # detectors.json evidence
    to_player(dut)
    with dut.step("play", expect=[no("silence")], detectors=["loudness"]) as step:
        dut.wait(5.0)
    loud = step.result.measurements["loudness"]
    assert loud["integrated_lufs"] is not None and -60 < loud["integrated_lufs"] < 0
    assert loud["target_lufs"] == -23.0 and loud["true_peak_dbtp"] <= 0.5
    assert step.result.to_json()["measurements"] == step.result.measurements
    assert set(step.result.measurements) == {"loudness"}      # silence has no figures of its own


def test_step_expecting_sound_on_a_rig_without_sound_is_an_infrastructure_error(tmp_path):
    """A step whose expectations watch the sound cannot pass on a rig that captures none (it
    would pass silently); it stops with the reason, as a rig error (pytest ERROR, Allure
    "broken"), and steps that watch only the picture run."""
    from harness.errors import CaptureMissing, InfrastructureError
    from tests.conftest import REPO

    text = (REPO / "devices" / "mock.yaml").read_text()
    start = text.index("\naudio:")
    end = text.index("\nlatency:")
    profile = tmp_path / "mock-deaf.yaml"
    profile.write_text(text[:start] + text[end:])
    deaf = Dut.open(str(profile))
    try:
        assert deaf.audio is None
        with pytest.raises(CaptureMissing, match=r"expects no hum, no silence, but device 'mock' "
                                                 r"captures no audio .*'audio:' section") as info:
            deaf.step("playback", expect=[no("black"), no("hum"), no("silence")])
        assert isinstance(info.value, InfrastructureError)
        with deaf.step("picture only", expect=[no("black")]):
            deaf.wait(0.5)
    finally:
        deaf.close()
