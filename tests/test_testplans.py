"""The shipped release suite, run the way users run it: `pytest testplans/ --device=mock`.

Shows both outcomes (clean pass; injected defect fails with evidence) and that a lost
capture is an ERROR / Allure "broken", not a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, make_clip


def run_pytest(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def allure_results(results: Path) -> dict[str, dict]:
    return {json.loads(p.read_text())["name"]: json.loads(p.read_text())
            for p in results.glob("*-result.json")}


def attachments(node: dict) -> list[dict]:
    found = list(node.get("attachments", []))
    for step in node.get("steps", []):
        found += attachments(step)
    return found


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("allure-clean")
    proc = run_pytest("testplans/", "--device=mock", f"--alluredir={results}")
    return proc, results


def test_release_suite_passes_on_the_simulated_device(clean_run):
    proc, results = clean_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout
    tests = allure_results(results)
    assert set(tests) == {"test_launch_app_and_reach_playback", "test_navigate_catalogue",
                          "test_playback_quality_30s", "test_pause_resume_seek", "test_back_to_home"}
    assert {t["status"] for t in tests.values()} == {"passed"}
    quality = tests["test_playback_quality_30s"]
    (step,) = quality["steps"]
    assert step["name"].startswith("30 s of playback") and step["status"] == "passed"
    names = [a["name"] for a in attachments(quality)]
    assert "screenshot at step end" in names and "detectors.json" in names
    evidence = json.loads((results / next(a["source"] for a in attachments(quality)
                                          if a["name"] == "detectors.json")).read_text())
    loudness = evidence["measurements"]["loudness"]       # reported with the step, not asserted
    assert loudness["target_lufs"] == -23.0 and loudness["integrated_lufs"] is not None
    assert "dut log (jsonl)" in names and "injected defects (ground truth)" in names
    env = (results / "environment.properties").read_text()
    assert "device=mock" in env and "harness=" in env and "platform=" in env


def test_injected_freeze_fails_with_evidence(tmp_path):
    proc = run_pytest("testplans/test_release.py::test_playback_quality_30s", "--device=mock",
                      "--inject", "freeze@12s+1.5s", f"--alluredir={tmp_path}")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 failed" in proc.stdout
    assert "expected no freeze longer than 0.50 s, found freeze at" in proc.stdout
    assert "score" in proc.stdout
    (result,) = allure_results(tmp_path).values()
    assert result["status"] == "failed"
    step = result["steps"][0]
    assert step["status"] == "failed"
    kinds = {a["type"] for a in attachments(result)}
    names = [a["name"] for a in attachments(result)]
    assert "video/mp4" in kinds, names
    assert any(n.startswith("freeze at") for n in names), names
    for a in attachments(result):
        assert (tmp_path / a["source"]).stat().st_size > 0


def run_release(test: str, inject: str) -> subprocess.CompletedProcess:
    """One test of the release suite on the simulated device with one injected defect."""
    return run_pytest(f"testplans/test_release.py::{test}", "--device=mock", "--inject", inject,
                      "--no-allure")


@pytest.mark.parametrize("inject, kind", [("hum@12s+3s:0.6", "hum"), ("stutter@12s+3s:0.8", "stutter"),
                                          ("channel@12s+3s", "channel")])
def test_playback_steps_watch_the_sound_and_the_picture_beyond_freeze_and_black(inject, kind):
    # the release suite's playback checks run the audio-artifact and motion detectors too: an
    # injected hum (or stutter) fails the step, named, timed and scored
    proc = run_release("test_playback_quality_30s", inject)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert f"expected no {kind}, found {kind} at" in proc.stdout, proc.stdout[-3000:]
    assert f"detector {kind})" in proc.stdout


def test_muted_output_that_hums_fails_as_hum():
    # paused, the sound must be muted: hum under the mute is named, not only the missing silence
    proc = run_release("test_pause_resume_seek", "hum@3s+4s:0.8")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "expected no hum, found hum at" in proc.stdout
    assert "expected silence present for at least 1.00 s" in proc.stdout


def test_an_injection_after_the_test_ended_is_reported_as_never_shown():
    # a run meant to prove the suite catches a defect must not pass quietly without it
    proc = run_release("test_back_to_home", "silence@100s+1s")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "defects injected but never shown" in proc.stdout
    assert "test_back_to_home: silence at 100.0 s, but the test ended at" in proc.stdout
    shown = run_release("test_back_to_home", "silence@1s+0.5s")
    assert "never shown" not in shown.stdout


def test_bad_device_and_bad_inject_stop_the_run_with_the_reason():
    proc = run_pytest("testplans/", "--device=nope", "--no-allure")
    assert proc.returncode == 4 and "unknown device 'nope'" in proc.stderr and "mock" in proc.stderr
    proc = run_pytest("testplans/", "--inject", "gremlins@3s", "--no-allure")
    assert proc.returncode == 4 and "unknown defect 'gremlins'" in proc.stderr
    proc = run_pytest("testplans/", "--inject", "freeze", "--no-allure")
    assert proc.returncode == 4 and "KIND@AT" in proc.stderr
    proc = run_pytest("testplans/", "--inject", "hiss@5s+2s:7", "--no-allure")
    assert proc.returncode == 4 and "severity must be in (0, 1], got 7" in proc.stderr


def test_lost_capture_is_an_error_and_broken_not_a_failure(tmp_path, ffmpeg):
    clip = make_clip(ffmpeg, tmp_path / "short.mp4", seconds=3.0, black=None)
    profile = (REPO / "devices" / "mock.yaml").read_text()
    profile = profile.replace("video:\n  type: mock\n", f"video:\n  type: file\n  params: {{path: {clip}}}\n")
    (tmp_path / "capture-dies.yaml").write_text(profile.replace("name: mock", "name: capture-dies"))
    results = tmp_path / "allure"
    proc = run_pytest("testplans/test_release.py::test_playback_quality_30s",
                      f"--device={tmp_path / 'capture-dies.yaml'}", f"--alluredir={results}")
    assert proc.returncode == 1
    assert "1 error" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1], proc.stdout[-2000:]
    assert "CaptureLost" in proc.stdout and "ended" in proc.stdout
    (result,) = allure_results(results).values()
    assert result["status"] == "broken"


def test_harness_report_builds_the_html_report(clean_run, tmp_path):
    _, results = clean_run
    out = tmp_path / "report"
    proc = subprocess.run([str(Path(sys.executable).parent / "harness"), "report", str(results),
                           "-o", str(out)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "index.html").is_file()
    assert "report written to" in proc.stdout
