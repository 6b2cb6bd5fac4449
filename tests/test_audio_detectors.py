"""The signal-processing audio detector suite: silence, clicks, hum, hiss, distortion, loudness,
channel.  Positives made with the shared injectors of ``detectors.synth.audio`` on real content
(``detectors.synth.content``), negatives including the hard ones (speech pauses, percussion,
bass on the mains frequencies, applause, loud clean music), chunking invariance, and the
loudness meter against ffmpeg's ``ebur128``."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

import numpy as np
import pytest
import soundfile as sf

from detectors import base as registry
from detectors.audio import bs1770
from detectors.audio.bs1770 import LoudnessMeter
from detectors.audio.channel import _CANDIDATES, _PRESCREEN, _candidates, _search_edges
from detectors.base import Event
from detectors.merge import merge_events
from detectors.synth import audio as fx
from detectors.synth import codec
from detectors.synth import content
from harness.media import AudioChunk

RATE = content.SAMPLE_RATE
AUDIO = ("silence", "clicks", "hum", "hiss", "distortion", "loudness", "channel")


def _need(kind: str) -> list[content.Source]:
    found = content.installed(kind)
    if not found:
        pytest.skip(f"no {kind} content installed (scripts/setup.sh)")
    return found


@lru_cache(maxsize=None)
def _music(seconds: float = 8.0, which: str = "music_intro", start: float = 20.0) -> np.ndarray:
    _need("music")
    return content.sound(content.source(which), start, seconds)


@lru_cache(maxsize=None)
def _speech(seconds: float = 8.0) -> np.ndarray:
    talks = _need("speech")
    parts = [content.sound(s, 0.0, content.duration_s(s.path)) for s in talks[:3]]
    return np.concatenate(parts)[:round(seconds * RATE)]


def music(seconds: float = 8.0) -> AudioChunk:
    return AudioChunk(0.0, _music(seconds).copy(), RATE)


def run(name: str, audio: AudioChunk, chunk: int | list[int] = 4800, **params) -> list[Event]:
    det = registry.create(name, params)
    x = audio.samples
    sizes = [chunk] if isinstance(chunk, int) else chunk
    events, i, k = [], 0, 0
    while i < x.shape[0]:
        n = sizes[k % len(sizes)]
        events += det.feed(AudioChunk(audio.t + i / RATE, x[i:i + n], RATE))
        i, k = i + n, k + 1
    return events + det.finish()


def kinds(events: list[Event], start: float, end: float) -> list[Event]:
    return [e for e in events if e.overlaps(start, end, 0.3)]


# --------------------------------------------------------------------------- registry
def test_registered_and_documented():
    names = registry.resolve_names("all", media="audio")
    for name in AUDIO:
        assert name in names
        cls = registry.detector_class(name)
        assert cls.kind == name and cls.media == "audio"
        for field_name, field in cls.Config.model_fields.items():
            assert field.default is not None or field_name in {
                "target_lufs", "tolerance_lu", "expected_balance_db"}


@pytest.mark.parametrize("name", AUDIO)
def test_results_do_not_depend_on_chunking(name):
    audio, _ = fx.silence_episode(music(), 2.0, 2.6)
    audio, _ = fx.clicks_episode(audio, 3.0, 3.8, np.random.default_rng(1), 0.8)
    audio, _ = fx.hum_episode(audio, 4.0, 7.0, 0.8)
    audio, _ = fx.distortion_episode(audio, 5.0, 6.0, 0.8, "hard")
    audio, _ = fx.channel_episode(audio, 6.5, 7.5, mode="invert")
    whole = [e.to_json() for e in run(name, audio, 4800)]
    odd = [e.to_json() for e in run(name, audio, [1, 777, 4099, 12000, 333])]
    assert whole == odd


# --------------------------------------------------------------------------- silence
def test_silence_finds_dropout_not_speech_pauses():
    audio, truth = fx.silence_episode(music(), 3.0, 3.5)
    events = run("silence", audio)
    assert len(events) == 1 and events[0].overlaps(truth.start_s, truth.end_s, 0.05)
    speech = AudioChunk(0.0, _speech(8.0).copy(), RATE)
    assert run("silence", speech) == []


def test_silence_finds_a_deep_drop_that_is_not_digital_silence():
    audio, _ = fx.silence_episode(music(), 3.0, 3.6, severity=0.9)   # -54 dB, not zero
    quiet = AudioChunk(0.0, audio.samples * np.float32(0.3), RATE)
    assert run("silence", audio) or run("silence", quiet, threshold_db=-90)


def test_silence_not_where_the_sound_died_away_first():
    # a note released over 60 ms, gated to digital silence for 0.5 s, then the music goes on
    x = _music(8.0).copy()
    a, b = round(3.0 * RATE), round(3.5 * RATE)
    fade = round(0.06 * RATE)
    x[a - fade:a] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None] ** 4
    x[a:b] = 0.0
    assert run("silence", AudioChunk(0.0, x, RATE)) == []
    # the same silence cut into the sound is a dropout
    cut = _music(8.0).copy()
    cut[a:b] = 0.0
    events = run("silence", AudioChunk(0.0, cut, RATE))
    assert len(events) == 1 and events[0].overlaps(3.0, 3.5, 0.05)
    # (and the released one is, where any fall counts as a cut)
    assert run("silence", AudioChunk(0.0, x, RATE), max_fall_db=200.0)


def test_silence_at_the_end_only_when_it_runs_on():
    x = _music(8.0).copy()
    x[round(7.5 * RATE):] = 0.0                    # a programme ending in silence
    assert run("silence", AudioChunk(0.0, x, RATE)) == []
    x[round(6.0 * RATE):] = 0.0                    # a mute running to the end
    events = run("silence", AudioChunk(0.0, x, RATE))
    assert len(events) == 1 and events[0].overlaps(6.0, 8.0, 0.05)


# --------------------------------------------------------------------------- clicks
def test_clicks_counted_with_times():
    audio, truth = fx.clicks_episode(music(), 3.0, 4.5, np.random.default_rng(3), 0.5)
    events = run("clicks", audio)
    assert len(events) == 1
    event = events[0]
    assert event.overlaps(truth.start_s, truth.end_s, 0.05)
    assert event.details["count"] == truth.details["count"]
    assert np.allclose(event.details["times"], truth.details["times"], atol=0.002)


def test_clicks_not_on_typewriter_or_applause():
    strike = content.sound(content.source("typewriter"), 0.0,
                           content.duration_s(content.source("typewriter").path)) \
        if content.source("typewriter").path.is_file() else pytest.skip("no typewriter")
    x = _music(8.0).copy()
    for at in (1.0, 2.5, 4.0, 5.5):
        a = round(at * RATE)
        b = min(x.shape[0], a + strike.shape[0])
        x[a:b] += strike[:b - a]
    assert run("clicks", AudioChunk(0.0, x, RATE)) == []
    clap = content.source("applause")
    burst = content.sound(clap, 0.0, min(6.0, content.duration_s(clap.path)))
    assert run("clicks", AudioChunk(0.0, burst, RATE)) == []


# --------------------------------------------------------------------------- hum
@pytest.mark.parametrize("freq", [50.0, 60.0])
def test_hum_found_with_frequency_and_level(freq):
    audio, truth = fx.hum_episode(music(), 2.0, 6.0, 0.7, freq)
    events = run("hum", audio)
    assert events and all(e.overlaps(truth.start_s, truth.end_s) for e in events)
    assert sum(e.duration_s for e in events) > 2.0
    assert all(e.details["frequency_hz"] == freq for e in events)
    assert abs(max(e.details["max_level_db"] for e in events) - truth.details["level_dbfs"]) < 6


def test_hum_not_on_bass_line_in_the_mains_band():
    mixed = content.level(0.6 * _music(8.0) + content.bass_line(8.0, np.random.default_rng(0)))
    assert run("hum", AudioChunk(0.0, mixed, RATE)) == []


def _bursts(seconds: float = 8.0, seed: int = 3) -> AudioChunk:
    """Syllable-like bursts of low-frequency noise (40-400 Hz, -20 dBFS, 0.1-0.25 s on,
    0.3-0.6 s off) over a faint floor: loud, random-phase energy in the mains bins."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec[(f < 40) | (f > 400)] = 0
    lf = np.fft.irfft(spec, n)
    lf *= 0.1 / np.sqrt(np.mean(lf ** 2))
    env, t = np.zeros(n), 0.0
    while t < seconds:
        on, off = rng.uniform(0.1, 0.25), rng.uniform(0.3, 0.6)
        env[round(t * RATE):round((t + on) * RATE)] = 1.0
        t += on + off
    x = (lf * env + 0.001 * rng.standard_normal(n)).astype(np.float32)
    return AudioChunk(0.0, np.repeat(x[:, None], 2, axis=1), RATE)


