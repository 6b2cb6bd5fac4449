"""``harness``: the command line.

    harness devices                 list profiles in devices/ and validate each
    harness devices check NAME      build NAME's controller and capture, read a frame, report
    harness analyze SOURCE... [--detectors k1,k2|all] [--json PATH|-] [--duration S]
                    [--device NAME] [--set DETECTOR.FIELD=VALUE ...]
                                    SOURCE: a media file, a capture device or a stream URL
    harness calibrate DEVICE [--seconds S] [--pattern PATH] [--dry-run]
                                    measure the capture chain's own A/V offset
    harness detectors               list registered detectors and their thresholds
    harness report [RESULTS] [-o OUT]   turn Allure results into an HTML report
    harness corpus build DIR [--seed N] [--size tiny|small|large]   build the evaluation corpus
    harness eval CORPUS [--detectors ...] [--json PATH] [--plot PATH] [--markdown PATH]
                                    score the detectors on a corpus

Exit status: 0 done, 1 a check found problems, 2 bad input (one-line error on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from harness import __version__
from harness.threads import MathThreadsError, limit_loaded_math_threads
from harness.errors import BadInput, HarnessError, InfrastructureError, ProfileError

if TYPE_CHECKING:
    from harness.control import RemoteControl
    from harness.profile import Profile

REPO_ROOT = Path(__file__).resolve().parent.parent


def _cmd_devices(args: argparse.Namespace) -> int:
    from harness.profile import DEVICES_DIR, load_profile, profile_names

    devices_dir = Path(args.dir) if args.dir else DEVICES_DIR
    if args.action == "check":
        if not args.name:
            raise BadInput("harness devices check NAME: name a profile (or a path)")
        return _check_device(args.name, devices_dir)
    names = profile_names(devices_dir)
    if not names:
        print(f"no profiles in {devices_dir}")
        return 1
    bad = 0
    for name in names:
        try:
            profile = load_profile(name, devices_dir)
        except ProfileError as exc:
            bad += 1
            print(f"INVALID  {name}\n{exc}")
            continue
        audio = f"{profile.audio.type}" if profile.audio else "none"
        print(f"ok       {name:<16} controller={profile.controller.type:<8} "
              f"video={profile.video.type} {profile.video.width}x{profile.video.height}"
              f"@{profile.video.fps:g} audio={audio}  {profile.description}")
    return 1 if bad else 0


def _check_device(name: str, devices_dir: Path) -> int:
    from harness.dut import Dut
    from harness.profile import load_profile
    from harness.rig import Rig

    profile = load_profile(name, devices_dir)
    print(f"profile   ok   {profile.source}")
    try:
        rig = Rig(profile)
    except InfrastructureError as exc:
        print(f"rig       FAIL {exc}")
        try:  # what does the controller say, on its own?
            controller = _controller_alone(profile)
        except InfrastructureError as lost:
            print(f"control   FAIL {profile.controller.type}: {lost}")
            return 1
        try:
            _check_controller(profile, controller)
        finally:
            controller.close()
        return 1
    dut = Dut(rig)
    ok = True
    try:
        frame = dut.screenshot()
        print(f"video     ok   {profile.video.type}: frame {frame.width}x{frame.height} at t={frame.t:.3f}")
        audio = dut.capture_stats().get("audio")
        if profile.audio is not None:
            dut.wait(0.2)
            audio = dut.capture_stats()["audio"]
            status = "ok  " if audio["delivered"] else "FAIL"
            ok &= bool(audio["delivered"])
            print(f"audio     {status} {profile.audio.type}: {audio['delivered']} chunks in 0.2 s")
    except InfrastructureError as exc:
        print(f"capture   FAIL {exc}")
        ok = False
    try:
        ok &= _check_controller(profile, rig.controller)
    finally:
        dut.close()
    return 0 if ok else 1


def _controller_alone(profile: Profile) -> RemoteControl:
    """The profile's controller without its capture (for when the capture cannot be opened)."""
    from types import SimpleNamespace

    from harness.clock import RealClock
    from harness.control import controller_backend

    return controller_backend(profile.controller.type)(
        profile.controller, SimpleNamespace(clock=RealClock(), profile=profile))


