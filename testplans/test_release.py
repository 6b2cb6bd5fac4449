"""Release sign-off suite: launch, navigation, playback quality, trick play, back to home.

Runs on any device profile: ``pytest testplans/ --device=firetv``, or with no
hardware ``pytest testplans/ --device=mock``.  Every check is a step whose
detectors watch the capture while it runs; a failure names the defect, its time
in the step and its score, and the Allure report carries the evidence.
"""

from __future__ import annotations

import pytest

from harness.steps import no, present
from testplans.navigation import assert_reacts, open_app, start_playback

# what viewers see and hear go wrong during playback: the picture (freeze, black, stutter,
# tearing, block corruption) and the sound (dropouts, hum, hiss, clicks, distortion, a channel
# missing, swapped or inverted)
AUDIO_CLEAN = [no("hum"), no("hiss"), no("clicks"), no("distortion"), no("channel")]
PLAYBACK_CLEAN = [no("freeze", longer_than=0.5), no("black"), no("stutter"), no("tearing"),
                  no("block_corruption"), no("silence"), *AUDIO_CLEAN]


@pytest.mark.requires("home_screen", "playback")
def test_launch_app_and_reach_playback(home):
    dut = home
    with dut.step("Open the app from home", expect=[no("black")]):
        open_app(dut)
    with dut.step("Start playback", expect=[no("black", longer_than=1.0)]):
        start_playback(dut)
    with dut.step("First 5 s of playback are clean", expect=PLAYBACK_CLEAN):
        dut.wait(5.0)


@pytest.mark.requires("home_screen", "catalogue")
def test_navigate_catalogue(home):
    dut = home
    with dut.step("Open the app", expect=[no("black")]):
        open_app(dut)
    with dut.step("Move focus through the catalogue", expect=[no("black")]):
        for key in ("RIGHT", "RIGHT", "DOWN", "LEFT", "UP"):
            transition = dut.press_and_wait(key, stable_s=0.5, timeout_s=5)
            assert_reacts(transition, dut, f"focus move {key}")
            assert transition.duration_s < 2.0, f"focus move {key} took {transition.duration_s:.2f} s"
    with dut.step("Back to home", expect=[no("black")]):
        assert_reacts(dut.press_and_wait("BACK", stable_s=1.0), dut, "BACK from the catalogue")


@pytest.mark.requires("playback")
def test_playback_quality_30s(playing):
    dut = playing
    # the loudness meter runs too: no level jump; the title's loudness against the profile's
    # target is in the step's measurements (evidence, not a verdict: 30 s is short for a
    # programme figure)
    with dut.step("30 s of playback: clean picture and sound",
                  expect=[*PLAYBACK_CLEAN, no("loudness", fault="jump")]):
        dut.wait(30.0)


@pytest.mark.requires("playback", "trick_play")
def test_pause_resume_seek(playing):
    dut = playing
    with dut.step("Pause holds the picture and mutes the sound",
                  expect=[present("freeze", at_least_s=1.0), present("silence", at_least_s=1.0),
                          no("black"), *AUDIO_CLEAN]):
        dut.press("PLAY_PAUSE")
        dut.wait(2.5)
    with dut.step("Resume restarts the picture within the latency budget"):
        dut.press("PLAY_PAUSE")
        resumed = dut.wait_for_motion(timeout_s=dut.profile.latency.max_key_to_screen_ms / 1000 + 0.5)
        assert resumed, f"picture did not move again after resume: {resumed!r}"
    with dut.step("Playback after resume is clean", expect=PLAYBACK_CLEAN):
        dut.wait(4.0)
    with dut.step("Seek forward and back keep playing", expect=[no("freeze", longer_than=0.5),
                                                               no("black", longer_than=0.5)]):
        dut.press("FAST_FORWARD")
        dut.wait(3.0)
        dut.press("REWIND")
        dut.wait(3.0)


@pytest.mark.requires("home_screen", "playback")
def test_back_to_home(playing):
    dut = playing
    with dut.step("BACK leaves the player", expect=[no("black", longer_than=0.5)]):
        assert_reacts(dut.press_and_wait("BACK", stable_s=1.0), dut, "BACK from the player")
    with dut.step("HOME returns to the home screen, which is still and quiet",
                  expect=[no("black"), present("silence", at_least_s=1.0), *AUDIO_CLEAN]):
        assert_reacts(dut.press_and_wait("HOME", stable_s=1.0), dut, "HOME")
        dut.wait(1.0)