def test_hum_found_through_the_pauses_of_bursty_sound():
    audio, truth = fx.hum_episode(_bursts(), 2.0, 6.0, 0.3, 60.0)      # -45 dBFS
    events = run("hum", audio)
    assert events and all(e.overlaps(truth.start_s, truth.end_s) for e in events)
    assert events[0].details["frequency_hz"] == 60.0
    # averaged evenly, the loud bursts swamp it
    assert run("hum", audio, weight_loud_hops=False) == []


def test_hum_not_on_bursts_or_clean_speech():
    assert run("hum", _bursts()) == []
    assert run("hum", AudioChunk(0.0, _speech(8.0).copy(), RATE)) == []


# --------------------------------------------------------------------------- hiss
def test_hiss_found_against_the_quiet_it_raises():
    rng = np.random.default_rng(5)
    speech = AudioChunk(0.0, _speech(8.0).copy(), RATE)
    audio, truth = fx.hiss_episode(speech, 4.0, 7.0, rng, 0.8, "white")
    events = run("hiss", audio)
    assert events and all(e.overlaps(truth.start_s, truth.end_s) for e in events)
    assert "snr_db" in events[0].details and "noise_floor_db" in events[0].details


def test_hiss_not_on_applause_or_speech():
    clap = content.source("applause")
    if not clap.path.is_file():
        pytest.skip("no applause")
    x = _music(8.0).copy()
    burst = content.sound(clap, 0.0, min(4.0, content.duration_s(clap.path)))
    a = 3 * RATE
    x[a:a + burst.shape[0]] = 0.4 * x[a:a + burst.shape[0]] + burst[:x.shape[0] - a]
    assert run("hiss", AudioChunk(0.0, x, RATE)) == []
    assert run("hiss", AudioChunk(0.0, _speech(8.0).copy(), RATE)) == []


