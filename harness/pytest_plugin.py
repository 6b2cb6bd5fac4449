"""pytest plugin: ``--device``, the ``dut`` fixture, defect injection, Allure defaults.

Thin by design: profiles, rigs, steps and evidence live in their own modules.

* ``--device NAME|PATH`` (default ``mock``) picks a profile from ``devices/``;
  a bad name or profile stops the run at once with the reason.
* ``--inject KIND@AT[+DURATION][:SEVERITY]`` (repeatable, simulated device only)
  injects a defect ``AT`` seconds after each test starts, e.g. ``freeze@10s+1s``.
  ``@pytest.mark.inject("black", at=5, duration=1)`` does the same for one test.
* ``--realtime`` runs the simulated device on the real clock.
* Allure results go to ``allure-results/`` unless ``--alluredir`` says otherwise
  (``--no-allure`` turns them off).
* An infrastructure error (lost capture or controller) is reported as a pytest
  ERROR and as "broken" in Allure, never as a failure or a pass.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

import pytest

from harness import __version__
from harness.errors import BadInput, HarnessError, InfrastructureError, ProfileError
from harness.profile import Profile, load_profile
from harness.threads import MathThreadsError, limit_loaded_math_threads

INJECT_RE = re.compile(r"^(?P<kind>[a-z_]+)@(?P<at>\d+(?:\.\d+)?)s?"
                       r"(?:\+(?P<duration>\d+(?:\.\d+)?)s?)?(?::(?P<severity>\d*\.?\d+))?$")
PROFILE_KEY = pytest.StashKey[Profile]()
DEVICE_FACTS_KEY = pytest.StashKey[dict]()  # what the controller's probe() said about the device
TEST_RUN_KEY = pytest.StashKey[tuple]()  # (dut, start_t, log position) of the running test
UNSHOWN_KEY = pytest.StashKey[list]()  # (test, kind, at s into it, its length s): never shown


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "video device test harness")
    group.addoption("--device", default="mock", metavar="NAME|PATH",
                    help="device profile: a name in devices/ or a path to a YAML (default: mock)")
    group.addoption("--inject", action="append", default=[], metavar="KIND@AT[+DUR][:SEV]",
                    help="simulated device only: inject a defect AT seconds into each test, "
                         "e.g. freeze@10s+1s or hiss@5s+2s:0.5 (repeatable)")
    group.addoption("--realtime", action="store_true",
                    help="run the simulated device in real time instead of on a virtual clock")
    group.addoption("--no-allure", action="store_true", help="do not write Allure results")


def parse_inject(spec: str) -> dict:
    from harness.sim.device import SUPPORTED_DEFECTS

    match = INJECT_RE.match(spec.strip())
    if not match:
        raise BadInput(f"--inject {spec!r}: expected KIND@AT[+DURATION][:SEVERITY], "
                       f"e.g. freeze@10s+1s or hiss@5s+2s:0.5")
    kind = match["kind"]
    if kind not in SUPPORTED_DEFECTS:
        raise BadInput(f"--inject {spec!r}: unknown defect {kind!r}; "
                       f"the simulated device injects: {', '.join(SUPPORTED_DEFECTS)}")
    severity = float(match["severity"] or 1.0)
    if not 0.0 < severity <= 1.0:
        raise BadInput(f"--inject {spec!r}: severity must be in (0, 1], got {severity:g}")
    duration = float(match["duration"] or 1.0)
    if duration <= 0.0:
        raise BadInput(f"--inject {spec!r}: duration must be > 0 s, got {duration:g}")
    return {"kind": kind, "at": float(match["at"]), "duration": duration, "severity": severity}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    try:
        limit_loaded_math_threads()     # one OpenBLAS/OpenMP thread (harness/threads.py)
    except MathThreadsError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.addinivalue_line("markers", "inject(kind, at, duration=1.0, severity=1.0, **params): "
                            "inject a defect into the simulated device, `at` s after the test starts")
    config.addinivalue_line("markers", "requires(*features): skip unless the device profile "
                            "lists these features")
    if hasattr(config.option, "allure_report_dir"):
        if config.option.no_allure:
            config.option.allure_report_dir = None
        elif not config.option.allure_report_dir:
            config.option.allure_report_dir = str(Path(config.rootpath) / "allure-results")
    try:
        config.stash[PROFILE_KEY] = load_profile(config.option.device)
        config.option.inject_specs = [parse_inject(s) for s in config.option.inject]
    except (ProfileError, BadInput) as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.option.inject_specs and config.stash[PROFILE_KEY].controller.type != "mock":
        raise pytest.UsageError("--inject works only with the simulated device (--device=mock)")


def pytest_report_header(config: pytest.Config) -> list[str]:
    profile = config.stash.get(PROFILE_KEY, None)
    if profile is None:
        return []
    return [f"harness {__version__}: device {profile.name} ({profile.source}), controller "
            f"{profile.controller.type}, video {profile.video.type} {profile.video.width}x"
            f"{profile.video.height}@{profile.video.fps:g}, audio "
            f"{profile.audio.type if profile.audio else 'none'}"]


@pytest.fixture(scope="session")
def device_profile(pytestconfig: pytest.Config) -> Profile:
    """The validated profile of ``--device``."""
    return pytestconfig.stash[PROFILE_KEY]


@pytest.fixture(scope="session")
def _harness_dut(pytestconfig: pytest.Config, device_profile: Profile):
    from harness.dut import Dut
    from harness.rig import Rig

    dut = Dut(Rig(device_profile, realtime=pytestconfig.option.realtime))
    try:  # model, OS and app versions for the report's environment
        pytestconfig.stash[DEVICE_FACTS_KEY] = dut.controller.probe()
    except HarnessError as exc:
        pytestconfig.stash[DEVICE_FACTS_KEY] = {"probe_error": str(exc)}
    yield dut
    dut.close()


@pytest.fixture
def dut(request: pytest.FixtureRequest, _harness_dut, device_profile: Profile):
    """The device under test: ``press``, ``press_and_wait``, ``wait_for``, ``step``, ``record``..."""
    for marker in request.node.iter_markers("requires"):
        missing = [f for f in marker.args if not device_profile.has(f)]
        if missing:
            pytest.skip(f"device {device_profile.name!r} lacks feature(s): {', '.join(missing)}")
    the_dut = _harness_dut
    start_t = the_dut.screenshot().t
    log_start = len(the_dut.log)
    injections = list(request.config.option.inject_specs)
    for marker in request.node.iter_markers("inject"):
        kind, *rest = marker.args
        injections.append({"kind": kind, "at": rest[0] if rest else marker.kwargs.get("at", 0.0),
                           **{k: v for k, v in marker.kwargs.items() if k != "at"}})
    injected = []
    if injections:
        if the_dut.sim is None:
            pytest.fail("defect injection needs the simulated device (--device=mock)", pytrace=False)
        for spec in injections:
            spec = dict(spec)
            kind, at = spec.pop("kind"), float(spec.pop("at"))
            injected.append(the_dut.sim.inject(kind, at=start_t + at, **spec))
    request.node.stash[TEST_RUN_KEY] = (the_dut, start_t, log_start)
    yield the_dut
    if injected:
        end = the_dut.clock.now()
        the_dut.sim.end_injections(end)  # never leak into the next test
        shown = {id(e) for e in the_dut.sim.ground_truth}
        request.config.stash.setdefault(UNSHOWN_KEY, []).extend(
            (request.node.nodeid, e.kind, e.start_s - start_t, end - start_t)
            for e in injected if id(e) not in shown)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """An injection that started after its test had ended was never shown: say so, or a run
    meant to prove the suite catches a defect passes without it."""
    unshown = config.stash.get(UNSHOWN_KEY, [])
    if not unshown:
        return
    terminalreporter.section("defects injected but never shown", yellow=True)
    for nodeid, kind, at, length in unshown:
        terminalreporter.line(f"{nodeid}: {kind} at {at:.1f} s, but the test ended at "
                              f"{length:.1f} s", yellow=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """After the test body: attach the test's slice of the dut log, capture counts, ground truth."""
    try:
        return (yield)
    finally:
        run = item.stash.get(TEST_RUN_KEY, None)
        if run is not None:
            _attach_test_evidence(*run)