def _check_controller(profile: Profile, controller: RemoteControl) -> bool:
    """Probe the controller: print what the device answered (or why it did not); True if fine."""
    what = (f"{profile.controller.type} ({controller.transport}), "
            f"{len(profile.controller.keymap)} keys mapped")
    try:
        facts = dict(controller.probe())
    except HarnessError as exc:  # lost (no answer) or rejected (answered "no")
        print(f"control   FAIL {what}: {exc}")
        return False
    problems = facts.pop("problems", [])
    answered = ", ".join(f"{key}={value}" for key, value in facts.items())
    print(f"control   {'FAIL' if problems else 'ok  '} {what}"
          + (f"; answered: {answered}" if answered else ""))
    for problem in problems:
        print(f"          problem: {problem}")
    return not problems


def _analyze_thresholds(device: str | None, settings: list[str]) -> dict[str, dict]:
    """Detector settings for ``harness analyze``: a device profile's ``thresholds`` (its
    loudness standard, say), then each ``--set DETECTOR.FIELD=VALUE`` (VALUE read as YAML:
    ``0.5``, ``true``, ``atsc_a85``), each detector's whole settings validated as a profile's are."""
    import yaml
    from pydantic import ValidationError

    from detectors import base as registry
    from harness.profile import load_profile, problems_from

    thresholds: dict[str, dict] = {}
    if device is not None:
        thresholds = {name: dict(params) for name, params in load_profile(device).thresholds.items()}
    for item in settings:
        target, eq, raw = item.partition("=")
        name, dot, field = target.strip().rpartition(".")
        if not eq or not dot or not name or not field:
            raise BadInput(f"--set {item!r}: expected DETECTOR.FIELD=VALUE "
                           f"(e.g. --set loudness.standard=atsc_a85; `harness detectors` lists them)")
        registry.detector_class(name)          # an unknown detector: BadInput naming the choices
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        thresholds.setdefault(name, {})[field] = value
    for name, params in thresholds.items():
        try:
            registry.detector_class(name).Config.model_validate(params)
        except ValidationError as exc:   # worded as a profile's thresholds are
            problems = [f"{where}: {reason}" for where, reason, _ in problems_from(exc, name)]
            origin = f" (from --set or the profile {device})" if device else " (from --set)"
            raise BadInput(f"detector settings{origin}: {'; '.join(problems)} "
                           f"(fix: `harness detectors` lists each detector's fields and values)") from None
    return thresholds


def _output_path(option: str, value: str | None) -> None:
    """BadInput before any work when an output file cannot be written where asked (its folder
    missing): an hour of analysis must not end in a traceback that loses it."""
    if value in (None, "-"):
        return
    folder = Path(value).expanduser().resolve().parent
    if not folder.is_dir():
        raise BadInput(f"{option} {value}: folder {folder} does not exist (fix: create it or "
                       f"write elsewhere)")