@pytest.mark.parametrize("colour,severity", [("pink", 0.45), ("white", 0.4)])
def test_hiss_found_under_music_in_the_bands_it_leaves_empty(colour, severity):
    # ~22-24 dB SNR: the music still dominates its own bands, the noise only the top octaves
    rng = np.random.default_rng(11)
    audio, truth = fx.hiss_episode(music(10.0), 5.0, 8.5, rng, severity, colour)
    events = run("hiss", audio)
    assert events and all(e.overlaps(truth.start_s, truth.end_s) for e in events)
    assert sum(e.duration_s for e in events) > 1.5
    assert all(e.details["bands"] >= 1 for e in events)


def test_hiss_not_on_percussive_music_or_typewriter():
    busy = _need("music")
    for src in busy:
        if "percussive" in src.traits:
            x = content.sound(src, 0.0, min(12.0, content.duration_s(src.path)))
            assert run("hiss", AudioChunk(0.0, x, RATE)) == [], src.name
    typing = content.source("typewriter")
    if typing.path.is_file():
        x = content.sound(typing, 0.0, min(8.0, content.duration_s(typing.path)))
        assert run("hiss", AudioChunk(0.0, x, RATE)) == []


# --------------------------------------------------------------------------- distortion
@pytest.mark.parametrize("mode", ["hard", "crush"])
def test_distortion_found_with_mode(mode):
    audio, truth = fx.distortion_episode(music(), 3.0, 5.0, 0.7, mode)
    events = run("distortion", audio)
    assert events and all(e.overlaps(truth.start_s, truth.end_s) for e in events)
    assert events[0].details["mode"] == mode


def test_distortion_not_on_loud_clean_music():
    x = _music(8.0)
    loud = (x * np.float32(0.99 / np.abs(x).max())).astype(np.float32)
    assert run("distortion", AudioChunk(0.0, loud, RATE)) == []


@lru_cache(maxsize=None)
def _lossy_music() -> tuple[AudioChunk, Event]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg")
    from detectors.synth import codec
    return codec.lossy_episode(music(10.0), 3.0, 5.5, 0.7)   # Opus at 11 kb/s


def test_distortion_lossy_not_where_hiss_hid_the_contents_own_bandwidth_edge():
    """Hiss from the first seconds on, in episodes: broadband noise hides the content's own
    bandwidth edge (music_duo: 17 kHz) from the baseline for half the time; between the
    episodes the edge shows again and is no re-encode. (Session 7: the seed-1 large corpus had
    8 such false positives with the edge needing a quarter of the history to count.)"""
    _need("music")
    x = content.sound(content.source("music_duo"), 10.0, 16.0)
    audio, rng = AudioChunk(0.0, x, RATE), np.random.default_rng(0)
    for start, end in ((1.2, 4.1), (5.6, 9.4), (11.1, 14.0)):
        audio, _ = fx.hiss_episode(audio, start, end, rng, 0.5, "white")
    assert [e for e in run("distortion", audio) if e.details["mode"] == "lossy"] == []
    old = run("distortion", audio, min_cliff_fraction=0.25, min_sounding_db=-50.0)
    assert [e.details["mode"] for e in old] == ["lossy"]      # what the old settings reported
    # a real re-encode over the same content is still found
    damaged, truth = codec.lossy_episode(AudioChunk(0.0, x, RATE), 6.0, 9.0, 0.8)
    found = [e for e in run("distortion", damaged) if e.details["mode"] == "lossy"]
    assert len(found) == 1 and found[0].overlaps(truth.start_s, truth.end_s)