def _attach_test_evidence(dut, start_t: float, log_start: int) -> None:
    from harness.report import evidence

    if not evidence.reporting():
        return
    entries = [e.to_json() for e in dut.log[log_start:]]
    evidence.attach_text("dut log (jsonl)", "\n".join(json.dumps(e) for e in entries))
    evidence.attach_json("capture counts", dut.capture_stats())
    if dut.sim is not None:
        truth = [e.to_json() for e in dut.sim.ground_truth if e.end_s >= start_t]
        evidence.attach_json("injected defects (ground truth)", truth)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(InfrastructureError):
        report.harness_infrastructure_error = True
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if getattr(report, "harness_infrastructure_error", False) and report.when == "call":
        return "error", "E", ("ERROR", {"red": True})
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    results = getattr(session.config.option, "allure_report_dir", None)
    profile = session.config.stash.get(PROFILE_KEY, None)
    if not results or profile is None or not Path(results).is_dir():
        return
    props = {
        "device": profile.name, "profile": profile.source, "controller": profile.controller.type,
        "video": f"{profile.video.type} {profile.video.width}x{profile.video.height}@{profile.video.fps:g}",
        "audio": f"{profile.audio.type} {profile.audio.sample_rate} Hz x{profile.audio.channels}"
        if profile.audio else "none",
        "features": ",".join(profile.features) or "-",
        "harness": __version__, "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for key, value in session.config.stash.get(DEVICE_FACTS_KEY, {}).items():
        if isinstance(value, (str, int, float)):
            props[f"device.{key}"] = value
    lines = [f"{k}={str(v).replace(chr(10), ' ')}" for k, v in props.items()]
    (Path(results) / "environment.properties").write_text("\n".join(lines) + "\n")