def _cmd_analyze(args: argparse.Namespace) -> int:
    from harness.analyze import analyze

    # errors are reported in one line: keep libav's own chatter (a stream's decode errors) off stderr
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if args.duration is not None and args.duration <= 0:
        raise BadInput(f"--duration must be > 0 seconds, got {args.duration:g}")
    _output_path("--json", args.json)
    thresholds = _analyze_thresholds(args.device, args.set or [])
    results = [analyze(path, args.detectors, thresholds, duration_s=args.duration) for path in args.files]
    incomplete = [r for r in results if r.get("incomplete")]
    for result in incomplete:
        for stream, span in result["incomplete"].items():
            print(f"harness: warning: {result['source']}: its {stream} stream could be decoded "
                  f"to {span['decoded_s']:.2f} s of the {span['expected_s']:.2f} s expected (its "
                  f"header's length, or --duration): truncated or damaged; the rest was not "
                  f"analysed", file=sys.stderr)
    payload = results[0] if len(results) == 1 else results
    text = json.dumps(payload, indent=2)
    if args.json in (None, "-"):
        if args.json is None:
            for result in results:
                print(f"{result['source']}: {result['duration_s']:.2f} s, "
                      f"{len(result['events'])} events")
                for event in result["events"]:
                    print(f"  {event['kind']:<12} {event['start_s']:8.3f}-{event['end_s']:8.3f} s "
                          f"score {event['score']:.2f}  ({event['detector']})")
                by_reason: dict[str, list[str]] = {}
                for name, reason in result.get("skipped", {}).items():
                    by_reason.setdefault(reason, []).append(name)
                for reason, names in by_reason.items():
                    listed = ", ".join(names) if len(names) <= 4 else f"{len(names)} detectors"
                    print(f"  not run ({reason}): {listed}")
        else:
            print(text)
    else:
        Path(args.json).write_text(text + "\n")
    return 1 if incomplete else 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from harness.capture.calibrate import calibrate, make_pattern, set_capture_av_offset
    from harness.profile import DEVICES_DIR, load_profile

    profile = load_profile(args.device, Path(args.dir) if args.dir else DEVICES_DIR)
    if args.pattern:
        audio = profile.audio
        path = make_pattern(args.pattern, profile.video.width, profile.video.height, profile.video.fps,
                            seconds=args.seconds or 60.0,
                            sample_rate=audio.sample_rate if audio else 48000,
                            channels=audio.channels if audio else 2)
        print(f"pattern written to {path}: play it on a loop through {profile.name}'s capture chain, "
              f"then run `harness calibrate {args.device}`")
        return 0
    seconds = args.seconds or 10.0
    if not 3 < seconds <= 300:
        raise BadInput(f"--seconds must be in (3, 300] to capture enough flashes, got {seconds:g}")
    result = calibrate(profile, seconds)
    print(f"calibration: {result}")
    if args.dry_run:
        print(f"not written (--dry-run): latency.capture_av_offset_ms would be {result.offset_ms:.1f}")
    else:
        set_capture_av_offset(profile.source, result.offset_ms)
        print(f"written to {profile.source}: latency.capture_av_offset_ms = {result.offset_ms:.1f}")
    return 0