def test_distortion_finds_a_lossy_reencode_by_its_bandwidth():
    audio, truth = _lossy_music()
    events = run("distortion", audio)
    assert len(events) == 1 and events[0].overlaps(truth.start_s, truth.end_s)
    assert events[0].details["mode"] == "lossy"
    assert events[0].details["min_bandwidth_hz"] < 0.8 * events[0].details[
        "baseline_bandwidth_hz"]
    odd = run("distortion", audio, [1, 777, 4099, 12000, 333])
    assert [e.to_json() for e in odd] == [e.to_json() for e in events]


def test_distortion_lossy_not_on_a_change_of_source_or_hiss_ending():
    # full-band music, then band-limited speech for good: a new source, not a re-encode
    x = np.concatenate([_music(3.0), _speech(13.0)])
    assert run("distortion", AudioChunk(0.0, x, RATE)) == []
    # noise over the music's own bandwidth cliff, then gone: the cliff comes back, no cut
    # (noise from the very first second would hide the cliff from the baseline: a known limit)
    audio, _ = fx.hiss_episode(music(10.0), 1.5, 4.5, np.random.default_rng(3), 0.6, "white")
    assert run("distortion", audio) == []


def test_clicks_ignore_splices_and_clipping_edges():
    x = _music(8.0).copy()
    # a splice: the waveform jumps to another place in the programme and stays there
    x[round(3.0 * RATE):] = _music(8.0, start=40.0)[:x.shape[0] - round(3.0 * RATE)]
    # a channel turned upside down from 5 s on (the channels' mean steps)
    x[round(5.0 * RATE):, 0] *= -1.0
    assert run("clicks", AudioChunk(0.0, x, RATE)) == []
    hard = fx.clip(_music(8.0), 1.0, "hard")
    assert run("clicks", AudioChunk(0.0, hard, RATE)) == []


# --------------------------------------------------------------------------- loudness
@pytest.mark.xfail(reason="on this rhythmic music the level's 25-75 % range inside a gain step "
                   "differs from the 1 s windows beside it by ~6 dB, above max_dynamics_db",
                   strict=False)
def test_loudness_jump_found_with_figures():
    audio, truth = fx.loudness_episode(music(), 3.0, 5.5, 0.6, "down")
    events = [e for e in run("loudness", audio) if e.details["fault"] == "jump"]
    assert len(events) == 1 and events[0].overlaps(truth.start_s, truth.end_s)


def test_loudness_jump_keeps_spectral_shape():
    audio, truth = fx.loudness_episode(music(), 2.0, 4.5, 0.6, "down")
    events = [e for e in run("loudness", audio, max_dynamics_db=10.0)
              if e.details["fault"] == "jump"]
    assert len(events) == 1 and events[0].overlaps(truth.start_s, truth.end_s)
    assert events[0].details["step_lu"] < -8
    assert events[0].details["integrated_lufs"] is not None
    assert events[0].details["shape_spread_db"] <= 4.0
    # the same level step where the sound changes its spectrum (a cut to speech) is content
    x = _music(8.0).copy()
    talk = content.level(_speech(8.0))
    x[round(2.0 * RATE):round(4.5 * RATE)] = 0.2 * talk[round(2.0 * RATE):round(4.5 * RATE)]
    assert [e for e in run("loudness", AudioChunk(0.0, x, RATE), max_dynamics_db=10.0)
            if e.details["fault"] == "jump"] == []


def test_loudness_jump_is_held_longer_than_its_windows():
    """A second 10 dB quieter is a quieter phrase or a spliced line, no gain fault (the seed-1
    large corpus: a 1-s 'voice' clip between louder readers, 3 false positives); the same dip
    held for 2 s is a jump."""
    x = _music(10.0, "music_main", 0.0)

    def dipped(start, length):
        y = x.copy()
        y[round(start * RATE):round((start + length) * RATE)] *= np.float32(10 ** (-10 / 20))
        return AudioChunk(0.0, y, RATE)

    def jumps(audio, **params):
        return [e for e in run("loudness", audio, **params) if e.details["fault"] == "jump"]

    assert jumps(dipped(4.0, 1.0)) == []
    assert len(jumps(dipped(4.0, 1.0), min_duration_s=0.3)) == 1
    held = jumps(dipped(4.0, 2.0))
    assert len(held) == 1 and held[0].overlaps(4.0, 6.0) and held[0].details["step_lu"] < -8


