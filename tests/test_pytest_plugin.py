"""The pytest plugin seen from a user's test file: markers, feature gating, infrastructure errors."""

from __future__ import annotations

import json


def test_inject_marker_requires_marker_and_clean_neighbour(pytester):
    pytester.makepyfile("""
        import pytest
        from harness.steps import no

        @pytest.mark.inject("black", at=1.0, duration=0.6)
        def test_black_injected(dut):
            with dut.step("watch", expect=[no("black")]):
                dut.wait(2.5)

        def test_next_test_is_clean(dut):
            with dut.step("watch", expect=[no("black")]):
                dut.wait(2.5)

        @pytest.mark.requires("teleport")
        def test_needs_a_feature_the_device_lacks(dut):
            raise AssertionError("must be skipped")
    """)
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "--no-allure", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*expected no black, found black at 1.0*into the step*",
                                 "*lacks feature(s): teleport*"])


def test_controller_loss_is_an_error_and_broken(pytester):
    pytester.makepyfile("""
        from harness.errors import ControllerLost

        def test_remote_dies(dut, monkeypatch):
            def gone(*args, **kwargs):
                raise ControllerLost("device 'mock': IR blaster unplugged")
            monkeypatch.setattr(dut.controller, "press", gone)
            dut.press("OK")
    """)
    results = pytester.path / "allure"
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", f"--alluredir={results}")
    result.assert_outcomes(errors=1)
    (path,) = results.glob("*-result.json")
    assert json.loads(path.read_text())["status"] == "broken"


def test_device_logs_become_step_evidence(pytester):
    pytester.makepyfile("""
        from pathlib import Path

        class FakeLog:
            def __init__(self, path):
                self.path, self.error = path, None
                path.write_text("I/ActivityManager: Start proc com.example.player\\n")
            def stop(self):
                return self.path

        def test_with_device_log(dut, monkeypatch):
            monkeypatch.setattr(dut.controller, "start_evidence",
                                lambda directory: [FakeLog(Path(directory) / "logcat.txt")])
            with dut.step("watch"):
                dut.wait(0.5)
    """)
    results = pytester.path / "allure"
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", f"--alluredir={results}")
    result.assert_outcomes(passed=1)
    (path,) = results.glob("*-result.json")
    step = json.loads(path.read_text())["steps"][0]
    (log,) = [a for a in step["attachments"] if a["name"] == "logcat.txt"]
    assert "Start proc" in (results / log["source"]).read_text()