def _cmd_detectors(args: argparse.Namespace) -> int:
    from detectors import base as registry

    for name in registry.available():
        cls = registry.detector_class(name)
        print(f"{name:<18} {cls.media:<6} kind={','.join(cls.kinds())}")
        for field, info in cls.Config.model_fields.items():
            print(f"    {field} = {info.default!r}  {info.description or ''}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        raise BadInput(f"{results}: no Allure results here (run pytest first; results go to "
                       f"allure-results/ by default)")
    out = Path(args.output)
    local = REPO_ROOT / "node_modules" / ".bin" / "allure"
    if local.exists():
        cmd = [str(local), "generate", str(results), "-o", str(out)]
    elif shutil.which("allure"):
        cmd = ["allure", "generate", str(results), "-o", str(out), "--clean"]
    else:
        raise BadInput("Allure is not installed: run scripts/setup.sh (it installs allure@3 with npm)")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    print(f"report written to {out / 'index.html'}")
    return 0


def _cmd_corpus(args: argparse.Namespace) -> int:
    import time

    from detectors.synth.corpus import build

    started = time.monotonic()
    manifest = build(args.dir, args.seed, args.size, args.jobs)
    totals = manifest["totals"]
    print(f"corpus {args.dir}: {totals['files']} files, {totals['duration_s'] / 60:.1f} min, "
          f"{sum(totals['episodes'].values())} episodes, built in "
          f"{time.monotonic() - started:.0f} s")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from detectors import evaluate

    for option in ("json", "plot", "markdown"):
        _output_path(f"--{option}", getattr(args, option))
    report = evaluate.evaluate(args.corpus, args.detectors, args.jobs)
    curves = evaluate.sweep(args.corpus, args.detectors, args.jobs) if args.plot else None
    if args.plot:
        evaluate.plot(curves, args.plot)
    print(evaluate.table(report))
    if args.json:
        payload = report.to_json()
        if curves is not None:
            payload["sweeps"] = {n: [vars(p) for p in points] for n, points in curves.items()}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    if args.markdown:
        command = " ".join(["harness eval", args.corpus,
                            *([f"--detectors {args.detectors}"] if args.detectors != "all" else []),
                            *(f"--{k} {getattr(args, k)}" for k in ("json", "plot", "markdown")
                              if getattr(args, k))])
        Path(args.markdown).write_text(evaluate.markdown(
            report, evaluate.load_manifest(args.corpus), command, curves, args.plot))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("devices", help="list and validate device profiles, or check one")
    p.add_argument("action", nargs="?", choices=["list", "check"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--dir", help="profiles directory (default: devices/ of this checkout)")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("analyze", help="run detectors over media files, capture devices or "
                                       "stream URLs")
    p.add_argument("files", nargs="+", metavar="SOURCE",
                   help="a media file, a capture device (/dev/video0, 0) or a stream URL "
                        "(udp://, rtp://, srt://, rtsp://, tcp://...)")
    p.add_argument("--detectors", default="all", help="comma-separated detector names, or all")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the JSON result to PATH (or - / no value: stdout)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="analyse S seconds (default: a live source until it ends, a file whole)")
    p.add_argument("--device", metavar="NAME|PATH",
                   help="take the detector settings (thresholds: the loudness standard, ...) of "
                        "this device profile")
    p.add_argument("--set", action="append", metavar="DETECTOR.FIELD=VALUE",
                   help="one detector setting, e.g. loudness.standard=atsc_a85 (repeatable; wins "
                        "over --device)")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("calibrate", help="measure the capture chain's own A/V offset with a "
                                         "flash-and-beep pattern and store it in the profile")
    p.add_argument("device", help="a profile in devices/ or a path to one")
    p.add_argument("--seconds", type=float, default=None,
                   help="capture this long (default 10), or the pattern's length with --pattern "
                        "(default 60)")
    p.add_argument("--pattern", metavar="PATH",
                   help="only write the pattern (the profile's size and frame rate) to PATH")
    p.add_argument("--dry-run", action="store_true", help="measure, but leave the profile as it is")
    p.add_argument("--dir", help="profiles directory (default: devices/ of this checkout)")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("detectors", help="list registered detectors and their thresholds")
    p.set_defaults(func=_cmd_detectors)

    p = sub.add_parser("report", help="generate the Allure HTML report")
    p.add_argument("results", nargs="?", default="allure-results")
    p.add_argument("-o", "--output", default="allure-report")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("corpus", help="build the evaluation corpus (defects injected into real "
                                      "content, with ground truth)")
    p.add_argument("action", choices=["build"])
    p.add_argument("dir", help="output directory (media/ and manifest.json go here)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=["tiny", "small", "large"], default="small",
                   help="tiny: seconds, for tests; small: a few minutes, for CI; large: on request")
    p.add_argument("--jobs", type=int, default=None, help="parallel workers (default: 2 at most)")
    p.set_defaults(func=_cmd_corpus)

    p = sub.add_parser("eval", help="score the detectors on a corpus: per kind precision, recall, "
                                    "F1, false positives per hour of clean content")
    p.add_argument("corpus")
    p.add_argument("--detectors", default="all", help="comma-separated detector names, or all")
    p.add_argument("--json", metavar="PATH", help="write the table (and sweeps) as JSON")
    p.add_argument("--plot", metavar="PATH",
                   help="sweep each detector's main threshold and draw precision-recall curves "
                        "(PNG)")
    p.add_argument("--markdown", metavar="PATH", help="write the accuracy page (docs/accuracy.md)")
    p.add_argument("--jobs", type=int, default=None, help="parallel workers (default: 2 at most)")
    p.set_defaults(func=_cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        limit_loaded_math_threads()
    except MathThreadsError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (BadInput, ProfileError) as exc:
        message = str(exc) if isinstance(exc, ProfileError) else str(exc).splitlines()[0]
        print(f"harness: error: {message}", file=sys.stderr)
        return 2
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