def test_loudness_step_up_into_saturation_is_left_to_distortion():
    """Quiet content overdriven into a soft clipper is 10+ LU louder, and distorted: the
    distortion detectors report it; a step up whose loud side peaks within 0.3 dB of full
    scale is not a loudness jump (at the old clip_level, 0.99, this one was).  The same content
    stepped up to a -1 dBFS peak is one."""
    quiet = AudioChunk(0.0, _music(8.0) * np.float32(0.1), RATE)
    over, _ = fx.distortion_episode(quiet, 2.0, 4.5, 0.42, "soft")    # tanh, 10 dB of drive
    # the second after the step peaks between the new clip_level (0.97) and the old (0.99)
    assert 0.97 <= float(np.abs(over.samples[2 * RATE:3 * RATE]).max()) < 0.99
    jumps = [e for e in run("loudness", over, max_dynamics_db=10.0) if e.details["fault"] == "jump"]
    assert jumps == []
    up, truth = fx.loudness_episode(quiet, 2.0, 4.5, 0.6, "up")
    assert float(np.abs(up.samples).max()) <= fx.INSERT_PEAK * 1.0001
    jumps = [e for e in run("loudness", up, max_dynamics_db=10.0) if e.details["fault"] == "jump"]
    assert len(jumps) == 1 and jumps[0].overlaps(truth.start_s, truth.end_s)


def test_loudness_step_in_one_channel_is_not_a_jump():
    x = _music(8.0).copy()
    x[:, 1] *= np.float32(0.2)                      # a left-heavy mix ...
    x[round(2.0 * RATE):round(4.5 * RATE), 0] = 0.0  # ... losing its left channel
    audio = AudioChunk(0.0, x, RATE)
    jumps = [e for e in run("loudness", audio, max_dynamics_db=10.0, max_balance_change_db=1e3)
             if e.details["fault"] == "jump"]
    assert jumps and jumps[0].details["balance_change_db"] > 20   # the level does step
    assert [e for e in run("loudness", audio, max_dynamics_db=10.0)
            if e.details["fault"] == "jump"] == []
    # a gain on both channels keeps the balance
    gain, _ = fx.loudness_episode(AudioChunk(0.0, _music(8.0).copy(), RATE), 2.0, 4.5, 0.6)
    jumps = [e for e in run("loudness", gain, max_dynamics_db=10.0)
             if e.details["fault"] == "jump"]
    assert len(jumps) == 1 and jumps[0].details["balance_change_db"] < 1.0


def test_loudness_jump_holds_its_gain():
    # up 8 dB at 2 s, back down on a slow 0.6 s ramp (no edge), up 14 dB at 5 s, down
    # abruptly at 6.5 s: the two steps up add to ~+20 LU, the level is only ~+9 above
    x = _music(8.0) * np.float32(0.3)
    up = np.float32(10 ** (8 / 20))
    g = np.ones(x.shape[0], np.float32)
    t = np.arange(x.shape[0]) / RATE
    g[(t >= 2.0) & (t < 3.4)] = up
    ramp = (t >= 3.4) & (t < 4.0)
    g[ramp] = up + (1 - up) * (t[ramp] - 3.4) / 0.6
    g[(t >= 5.0) & (t < 6.5)] = np.float32(10 ** (14 / 20))
    audio = AudioChunk(0.0, x * g[:, None], RATE)
    loose = [e for e in run("loudness", audio, max_dynamics_db=10.0, max_hold_error_lu=100.0)
             if e.details["fault"] == "jump"]
    assert loose and loose[0].details["step_lu"] > 15
    held = [e for e in run("loudness", audio, max_dynamics_db=10.0)
            if e.details["fault"] == "jump"]
    assert all(abs(e.details["level_lufs"] - e.details["programme_lufs"] - e.details["step_lu"])
               <= max(3.0, 0.25 * abs(e.details["step_lu"])) for e in held)
    assert not any(e.start_s < 2.5 and e.end_s > 6.0 for e in held)


def test_loudness_jump_after_a_step_of_the_content_own():
    """A cut to quieter music at 2.5 s is a step down of the content's own (its spectrum
    changes: no jump); a 12 dB gain dip on the new music from 5 to 7.5 s is a jump. The two
    steps down are not one episode from 2.5 s (the old pairing summed them, -19 LU, and the
    episode failed every check), the second one is."""
    a = _music(10.0, "music_intro", 20.0)
    b = _music(10.0, "music_main", 0.0) * np.float32(10 ** (-7 / 20))
    cut = round(2.5 * RATE)
    x = np.concatenate([a[:cut], b[cut:]])
    audio, truth = fx.loudness_episode(AudioChunk(0.0, x, RATE), 5.0, 7.5, 0.43, "down")
    jumps = [e for e in run("loudness", audio) if e.details["fault"] == "jump"]
    assert len(jumps) == 1, jumps
    assert jumps[0].overlaps(truth.start_s, truth.end_s) and jumps[0].start_s > 4.0
    assert jumps[0].details["step_lu"] == pytest.approx(-12.0, abs=2.0)
    # the cut alone reports nothing
    assert [e for e in run("loudness", AudioChunk(0.0, x, RATE))
            if e.details["fault"] == "jump"] == []


def test_loudness_off_target_over_the_whole_span():
    events = run("loudness", music(), min_programme_s=5.0, standard="ebu_r128")
    off = [e for e in events if e.details["fault"] == "off_target"]
    assert len(off) == 1
    assert off[0].start_s == 0.0 and off[0].end_s == pytest.approx(8.0)
    assert off[0].details["target_lufs"] == -23.0
    level = off[0].details["integrated_lufs"]
    assert run("loudness", music(), min_programme_s=5.0, target_lufs=round(level)) == []
    assert run("loudness", music()) == []          # too short to judge by default


@pytest.fixture(scope="module")
def loudness_files(tmp_path_factory):
    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg")
    root = tmp_path_factory.mktemp("loudness")
    files = []
    speech = _speech(8.0)
    for name, data, rate in (("music48.wav", _music(12.0), 48000),
                             ("speech48.wav", speech, 48000)):
        path = root / name
        sf.write(path, data, rate, subtype="FLOAT")
        files.append(path)
    # 44.1 kHz: the same music and speech resampled by ffmpeg
    for src in list(files):
        path = root / src.name.replace("48", "44")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-ar", "44100",
                        "-c:a", "pcm_f32le", str(path)], check=True)
        files.append(path)
    return files


def _ffmpeg_ebur128(path) -> tuple[float, float, float]:
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af",
                          "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    summary = err[err.rfind("Summary"):]
    return tuple(float(re.search(pattern, summary).group(1)) for pattern in
                 (r"I:\s+(-?[\d.]+)", r"LRA:\s+(-?[\d.]+)", r"Peak:\s+(-?[\d.]+)"))


def test_loudness_meter_matches_ffmpeg_ebur128(loudness_files):
    for path in loudness_files:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        meter = LoudnessMeter(rate, data.shape[1])
        for i in range(0, data.shape[0], 3001):
            meter.push(data[i:i + 3001])
        ref_i, ref_lra, ref_tp = _ffmpeg_ebur128(path)
        assert meter.integrated == pytest.approx(ref_i, abs=0.15), path.name
        assert meter.loudness_range == pytest.approx(ref_lra, abs=0.5), path.name
        assert meter.true_peak_dbtp == pytest.approx(ref_tp, abs=0.3), path.name


def test_loudness_meter_same_numbers_through_the_public_filter(monkeypatch):
    # the meter runs scipy's compiled cascade directly; scipy.signal.sosfilt, its fallback,
    # gives the same numbers
    x = _music(6.0)
    meters = []
    for direct in (bs1770._sosfilt, None):
        monkeypatch.setattr(bs1770, "_sosfilt", direct)
        meters.append(LoudnessMeter(RATE, x.shape[1]))
        for i in range(0, x.shape[0], 7001):
            meters[-1].push(x[i:i + 7001])
    assert meters[0]._sub == meters[1]._sub and meters[0].true_peak == meters[1].true_peak
    assert meters[0].short_term_powers == meters[1].short_term_powers


# --------------------------------------------------------------------------- channel
@pytest.mark.parametrize("mode", ["drop", "invert"])
def test_channel_fault_found(mode):
    audio, truth = fx.channel_episode(music(), 3.0, 5.0, mode=mode)
    events = run("channel", audio)
    assert len(events) == 1 and events[0].details["fault"] == mode
    assert events[0].overlaps(truth.start_s, truth.end_s)
    if mode == "drop":
        assert events[0].details["channel"] == 0


def test_channel_mono_in_stereo_is_normal():
    x = _music(8.0)
    mono = np.repeat(x.mean(axis=1, keepdims=True), 2, axis=1)
    assert run("channel", AudioChunk(0.0, mono, RATE)) == []


def test_channel_swap_found_mid_stream_without_a_reference():
    x = _music(8.0).copy()                          # balanced stereo music
    audio, truth = fx.channel_episode(AudioChunk(0.0, x, RATE), 3.0, 5.0, mode="swap")
    events = run("channel", audio)
    assert [e.details["fault"] for e in events] == ["swap"]
    assert events[0].details["method"] == "edges"
    assert abs(events[0].start_s - 3.0) < 0.01 and abs(events[0].end_s - 5.0) < 0.01
    assert run("channel", audio, swap_edges=False) == []
    # the edges are searched a chunk's hops at a time: any chunking finds the same
    odd = [1, 777, 4099, 12000, 48000, 333, 96000]
    assert [e.to_json() for e in run("channel", audio, odd)] == [e.to_json() for e in events]


def test_channel_swap_edge_search_of_many_hops_is_each_hop_alone():
    # the candidates of all the hops are fitted in one stacked solve: every hop's best edge
    # (position, jump, fit) is, bit for bit, the one searched alone
    x = _music(8.0).copy()
    audio, _ = fx.channel_episode(AudioChunk(0.0, x, RATE), 3.0, 5.0, mode="swap")
    side = audio.samples[:, 0].astype(np.float64) - audio.samples[:, 1].astype(np.float64)
    history, hop = 480, 4800
    bounds = [history + 12, 1500, 3000] + list(range(6000, side.size - 13, hop))
    ranges = list(zip(bounds[:-1], bounds[1:]))
    together = _search_edges(side, ranges, history)
    assert together == [_search_edges(side, [r], history)[0] for r in ranges]
    assert sum(e is not None and e[1] >= 1000 for e in together) == 2    # on, and off again


def test_channel_swap_candidates_are_the_strongest_breaks_beating_the_screen():
    """The prescreen's candidates, range by range, straight from the definition: the break at
    ``n`` is what negating ``s[n:]`` takes off the squared second differences at ``n`` and
    ``n + 1``; the ``_CANDIDATES`` largest of a range that beat ``_PRESCREEN`` times the mean
    of those squares."""
    rng = np.random.default_rng(2)
    side = np.cumsum(rng.standard_normal(40_000)) * 1e-3            # smooth, like programme S
    side[[7_000, 7_001, 7_003, 15_000, 22_222]] += [0.5, -0.4, 0.3, 0.05, -2.0]   # a few breaks
    side[30_000:] *= -1                                               # a sign flip
    bounds = [600, 700, 2_000] + list(range(4_800, 39_000, 4_800)) + [39_900]
    ranges = list(zip(bounds[:-1], bounds[1:]))
    expect, crowded = set(), []
    for i, (first, last) in enumerate(ranges):
        n = np.arange(first, last)
        second = lambda m: side[m] - 2 * side[m - 1] + side[m - 2]                    # noqa: E731
        plain = second(n) ** 2 + second(n + 1) ** 2
        flipped_n = -side[n] - 2 * side[n - 1] + side[n - 2]
        flipped_n1 = -side[n + 1] + 2 * side[n] + side[n - 1]
        gain = plain - flipped_n ** 2 - flipped_n1 ** 2
        beat = np.flatnonzero(gain > _PRESCREEN * plain.mean())
        crowded.append(beat.size)
        top = beat[np.argsort(-gain[beat], kind="stable")][:_CANDIDATES]
        expect |= {(i, int(first + k)) for k in top}
    which, where = _candidates(side, ranges)
    assert set(zip(which.tolist(), where.tolist())) == expect
    assert max(crowded) > _CANDIDATES          # ranges where more beat the screen than are kept
    for at in (22_222, 30_000):                # the largest break, the sign flip
        assert (next(i for i, (a, b) in enumerate(ranges) if a <= at < b), at) in expect


def test_channel_swap_not_on_a_cut_or_other_faults():
    # a cut to other music breaks both channels at once: no sign flip of L - R explains it
    x = _music(8.0).copy()
    other = content.sound(content.source("music_main"), 40.0, 8.0)
    x[round(4.0 * RATE):] = other[round(4.0 * RATE):]
    assert run("channel", AudioChunk(0.0, x, RATE)) == []
    for mode in ("drop", "invert"):
        audio, _ = fx.channel_episode(music(), 3.0, 5.0, mode=mode)
        assert [e.details["fault"] for e in run("channel", audio)] == [mode]


def test_channel_swap_against_an_expected_balance():
    x = _music(8.0).copy()
    x[:, 1] *= np.float32(0.4)                      # a left-heavy ident
    audio, truth = fx.channel_episode(AudioChunk(0.0, x, RATE), 3.0, 5.0, mode="swap")
    events = run("channel", audio)
    assert [e.details["fault"] for e in events] == ["swap"]
    assert events[0].overlaps(truth.start_s, truth.end_s)


# --------------------------------------------------------------------------- merge
def test_merge_events_joins_overlapping_same_kind():
    a = Event("hum", 1.0, 3.0, 0.7, "hum", details={"frequency_hz": 50.0, "level_db": -30})
    b = Event("hum", 2.5, 4.0, 0.9, "audio_artifacts", details={"level_db": -28, "p": 0.9})
    c = Event("hiss", 2.0, 3.0, 0.6, "hiss")
    d = Event("hum", 6.0, 7.0, 0.5, "hum")
    merged = merge_events([b, c, a, d])
    assert [(e.kind, e.start_s, e.end_s) for e in merged] == [
        ("hum", 1.0, 4.0), ("hiss", 2.0, 3.0), ("hum", 6.0, 7.0)]
    hum = merged[0]
    assert hum.detector == "hum+audio_artifacts" and hum.score == 0.9
    assert hum.details["frequency_hz"] == 50.0 and hum.details["p"] == 0.9
    assert hum.details["hum"] == {"level_db": -30}
    assert hum.details["audio_artifacts"] == {"level_db": -28}


def test_merge_events_gap():
    a = Event("clicks", 1.0, 1.1, 0.6, "clicks")
    b = Event("clicks", 1.5, 1.6, 0.8, "audio_artifacts")
    assert len(merge_events([a, b])) == 2
    assert len(merge_events([a, b], gap_s=0.5)) == 1
    assert merge_events([]) == []


def test_clicks_silence_and_hiss_within_a_distortion_episode_are_folded_into_it():
    """Clipping squares the waveform off (clicks), crushing rounds a quiet passage to zero
    (silence) and adds quantisation noise (hiss): within a distortion episode those are its
    doing, listed in its details, not second defects. Crushed zeros show no distortion, so
    silence may run on up to a second (a classifier segment) past the episode. Outside it they
    stand."""
    dist = Event("distortion", 7.0, 10.0, 0.9, "audio_artifacts+distortion", details={"mode": "crush"})
    inside = [Event("clicks", 7.5, 8.4, 1.0, "clicks"), Event("silence", 9.0, 9.4, 1.0, "silence"),
              Event("hiss", 9.95, 10.05, 1.0, "hiss")]
    outside = [Event("clicks", 12.0, 12.1, 1.0, "clicks"), Event("hum", 8.0, 9.0, 0.8, "hum"),
               Event("silence", 6.5, 7.5, 1.0, "silence")]        # starts before it
    merged = merge_events([dist, *inside, *outside])
    assert [(e.kind, e.start_s) for e in merged] == [("silence", 6.5), ("distortion", 7.0),
                                                     ("hum", 8.0), ("clicks", 12.0)]
    explains = merged[1].details["explains"]
    assert [(x["kind"], x["start_s"], x["detector"]) for x in explains] == [
        ("clicks", 7.5, "clicks"), ("silence", 9.0, "silence"), ("hiss", 9.95, "hiss")]
    assert merged[1].details["mode"] == "crush" and merged[1].score == 0.9
    # crushed zeros until the crushing ends: silence running on up to 1 s past is folded,
    # longer silence is a dropout of its own; other kinds may not run on
    zeros = Event("silence", 9.6, 10.8, 1.0, "silence")
    assert [e.kind for e in merge_events([dist, zeros])] == ["distortion"]
    for alone in (Event("silence", 9.5, 11.5, 1.0, "silence"), Event("hiss", 9.8, 10.6, 1.0, "hiss"),
                  Event("clicks", 9.9, 10.5, 1.0, "clicks")):
        assert [e.kind for e in merge_events([dist, alone])] == ["distortion", alone.kind]
    # no distortion reported: nothing is folded
    assert merge_events(inside) == sorted(inside, key=lambda e: (e.start_s, e.kind))


def test_lossy_report_within_a_channel_inversion_is_folded_into_it():
    """An inverted channel cancels what both channels share in their mean (what the lossy check
    reads, and what a mono downmix plays): a bandwidth cut reported inside the inversion is its
    doing. Other distortion, and lossy reports beside other channel faults, stand."""
    invert = Event("channel", 15.35, 18.05, 1.0, "channel", details={"fault": "invert"})
    lossy_in = Event("distortion", 15.75, 16.85, 0.8, "distortion", details={"mode": "lossy"})
    merged = merge_events([invert, lossy_in])
    assert [e.kind for e in merged] == ["channel"]
    assert merged[0].details["explains"] == [{"kind": "distortion", "start_s": 15.75,
                                              "end_s": 16.85, "score": 0.8,
                                              "detector": "distortion"}]
    swap = Event("channel", 15.35, 18.05, 1.0, "channel", details={"fault": "swap"})
    clipped = Event("distortion", 16.0, 17.0, 0.9, "distortion", details={"mode": "hard"})
    lossy_after = Event("distortion", 17.5, 19.0, 0.8, "distortion", details={"mode": "lossy"})
    for host, event in ((swap, lossy_in), (invert, clipped), (invert, lossy_after)):
        merged = merge_events([host, event])
        assert [e.kind for e in merged] == ["channel", "distortion"]
        assert "explains" not in merged[0].details
